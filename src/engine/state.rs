//! What the engine remembers: alerts, events, pauses, escalations.
//!
//! Plain data. The engine changes it only through its own methods so that the
//! Datalog facts derived from it stay in step (see `facts`).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;

use crate::source::Alert;

/// Where an event is in its lifecycle (DESIGN.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// Fire decided; the call to the remediator is under way. Counts as in flight,
    /// so a second alert collapses into it instead of firing again.
    Pending,
    Accepted,
    Running,
    /// Succeeded; waiting `warmup` to judge whether the alert resolved.
    Warming,
    Rescued,
    NotRescued,
    Failed,
    TimedOut,
    /// The remediator never accepted the call (refused, 5xx, unreachable).
    Refused,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Pending => "pending",
            EventState::Accepted => "accepted",
            EventState::Running => "running",
            EventState::Warming => "warming",
            EventState::Rescued => "rescued",
            EventState::NotRescued => "not_rescued",
            EventState::Failed => "failed",
            EventState::TimedOut => "timed_out",
            EventState::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<EventState> {
        Some(match s {
            "pending" => EventState::Pending,
            "accepted" => EventState::Accepted,
            "running" => EventState::Running,
            "warming" | "succeeded" => EventState::Warming,
            "rescued" => EventState::Rescued,
            "not_rescued" => EventState::NotRescued,
            "failed" => EventState::Failed,
            "timed_out" => EventState::TimedOut,
            "refused" => EventState::Refused,
            _ => return None,
        })
    }

    /// Accepted or running (or about to be): what collapses re-fires.
    pub fn in_flight(self) -> bool {
        matches!(self, EventState::Pending | EventState::Accepted | EventState::Running)
    }

    /// No further transition will happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            EventState::Rescued
                | EventState::NotRescued
                | EventState::Failed
                | EventState::TimedOut
                | EventState::Refused
        )
    }
}

impl std::fmt::Display for EventState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertEntry {
    pub alert: Alert,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub id: String,
    pub remediation: String,
    pub target: String,
    /// The alert whose decision fired it.
    pub alert: String,
    /// Every alert that fired or collapsed into it: the event is rescued when
    /// all of them have resolved.
    pub alerts: BTreeSet<String>,
    pub state: EventState,
    /// The remediator's own ID, once it accepted the call.
    pub remote_id: Option<String>,
    pub fired_at: Timestamp,
    pub succeeded_at: Option<Timestamp>,
    pub warm_until: Option<Timestamp>,
    pub history: Vec<(Timestamp, EventState)>,
}

/// An operator's pause of a remediation, or of one target of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    pub remediation: String,
    pub target: Option<String>,
    pub reason: String,
    pub until: Option<Timestamp>,
}

impl Pause {
    pub fn covers(&self, remediation: &str, target: &str, now: Timestamp) -> bool {
        self.remediation == remediation
            && self.target.as_deref().is_none_or(|t| t == target)
            && self.until.is_none_or(|u| now < u)
    }

    pub fn scope(&self) -> String {
        match &self.target {
            Some(t) => format!("{}/{t}", self.remediation),
            None => self.remediation.clone(),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct State {
    pub alerts: BTreeMap<String, AlertEntry>,
    pub events: Vec<Event>,
    pub pauses: Vec<Pause>,
    /// Last escalation per (remediation, target): escalate once per budget window.
    pub escalated: BTreeMap<(String, String), Timestamp>,
}

impl State {
    pub fn event(&self, id: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.id == id)
    }

    pub fn in_flight(&self, remediation: &str, target: &str) -> Option<&Event> {
        self.events
            .iter()
            .rev()
            .find(|e| e.remediation == remediation && e.target == target && e.state.in_flight())
    }
}
