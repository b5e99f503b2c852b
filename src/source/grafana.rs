//! Grafana unified alerting's webhook (Grafana 9 to 11).
//!
//! Grafana sends Alertmanager's shape, with `"version": "1"`, plus `orgId`,
//! `title`, `state`, `message` (and lately `appVersion`) on the group and
//! `values`, `valueString`, `silenceURL`, `dashboardURL`, `panelURL` (and
//! sometimes `imageURL`) on each alert. Those extras are presentation for
//! humans: they are accepted and ignored, so Grafana adding another one never
//! breaks ingestion. Grafana's `fingerprint` is its own hash, not Alertmanager's,
//! and is kept as given: it is the alert's stable identity within Grafana.

use jiff::Timestamp;

use super::alert::Alert;
use super::alertmanager::{self, Dialect, Notification};
use super::error::MapError;

const GRAFANA: Dialect = Dialect {
    version: "1",
    expected_version: "\"1\" (Grafana unified alerting)",
};

/// Maps a Grafana webhook body to its alerts, in payload order.
pub fn map(source: &str, body: &[u8], received_at: Timestamp) -> Result<Vec<Alert>, MapError> {
    alertmanager::map_as(GRAFANA, source, body, received_at)
}

/// [`map`]'s fast path alone (see [`alertmanager::Read`]).
pub(super) fn read<'a>(source: &'a str, body: &'a [u8]) -> Option<alertmanager::Read<'a>> {
    alertmanager::read_as(GRAFANA, source, body)
}

/// Reads the notification; Grafana's extra fields are not kept.
pub fn parse(source: &str, body: &[u8], received_at: Timestamp) -> Result<Notification, MapError> {
    alertmanager::parse_as(GRAFANA, source, body, received_at)
}
