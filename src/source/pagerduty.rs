//! PagerDuty v3 webhooks: `{"event": {"id", "event_type", "resource_type",
//! "occurred_at", "agent", "client", "data": {...}}}`.
//!
//! Only two event types are notifications that an incident fires:
//! `incident.triggered`, and `incident.reopened` (a new firing, which starts at
//! the reopening: the event's `occurred_at`). `incident.resolved` resolves it.
//! Each becomes one alert identified by the incident ID, so every event about
//! one incident is the same alert.
//!
//! Every other incident event (`acknowledged`, `unacknowledged`, `delegated`,
//! `escalated`, `reassigned`, `priority_updated`, `annotated`, `responder.*`,
//! ... and types PagerDuty adds later) describes the same incident changing
//! hands: it is no new notification and maps to no alert, so a human
//! acknowledging an incident never starts another remediation attempt (see
//! docs/decisions.md, "PagerDuty updates"). One whose incident `status` is
//! already `resolved` resolves it, since that is the incident's own state.
//! Everything else maps to no alert and is not an error: `pagey.ping` (the
//! test event), `service.*` events, and the incident events whose `data` is a
//! note, a responder request, a status update or a conference bridge.
//!
//! Labels: `alertname` (the incident title), `service`, `urgency`, `priority`,
//! `incident_key`, `event_type`, `resource_type`; a missing or null one is left
//! out. Annotations: `summary`, `html_url`, `number`, `status`,
//! `escalation_policy`, `event_id`.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::alert::{Alert, AlertStatus};
use super::error::{At, MapError};
use super::json::{self, Obj};

/// Maps a PagerDuty v3 webhook body: one alert for an incident event, none otherwise.
pub fn map(source: &str, body: &[u8], received_at: Timestamp) -> Result<Vec<Alert>, MapError> {
    let at = At::source(source);
    let value = json::parse(at, body)?;
    let event = Obj::body(at, &value)?.obj("event")?;
    let event_type = event.str("event_type")?;
    if !event_type.starts_with("incident.") {
        return Ok(Vec::new());
    }
    let incident = event.obj("data")?;
    if !is_incident(&incident)? {
        return Ok(Vec::new());
    }
    let notifies = matches!(
        event_type,
        "incident.triggered" | "incident.reopened" | "incident.resolved"
    );
    if !notifies && incident.opt_str("status")? != Some("resolved") {
        return Ok(Vec::new());
    }
    map_incident(&event, event_type, &incident, received_at).map(|alert| vec![alert])
}

/// `data.type` says what `data` is; an incident event without it is taken to
/// carry the incident, as every incident event did before the subtypes existed.
fn is_incident(data: &Obj<'_, '_>) -> Result<bool, MapError> {
    Ok(data.opt_str("type")?.is_none_or(|t| t == "incident"))
}

fn map_incident(
    event: &Obj<'_, '_>,
    event_type: &str,
    incident: &Obj<'_, '_>,
    received_at: Timestamp,
) -> Result<Alert, MapError> {
    let title = incident.str("title")?;
    let id = incident.str("id")?;
    let occurred_at = event.opt_time("occurred_at")?;
    let state = incident.opt_str("status")?;

    // No empty-label check needed: `event_type` is always one of them.
    let mut labels = BTreeMap::new();
    put(&mut labels, "alertname", Some(title));
    put(&mut labels, "service", summary(incident, "service")?);
    put(&mut labels, "urgency", incident.opt_str("urgency")?);
    put(&mut labels, "priority", summary(incident, "priority")?);
    put(
        &mut labels,
        "incident_key",
        incident.opt_str("incident_key")?,
    );
    put(&mut labels, "event_type", Some(event_type));
    put(
        &mut labels,
        "resource_type",
        event.opt_str("resource_type")?,
    );

    let html_url = incident.opt_str("html_url")?;
    let number = incident.opt_u64("number")?.map(|n| n.to_string());
    let mut annotations = BTreeMap::new();
    put(&mut annotations, "summary", Some(title));
    put(&mut annotations, "html_url", html_url);
    put(&mut annotations, "number", number.as_deref());
    put(&mut annotations, "status", state);
    put(
        &mut annotations,
        "escalation_policy",
        summary(incident, "escalation_policy")?,
    );
    put(&mut annotations, "event_id", event.opt_str("id")?);

    // The incident's own state wins over the event type: a priority change on
    // an already resolved incident must not look like the incident firing again.
    let resolved = event_type == "incident.resolved" || state == Some("resolved");
    let status = if resolved {
        AlertStatus::Resolved
    } else {
        AlertStatus::Firing
    };
    Ok(Alert {
        source: incident.at().source.to_owned(),
        fingerprint: id.to_owned(),
        status,
        labels,
        annotations,
        // A reopened incident fires anew from the reopening: its creation time
        // would make `age` guards pass at once.
        starts_at: if event_type == "incident.reopened" {
            occurred_at.unwrap_or(received_at)
        } else {
            incident
                .opt_time("created_at")?
                .or(occurred_at)
                .unwrap_or(received_at)
        },
        ends_at: resolved.then(|| occurred_at.unwrap_or(received_at)),
        // Each delivery has its own `event.id`, and that is no group: leaving
        // this empty lets serve's dedupe treat two events of one incident alike.
        group_key: None,
        generator_url: html_url.filter(|u| !u.is_empty()).map(str::to_owned),
    })
}

/// The `summary` of a reference object (`service`, `priority`, ...): its display name.
fn summary<'v>(incident: &Obj<'v, '_>, name: &str) -> Result<Option<&'v str>, MapError> {
    match incident.opt_obj(name)? {
        Some(reference) => reference.opt_str("summary"),
        None => Ok(None),
    }
}

/// Adds a label or annotation when the payload has a non-empty value for it.
fn put(map: &mut BTreeMap<String, String>, name: &str, value: Option<&str>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        map.insert(name.to_owned(), value.to_owned());
    }
}
