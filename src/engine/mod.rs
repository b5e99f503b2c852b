//! The decision engine: a pure function of (rules, state, alert, now).
//!
//! It does no I/O and reads no clock: every entry point takes `now`. The offline
//! commands feed it fixtures and a virtual clock; `serve` feeds it the journal
//! and the wall clock. What it returns ([`Output`]) is all that happened: the
//! decisions with their proofs and the event transitions. The caller performs
//! the calls a `fire` asks for and reports back (`accepted`, `finished`, ...).

mod alerts;
mod cascade;
mod context;
mod decision;
mod deferrals;
mod facts;
mod index;
mod relations;
mod render;
mod snapshot;
mod state;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rustc_hash::FxHashSet;
use serde::Serialize;

use crate::rules::RuleSet;
use crate::source::{Alert, AlertStatus, notification_digest};

pub use alerts::{Alerts, Header, Times};
pub use context::{alert_context, to_value};
pub use decision::{Decision, FactProof, Proof, Verdict};
pub use relations::{FactError, FactRow, FactValue, Freshness, StaleSource, diff as fact_diff};
pub use render::{render_decision, render_transition};
pub use snapshot::{Forgotten, Snapshot};
pub use state::{AlertEntry, Event, EventState, Pause, State};

use deferrals::Deferrals;
use facts::Facts;
use index::RemediationIndex;

/// Two posts of the same notification inside this window (an HA pair's second
/// copy, a sender's retry) are one alert, decided once (DESIGN.md §5).
pub const DEDUPE_WINDOW: SignedDuration = SignedDuration::from_secs(60);

/// An event changing state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    pub at: Timestamp,
    pub event: String,
    pub remediation: String,
    pub target: String,
    pub from: Option<EventState>,
    pub to: EventState,
}

/// Everything one engine call produced, in order.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Output {
    pub decisions: Vec<Decision>,
    pub transitions: Vec<Transition>,
}

impl Output {
    pub fn append(&mut self, mut other: Output) {
        self.decisions.append(&mut other.decisions);
        self.transitions.append(&mut other.transitions);
    }
}

/// Why an approval was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApproveError {
    #[error("no event {0}")]
    NoSuchEvent(String),
    #[error("{event} is {state}, not awaiting approval")]
    NotAwaiting { event: String, state: EventState },
}

/// How a remediator reported the end of the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    TimedOut,
}

/// A notification's `(groupKey, fingerprint, startsAt, status)` as a digest (see
/// [`notification_digest`]): 16 bytes per key, not copies of its strings.
type DedupeKey = [u8; 16];

/// The capacity a table should shrink to once most of a burst's keys have
/// expired, if it should: hash tables and queues never shrink by themselves,
/// and after a storm of 100k alerts the empty slots would stay for as long as
/// serve runs. Only below a quarter full, so a steady flow never reallocates.
pub(crate) fn shrunk(capacity: usize, len: usize) -> Option<usize> {
    const KEEP: usize = 1024;
    (capacity > KEEP && capacity / 4 > len).then(|| len.max(KEEP / 2) * 2)
}

/// Stores an alert's facts if any rule or guard can read them.
fn add_facts(facts: &mut Facts, index: &RemediationIndex, rules: &RuleSet, alert: &Alert) {
    let reached = facts.reaches(alert, || {
        index.candidates(alert).into_iter().any(|r| {
            rules.remediations.get(r).is_some_and(|rem| {
                rem.matchers
                    .iter()
                    .all(|m| m.matches(alert.labels.get(&m.label).map(String::as_str)))
            })
        })
    });
    facts.add_alert(alert, reached);
}

/// Which deferred decisions a change may have freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Alerts came or went: only guard deferrals can change.
    Guards,
    /// Events moved, a timer ran, a pause changed: anything can.
    All,
}

pub struct Engine {
    rules: Arc<RuleSet>,
    index: RemediationIndex,
    state: State,
    facts: Facts,
    /// The fact relations' refresh times (their rows live in `facts`).
    relations: relations::Relations,
    next_event: u64,
    /// (alert, remediation index) → the reason it is deferred for, and the
    /// version of what its guards read when it was decided.
    deferred: Deferrals,
    /// Whether guard proofs carry derivation trees (off while re-deciding
    /// deferred alerts whose unchanged verdicts nobody will see).
    proofs: bool,
    recent: FxHashSet<DedupeKey>,
    /// `recent`'s keys in arrival order, so expiry pops from the front instead
    /// of scanning the whole map on every post.
    recent_order: VecDeque<(Timestamp, DedupeKey)>,
    /// The version of everything any guard reads, at the last re-evaluation:
    /// unchanged means no guard deferral can have changed.
    guards_seen: Option<u64>,
    /// Repeats of (group, fingerprint, startsAt, status) inside this are ignored.
    dedupe_window: SignedDuration,
    now: Timestamp,
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>, start: Timestamp) -> Self {
        let index = RemediationIndex::new(&rules.remediations);
        let facts = Facts::new(&rules);
        let relations = relations::Relations::new(&rules);
        Engine {
            rules,
            index,
            state: State::default(),
            facts,
            relations,
            next_event: 1,
            deferred: Deferrals::default(),
            proofs: true,
            recent: FxHashSet::default(),
            recent_order: VecDeque::new(),
            guards_seen: None,
            dedupe_window: DEDUPE_WINDOW,
            now: start,
        }
    }

    /// Changes the window in which a repeated notification is a duplicate
    /// (`serve --dedupe-window`).
    pub fn set_dedupe_window(&mut self, window: SignedDuration) {
        self.dedupe_window = window;
    }

    pub fn rules_arc(&self) -> Arc<RuleSet> {
        self.rules.clone()
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Time never runs backwards inside the engine: a late caller is treated as on time.
    fn clock(&mut self, now: Timestamp) -> Timestamp {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// Alerts arrive (one payload's worth, in payload order).
    pub fn ingest(&mut self, alerts: &[Alert], now: Timestamp) -> Output {
        self.ingest_cow(alerts.iter().map(Cow::Borrowed), now, None)
    }

    /// [`Engine::ingest`] for a caller done with its alerts: each is decided
    /// without a copy and dropped once decided, so a caller that makes them as
    /// they are taken (`simulate`) never holds them all.
    pub fn ingest_owned(
        &mut self,
        alerts: impl IntoIterator<Item = Alert>,
        now: Timestamp,
    ) -> Output {
        self.ingest_cow(alerts.into_iter().map(Cow::Owned), now, None)
    }

    /// [`Engine::ingest_owned`], telling in `kept` (one entry per alert, in
    /// their order) whether the state now holds exactly that alert: a caller
    /// that encoded an alert before handing it over may then record that
    /// encoding instead of reading the alert back and encoding it again.
    /// `false` for an alert skipped as a repeat, or resolved, or stored other
    /// than it came (a repeat keeps the earlier start).
    pub fn ingest_owned_kept(
        &mut self,
        alerts: impl IntoIterator<Item = Alert>,
        now: Timestamp,
        kept: &mut Vec<bool>,
    ) -> Output {
        self.ingest_cow(alerts.into_iter().map(Cow::Owned), now, Some(kept))
    }

    fn ingest_cow<'a>(
        &mut self,
        alerts: impl Iterator<Item = Cow<'a, Alert>>,
        now: Timestamp,
        mut kept: Option<&mut Vec<bool>>,
    ) -> Output {
        let mut out = self.advance(now);
        let now = self.clock(now);
        while let Some((seen, _)) = self.recent_order.front() {
            if now.duration_since(*seen) < self.dedupe_window {
                break;
            }
            // A key is queued once, when it enters `recent`: its expiry is this one.
            if let Some((_, key)) = self.recent_order.pop_front() {
                self.recent.remove(&key);
            }
        }
        if let Some(c) = shrunk(self.recent.capacity(), self.recent.len()) {
            self.recent.shrink_to(c);
        }
        if let Some(c) = shrunk(self.recent_order.capacity(), self.recent_order.len()) {
            self.recent_order.shrink_to(c);
        }
        // At least one decision per new alert: grow the list once, not by
        // doubling (a decision is a few hundred bytes; payloads are batches).
        out.decisions.reserve(alerts.size_hint().0);
        // Each new notification enters the dedupe set and queue: grow them
        // once for the batch too, not by rehashing as they fill (100k alerts
        // rehashed the set ~17 times). Expiry above shrinks them again.
        self.recent.reserve(alerts.size_hint().0);
        self.recent_order.reserve(alerts.size_hint().0);
        // Any new alert may be deferred: room for the batch in the deferrals
        // too, instead of growing their map by doubling as a storm fills it.
        self.deferred.reserve(alerts.size_hint().0);
        let mut changed = false;
        for alert in alerts {
            let key = notification_digest(&alert, false);
            if !self.recent.insert(key) {
                if let Some(kept) = kept.as_deref_mut() {
                    kept.push(false);
                }
                continue;
            }
            self.recent_order.push_back((now, key));
            match alert.status {
                AlertStatus::Firing => {
                    let (firing, as_given) = self.upsert_firing(alert, now);
                    if let Some(kept) = kept.as_deref_mut() {
                        kept.push(as_given);
                    }
                    self.decide_alert(firing, now, &mut out.decisions);
                }
                AlertStatus::Resolved => {
                    if let Some(kept) = kept.as_deref_mut() {
                        kept.push(false);
                    }
                    out.append(self.resolve(&alert, now));
                }
            }
            changed = true;
        }
        if changed {
            // New or resolved alerts change only what guards read, unless an
            // event moved too (a resolve rescues it), which can free anything.
            let scope = if out.transitions.is_empty() {
                Scope::Guards
            } else {
                Scope::All
            };
            out.append(self.reevaluate(now, scope));
        }
        out
    }

    /// Records a firing alert; returns it as the state now holds it (the one
    /// given, unless a repeat kept the earlier start or annotations), and
    /// whether that is exactly the one given.
    fn upsert_firing<'a>(
        &mut self,
        alert: Cow<'a, Alert>,
        now: Timestamp,
    ) -> (Cow<'a, Alert>, bool) {
        let fp = alert.fingerprint.as_str();
        let alerts = &mut self.state.alerts;
        // A new alert (most of a large payload) is stored with one search.
        if alerts.insert_if_new(&alert, now) {
            add_facts(&mut self.facts, &self.index, &self.rules, &alert);
            return (alert, true);
        }
        let Some(times) = alerts.times(fp) else {
            return (alert, false); // not reached: `insert_if_new` found it
        };
        let was_resolved = times.resolved_at.is_some();
        if was_resolved || !alerts.annotations_equal(fp, &alert.annotations) {
            // A re-fire after a resolve starts again; new annotations replace the alert.
            self.facts.remove_alert(fp, || alerts.alert(fp));
            alerts.insert(&alert, times.first_seen, now, None);
            add_facts(&mut self.facts, &self.index, &self.rules, &alert);
            return (alert, true);
        }
        // A repeat notification keeps the first start.
        if times.starts_at > alert.starts_at {
            let starts_at = alert.starts_at;
            alerts.set(fp, |h| h.starts_at = starts_at);
        }
        alerts.touch(fp, now);
        if alerts.same(&alert) {
            return (alert, true);
        }
        match alerts.alert(fp) {
            Some(kept) => (Cow::Owned(kept), false),
            None => (alert, false),
        }
    }

    fn resolve(&mut self, alert: &Alert, now: Timestamp) -> Output {
        let mut out = Output::default();
        let fp = alert.fingerprint.as_str();
        let alerts = &mut self.state.alerts;
        if !alerts.contains(fp) {
            alerts.insert(alert, now, now, None);
        }
        if alerts.is_firing(fp) {
            self.facts.remove_alert(fp, || alerts.alert(fp));
            alerts.set(fp, |h| {
                h.status = AlertStatus::Resolved;
                h.resolved_at = Some(now);
            });
            alerts.touch(fp, now);
            if let Some(resolved) = alerts.alert(fp) {
                add_facts(&mut self.facts, &self.index, &self.rules, &resolved);
            }
        }
        self.deferred.remove_alert(&alert.fingerprint);
        // Close the loop: a warming event all of whose alerts resolved is rescued.
        let open: Vec<usize> = self.state.open_events().collect();
        for i in open {
            let event = &self.state.events[i];
            if event.state == EventState::Warming
                && event.alerts.contains(&alert.fingerprint)
                && self.all_resolved(i)
            {
                out.transitions
                    .push(self.transition(i, EventState::Rescued, now));
            }
        }
        out
    }

    fn all_resolved(&self, event: usize) -> bool {
        self.state.events[event]
            .alerts
            .iter()
            .all(|fp| !self.state.alerts.is_firing(fp))
    }

    /// The remediator accepted the call and returned its own ID.
    pub fn accepted(&mut self, event: &str, remote_id: Option<String>, now: Timestamp) -> Output {
        let now = self.advance_to(now);
        let mut out = now.1;
        let Some(i) = self.event_index(event) else {
            return out;
        };
        if self.state.events[i].state == EventState::Pending {
            self.state.events[i].remote_id = remote_id;
            out.transitions
                .push(self.transition(i, EventState::Accepted, now.0));
        }
        out
    }

    /// The remediator reports the work is running.
    pub fn running(&mut self, event: &str, now: Timestamp) -> Output {
        let (now, mut out) = self.advance_to(now);
        let Some(i) = self.event_index(event) else {
            return out;
        };
        if matches!(
            self.state.events[i].state,
            EventState::Pending | EventState::Accepted
        ) {
            out.transitions
                .push(self.transition(i, EventState::Running, now));
        }
        out
    }

    /// The work ended. Success starts the warm-up; a resolved alert already
    /// rescued it.
    pub fn finished(&mut self, event: &str, outcome: Outcome, now: Timestamp) -> Output {
        let (now, mut out) = self.advance_to(now);
        let Some(i) = self.event_index(event) else {
            return out;
        };
        // Waiting for approval, it was never called: nothing can have ended.
        let state = self.state.events[i].state;
        if !state.in_flight() || state == EventState::AwaitingApproval {
            return out;
        }
        let to = match outcome {
            Outcome::Succeeded => EventState::Warming,
            Outcome::Failed => EventState::Failed,
            Outcome::TimedOut => EventState::TimedOut,
        };
        out.transitions.push(self.transition(i, to, now));
        if to == EventState::Warming {
            let warmup = self.warmup_of(i);
            self.state
                .set_warm_until(i, now, now.saturating_add(warmup).unwrap_or(now));
            if self.all_resolved(i) {
                out.transitions
                    .push(self.transition(i, EventState::Rescued, now));
            }
        }
        out.append(self.reevaluate(now, Scope::All));
        out
    }

    /// The remediator never accepted the call (refused, unreachable, 5xx after retries).
    pub fn refused(&mut self, event: &str, now: Timestamp) -> Output {
        let (now, mut out) = self.advance_to(now);
        let Some(i) = self.event_index(event) else {
            return out;
        };
        if self.state.events[i].state == EventState::Pending {
            out.transitions
                .push(self.transition(i, EventState::Refused, now));
            out.append(self.reevaluate(now, Scope::All));
        }
        out
    }

    /// An operator approved a `mode: approve` fire: the call may go out now.
    pub fn approve(&mut self, event: &str, now: Timestamp) -> Result<Output, ApproveError> {
        let (now, mut out) = self.advance_to(now);
        let i = self
            .event_index(event)
            .ok_or_else(|| ApproveError::NoSuchEvent(event.to_owned()))?;
        let state = self.state.events[i].state;
        if state != EventState::AwaitingApproval {
            return Err(ApproveError::NotAwaiting {
                event: event.to_owned(),
                state,
            });
        }
        out.transitions
            .push(self.transition(i, EventState::Pending, now));
        Ok(out)
    }

    pub fn pause(&mut self, pause: Pause, now: Timestamp) -> Output {
        let (now, mut out) = self.advance_to(now);
        self.state
            .pauses
            .retain(|p| !(p.remediation == pause.remediation && p.target == pause.target));
        self.state.pauses.push(pause);
        out.append(self.reevaluate(now, Scope::All));
        out
    }

    pub fn unpause(&mut self, remediation: &str, target: Option<&str>, now: Timestamp) -> Output {
        let (now, mut out) = self.advance_to(now);
        self.state
            .pauses
            .retain(|p| !(p.remediation == remediation && p.target.as_deref() == target));
        out.append(self.reevaluate(now, Scope::All));
        out
    }

    /// A fact relation refreshed at `at` (DESIGN.md §8): its rows are
    /// replaced whole, or, on an error, not at all (it keeps its last rows and
    /// ages towards stale). Deferred alerts are decided again: a changed row
    /// may free a guard, and a fresh relation frees `stale_facts`.
    pub fn set_facts(
        &mut self,
        relation: &str,
        rows: Vec<FactRow>,
        at: Timestamp,
        freshness: Freshness,
    ) -> Result<Output, FactError> {
        let i = self
            .rules
            .facts
            .iter()
            .position(|f| f.name == relation)
            .ok_or_else(|| FactError::Unknown(relation.to_owned()))?;
        let arity = self.rules.facts[i].arity();
        relations::check_rows(relation, arity, &rows)?;
        let (now, mut out) = self.advance_to(at);
        let was_stale = self.relations.is_stale(&self.rules, i, now);
        let changed = self.facts.replace_relation(relation, &rows, now);
        if let Some(state) = self.relations.states.get_mut(i) {
            state.rows = rows;
            state.refreshed = Some(now);
            state.scripted = freshness == Freshness::Scripted;
            state.marked_stale = false;
        }
        // The same rows from a fresh relation free nothing: no need to
        // decide every deferred alert again at each refresh.
        if changed || was_stale {
            out.append(self.reevaluate(now, Scope::All));
        }
        Ok(out)
    }

    /// A script says the relation's source stopped answering (timeline
    /// `stale:`): stale until its next refresh, whatever its age.
    pub fn mark_stale(&mut self, relation: &str, now: Timestamp) -> Result<Output, FactError> {
        let i = self
            .rules
            .facts
            .iter()
            .position(|f| f.name == relation)
            .ok_or_else(|| FactError::Unknown(relation.to_owned()))?;
        let (_, out) = self.advance_to(now);
        if let Some(state) = self.relations.states.get_mut(i) {
            state.marked_stale = true;
        }
        Ok(out)
    }

    /// A fact relation's rows and last good refresh.
    pub fn fact_rows(&self, relation: &str) -> Option<(&[FactRow], Option<Timestamp>)> {
        let i = self.rules.facts.iter().position(|f| f.name == relation)?;
        let state = self.relations.states.get(i)?;
        Some((&state.rows, state.refreshed))
    }

    /// Whether the relation is stale now.
    pub fn fact_stale(&self, relation: &str, now: Timestamp) -> bool {
        self.rules
            .facts
            .iter()
            .position(|f| f.name == relation)
            .is_none_or(|i| self.relations.is_stale(&self.rules, i, now))
    }

    fn advance_to(&mut self, now: Timestamp) -> (Timestamp, Output) {
        let out = self.advance(now);
        (self.clock(now), out)
    }

    /// The earliest moment something happens by itself (a warm-up ends, a pause expires).
    pub fn next_timer(&self) -> Option<Timestamp> {
        let warm = self.state.next_warm_timer().map(|(t, _)| t);
        let approval = self.state.next_approval_timer().map(|(t, _)| t);
        let windows = self.state.next_window_end();
        let pauses = self.state.pauses.iter().filter_map(|p| p.until);
        warm.into_iter()
            .chain(approval)
            .chain(windows)
            .chain(pauses)
            .min()
    }

    /// Runs every timer due up to `now`, in time order, re-deciding deferred
    /// alerts at each.
    pub fn advance(&mut self, now: Timestamp) -> Output {
        let mut out = Output::default();
        while let Some(at) = self.next_timer().filter(|t| *t <= now) {
            let at = self.clock(at);
            while let Some(timer) = self.state.next_warm_timer().filter(|(u, _)| *u <= at) {
                // Still firing once the warm-up is over: the fix did not work.
                out.transitions
                    .push(self.transition(timer.1, EventState::NotRescued, at));
                if self.state.next_warm_timer() == Some(timer) {
                    break; // cannot happen: leaving Warming removes the timer
                }
            }
            while let Some(timer) = self.state.next_approval_timer().filter(|(u, _)| *u <= at) {
                // Nobody approved in time: the call is never made.
                out.transitions
                    .push(self.transition(timer.1, EventState::Expired, at));
                if self.state.next_approval_timer() == Some(timer) {
                    break; // cannot happen: leaving AwaitingApproval removes the timer
                }
            }
            // A rescued event's window ending frees its target too.
            self.state.end_windows(at);
            self.state.pauses.retain(|p| p.until.is_none_or(|u| u > at));
            out.append(self.reevaluate(at, Scope::All));
        }
        self.clock(now);
        out
    }

    fn event_index(&self, id: &str) -> Option<usize> {
        self.state.event_index(id)
    }

    fn warmup_of(&self, event: usize) -> SignedDuration {
        let name = &self.state.events[event].remediation;
        self.rules
            .remediation(name)
            .and_then(|r| SignedDuration::try_from(r.warmup).ok())
            .unwrap_or(SignedDuration::ZERO)
    }

    fn transition(&mut self, event: usize, to: EventState, now: Timestamp) -> Transition {
        let from = self.state.set_event_state(event, to, now).unwrap_or(to);
        let was_in_flight = from.in_flight();
        let e = &self.state.events[event];
        let t = Transition {
            at: now,
            event: e.id.clone(),
            remediation: e.remediation.clone(),
            target: e.target.clone(),
            from: Some(from),
            to,
        };
        if was_in_flight != to.in_flight() {
            let (r, target) = (e.remediation.clone(), e.target.clone());
            let still = self.state.in_flight(&r, &target).is_some();
            self.facts.set_in_flight(&r, &target, still);
        }
        self.facts.time_changed();
        t
    }

    /// Re-decides deferred alerts; reports only those whose verdict changed.
    fn reevaluate(&mut self, now: Timestamp, scope: Scope) -> Output {
        let mut out = Output::default();
        let rules = self.rules.clone();
        if scope == Scope::Guards {
            self.facts.refresh(now, &self.state, &rules);
            let version = self.facts.version_of(&rules.guard_reads);
            if self.guards_seen == Some(version) {
                return out;
            }
            self.guards_seen = Some(version);
        }
        let pending = match scope {
            Scope::All => self.deferred.pending_all(),
            // Only guard deferrals, and only those whose guards' inputs changed.
            Scope::Guards => {
                let facts = &self.facts;
                self.deferred.pending_guards(|r| {
                    rules
                        .remediations
                        .get(r)
                        .map(|rem| facts.guards_version(rem))
                })
            }
        };
        for (fp, r, reason) in pending {
            let Some(alert) = self.firing_alert(&fp) else {
                self.deferred.remove(&fp, r);
                continue;
            };
            self.proofs = false;
            let decision = self.decide_one(&alert, r, now);
            self.proofs = true;
            let Some(mut decision) = decision else {
                self.deferred.remove(&fp, r);
                continue;
            };
            let same =
                decision.verdict == Verdict::Defer && decision.reason.as_deref() == Some(&*reason);
            if !same {
                self.expand_proof(&mut decision, &alert, r);
                out.decisions.push(decision);
            }
        }
        out
    }

    /// Gives a guard deferral decided without derivations its full proof.
    fn expand_proof(&mut self, decision: &mut Decision, alert: &Alert, r: usize) {
        let Proof::Guard { guard, .. } = &decision.proof else {
            return;
        };
        let rules = self.rules.clone();
        let Some(g) = rules
            .remediations
            .get(r)
            .and_then(|rem| rem.unless.iter().find(|g| &g.name == guard))
        else {
            return;
        };
        if let Some(proof) = self.facts.guard(g, alert, &rules, true) {
            decision.proof = proof;
        }
    }

    fn firing_alert(&self, fp: &str) -> Option<Alert> {
        self.state.alerts.firing(fp)
    }

    /// Every applicable remediation's decision for one firing alert, appended
    /// to `decisions` (no list of its own per alert). The alert is taken as
    /// [`Engine::upsert_firing`] returned it: one the caller is done with
    /// (`simulate`) gives its labels to a no-match proof instead of a copy of
    /// each (a third of a large payload matches nothing).
    fn decide_alert(
        &mut self,
        alert: Cow<'_, Alert>,
        now: Timestamp,
        decisions: &mut Vec<Decision>,
    ) {
        let before = decisions.len();
        for r in self.index.candidates(&alert) {
            if let Some(d) = self.decide_one(&alert, r, now) {
                decisions.push(d);
            }
        }
        if decisions.len() == before {
            let (fingerprint, labels) = match alert {
                Cow::Owned(a) => (a.fingerprint, a.labels.into_iter().collect()),
                Cow::Borrowed(a) => (
                    a.fingerprint.clone(),
                    a.labels
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
            };
            decisions.push(Decision {
                at: now,
                alert: fingerprint,
                remediation: None,
                target: None,
                verdict: Verdict::Discard,
                reason: Some("no_match".to_owned()),
                event: None,
                proof: Proof::NoMatch { labels },
            });
        }
    }

    /// The cascade for one (alert, remediation); `None` when it does not apply.
    fn decide_one(&mut self, alert: &Alert, r: usize, now: Timestamp) -> Option<Decision> {
        let decision = cascade::decide(self, alert, r, now)?;
        match (&decision.verdict, &decision.reason) {
            (Verdict::Defer, Some(reason)) => {
                let version = self
                    .rules
                    .remediations
                    .get(r)
                    .map_or(0, |rem| self.facts.guards_version(rem));
                self.deferred.insert(&alert.fingerprint, r, reason, version);
            }
            _ => {
                self.deferred.remove(&alert.fingerprint, r);
            }
        }
        Some(decision)
    }

    /// A new event in `state` (pending, or awaiting approval).
    fn new_event(
        &mut self,
        remediation: &str,
        target: &str,
        alert: &str,
        state: EventState,
        now: Timestamp,
    ) -> String {
        let id = format!("ev-{}", self.next_event);
        self.next_event += 1;
        self.state.push_event(Event {
            id: id.clone(),
            remediation: remediation.to_owned(),
            target: target.to_owned(),
            alert: alert.to_owned(),
            alerts: [alert.to_owned()].into_iter().collect(),
            state,
            remote_id: None,
            fired_at: now,
            succeeded_at: None,
            warm_until: None,
            history: vec![(now, state)],
        });
        if state == EventState::AwaitingApproval {
            let wait = self
                .rules
                .remediation(remediation)
                .and_then(|r| SignedDuration::try_from(r.approve_within).ok())
                .unwrap_or(SignedDuration::ZERO);
            let i = self.state.events.len() - 1;
            self.state
                .set_approval_deadline(i, now.saturating_add(wait).unwrap_or(now));
        }
        self.facts.set_in_flight(remediation, target, true);
        self.facts.time_changed();
        id
    }
}
