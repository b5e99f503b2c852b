//! Decisions and transitions as text for humans. (JSON is their `Serialize`.)

use std::fmt::Write;

use super::Transition;
use super::decision::{Decision, FactProof, Proof, Verdict};
use crate::term::escape;

/// One decision: a headline, then the proof indented below it.
///
/// ```text
/// defer restart-api api/api-1:8080 (deploying)
///   guard deploying: deploying($service)
///   because deploying("api")
///     by deploying(S) :- firing(A), label(A, "alertname", "DeployInProgress"), label(A, "service", S).
///       firing("d000000000000001")
/// ```
pub fn render_decision(d: &Decision) -> String {
    let mut out = String::new();
    let _ = write!(out, "{}", d.verdict);
    // Targets, label values and pause reasons came from outside: escaped
    // (crate::term), so that they cannot drive the terminal or forge a line.
    if let Some(r) = &d.remediation {
        let _ = write!(out, " {}", escape(r));
    }
    if let Some(t) = &d.target {
        let _ = write!(out, " {}", escape(t));
    }
    if let Some(reason) = &d.reason {
        let _ = write!(out, " ({})", escape(reason));
    }
    if let Some(e) = &d.event {
        let _ = write!(out, " -> {}", escape(e));
    }
    out.push('\n');
    render_proof(&d.proof, d.verdict, &mut out);
    out
}

fn render_proof(proof: &Proof, verdict: Verdict, out: &mut String) {
    match proof {
        Proof::NoMatch { labels } => {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{}={v:?}", escape(k)))
                .collect();
            let _ = writeln!(out, "  no remediation matches {{{}}}", labels.join(", "));
        }
        Proof::InFlight {
            event,
            state,
            since,
        } => {
            let _ = writeln!(
                out,
                "  {} is {} on this target since {since}",
                escape(event),
                escape(state)
            );
        }
        Proof::WarmingUp {
            event,
            succeeded_at,
            until,
        } => {
            let _ = writeln!(
                out,
                "  {} succeeded at {succeeded_at}; warming up until {until}",
                escape(event)
            );
        }
        Proof::Budget {
            attempts,
            within_secs,
            events,
            already_escalated,
        } => {
            let _ = writeln!(
                out,
                "  {} attempt(s) in the last {}: {} (budget {attempts})",
                events.len(),
                crate::rules::duration::format(std::time::Duration::from_secs(*within_secs)),
                escape(&events.join(", "))
            );
            if *already_escalated || verdict == Verdict::Discard {
                let _ = writeln!(out, "  already escalated in this window");
            }
        }
        Proof::Paused {
            scope,
            reason,
            until,
        } => {
            let until = until.map_or("until unpaused".to_owned(), |u| format!("until {u}"));
            let _ = writeln!(
                out,
                "  {} paused {until}: {}",
                escape(scope),
                escape(reason)
            );
        }
        Proof::Guard {
            guard,
            body,
            bindings,
            facts,
        } => {
            let _ = writeln!(out, "  guard {}: {}", escape(guard), escape(body.trim()));
            if !bindings.is_empty() {
                let b: Vec<String> = bindings
                    .iter()
                    .map(|(k, v)| format!("{} = {}", escape(k), escape(v)))
                    .collect();
                let _ = writeln!(out, "  with {}", b.join(", "));
            }
            for (i, f) in facts.iter().enumerate() {
                render_fact(f, 1, if i == 0 { "because " } else { "and " }, out);
            }
        }
        Proof::Concurrency { limit, events } => {
            let _ = writeln!(
                out,
                "  {} of max {limit} in flight: {}",
                events.len(),
                escape(&events.join(", "))
            );
        }
        Proof::Fire {
            matched,
            guards_checked,
        } => {
            let _ = writeln!(out, "  matched {}", escape(&matched.join(", ")));
            if !guards_checked.is_empty() {
                let _ = writeln!(
                    out,
                    "  guards not holding: {}",
                    escape(&guards_checked.join(", "))
                );
            }
        }
        Proof::StaleFacts { guard, sources } => {
            for s in sources {
                let last = match s.last_refresh {
                    Some(at) => format!("last good refresh {at}"),
                    None => "never refreshed".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "  {} reads fact relation {}: stale ({last}; stale after {})",
                    escape(guard),
                    escape(&s.relation),
                    crate::rules::duration::format(std::time::Duration::from_secs(
                        s.stale_after_secs
                    ))
                );
            }
        }
        Proof::Error { message } => {
            let _ = writeln!(out, "  error: {}", escape(message));
        }
    }
}

fn render_fact(f: &FactProof, depth: usize, lead: &str, out: &mut String) {
    let pad = "  ".repeat(depth);
    let _ = writeln!(out, "{pad}{lead}{}", escape(&f.fact));
    if let Some(rule) = &f.rule {
        let _ = writeln!(out, "{pad}  by {}", escape(rule.trim()));
    }
    for child in f.from.iter() {
        render_fact(child, depth + 2, "", out);
    }
}

pub fn render_transition(t: &Transition) -> String {
    let from = t.from.map_or(String::new(), |f| format!("{f} -> "));
    format!(
        "{} {} {}: {from}{}\n",
        escape(&t.event),
        escape(&t.remediation),
        escape(&t.target),
        t.to
    )
}
