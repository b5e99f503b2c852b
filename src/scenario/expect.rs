//! Checking a trace against a test's expectations (DESIGN.md §4).
//!
//! Every expectation must match something that happened. A timeline's list is
//! also *complete* for `fire` and `escalate`: one that no expectation names
//! fails the test, which is how a test proves there was no robo-hammer.
//! Once a test names a notification (`{notify: ops, on: rescued}`), its
//! notifications are complete too: a rule change that would post more to a
//! channel fails CI. Notifications are counted as planned, before the storm
//! digest sums them into fewer messages.

use jiff::{SignedDuration, Timestamp};

use crate::engine::{Decision, Proof, Transition, Verdict, render_decision};
use crate::notifier::{Notice, plan};
use crate::rules::{NotifyOn, RuleSet, duration};
use crate::term::escape;

use super::run::Trace;
use super::schema::Expectation;

/// Why a test failed: one entry per broken expectation or unexpected action.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub message: String,
    /// What did happen that is closest, rendered with its proof.
    pub detail: String,
}

pub fn check(
    trace: &Trace,
    expect: &[Expectation],
    start: Timestamp,
    complete: bool,
    rules: &RuleSet,
) -> Vec<Failure> {
    let mut failures = Vec::new();
    let names_notifications = expect.iter().any(|e| e.notify.is_some());
    let notices = if names_notifications {
        planned(rules, trace)
    } else {
        Vec::new()
    };
    for e in expect {
        if let Err(message) = validate(e).and_then(|()| validate_notify(e, rules)) {
            failures.push(Failure {
                message,
                detail: String::new(),
            });
            continue;
        }
        let is_event = e.event.is_some() || e.state.is_some();
        let matches = if e.notify.is_some() {
            notices
                .iter()
                .filter(|(to, n)| notice_matches(e, to, n, start))
                .count()
        } else if is_event {
            trace
                .transitions
                .iter()
                .filter(|t| event_matches(e, t, start))
                .count()
        } else {
            trace
                .decisions
                .iter()
                .filter(|d| decision_matches(e, d, start))
                .count()
        };
        let ok = match e.count {
            Some(n) => matches == n,
            None => matches > 0,
        };
        if !ok {
            let wanted = describe(e);
            let message = match e.count {
                Some(n) => format!("expected {n} × {wanted}, got {matches}"),
                None => format!("expected {wanted}"),
            };
            let detail = if e.notify.is_some() {
                listed_notices(&notices, start)
            } else if is_event {
                closest_transitions(trace, e, start)
            } else {
                closest_decisions(trace, e, start, rules)
            };
            failures.push(Failure { message, detail });
        }
    }
    if complete && names_notifications {
        for (to, n) in &notices {
            let named = expect
                .iter()
                .any(|e| e.notify.is_some() && notice_matches(e, to, n, start));
            if !named {
                failures.push(Failure {
                    message: format!(
                        "unexpected notification to {}: on {} {} {} at {}",
                        escape(to),
                        escape(&n.on),
                        escape(&n.remediation),
                        escape(&n.target),
                        offset(start, n.at)
                    ),
                    detail: String::new(),
                });
            }
        }
    }
    if complete {
        for d in &trace.decisions {
            if !matches!(d.verdict, Verdict::Fire | Verdict::Escalate) {
                continue;
            }
            let named = expect.iter().any(|e| {
                e.verdict.as_deref() == Some(d.verdict.as_str()) && decision_matches(e, d, start)
            });
            if !named {
                failures.push(Failure {
                    message: format!(
                        "unexpected {} {} at {}",
                        d.verdict,
                        d.remediation.as_deref().unwrap_or("-"),
                        offset(start, d.at)
                    ),
                    detail: render_decision(d),
                });
            }
        }
    }
    failures
}

/// What the trace would have notified, by notifier name, in order.
fn planned(rules: &RuleSet, trace: &Trace) -> Vec<(String, Notice)> {
    plan::notices(rules, &trace.decisions, &trace.transitions, None, &|_| None)
        .into_iter()
        .filter_map(|(i, n)| rules.notifiers.get(i).map(|x| (x.name.clone(), n)))
        .collect()
}

fn validate_notify(e: &Expectation, rules: &RuleSet) -> Result<(), String> {
    let Some(to) = &e.notify else {
        return match &e.on {
            Some(_) => Err("`on` names a notification's event word: add `notify: NOTIFIER`".into()),
            None => Ok(()),
        };
    };
    if !rules.notifiers.iter().any(|n| &n.name == to) {
        return Err(format!(
            "unknown notifier {to:?}: {}",
            crate::suggest::help(
                to,
                "notifier",
                rules.notifiers.iter().map(|n| n.name.as_str())
            )
        ));
    }
    if e.verdict.is_some() || e.state.is_some() || e.event.is_some() {
        return Err(
            "a notification expectation takes `on`, not `verdict`, `state` or `event`".into(),
        );
    }
    if let Some(on) = &e.on
        && NotifyOn::parse(on).is_none()
    {
        return Err(format!(
            "unknown notification event {on:?}: {}",
            crate::suggest::help(on, "event", NotifyOn::ALL.iter().map(|o| o.as_str()))
        ));
    }
    Ok(())
}

fn notice_matches(e: &Expectation, to: &str, n: &Notice, start: Timestamp) -> bool {
    e.notify.as_deref() == Some(to)
        && at_matches(&e.at, start, n.at)
        && e.on.as_ref().is_none_or(|o| &n.on == o)
        && e.remediation.as_ref().is_none_or(|r| &n.remediation == r)
        && e.target.as_ref().is_none_or(|t| &n.target == t)
        && e.reason
            .as_ref()
            .is_none_or(|r| n.reason.as_ref() == Some(r))
}

fn listed_notices(notices: &[(String, Notice)], start: Timestamp) -> String {
    if notices.is_empty() {
        return "  nothing was notified\n".into();
    }
    notices
        .iter()
        .map(|(to, n)| {
            format!(
                "  notified {} at {}: on {} {} {}\n",
                escape(to),
                offset(start, n.at),
                escape(&n.on),
                escape(&n.remediation),
                escape(&n.target)
            )
        })
        .collect()
}

fn validate(e: &Expectation) -> Result<(), String> {
    if let Some(v) = &e.verdict
        && Verdict::parse(v).is_none()
    {
        return Err(format!(
            "unknown verdict {v:?}: use fire, collapse, defer, escalate or discard"
        ));
    }
    if let Some(s) = &e.state
        && crate::engine::EventState::parse(s).is_none()
    {
        return Err(format!(
            "unknown event state {s:?}: use accepted, running, succeeded, warming, rescued, not_rescued, failed, timed_out or refused"
        ));
    }
    if let Some(at) = &e.at {
        duration::parse(at).map_err(|m| format!("expectation `at`: {m}"))?;
    }
    Ok(())
}

fn at_matches(at: &Option<String>, start: Timestamp, actual: Timestamp) -> bool {
    match at {
        None => true,
        Some(at) => duration::parse(at)
            .ok()
            .and_then(|d| SignedDuration::try_from(d).ok())
            .and_then(|d| start.checked_add(d).ok())
            .is_some_and(|t| t == actual),
    }
}

fn decision_matches(e: &Expectation, d: &Decision, start: Timestamp) -> bool {
    at_matches(&e.at, start, d.at)
        && e.remediation
            .as_ref()
            .is_none_or(|r| d.remediation.as_ref() == Some(r))
        && e.target
            .as_ref()
            .is_none_or(|t| d.target.as_ref() == Some(t))
        && e.verdict.as_ref().is_none_or(|v| d.verdict.as_str() == v)
        && e.reason
            .as_ref()
            .is_none_or(|r| d.reason.as_ref() == Some(r))
}

fn event_matches(e: &Expectation, t: &Transition, start: Timestamp) -> bool {
    at_matches(&e.at, start, t.at)
        && e.event.as_ref().is_none_or(|r| &t.remediation == r)
        && e.target.as_ref().is_none_or(|x| &t.target == x)
        && e.state
            .as_ref()
            .is_none_or(|s| crate::engine::EventState::parse(s) == Some(t.to))
}

fn describe(e: &Expectation) -> String {
    let mut parts = Vec::new();
    let mut push = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{k}: {v}"));
        }
    };
    push("at", &e.at);
    push("remediation", &e.remediation);
    push("event", &e.event);
    push("target", &e.target);
    push("verdict", &e.verdict);
    push("reason", &e.reason);
    push("state", &e.state);
    push("notify", &e.notify);
    push("on", &e.on);
    format!("{{{}}}", parts.join(", "))
}

/// The decisions most like the expected one: same remediation (and time, if given).
fn closest_decisions(trace: &Trace, e: &Expectation, start: Timestamp, rules: &RuleSet) -> String {
    let near: Vec<&Decision> = trace
        .decisions
        .iter()
        .filter(|d| {
            e.remediation
                .as_ref()
                .is_none_or(|r| d.remediation.as_ref() == Some(r))
        })
        .filter(|d| at_matches(&e.at, start, d.at))
        .collect();
    if near.is_empty() {
        return nothing_decided(trace, e, start, rules);
    }
    near.iter()
        .map(|d| {
            let nearest = match &d.proof {
                Proof::NoMatch { labels } => {
                    nearest_remediation(rules, e.remediation.as_deref(), labels)
                }
                _ => None,
            };
            format!(
                "  got at {}: {}{}",
                offset(start, d.at),
                indent(&render_decision(d)),
                nearest.unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("")
}

/// Discards shown when nothing was decided for an expectation: a test with
/// many alerts names a few, not all.
const DISCARDS_SHOWN: usize = 3;

/// "Nothing was decided for it", and why: the alerts discarded at that moment
/// because no remediation matched them (`no_match`), each with the nearest
/// remediation (the expected one if it exists, else the one whose `match`
/// holds for the most of its matchers) and the matchers that fail.
fn nothing_decided(trace: &Trace, e: &Expectation, start: Timestamp, rules: &RuleSet) -> String {
    // A set: a list searched once per discard made a failing test over a
    // large payload quadratic (issue 18, item 5).
    let mut seen: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
    let discards: Vec<(&Decision, &Vec<(String, String)>)> = trace
        .decisions
        .iter()
        .filter(|d| at_matches(&e.at, start, d.at))
        .filter_map(|d| match &d.proof {
            Proof::NoMatch { labels } => Some((d, labels)),
            _ => None,
        })
        .filter(|(d, _)| seen.insert(d.alert.as_str()))
        .collect();
    if discards.is_empty() {
        return "  nothing was decided for it\n".to_owned();
    }
    let mut out = String::from("  nothing was decided for it:\n");
    for (d, labels) in discards.iter().take(DISCARDS_SHOWN) {
        out.push_str(&format!(
            "  alert {} was discarded (no_match) at {}\n",
            escape(&d.alert),
            offset(start, d.at)
        ));
        let shown: Vec<String> = labels
            .iter()
            .map(|(k, v)| format!("{}={v:?}", escape(k)))
            .collect();
        out.push_str(&format!(
            "    no remediation matches {{{}}}\n",
            shown.join(", ")
        ));
        if let Some(line) = nearest_remediation(rules, e.remediation.as_deref(), labels) {
            out.push_str(&line);
        }
    }
    if discards.len() > DISCARDS_SHOWN {
        out.push_str(&format!(
            "  and {} more alerts discarded (no_match)\n",
            discards.len() - DISCARDS_SHOWN
        ));
    }
    out
}

/// `    nearest remediation: restart: its match fails on alertname="Down"
/// (the alert has alertname="Dwn")`.
fn nearest_remediation(
    rules: &RuleSet,
    expected: Option<&str>,
    labels: &[(String, String)],
) -> Option<String> {
    let value = |label: &str| {
        labels
            .iter()
            .find(|(k, _)| k == label)
            .map(|(_, v)| v.as_str())
    };
    let failing = |r: &crate::rules::Remediation| -> Vec<String> {
        r.matchers
            .iter()
            .filter(|m| !m.matches(value(&m.label)))
            .map(|m| match value(&m.label) {
                Some(v) => format!("{m} (the alert has {}={v:?})", escape(&m.label)),
                None => format!("{m} (the alert has no {} label)", escape(&m.label)),
            })
            .collect()
    };
    let nearest = match expected.and_then(|name| rules.remediation(name)) {
        Some(r) => r,
        // Most matchers holding, then fewest failing, then by name.
        None => rules.remediations.iter().min_by_key(|r| {
            let fails = failing(r).len();
            (
                std::cmp::Reverse(r.matchers.len() - fails),
                fails,
                r.name.clone(),
            )
        })?,
    };
    let fails = failing(nearest);
    let why = if fails.is_empty() {
        "its match holds: its `when` does not".to_owned()
    } else {
        format!("its match fails on {}", fails.join(", "))
    };
    Some(format!(
        "    nearest remediation: {}: {why}\n",
        escape(&nearest.name)
    ))
}

fn closest_transitions(trace: &Trace, e: &Expectation, start: Timestamp) -> String {
    let near: Vec<String> = trace
        .transitions
        .iter()
        .filter(|t| e.event.as_ref().is_none_or(|r| &t.remediation == r))
        .map(|t| {
            format!(
                "  got at {}: {} {} -> {}\n",
                offset(start, t.at),
                escape(&t.event),
                escape(&t.target),
                t.to
            )
        })
        .collect();
    if near.is_empty() {
        "  no event of that remediation happened\n".to_owned()
    } else {
        near.join("")
    }
}

fn indent(text: &str) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        if i > 0 {
            out.push_str("    ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `16m`, `1h2m`, `0s`: time since the start of the test.
pub fn offset(start: Timestamp, at: Timestamp) -> String {
    let d = at.duration_since(start);
    let secs = u64::try_from(d.as_secs()).unwrap_or(0);
    duration::format(std::time::Duration::from_secs(secs))
}
