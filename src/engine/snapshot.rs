//! The engine's memory as plain data: what `serve` journals and restores after a
//! restart, and what a rules reload carries over to the new rule set.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::state::{AlertEntry, Event, Pause, State};
use super::{Engine, Output, Scope};
use crate::rules::RuleSet;

/// An alert the engine forgot: its fingerprint, and when it was first seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forgotten {
    pub fingerprint: String,
    pub first_seen: Timestamp,
}

/// Everything a decision depends on besides the rules and the clock.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub alerts: Vec<AlertEntry>,
    /// Every event kept (final ones too: budgets and warm-ups look back at them).
    pub events: Vec<Event>,
    pub pauses: Vec<Pause>,
    pub escalated: Vec<(String, String, Timestamp)>,
    /// (alert fingerprint, remediation name, reason) of the alerts waiting on a
    /// deferral: they are decided again after the restore.
    pub deferred: Vec<(String, String, String)>,
    /// The number the next event ID gets (`ev-N`).
    pub next_event: u64,
}

impl Engine {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            alerts: self.state.alerts.entries().collect(),
            events: self.state.events.clone(),
            pauses: self.state.pauses.clone(),
            escalated: self
                .state
                .escalated
                .iter()
                .map(|((r, t), at)| (r.clone(), t.clone(), *at))
                .collect(),
            deferred: self
                .deferred
                .sorted()
                .into_iter()
                .filter_map(|(fp, r, d)| {
                    let name = self.rules.remediations.get(r)?.name.clone();
                    Some((fp.to_string(), name, d.reason.to_string()))
                })
                .collect(),
            next_event: self.next_event,
        }
    }

    /// An engine on `rules` that remembers `snapshot`. Deferred alerts are decided
    /// again at `now`: the returned output holds those whose verdict changed
    /// (a deploy ended while resgate was down, a renamed guard, ...).
    ///
    /// Deferrals of remediations the rules no longer have are dropped; events
    /// of such remediations are kept (they still end, and are still reported).
    pub fn restore(rules: Arc<RuleSet>, snapshot: Snapshot, now: Timestamp) -> (Engine, Output) {
        let mut engine = Engine::new(rules.clone(), now);
        let mut state = State::default();
        for entry in snapshot.alerts {
            super::add_facts(&mut engine.facts, &engine.index, &rules, &entry.alert);
            state.alerts.insert(
                &entry.alert,
                entry.first_seen,
                entry.last_seen,
                entry.resolved_at,
            );
        }
        for event in snapshot.events {
            let warm = (event.state == super::EventState::Warming)
                .then_some(event.succeeded_at.zip(event.warm_until))
                .flatten();
            // A success that ended otherwise (rescued) still holds its target
            // until its window ends; windows long over are not kept.
            let window = event.warm_until.filter(|u| warm.is_none() && *u > now);
            let in_flight = event.state.in_flight();
            // The approval deadline follows the rules live now.
            let approval = (event.state == super::EventState::AwaitingApproval).then(|| {
                let wait = rules
                    .remediation(&event.remediation)
                    .and_then(|r| jiff::SignedDuration::try_from(r.approve_within).ok())
                    .unwrap_or(jiff::SignedDuration::ZERO);
                event
                    .fired_at
                    .saturating_add(wait)
                    .unwrap_or(event.fired_at)
            });
            let (r, t) = (event.remediation.clone(), event.target.clone());
            let i = state.push_event(event);
            if let Some(until) = approval {
                state.set_approval_deadline(i, until);
            }
            if let Some((succeeded, until)) = warm {
                state.set_warm_until(i, succeeded, until);
            }
            if let Some(until) = window {
                state.set_window(i, until);
            }
            if in_flight {
                engine.facts.set_in_flight(&r, &t, true);
            }
        }
        state.pauses = snapshot.pauses;
        state.escalated = snapshot
            .escalated
            .into_iter()
            .map(|(r, t, at)| ((r, t), at))
            .collect::<BTreeMap<_, _>>();
        engine.state = state;
        engine.facts.time_changed();
        engine.next_event = snapshot.next_event.max(1);
        for (fp, name, reason) in snapshot.deferred {
            if let Some(r) = rules.remediations.iter().position(|x| x.name == name) {
                // A version no guard can have: the first re-evaluation decides it again.
                engine
                    .deferred
                    .insert(&fp, r, &reason, super::deferrals::STALE);
            }
        }
        let mut out = engine.advance(now);
        out.append(engine.reevaluate(now, Scope::All));
        (engine, out)
    }

    /// Forgets alerts resolved before `before` that no open event still waits
    /// on; returns which (their fingerprints and when they were first seen:
    /// the journal's key for an alert). Without this a long-running serve keeps
    /// every alert it ever saw. (Budgets and warm-ups look at events, which are
    /// kept; a forgotten alert that fires again is simply new.)
    pub fn forget_resolved(&mut self, before: Timestamp) -> Vec<Forgotten> {
        let waited_on: std::collections::HashSet<&str> = self
            .state
            .open_events()
            .filter_map(|i| self.state.events.get(i))
            .flat_map(|e| e.alerts.iter().map(String::as_str))
            .collect();
        let old: Vec<Forgotten> = self
            .state
            .alerts
            .iter_times()
            .filter(|(fp, t)| t.resolved_at.is_some_and(|t| t < before) && !waited_on.contains(fp))
            .map(|(fp, t)| Forgotten {
                fingerprint: fp.to_owned(),
                first_seen: t.first_seen,
            })
            .collect();
        for Forgotten {
            fingerprint: fp, ..
        } in &old
        {
            let alerts = &mut self.state.alerts;
            self.facts.remove_alert(fp, || alerts.alert(fp));
            alerts.remove(fp);
        }
        if !old.is_empty() {
            self.facts.time_changed();
        }
        old
    }

    /// Swaps in new rules, keeping alerts, events, pauses and the dedupe window.
    pub fn reload(&mut self, rules: Arc<RuleSet>, now: Timestamp) -> Output {
        let recent = std::mem::take(&mut self.recent);
        let recent_order = std::mem::take(&mut self.recent_order);
        // Fact relations the new rules still declare, with the same arity,
        // keep their rows and refresh time: a reload must not make every
        // fact-reading decision defer until the next refresh.
        let kept: Vec<(String, super::relations::RelationState)> = self
            .rules
            .facts
            .iter()
            .zip(&self.relations.states)
            .filter(|(f, st)| {
                st.refreshed.is_some()
                    && rules
                        .fact_source(&f.name)
                        .is_some_and(|n| n.arity() == f.arity())
            })
            .map(|(f, st)| (f.name.clone(), st.clone()))
            .collect();
        let (mut engine, mut out) = Engine::restore(rules, self.snapshot(), now);
        engine.recent = recent;
        engine.recent_order = recent_order;
        engine.dedupe_window = self.dedupe_window;
        *self = engine;
        if !kept.is_empty() {
            for (name, state) in kept {
                let Some(i) = self.rules.facts.iter().position(|f| f.name == name) else {
                    continue;
                };
                let at = state.refreshed.unwrap_or(now);
                self.facts.replace_relation(&name, &state.rows, at);
                if let Some(slot) = self.relations.states.get_mut(i) {
                    *slot = state;
                }
            }
            out.append(self.reevaluate(now, super::Scope::All));
        }
        out
    }
}
