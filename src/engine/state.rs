//! What the engine remembers: alerts, events, pauses, escalations.
//!
//! Plain data. The engine changes it only through its own methods so that the
//! Datalog facts derived from it stay in step (see `facts`).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::source::Alert;

/// Where an event is in its lifecycle (DESIGN.md §3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EventState {
    /// `mode: approve`: fired, waiting for an operator before the call. Counts
    /// as in flight, so repeats collapse into it instead of asking again.
    AwaitingApproval,
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
    /// `mode: approve`: nobody approved within `approve_within`; never called.
    Expired,
}

impl EventState {
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::AwaitingApproval => "awaiting_approval",
            EventState::Pending => "pending",
            EventState::Accepted => "accepted",
            EventState::Running => "running",
            EventState::Warming => "warming",
            EventState::Rescued => "rescued",
            EventState::NotRescued => "not_rescued",
            EventState::Failed => "failed",
            EventState::TimedOut => "timed_out",
            EventState::Refused => "refused",
            EventState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<EventState> {
        Some(match s {
            "awaiting_approval" => EventState::AwaitingApproval,
            "pending" => EventState::Pending,
            "accepted" => EventState::Accepted,
            "running" => EventState::Running,
            "warming" | "succeeded" => EventState::Warming,
            "rescued" => EventState::Rescued,
            "not_rescued" => EventState::NotRescued,
            "failed" => EventState::Failed,
            "timed_out" => EventState::TimedOut,
            "refused" => EventState::Refused,
            "expired" => EventState::Expired,
            _ => return None,
        })
    }

    /// Accepted or running (or about to be): what collapses re-fires.
    pub fn in_flight(self) -> bool {
        matches!(
            self,
            EventState::AwaitingApproval
                | EventState::Pending
                | EventState::Accepted
                | EventState::Running
        )
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
                | EventState::Expired
        )
    }
}

impl std::fmt::Display for EventState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An alert in state with its times, made whole (state keeps it packed: see
/// [`Alerts`](super::Alerts)).
#[derive(Debug, Clone, Serialize)]
pub struct AlertEntry {
    pub alert: std::sync::Arc<Alert>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
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

impl Event {
    /// When the call to the remediator went out: at the fire, or for a
    /// `mode: approve` event at its approval (its last move to `pending`).
    /// The wait for the remediator (`poll.timeout`) counts from here: counted
    /// from a fire approved late, it would time a job out as it starts and
    /// free the target for a second attempt while the first may run.
    pub fn called_at(&self) -> Timestamp {
        self.history
            .iter()
            .rev()
            .find(|(_, s)| *s == EventState::Pending)
            .map_or(self.fired_at, |(at, _)| *at)
    }
}

/// An operator's pause of a remediation, or of one target of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

/// The engine's memory. Events are only ever appended; the indexes below are
/// kept by [`State::push_event`] and [`State::set_event_state`] so that no
/// decision scans the whole event history (it grows for as long as serve runs).
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Packed (see [`Alerts`]): `get` makes an alert whole.
    pub alerts: super::Alerts,
    /// Read freely; change only through the methods below.
    pub events: Vec<Event>,
    pub pauses: Vec<Pause>,
    /// Last escalation per (remediation, target): escalate once per budget window.
    pub escalated: BTreeMap<(String, String), Timestamp>,
    by_id: FxHashMap<String, usize>,
    /// remediation → target → its events, oldest first. Nested, so that a
    /// lookup by two `&str` builds no owned key (it runs on every decision).
    by_target: FxHashMap<String, FxHashMap<String, Vec<usize>>>,
    /// Events that are not final yet (in flight or warming).
    open: BTreeSet<usize>,
    /// remediation → target → its events that are not final, oldest first:
    /// what collapse and warm-up look at, however long the target's history.
    /// Nested like `by_target`.
    open_on: FxHashMap<String, FxHashMap<String, Vec<usize>>>,
    /// remediation → how many of its events are in flight.
    flying: FxHashMap<String, usize>,
    /// (warm_until, event) of warming events: the next warm-up to end is first.
    warm_timers: BTreeSet<(Timestamp, usize)>,
    /// (warm_until, event) of every success whose warm-up window may still be
    /// running, whatever the event's state is now (DESIGN.md §3 row 2: a
    /// rescued event still holds its target until the window ends). When one
    /// ends, deferrals are decided again.
    windows: BTreeSet<(Timestamp, usize)>,
    /// remediation → target → (end of the latest warm-up window, its event).
    /// Nested like `by_target`.
    window_on: FxHashMap<String, FxHashMap<String, (Timestamp, usize)>>,
    /// (deadline, event) of events awaiting approval: the next to expire first.
    approval_timers: BTreeSet<(Timestamp, usize)>,
    approval_deadlines: FxHashMap<usize, Timestamp>,
}

impl State {
    pub fn event(&self, id: &str) -> Option<&Event> {
        self.by_id.get(id).and_then(|&i| self.events.get(i))
    }

    pub fn event_index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// The events of one remediation on one target, oldest first.
    pub fn events_on(
        &self,
        remediation: &str,
        target: &str,
    ) -> impl DoubleEndedIterator<Item = &Event> {
        self.by_target
            .get(remediation)
            .and_then(|targets| targets.get(target))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.events.get(i))
    }

    /// The events of one remediation on one target that are not final
    /// (awaiting approval, in flight or warming), oldest first.
    pub fn open_on(
        &self,
        remediation: &str,
        target: &str,
    ) -> impl DoubleEndedIterator<Item = &Event> {
        self.open_on
            .get(remediation)
            .and_then(|targets| targets.get(target))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.events.get(i))
    }

    pub fn in_flight(&self, remediation: &str, target: &str) -> Option<&Event> {
        self.open_on(remediation, target)
            .rev()
            .find(|e| e.state.in_flight())
    }

    /// How many events of `remediation` are in flight, on any target.
    pub fn in_flight_count(&self, remediation: &str) -> usize {
        self.flying.get(remediation).copied().unwrap_or(0)
    }

    /// Indexes of events that are in flight or warming.
    pub fn open_events(&self) -> impl Iterator<Item = usize> + '_ {
        self.open.iter().copied()
    }

    /// When the earliest warm-up ends.
    pub fn next_warm_timer(&self) -> Option<(Timestamp, usize)> {
        self.warm_timers.first().copied()
    }

    /// Starts an event's warm-up (it must be warming).
    pub fn set_warm_until(&mut self, i: usize, succeeded_at: Timestamp, until: Timestamp) {
        if let Some(e) = self.events.get_mut(i) {
            e.succeeded_at = Some(succeeded_at);
            e.warm_until = Some(until);
            self.warm_timers.insert((until, i));
        }
        self.set_window(i, until);
    }

    /// Records that event `i`'s success holds its target until `until`, in
    /// whatever state the event is (a restored rescued event included).
    pub fn set_window(&mut self, i: usize, until: Timestamp) {
        let Some(e) = self.events.get(i) else {
            return;
        };
        self.windows.insert((until, i));
        let slot = self
            .window_on
            .entry(e.remediation.clone())
            .or_default()
            .entry(e.target.clone())
            .or_insert((until, i));
        if until >= slot.0 {
            *slot = (until, i);
        }
    }

    /// The event whose success on (remediation, target) holds the target in
    /// its warm-up window at `now`, if any: the one whose window ends last.
    pub fn warm_window(&self, remediation: &str, target: &str, now: Timestamp) -> Option<&Event> {
        let &(until, i) = self.window_on.get(remediation)?.get(target)?;
        (now < until).then(|| self.events.get(i)).flatten()
    }

    /// When the earliest warm-up window ends (the event may be rescued by then).
    pub fn next_window_end(&self) -> Option<Timestamp> {
        self.windows.first().map(|(t, _)| *t)
    }

    /// Forgets the warm-up windows that ended at or before `at`.
    pub fn end_windows(&mut self, at: Timestamp) {
        while let Some(&(until, i)) = self.windows.first().filter(|(u, _)| *u <= at) {
            self.windows.remove(&(until, i));
            let Some(e) = self.events.get(i) else {
                continue;
            };
            if let Some(targets) = self.window_on.get_mut(&e.remediation)
                && targets.get(&e.target) == Some(&(until, i))
            {
                targets.remove(&e.target);
                if targets.is_empty() {
                    self.window_on.remove(&e.remediation);
                }
            }
        }
    }

    /// When the earliest approval wait ends.
    pub fn next_approval_timer(&self) -> Option<(Timestamp, usize)> {
        self.approval_timers.first().copied()
    }

    /// Starts an event's approval wait (it must be awaiting approval).
    pub fn set_approval_deadline(&mut self, i: usize, until: Timestamp) {
        if self
            .events
            .get(i)
            .is_some_and(|e| e.state == EventState::AwaitingApproval)
        {
            self.approval_timers.insert((until, i));
            self.approval_deadlines.insert(i, until);
        }
    }

    pub fn push_event(&mut self, event: Event) -> usize {
        let i = self.events.len();
        self.by_id.insert(event.id.clone(), i);
        self.by_target
            .entry(event.remediation.clone())
            .or_default()
            .entry(event.target.clone())
            .or_default()
            .push(i);
        if event.state.in_flight() {
            *self.flying.entry(event.remediation.clone()).or_default() += 1;
        }
        if !event.state.is_final() {
            self.open.insert(i);
            self.open_on
                .entry(event.remediation.clone())
                .or_default()
                .entry(event.target.clone())
                .or_default()
                .push(i);
        }
        self.events.push(event);
        i
    }

    /// Moves an event to `to`, recording when; returns the state it left.
    pub fn set_event_state(
        &mut self,
        i: usize,
        to: EventState,
        at: Timestamp,
    ) -> Option<EventState> {
        let e = self.events.get_mut(i)?;
        let from = e.state;
        e.state = to;
        e.history.push((at, to));
        if from.in_flight() != to.in_flight() {
            let n = self.flying.entry(e.remediation.clone()).or_default();
            if to.in_flight() {
                *n += 1;
            } else {
                *n = n.saturating_sub(1);
            }
        }
        if to.is_final()
            && self.open.remove(&i)
            && let Some(open) = self
                .open_on
                .get_mut(&e.remediation)
                .and_then(|targets| targets.get_mut(&e.target))
        {
            open.retain(|&j| j != i);
        }
        if from == EventState::AwaitingApproval
            && to != EventState::AwaitingApproval
            && let Some(until) = self.approval_deadlines.remove(&i)
        {
            self.approval_timers.remove(&(until, i));
        }
        if from == EventState::Warming
            && to != EventState::Warming
            && let Some(until) = e.warm_until
        {
            self.warm_timers.remove(&(until, i));
        }
        Some(from)
    }
}
