//! Payload mappings: the body a sender POSTs, turned into [`Alert`]s.
//!
//! One module per `kind` of the `sources:` section: [`alertmanager`] (webhook
//! payload version 4), [`grafana`] (Alertmanager's shape plus Grafana's
//! fields, sharing the same reader), [`pagerduty`] (v3 webhooks) and
//! [`jmespath`] (any JSON, mapped with the source's expressions).
//! [`map_payload`] picks the one a [`Source`] names.
//!
//! Mapping is pure: bytes and the receive time in, alerts or a [`MapError`]
//! out. No I/O, no clock (the caller passes `received_at`, used where a payload
//! has no start time), and no panic on any input: bodies come from the network.
//! Authenticating the sender (bearer, HMAC signatures), size limits and dedupe
//! belong to `serve`; deciding belongs to the engine.

pub mod alert;
pub mod alertmanager;
mod error;
pub mod grafana;
pub mod jmespath;
mod json;
pub mod pagerduty;
mod time;

pub use alert::*;
pub use error::{Field, MapError, Place};

use crate::rules::{Source, SourceKind};

/// Maps one request body from `source` to its alerts, in payload order.
///
/// `received_at` is when resgate received the body: the start time of alerts
/// whose payload gives none. An empty list is not an error (a PagerDuty ping).
pub fn map_payload(
    source: &Source,
    body: &[u8],
    received_at: jiff::Timestamp,
) -> Result<Vec<Alert>, MapError> {
    let name = source.name.as_str();
    match &source.kind {
        SourceKind::Alertmanager => alertmanager::map(name, body, received_at),
        SourceKind::Grafana => grafana::map(name, body, received_at),
        SourceKind::PagerDuty => pagerduty::map(name, body, received_at),
        SourceKind::Jmespath(mapping) => jmespath::map(name, mapping, body, received_at),
    }
}

/// [`map_payload`] for a caller that takes the alerts one at a time: the body
/// read and checked, each alert made only when taken (see
/// [`alertmanager::Read`]). `None` when the source's kind has no such reader
/// (PagerDuty, JMESPath) or its fast path does not accept the body: then
/// [`map_payload`] maps it, or says what is wrong.
pub fn read_payload<'a>(source: &'a Source, body: &'a [u8]) -> Option<alertmanager::Read<'a>> {
    let name = source.name.as_str();
    match &source.kind {
        SourceKind::Alertmanager => alertmanager::read(name, body),
        SourceKind::Grafana => grafana::read(name, body),
        SourceKind::PagerDuty | SourceKind::Jmespath(_) => None,
    }
}
