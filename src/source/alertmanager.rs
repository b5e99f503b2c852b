//! Alertmanager's webhook, payload version 4, and the senders that copy its
//! shape (Grafana, see [`super::grafana`]).
//!
//! One POST carries a group of alerts. Each alert keeps the sender's own
//! `fingerprint` (so resgate's IDs are Alertmanager's), or gets the same
//! FNV-1a hash of its labels when the field is missing. `endsAt` is Go's zero
//! time while an alert fires and maps to `None`. Fields resgate does not act on
//! (`receiver`, `groupLabels`, `externalURL`, ...) are still type-checked and
//! kept in [`Notification`], for logs and for whoever needs them next.
//!
//! Deliberately not done: checking that a given fingerprint matches the labels
//! (Grafana computes its own), or that `commonLabels` really are common.

mod fast;

pub use fast::Read;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::Value;

use super::alert::{Alert, AlertStatus, fingerprint};
use super::error::{At, MapError};
use super::json::{self, Obj};

/// One webhook notification, with every field of payload version 4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub version: String,
    /// Identifies the alert group; `None` when absent or empty.
    pub group_key: Option<String>,
    /// Alerts Alertmanager left out because of the receiver's `max_alerts`.
    pub truncated_alerts: u64,
    /// `firing` when at least one alert of the group fires.
    pub status: Option<AlertStatus>,
    pub receiver: Option<String>,
    pub group_labels: BTreeMap<String, String>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub external_url: Option<String>,
    /// In payload order, already mapped.
    pub alerts: Vec<Alert>,
}

/// What differs between senders of Alertmanager's shape.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dialect {
    /// The only `version` this sender's payload may carry: a different one
    /// means a different shape, which is refused rather than half-read.
    pub version: &'static str,
    /// For the message when `version` differs: `"4"`.
    pub expected_version: &'static str,
}

const ALERTMANAGER: Dialect = Dialect {
    version: "4",
    expected_version: "\"4\"",
};

/// Maps an Alertmanager webhook body to its alerts, in payload order.
pub fn map(source: &str, body: &[u8], received_at: Timestamp) -> Result<Vec<Alert>, MapError> {
    map_as(ALERTMANAGER, source, body, received_at)
}

/// The alerts of a body in `dialect`: by the typed fast path when it accepts
/// the body, else by the checked path, which also explains what is wrong.
pub(super) fn map_as(
    dialect: Dialect,
    source: &str,
    body: &[u8],
    received_at: Timestamp,
) -> Result<Vec<Alert>, MapError> {
    match fast::map(dialect, source, body, received_at) {
        Some(alerts) => Ok(alerts),
        None => Ok(parse_as(dialect, source, body, received_at)?.alerts),
    }
}

/// The typed fast path of [`map_as`] alone, the alerts read but not made yet;
/// `None` when it does not accept the body (then [`map_as`] maps it or says why).
pub(super) fn read_as<'a>(dialect: Dialect, source: &'a str, body: &'a [u8]) -> Option<Read<'a>> {
    fast::read(dialect, source, body)
}

/// [`read_as`] of Alertmanager's version 4.
pub(super) fn read<'a>(source: &'a str, body: &'a [u8]) -> Option<Read<'a>> {
    read_as(ALERTMANAGER, source, body)
}

/// Reads the whole notification. `received_at` stands in for a missing `startsAt`.
pub fn parse(source: &str, body: &[u8], received_at: Timestamp) -> Result<Notification, MapError> {
    parse_as(ALERTMANAGER, source, body, received_at)
}

pub(super) fn parse_as(
    dialect: Dialect,
    source: &str,
    body: &[u8],
    received_at: Timestamp,
) -> Result<Notification, MapError> {
    let at = At::source(source);
    let value = json::parse(at, body)?;
    let top = Obj::body(at, &value)?;

    // First, so a payload of another version fails on its version, not on
    // whichever field it happens to lay out differently.
    let version = match top.get("version") {
        Some(Value::String(v)) if v == dialect.version => v,
        Some(other) => return Err(top.wrong("version", other, dialect.expected_version)),
        None => return Err(top.missing("version", dialect.expected_version)),
    };

    let group_key = top
        .opt_str("groupKey")?
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let alerts = top
        .array("alerts")?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let alert = Obj::element(at, "alerts", i, item)?;
            map_alert(&alert, group_key.as_deref(), received_at)
        })
        .collect::<Result<Vec<_>, _>>()?;

    Ok(Notification {
        version: version.clone(),
        truncated_alerts: top.opt_u64("truncatedAlerts")?.unwrap_or(0),
        status: status(&top)?,
        receiver: top.opt_str("receiver")?.map(str::to_owned),
        group_labels: top.strings("groupLabels")?,
        common_labels: top.strings("commonLabels")?,
        common_annotations: top.strings("commonAnnotations")?,
        external_url: top.opt_str("externalURL")?.map(str::to_owned),
        group_key,
        alerts,
    })
}

fn map_alert(
    alert: &Obj<'_, '_>,
    group_key: Option<&str>,
    received_at: Timestamp,
) -> Result<Alert, MapError> {
    // Required per alert, unlike the group's status: a group of one firing and
    // one resolved alert says `firing`, so it cannot stand in for either.
    let status = status(alert)?.ok_or_else(|| alert.missing("status", STATUS_WORDS))?;
    let labels = alert.required_strings("labels")?;
    if labels.is_empty() {
        return Err(alert.at().no_labels());
    }
    let fingerprint = match alert.opt_str("fingerprint")? {
        Some(given) if !given.is_empty() => given.to_owned(),
        _ => fingerprint(&labels),
    };
    Ok(Alert {
        source: alert.at().source.to_owned(),
        fingerprint,
        status,
        annotations: alert.strings("annotations")?,
        // Alertmanager always sends it; a hand-rolled sender may not.
        starts_at: alert.opt_time("startsAt")?.unwrap_or(received_at),
        ends_at: alert.opt_time("endsAt")?.and_then(super::time::unless_zero),
        group_key: group_key.map(str::to_owned),
        generator_url: alert
            .opt_str("generatorURL")?
            .filter(|u| !u.is_empty())
            .map(str::to_owned),
        labels,
    })
}

const STATUS_WORDS: &str = "\"firing\" or \"resolved\"";

/// The `status` field of the group or of one alert.
fn status(obj: &Obj<'_, '_>) -> Result<Option<AlertStatus>, MapError> {
    let Some(word) = obj.opt_str("status")? else {
        return Ok(None);
    };
    match AlertStatus::from_word(word) {
        Some(status) => Ok(Some(status)),
        None => Err(obj.wrong("status", &Value::String(word.to_owned()), STATUS_WORDS)),
    }
}
