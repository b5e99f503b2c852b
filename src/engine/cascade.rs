//! The decision cascade of DESIGN.md §3, for one alert and one remediation.
//!
//! The order is the contract: collapse → warm-up → budget → pause → guards →
//! concurrency → fire. Each step that stops the walk says why in its proof.

use jiff::{SignedDuration, Timestamp};

use crate::rules::schema::Mode;
use crate::rules::template::PlainContext;
use crate::source::Alert;

use super::Engine;
use super::context::{alert_context, to_value};
use super::decision::{Decision, Proof, Verdict};
use super::state::EventState;

/// The defer reason of a decision that would read a stale fact relation.
pub const STALE_FACTS: &str = "stale_facts";

/// `None` when the remediation does not apply to the alert (a matcher or `when` fails).
pub(super) fn decide(
    engine: &mut Engine,
    alert: &Alert,
    r: usize,
    now: Timestamp,
) -> Option<Decision> {
    let rules = engine.rules.clone();
    let remediation = rules.remediations.get(r)?;
    let matched = remediation
        .matchers
        .iter()
        .all(|m| m.matches(alert.labels.get(&m.label).map(String::as_str)));
    if !matched {
        return None;
    }
    let no_reads = crate::rules::FactReads::default();
    let fact_reads = rules.fact_reads.get(r).unwrap_or(&no_reads);
    // A `when` reading a stale fact relation cannot say whether the
    // remediation applies: the decision defers (below, once the target is
    // known) instead of guessing either way.
    let when_stale = engine.relations.stale_among(&rules, &fact_reads.when, now);
    if let Some(when) = &remediation.when
        && when_stale.is_empty()
    {
        engine.facts.refresh(now, &engine.state, &rules);
        engine.facts.guard(when, alert, &rules, false)?;
    }

    let decision = |verdict: Verdict,
                    reason: Option<&str>,
                    target: Option<String>,
                    event: Option<String>,
                    proof: Proof| Decision {
        at: now,
        alert: alert.fingerprint.clone(),
        remediation: Some(remediation.name.clone()),
        target,
        verdict,
        reason: reason.map(str::to_owned),
        event,
        proof,
    };

    let plain = PlainContext {
        labels: &alert.labels,
        annotations: &alert.annotations,
        remediation: &remediation.name,
        fingerprint: &alert.fingerprint,
    };
    // Most targets are plain (`{{ service }}`): no MiniJinja context to build.
    let rendered = match rules.templates.render_plain(remediation.target, &plain) {
        Some(t) => Ok(t),
        None => rules.templates.render(
            remediation.target,
            &to_value(&alert_context(alert, &remediation.name)),
        ),
    };
    let target = match rendered {
        Ok(t) => t,
        Err(message) => {
            return Some(decision(
                Verdict::Discard,
                Some("template_error"),
                None,
                None,
                Proof::Error { message },
            ));
        }
    };
    let name = remediation.name.as_str();

    if !when_stale.is_empty() {
        return Some(decision(
            Verdict::Defer,
            Some(STALE_FACTS),
            Some(target),
            None,
            Proof::StaleFacts {
                guard: "when".to_owned(),
                sources: when_stale,
            },
        ));
    }

    // 1. Collapse into the event already working on this target.
    if let Some(event) = engine.state.in_flight(name, &target) {
        let (id, state, since) = (event.id.clone(), event.state, event.fired_at);
        if let Some(e) = engine
            .state
            .event_index(&id)
            .and_then(|i| engine.state.events.get_mut(i))
        {
            e.alerts.insert(alert.fingerprint.clone());
        }
        let proof = Proof::InFlight {
            event: id.clone(),
            state: state.to_string(),
            since,
        };
        return Some(decision(
            Verdict::Collapse,
            Some("in_flight"),
            Some(target),
            Some(id),
            proof,
        ));
    }

    // 2. A success on this target is still inside its warm-up window, whatever
    // its event's state is now: an alert that resolved during the warm-up
    // (rescued) and fires again a minute later is the flapping of a roll-out,
    // not a reason to hammer the target again (DESIGN.md §3 row 2).
    if let Some(e) = engine.state.warm_window(name, &target, now) {
        let proof = Proof::WarmingUp {
            event: e.id.clone(),
            succeeded_at: e.succeeded_at.unwrap_or(e.fired_at),
            until: e.warm_until.unwrap_or(now),
        };
        let (id, warming) = (e.id.clone(), e.state == EventState::Warming);
        // A warming event is rescued only once this alert resolves too; a
        // final event is left as it ended.
        if warming
            && let Some(e) = engine
                .state
                .event_index(&id)
                .and_then(|i| engine.state.events.get_mut(i))
        {
            e.alerts.insert(alert.fingerprint.clone());
        }
        return Some(decision(
            Verdict::Defer,
            Some("warming_up"),
            Some(target),
            Some(id),
            proof,
        ));
    }

    // 3. The budget of attempts inside its window is spent: escalate once.
    let within = SignedDuration::try_from(remediation.budget.within).unwrap_or(SignedDuration::MAX);
    let window_start = now.saturating_sub(within).unwrap_or(Timestamp::MIN);
    // Newest first, stopping at the window's start: a target's events are in
    // firing order (the engine's clock never goes back), so a long history
    // costs nothing here.
    let in_window = || {
        engine
            .state
            .events_on(name, &target)
            .rev()
            .take_while(move |e| e.fired_at > window_start)
    };
    // Count first: the IDs are only needed for the proof of a spent budget.
    if in_window().count() >= remediation.budget.attempts as usize {
        let mut attempts: Vec<String> = in_window().map(|e| e.id.clone()).collect();
        attempts.reverse();
        let key = (name.to_owned(), target.clone());
        let already = engine
            .state
            .escalated
            .get(&key)
            .is_some_and(|at| *at > window_start);
        let proof = Proof::Budget {
            attempts: remediation.budget.attempts,
            within_secs: remediation.budget.within.as_secs(),
            events: attempts,
            already_escalated: already,
        };
        if already {
            return Some(decision(
                Verdict::Discard,
                Some("budget"),
                Some(target),
                None,
                proof,
            ));
        }
        engine.state.escalated.insert(key, now);
        return Some(decision(
            Verdict::Escalate,
            Some("budget"),
            Some(target),
            None,
            proof,
        ));
    }

    // 4. An operator paused the remediation or this target.
    if let Some(p) = engine
        .state
        .pauses
        .iter()
        .find(|p| p.covers(name, &target, now))
    {
        let proof = Proof::Paused {
            scope: p.scope(),
            reason: p.reason.clone(),
            until: p.until,
        };
        return Some(decision(
            Verdict::Defer,
            Some("paused"),
            Some(target),
            None,
            proof,
        ));
    }

    // 5. An `unless` guard holds.
    let mut checked = Vec::new();
    if !remediation.unless.is_empty() {
        engine.facts.refresh(now, &engine.state, &rules);
    }
    // A guard reading a stale fact relation is not run: its answer would be
    // a guess. Another guard that holds still defers with its own reason;
    // if none does, the decision defers `stale_facts` (never a blind fire).
    let mut stale: Option<(String, Vec<super::relations::StaleSource>)> = None;
    for (g, guard) in remediation.unless.iter().enumerate() {
        let reads = fact_reads.unless.get(g).map_or(&[][..], Vec::as_slice);
        let stale_here = engine.relations.stale_among(&rules, reads, now);
        if !stale_here.is_empty() {
            if stale.is_none() {
                stale = Some((guard.name.clone(), stale_here));
            }
            continue;
        }
        if let Some(proof) = engine.facts.guard(guard, alert, &rules, engine.proofs) {
            return Some(decision(
                Verdict::Defer,
                Some(&guard.name),
                Some(target),
                None,
                proof,
            ));
        }
        checked.push(guard.name.clone());
    }
    if let Some((guard, sources)) = stale {
        return Some(decision(
            Verdict::Defer,
            Some(STALE_FACTS),
            Some(target),
            None,
            Proof::StaleFacts { guard, sources },
        ));
    }

    // 6. Too many events of this remediation are already working.
    if let Some(limit) = remediation
        .max_concurrent
        .filter(|l| engine.state.in_flight_count(name) >= *l as usize)
    {
        // Only now, on the rare path, list which events hold the slots.
        let running: Vec<String> = engine
            .state
            .open_events()
            .filter_map(|i| engine.state.events.get(i))
            .filter(|e| e.remediation == name && e.state.in_flight())
            .map(|e| e.id.clone())
            .collect();
        let proof = Proof::Concurrency {
            limit,
            events: running,
        };
        return Some(decision(
            Verdict::Defer,
            Some("concurrency"),
            Some(target),
            None,
            proof,
        ));
    }

    // 7. Fire.
    let proof = Proof::Fire {
        matched: remediation
            .matchers
            .iter()
            .map(ToString::to_string)
            .collect(),
        guards_checked: checked,
    };
    match remediation.mode {
        Mode::Shadow => Some(decision(
            Verdict::Fire,
            Some("shadow"),
            Some(target),
            None,
            proof,
        )),
        Mode::Approve => {
            // Fired, but the call waits for an operator (`resgate approve`).
            let event = engine.new_event(
                name,
                &target,
                &alert.fingerprint,
                EventState::AwaitingApproval,
                now,
            );
            Some(decision(
                Verdict::Fire,
                Some("awaiting_approval"),
                Some(target),
                Some(event),
                proof,
            ))
        }
        Mode::Auto => {
            let event =
                engine.new_event(name, &target, &alert.fingerprint, EventState::Pending, now);
            Some(decision(
                Verdict::Fire,
                None,
                Some(target),
                Some(event),
                proof,
            ))
        }
    }
}
