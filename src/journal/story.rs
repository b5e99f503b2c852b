//! The whole story of one event or one alert, read from the journal: what
//! `resgate explain` prints and `GET /api/v1/events/{id}/explain` answers.
//!
//! A story is the subject's alerts as mapped, then every step in time order:
//! each webhook that carried them (with its body while the retention period
//! keeps it), each decision with its proof, each state change of the events
//! they fired or joined, and each call answer and status poll.

use std::collections::BTreeSet;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use super::db::params;
use super::{
    DECISION_COLUMNS, Db, Dialect, EVENT_COLUMNS, JournalError, Result, decision_json_from,
    event_json, parse_opt_ts, parse_ts,
};
use crate::engine::{Decision, EventState, Transition};
use crate::scenario::{Notification, Trace};
use crate::source::Alert;

#[derive(Debug, Serialize)]
pub struct Story {
    /// What was asked about: `event` or `alert`, and its ID or fingerprint.
    pub subject: Subject,
    pub alerts: Vec<StoryAlert>,
    /// The events involved (as `/api/v1/events` lists them), oldest first.
    pub events: Vec<Value>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
pub struct Subject {
    pub kind: &'static str,
    pub id: String,
}

#[derive(Debug, Serialize)]
pub struct StoryAlert {
    pub fingerprint: String,
    /// The alert as the source mapped it (labels, annotations, status...).
    pub alert: Value,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

/// One moment of the story.
#[derive(Debug, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A webhook that carried one of the alerts.
    Received {
        at: Timestamp,
        inbound: i64,
        source: String,
        /// The story's alerts it carried, as the source mapped them.
        alerts: Vec<Alert>,
        /// The body as received (JSON when it parses); `None` once pruned.
        body: Option<Value>,
    },
    Decided {
        at: Timestamp,
        decision: Decision,
        /// The webhook it was decided from; `None` for a re-evaluation
        /// (a deferral's timer, a state change).
        inbound: Option<i64>,
    },
    /// An event changed state.
    Changed {
        at: Timestamp,
        event: String,
        from: Option<String>,
        to: String,
    },
    /// The call's answer, a status poll, or an error on the way.
    Noted {
        at: Timestamp,
        event: String,
        detail: Value,
    },
}

impl Step {
    pub fn at(&self) -> Timestamp {
        match self {
            Step::Received { at, .. }
            | Step::Decided { at, .. }
            | Step::Changed { at, .. }
            | Step::Noted { at, .. } => *at,
        }
    }

    /// At the same moment, a webhook comes before what was decided from it,
    /// and a decision before the changes of the event it fired.
    fn rank(&self) -> u8 {
        match self {
            Step::Received { .. } => 0,
            Step::Decided { .. } => 1,
            Step::Changed { .. } | Step::Noted { .. } => 2,
        }
    }
}

/// The story of an event (by ID) or else of an alert (by fingerprint);
/// `None` when the journal knows neither.
pub fn story(conn: &Db, key: &str) -> Result<Option<Story>> {
    let event_sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1");
    let event: Option<Value> = conn.query_opt(&event_sql, params![key], event_json)?;
    let (subject, fingerprints, mut event_ids) = match event {
        Some(e) => {
            let mut fps: BTreeSet<String> = e["alerts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect();
            if let Some(a) = e["alert"].as_str() {
                fps.insert(a.to_owned());
            }
            let subject = Subject {
                kind: "event",
                id: key.to_owned(),
            };
            (subject, fps, vec![key.to_owned()])
        }
        None => {
            let known = conn.query_one(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM alerts WHERE fingerprint = ?1)
                     OR EXISTS (SELECT 1 FROM decisions WHERE alert = ?1) THEN 1 ELSE 0 END",
                params![key],
                |r| r.bool(0),
            )?;
            if !known {
                return Ok(None);
            }
            let events = conn.query(
                "SELECT DISTINCT event FROM decisions WHERE alert = ?1 AND event IS NOT NULL",
                params![key],
                |r| r.string(0),
            )?;
            let subject = Subject {
                kind: "alert",
                id: key.to_owned(),
            };
            (subject, BTreeSet::from([key.to_owned()]), events)
        }
    };

    let mut steps = Vec::new();
    let mut inbound_ids = BTreeSet::new();
    let mut seen_decisions = BTreeSet::new();
    // An event's story holds every decision naming it (the collapses too);
    // an alert's, every decision on the alert.
    let mut decisions_of = |sql: &str, key: &str, steps: &mut Vec<Step>| -> Result<()> {
        let rows = conn.query(sql, params![key], |r| {
            Ok((r.int(1)?, r.opt_int(0)?, decision_json_from(r, 1)?))
        })?;
        for (seq, inbound, json) in rows {
            if !seen_decisions.insert(seq) {
                continue;
            }
            let Ok(decision) = serde_json::from_value::<Decision>(json) else {
                continue;
            };
            inbound_ids.extend(inbound);
            steps.push(Step::Decided {
                at: decision.at,
                decision,
                inbound,
            });
        }
        Ok(())
    };
    if subject.kind == "event" {
        decisions_of(
            &format!(
                "SELECT inbound_id, {DECISION_COLUMNS} FROM decisions WHERE event = ?1 ORDER BY seq"
            ),
            key,
            &mut steps,
        )?;
        // An escalation names no event of its own, but its proof lists the
        // attempts that spent the budget: it belongs to their stories.
        let names_event = match conn.dialect() {
            Dialect::Sqlite => {
                "EXISTS (SELECT 1 FROM json_each(proof, '$.events') WHERE value = ?1)"
            }
            Dialect::Postgres => "(proof::jsonb -> 'events') @> to_jsonb(?1::text)",
        };
        decisions_of(
            &format!(
                "SELECT inbound_id, {DECISION_COLUMNS} FROM decisions
                 WHERE verdict = 'escalate' AND {names_event} ORDER BY seq"
            ),
            key,
            &mut steps,
        )?;
    } else {
        let sql = format!(
            "SELECT inbound_id, {DECISION_COLUMNS} FROM decisions WHERE alert = ?1 ORDER BY seq"
        );
        for fp in &fingerprints {
            decisions_of(&sql, fp, &mut steps)?;
        }
    }

    // Notifications that decided nothing (a resolve, a duplicate) are part of
    // the story too: a resolve is what makes an event `rescued`. Bodies are
    // kept only for the retention period, so this scan is bounded by it. One
    // scan for all the story's fingerprints: one per fingerprint made an
    // event that collapsed k alerts read the whole table k times (a storm's
    // event page, `explain`).
    let carries = match conn.dialect() {
        Dialect::Sqlite => {
            "SELECT DISTINCT inbound.id FROM inbound, json_each(inbound.alerts) AS carried
             WHERE json_extract(carried.value, '$.fingerprint')
                   IN (SELECT value FROM json_each(?1))"
        }
        Dialect::Postgres => {
            "SELECT id FROM inbound WHERE EXISTS (
               SELECT 1 FROM jsonb_array_elements(inbound.alerts::jsonb) AS carried
               WHERE carried ->> 'fingerprint'
                     IN (SELECT jsonb_array_elements_text((?1::text)::jsonb)))"
        }
    };
    if !fingerprints.is_empty() {
        let wanted = serde_json::to_string(&fingerprints).map_err(|e| JournalError {
            message: format!("cannot encode the story's fingerprints: {e}"),
        })?;
        inbound_ids.extend(conn.query(carries, params![wanted], |r| r.int(0))?);
    }
    for id in &inbound_ids {
        let row = conn.query_opt(
            "SELECT received_at, source, body, alerts FROM inbound WHERE id = ?1",
            params![*id],
            |r| {
                Ok((
                    r.string(0)?,
                    r.string(1)?,
                    r.bytes(2)?.to_vec(),
                    r.string(3)?,
                ))
            },
        )?;
        // Pruned after the retention period: the decisions still tell what
        // arrived, the body is gone.
        let Some((at, source, body, alerts)) = row else {
            continue;
        };
        let carried: Vec<Alert> = serde_json::from_str::<Vec<Alert>>(&alerts)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| fingerprints.contains(&a.fingerprint))
            .collect();
        let body = serde_json::from_slice::<Value>(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        steps.push(Step::Received {
            at: parse_ts(&at)?,
            inbound: *id,
            source,
            alerts: carried,
            body: Some(body),
        });
    }

    event_ids.sort();
    event_ids.dedup();
    let mut events = Vec::new();
    for id in &event_ids {
        if let Some(e) = conn.query_opt(&event_sql, params![id], event_json)? {
            events.push(e);
        }
        let rows = conn.query(
            "SELECT at, from_state, to_state, detail FROM event_changes WHERE event = ?1 ORDER BY seq",
            params![id],
            |r| {
                Ok((
                    r.string(0)?,
                    r.opt_string(1)?,
                    r.opt_string(2)?,
                    r.opt_string(3)?,
                ))
            },
        )?;
        for (at, from, to, detail) in rows {
            let at = parse_ts(&at)?;
            steps.push(match to {
                Some(to) => Step::Changed {
                    at,
                    event: id.clone(),
                    from,
                    to,
                },
                None => Step::Noted {
                    at,
                    event: id.clone(),
                    detail: detail
                        .and_then(|d| serde_json::from_str(&d).ok())
                        .unwrap_or(Value::Null),
                },
            });
        }
    }
    events.sort_by_key(|e| e["fired_at"].as_str().map(str::to_owned));
    // Stable: steps of one kind keep their journal order.
    steps.sort_by_key(|s| (s.at(), s.rank()));

    let mut alerts = Vec::new();
    for fp in &fingerprints {
        let row = conn.query_opt(
            "SELECT alert, first_seen, last_seen, resolved_at FROM alerts WHERE fingerprint = ?1",
            params![fp],
            |r| Ok((r.string(0)?, r.string(1)?, r.string(2)?, r.opt_string(3)?)),
        )?;
        if let Some((alert, first, last, resolved)) = row {
            alerts.push(StoryAlert {
                fingerprint: fp.clone(),
                alert: serde_json::from_str(&alert).unwrap_or(Value::Null),
                first_seen: parse_ts(&first)?,
                last_seen: parse_ts(&last)?,
                resolved_at: parse_opt_ts(resolved)?,
            });
        }
    }

    Ok(Some(Story {
        subject,
        alerts,
        events,
        steps,
    }))
}

impl Story {
    /// The story as a timeline run, for the picture: its decisions, its
    /// events' changes, and the notifications of its alerts.
    pub fn trace(&self) -> Trace {
        let mut trace = Trace::default();
        let target_of = |event: &str| -> (String, String) {
            self.events
                .iter()
                .find(|e| e["id"] == event)
                .map(|e| {
                    let text = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
                    (text("remediation"), text("target"))
                })
                .unwrap_or_default()
        };
        for step in &self.steps {
            match step {
                Step::Received { at, alerts, .. } => {
                    trace
                        .notifications
                        .extend(alerts.iter().map(|alert| Notification {
                            at: *at,
                            alert: alert.clone(),
                        }));
                }
                Step::Decided { decision, .. } => {
                    trace.decisions.push(decision.clone());
                    trace
                        .log
                        .push(crate::scenario::Entry::Decision(decision.clone()));
                }
                Step::Changed {
                    at,
                    event,
                    from,
                    to,
                } => {
                    let Some(to) = EventState::parse(to) else {
                        continue;
                    };
                    let (remediation, target) = target_of(event);
                    let t = Transition {
                        at: *at,
                        event: event.clone(),
                        remediation,
                        target,
                        from: from.as_deref().and_then(EventState::parse),
                        to,
                    };
                    trace.transitions.push(t.clone());
                    trace.log.push(crate::scenario::Entry::Transition(t));
                }
                Step::Noted { .. } => {}
            }
        }
        trace.end = self.steps.last().map(Step::at);
        trace
    }

    /// When the story starts (its first step), if it has any.
    pub fn start(&self) -> Option<Timestamp> {
        self.steps.first().map(Step::at)
    }
}

/// Whether `key` names an event in the journal (the API's explain route
/// only explains events).
pub fn is_event(conn: &Db, key: &str) -> Result<bool> {
    Ok(conn
        .query_opt("SELECT 1 FROM events WHERE id = ?1", params![key], |_| {
            Ok(())
        })?
        .is_some())
}
