//! Reading the journal back as a story: what the status page shows.
//!
//! [`window`] rebuilds a [`Trace`] (the same shape a scenario run produces)
//! from the rows of a time window, so the timeline picture of `serve` and of
//! `simulate --svg` come from one model and one renderer.

use jiff::Timestamp;
use serde_json::Value;

use super::db::params;
use super::{DECISION_COLUMNS, Db, EVENT_COLUMNS, Result, decision_json, event_json, parse_ts, ts};
use crate::engine::{Decision, EventState, Transition};
use crate::scenario::{Entry, Notification, Trace};
use crate::source::Alert;

/// A window of the journal, ready to draw.
pub struct Window {
    pub trace: Trace,
    /// More decisions fell in the window than `limit`: the oldest were left out.
    pub truncated: bool,
}

/// Everything decided, changed and received from `since` to `until`, with at
/// most `limit` decisions (the newest).
pub fn window(conn: &Db, since: Timestamp, until: Timestamp, limit: u32) -> Result<Window> {
    let decisions: Vec<Decision> = conn
        .query(
            &format!(
                "SELECT {DECISION_COLUMNS} FROM (SELECT * FROM decisions WHERE at >= ?1 AND at <= ?2
                   ORDER BY seq DESC LIMIT ?3) AS w ORDER BY seq"
            ),
            params![ts(since), ts(until), limit.saturating_add(1)],
            decision_json,
        )?
        .into_iter()
        .filter_map(decision_of)
        .collect();
    let truncated = decisions.len() > limit as usize;
    let decisions: Vec<Decision> = decisions.into_iter().skip(usize::from(truncated)).collect();
    // The picture starts at the oldest decision kept, so a truncated window
    // does not show changes and notifications without their decisions.
    let since = match (truncated, decisions.first()) {
        (true, Some(d)) => d.at,
        _ => since,
    };

    let transitions: Vec<Transition> = conn
        .query(
            "SELECT c.at, c.event, e.remediation, e.target, c.from_state, c.to_state
             FROM event_changes c JOIN events e ON e.id = c.event
             WHERE c.to_state IS NOT NULL AND c.at >= ?1 AND c.at <= ?2 ORDER BY c.seq",
            params![ts(since), ts(until)],
            |r| {
                // A state this resgate does not know (a newer journal): leave it
                // out of the picture rather than fail the page.
                let Some(to) = EventState::parse(r.str(5)?) else {
                    return Ok(None);
                };
                Ok(Some(Transition {
                    at: parse_ts(r.str(0)?)?,
                    event: r.string(1)?,
                    remediation: r.string(2)?,
                    target: r.string(3)?,
                    from: r.opt_str(4)?.and_then(EventState::parse),
                    to,
                }))
            },
        )?
        .into_iter()
        .flatten()
        .collect();

    let mut notifications = Vec::new();
    for (at, alerts) in conn.query(
        "SELECT received_at, alerts FROM inbound
         WHERE received_at >= ?1 AND received_at <= ?2 ORDER BY id",
        params![ts(since), ts(until)],
        |r| {
            let alerts: Vec<Alert> = serde_json::from_str(r.str(1)?)?;
            Ok((parse_ts(r.str(0)?)?, alerts))
        },
    )? {
        notifications.extend(alerts.into_iter().map(|alert| Notification { at, alert }));
    }

    let log = interleave(&decisions, &transitions);
    Ok(Window {
        trace: Trace {
            decisions,
            transitions,
            notifications,
            end: Some(until),
            log,
        },
        truncated,
    })
}

/// Decisions and transitions in time order; at the same moment the decision
/// comes first (a fire precedes the changes of the event it created).
fn interleave(decisions: &[Decision], transitions: &[Transition]) -> Vec<Entry> {
    let mut log = Vec::with_capacity(decisions.len() + transitions.len());
    let (mut d, mut t) = (decisions.iter().peekable(), transitions.iter().peekable());
    loop {
        let take_decision = match (d.peek(), t.peek()) {
            (Some(a), Some(b)) => a.at <= b.at,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_decision {
            log.extend(d.next().cloned().map(Entry::Decision));
        } else {
            log.extend(t.next().cloned().map(Entry::Transition));
        }
    }
    log
}

fn decision_of(row: Value) -> Option<Decision> {
    serde_json::from_value(row).ok()
}

/// Events not in a final state, oldest first.
pub fn open_events(conn: &Db) -> Result<Vec<Value>> {
    conn.query(
        &format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE state IN ('pending', 'accepted', 'running', 'warming') ORDER BY seq"
        ),
        params![],
        event_json,
    )
}

/// The newest decisions first.
pub fn latest_decisions(conn: &Db, limit: u32) -> Result<Vec<Value>> {
    conn.query(
        &format!("SELECT {DECISION_COLUMNS} FROM decisions ORDER BY seq DESC LIMIT ?1"),
        params![limit],
        decision_json,
    )
}

/// Everything a backtest replays and compares against, from the journal.
pub struct Recorded {
    /// The webhooks still retained, in the order they were decided.
    pub inbound: Vec<super::Pending>,
    /// Every decision, in journal order, without its proof.
    pub decisions: Vec<RecordedDecision>,
    pub events: Vec<RecordedEvent>,
    /// What refreshes changed in fact relations, in journal order (DESIGN.md §8).
    pub facts: Vec<super::FactChange>,
}

/// A decision as the journal keeps it, without its proof.
#[derive(Debug, Clone)]
pub struct RecordedDecision {
    pub at: Timestamp,
    pub alert: String,
    pub remediation: Option<String>,
    pub target: Option<String>,
    pub verdict: crate::engine::Verdict,
    pub reason: Option<String>,
}

impl From<&Decision> for RecordedDecision {
    fn from(d: &Decision) -> Self {
        RecordedDecision {
            at: d.at,
            alert: d.alert.clone(),
            remediation: d.remediation.clone(),
            target: d.target.clone(),
            verdict: d.verdict,
            reason: d.reason.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordedEvent {
    pub id: String,
    pub remediation: String,
    pub target: String,
    pub fired_at: Timestamp,
    /// When the remediator's work ended and how (`warming` for a success),
    /// `None` while it had not ended.
    pub ended: Option<(Timestamp, EventState)>,
}

pub fn recorded(conn: &Db) -> Result<Recorded> {
    let inbound = super::all_inbound(conn)?;

    let decisions = conn
        .query(
            "SELECT at, alert, remediation, target, verdict, reason FROM decisions ORDER BY seq",
            params![],
            |r| {
                let Some(verdict) = crate::engine::Verdict::parse(r.str(4)?) else {
                    return Ok(None);
                };
                Ok(Some(RecordedDecision {
                    at: parse_ts(r.str(0)?)?,
                    alert: r.string(1)?,
                    remediation: r.opt_string(2)?,
                    target: r.opt_string(3)?,
                    verdict,
                    reason: r.opt_string(5)?,
                }))
            },
        )?
        .into_iter()
        .flatten()
        .collect();

    let events = conn.query(
        "SELECT e.id, e.remediation, e.target, e.fired_at,
           (SELECT c.at FROM event_changes c WHERE c.event = e.id AND c.to_state IN
              ('warming', 'failed', 'timed_out', 'refused', 'rescued', 'not_rescued')
            ORDER BY c.seq LIMIT 1),
           (SELECT c.to_state FROM event_changes c WHERE c.event = e.id AND c.to_state IN
              ('warming', 'failed', 'timed_out', 'refused', 'rescued', 'not_rescued')
            ORDER BY c.seq LIMIT 1)
         FROM events e ORDER BY e.seq",
        params![],
        |r| {
            let ended = match (r.opt_str(4)?, r.opt_str(5)?.and_then(EventState::parse)) {
                (Some(at), Some(state)) => Some((parse_ts(at)?, state)),
                _ => None,
            };
            Ok(RecordedEvent {
                id: r.string(0)?,
                remediation: r.string(1)?,
                target: r.string(2)?,
                fired_at: parse_ts(r.str(3)?)?,
                ended,
            })
        },
    )?;
    let facts = conn.query(
        "SELECT at, relation, added, removed FROM fact_changes ORDER BY seq",
        params![],
        |r| {
            let rows = |text: &str| -> Result<Vec<crate::engine::FactRow>> {
                serde_json::from_str(text).map_err(|e| super::JournalError {
                    message: format!("bad fact rows in the journal: {e}"),
                })
            };
            Ok(super::FactChange {
                at: parse_ts(r.str(0)?)?,
                relation: r.string(1)?,
                added: rows(r.str(2)?)?,
                removed: rows(r.str(3)?)?,
            })
        },
    )?;
    Ok(Recorded {
        inbound,
        decisions,
        events,
        facts,
    })
}
