//! Reading the journal back as a story: what the status page shows.
//!
//! [`window`] rebuilds a [`Trace`] (the same shape a scenario run produces)
//! from the rows of a time window, so the timeline picture of `serve` and of
//! `simulate --svg` come from one model and one renderer.

use jiff::Timestamp;
use rusqlite::{Connection, params};
use serde_json::Value;

use super::{Result, decision_json, event_json, parse_ts, ts};
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
pub fn window(conn: &Connection, since: Timestamp, until: Timestamp, limit: u32) -> Result<Window> {
    let mut stmt = conn.prepare(
        "SELECT * FROM (SELECT * FROM decisions WHERE at >= ?1 AND at <= ?2
                        ORDER BY seq DESC LIMIT ?3) ORDER BY seq",
    )?;
    let decisions: Vec<Decision> = stmt
        .query_map(params![ts(since), ts(until), limit + 1], decision_json)?
        .collect::<rusqlite::Result<Vec<_>>>()?
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

    let mut stmt = conn.prepare(
        "SELECT c.at, c.event, e.remediation, e.target, c.from_state, c.to_state
         FROM event_changes c JOIN events e ON e.id = c.event
         WHERE c.to_state IS NOT NULL AND c.at >= ?1 AND c.at <= ?2 ORDER BY c.seq",
    )?;
    let rows = stmt.query_map(params![ts(since), ts(until)], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut transitions = Vec::new();
    for row in rows {
        let (at, event, remediation, target, from, to) = row?;
        // A state this resgate does not know (a newer journal): leave it out
        // of the picture rather than fail the page.
        let Some(to) = EventState::parse(&to) else {
            continue;
        };
        transitions.push(Transition {
            at: parse_ts(&at)?,
            event,
            remediation,
            target,
            from: from.as_deref().and_then(EventState::parse),
            to,
        });
    }

    let mut stmt = conn.prepare(
        "SELECT received_at, alerts FROM inbound
         WHERE received_at >= ?1 AND received_at <= ?2 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![ts(since), ts(until)], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut notifications = Vec::new();
    for row in rows {
        let (at, alerts) = row?;
        let at = parse_ts(&at)?;
        let alerts: Vec<Alert> = serde_json::from_str(&alerts)?;
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
pub fn open_events(conn: &Connection) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare(
        "SELECT * FROM events WHERE state IN ('pending', 'accepted', 'running', 'warming')
         ORDER BY seq",
    )?;
    let rows = stmt.query_map([], event_json)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The newest decisions first.
pub fn latest_decisions(conn: &Connection, limit: u32) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare("SELECT * FROM decisions ORDER BY seq DESC LIMIT ?1")?;
    let rows = stmt.query_map([limit], decision_json)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Everything a backtest replays and compares against, from the journal.
pub struct Recorded {
    /// The webhooks still retained, in the order they were decided.
    pub inbound: Vec<super::Pending>,
    /// Every decision, in journal order, without its proof.
    pub decisions: Vec<RecordedDecision>,
    pub events: Vec<RecordedEvent>,
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

pub fn recorded(conn: &Connection) -> Result<Recorded> {
    let inbound = super::inbound_rows(conn, "")?;

    let mut stmt = conn.prepare(
        "SELECT at, alert, remediation, target, verdict, reason FROM decisions ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut decisions = Vec::new();
    for row in rows {
        let (at, alert, remediation, target, verdict, reason) = row?;
        let Some(verdict) = crate::engine::Verdict::parse(&verdict) else {
            continue;
        };
        decisions.push(RecordedDecision {
            at: parse_ts(&at)?,
            alert,
            remediation,
            target,
            verdict,
            reason,
        });
    }

    let mut stmt = conn.prepare(
        "SELECT e.id, e.remediation, e.target, e.fired_at,
           (SELECT c.at FROM event_changes c WHERE c.event = e.id AND c.to_state IN
              ('warming', 'failed', 'timed_out', 'refused', 'rescued', 'not_rescued')
            ORDER BY c.seq LIMIT 1),
           (SELECT c.to_state FROM event_changes c WHERE c.event = e.id AND c.to_state IN
              ('warming', 'failed', 'timed_out', 'refused', 'rescued', 'not_rescued')
            ORDER BY c.seq LIMIT 1)
         FROM events e ORDER BY e.seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (id, remediation, target, fired_at, ended_at, ended_state) = row?;
        let ended = match (ended_at, ended_state.as_deref().and_then(EventState::parse)) {
            (Some(at), Some(state)) => Some((parse_ts(&at)?, state)),
            _ => None,
        };
        events.push(RecordedEvent {
            id,
            remediation,
            target,
            fired_at: parse_ts(&fired_at)?,
            ended,
        });
    }
    Ok(Recorded {
        inbound,
        decisions,
        events,
    })
}
