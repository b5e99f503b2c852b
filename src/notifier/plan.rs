//! Which notices an engine step produces, per notifier.
//!
//! Verdicts `fire`, `collapse`, `defer` and `escalate` come from decisions;
//! `awaiting_approval` and the endings from transitions. A fire that only
//! created an event awaiting approval is told as `awaiting_approval`, not as
//! `fire`: nothing was called. Pure: the caller passes when each event was
//! fired (from the engine's state) and the public base URL.

use jiff::Timestamp;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::Notice;
use crate::engine::{Decision, EventState, Proof, Transition, Verdict};
use crate::rules::{NotifyOn, RuleSet};

/// Every notice a step's decisions and transitions produce, with the index
/// of its notifier in `rules.notifiers`, in their order.
pub fn notices(
    rules: &RuleSet,
    decisions: &[Decision],
    transitions: &[Transition],
    external_url: Option<&str>,
    fired_at: &dyn Fn(&str) -> Option<Timestamp>,
) -> Vec<(usize, Notice)> {
    let mut found = Vec::new();
    if rules.notifiers.is_empty() {
        return found;
    }
    for d in decisions {
        let Some(on) = decision_on(d) else { continue };
        let Some(name) = &d.remediation else { continue };
        let notice = || Notice {
            key: key(d.event.as_deref().unwrap_or(&d.alert), name, on, d.at),
            on: on.as_str().to_owned(),
            at: d.at,
            remediation: name.clone(),
            target: d.target.clone().unwrap_or_default(),
            event: d.event.clone(),
            verdict: Some(d.verdict),
            reason: d.reason.clone(),
            why: proof_line(&d.proof),
            outcome: None,
            started: d.event.as_deref().and_then(fired_at),
            link: d.event.as_deref().and_then(|e| link(external_url, e)),
        };
        route(rules, name, on, notice, &mut found);
    }
    for t in transitions {
        let Some(on) = transition_on(t) else { continue };
        let notice = || Notice {
            key: key(&t.event, &t.remediation, on, t.at),
            on: on.as_str().to_owned(),
            at: t.at,
            remediation: t.remediation.clone(),
            target: t.target.clone(),
            event: Some(t.event.clone()),
            verdict: None,
            reason: None,
            why: transition_why(t),
            outcome: on.ends_event().then(|| t.to.as_str().to_owned()),
            started: fired_at(&t.event),
            link: link(external_url, &t.event),
        };
        route(rules, &t.remediation, on, notice, &mut found);
    }
    found
}

fn route(
    rules: &RuleSet,
    remediation: &str,
    on: NotifyOn,
    notice: impl Fn() -> Notice,
    found: &mut Vec<(usize, Notice)>,
) {
    let Some(route) = rules
        .remediation(remediation)
        .and_then(|r| r.notify.as_ref())
    else {
        return;
    };
    if route.on.contains(&on) {
        found.extend(route.to.iter().map(|&n| (n, notice())));
    }
}

/// The event word of a decision, if it has one.
pub fn decision_on(d: &Decision) -> Option<NotifyOn> {
    match d.verdict {
        // Told as `awaiting_approval` by its transition: nothing was called.
        Verdict::Fire if d.reason.as_deref() == Some("awaiting_approval") => None,
        Verdict::Fire => Some(NotifyOn::Fire),
        Verdict::Collapse => Some(NotifyOn::Collapse),
        Verdict::Defer => Some(NotifyOn::Defer),
        Verdict::Escalate => Some(NotifyOn::Escalate),
        Verdict::Discard => None,
    }
}

/// The event word of a transition, if it has one.
pub fn transition_on(t: &Transition) -> Option<NotifyOn> {
    Some(match t.to {
        EventState::AwaitingApproval => NotifyOn::AwaitingApproval,
        EventState::Rescued => NotifyOn::Rescued,
        EventState::NotRescued => NotifyOn::NotRescued,
        // The fix did not run either way: people want to hear of both.
        EventState::Failed | EventState::Refused => NotifyOn::Failed,
        EventState::TimedOut => NotifyOn::TimedOut,
        EventState::Expired => NotifyOn::Expired,
        EventState::Pending | EventState::Accepted | EventState::Running | EventState::Warming => {
            return None;
        }
    })
}

/// `ev-12/rescued/1765100000000`: one event reaches a state once, and a
/// decision on one alert and remediation happens once per moment.
fn key(subject: &str, remediation: &str, on: NotifyOn, at: Timestamp) -> String {
    format!(
        "{subject}/{remediation}/{}/{}",
        on.as_str(),
        at.as_millisecond()
    )
}

/// The event's page under the public base URL; none without one (a link to
/// `localhost` in a chat message helps nobody).
pub fn link(external_url: Option<&str>, event: &str) -> Option<String> {
    let base = external_url?.trim_end_matches('/');
    Some(format!(
        "{base}/events/{}",
        utf8_percent_encode(event, NON_ALPHANUMERIC)
    ))
}

fn transition_why(t: &Transition) -> String {
    match t.to {
        EventState::AwaitingApproval => {
            "mode: approve: an operator must approve it before anything is called".to_owned()
        }
        EventState::Rescued => "the fix succeeded and the alert resolved during warm-up".to_owned(),
        EventState::NotRescued => {
            "the fix succeeded but the alert still fired after warm-up".to_owned()
        }
        EventState::Failed => "the remediator reported the job failed".to_owned(),
        EventState::Refused => "the remediator never accepted the call".to_owned(),
        EventState::TimedOut => "the remediator did not finish within poll.timeout".to_owned(),
        EventState::Expired => "nobody approved it within approve_within; never called".to_owned(),
        other => format!("now {other}"),
    }
}

/// A decision's proof in one line, unescaped (each format escapes it).
pub fn proof_line(proof: &Proof) -> String {
    match proof {
        Proof::NoMatch { .. } => "no remediation matches".to_owned(),
        Proof::InFlight { event, state, .. } => {
            format!("{event} is already {state} on this target")
        }
        Proof::WarmingUp { event, until, .. } => {
            format!("{event} succeeded; warming up until {until}")
        }
        Proof::Budget {
            attempts,
            within_secs,
            events,
            ..
        } => format!(
            "budget spent: {} of {attempts} attempts in {}",
            events.len(),
            crate::rules::duration::format(std::time::Duration::from_secs(*within_secs))
        ),
        Proof::Paused { scope, reason, .. } => format!("{scope} is paused: {reason}"),
        Proof::Guard { guard, facts, .. } => {
            let facts: Vec<&str> = facts.iter().map(|f| &*f.fact).collect();
            if facts.is_empty() {
                format!("guard {guard} holds")
            } else {
                format!("guard {guard} holds: {}", facts.join(", "))
            }
        }
        Proof::Concurrency { limit, events } => {
            format!("{} of max {limit} in flight", events.len())
        }
        Proof::Fire {
            matched,
            guards_checked,
        } => {
            let mut s = format!("matched {}", matched.join(", "));
            if !guards_checked.is_empty() {
                s.push_str(&format!("; no guard held ({})", guards_checked.join(", ")));
            }
            s
        }
        Proof::StaleFacts { guard, sources } => {
            let stale: Vec<String> = sources
                .iter()
                .map(|s| match s.last_refresh {
                    Some(at) => format!("{} (last good refresh {at})", s.relation),
                    None => format!("{} (never refreshed)", s.relation),
                })
                .collect();
            format!("{guard} reads stale facts: {}", stale.join(", "))
        }
        Proof::Error { message } => format!("error: {message}"),
    }
}
