//! `resgate explain EVENT_ID|FINGERPRINT`: the whole story of an event or an
//! alert, read from a serve journal (read-only, safe while the daemon runs).

use std::fmt::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::{Exit, Format};
use crate::engine::render_decision;
use crate::journal::{self, story::Step, story::Story};
use crate::term::escape;
use crate::timeline::{Timeline, svg};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An event ID (`ev-12`) or an alert fingerprint
    pub id: String,
    /// The data directory `resgate serve --data` writes
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// A shared PostgreSQL journal (postgres://…) instead of --data
    #[arg(
        long,
        value_name = "URL",
        env = "RESGATE_JOURNAL",
        hide_env_values = true
    )]
    pub journal: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Leave the webhook bodies out of the text
    #[arg(long)]
    pub no_payload: bool,
    /// Also draw the story's timeline as an SVG picture into this file
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

pub fn run(args: &Args) -> Exit {
    let at = super::events::location(&args.data, args.journal.as_deref());
    let conn = match super::events::open_journal(&at) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let story = match journal::story::story(&conn, &args.id) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "error: {} names no event and no alert in {}",
                args.id,
                at.describe()
            );
            eprintln!(
                "help: `resgate events --data {}` lists the events; fingerprints are in `resgate events ID` and /api/v1/decisions",
                args.data.display()
            );
            return Exit::Failed;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Usage;
        }
    };
    if let Some(file) = &args.svg {
        let Some(start) = story.start() else {
            eprintln!("error: {} has nothing to draw yet", args.id);
            return Exit::Failed;
        };
        let mut timeline = Timeline::from_trace(&story.trace(), start);
        timeline.title = Some(format!("{} {}", story.subject.kind, story.subject.id));
        if let Err(e) = std::fs::write(file, svg::render(&timeline)) {
            eprintln!("error: cannot write {}: {e}", file.display());
            return Exit::Usage;
        }
    }
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&story) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot encode the story: {e}");
                return Exit::Usage;
            }
        },
        Format::Text => print!("{}", render(&story, !args.no_payload)),
    }
    Exit::Ok
}

/// The story for a person: the subject, its alerts, then one entry per step.
/// Every value that came from outside (labels, targets, bodies) is escaped
/// ([`crate::term::escape`]): the text goes to a terminal.
pub fn render(story: &Story, payloads: bool) -> String {
    let mut out = String::new();
    let text = |v: &Value, k: &str| escape(v[k].as_str().unwrap_or("-")).into_owned();
    for e in &story.events {
        let _ = writeln!(
            out,
            "event {}: {} on {}, {}",
            text(e, "id"),
            text(e, "remediation"),
            text(e, "target"),
            text(e, "state")
        );
        let _ = writeln!(
            out,
            "  fired {}  remote id {}  call {}",
            text(e, "fired_at"),
            text(e, "remote_id"),
            text(e, "call")
        );
    }
    if story.events.is_empty() {
        let _ = writeln!(
            out,
            "alert {}: no event fired for it",
            escape(&story.subject.id)
        );
    }
    for a in &story.alerts {
        let labels: Vec<String> = a.alert["labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| format!("{}={}", escape(k), escape(&v.to_string())))
            .collect();
        let _ = writeln!(
            out,
            "alert {} {{{}}}",
            escape(&a.fingerprint),
            labels.join(", ")
        );
        let resolved = a
            .resolved_at
            .map_or("still firing".to_owned(), |t| format!("resolved {t}"));
        let _ = writeln!(
            out,
            "  first seen {}  last seen {}  {resolved}",
            a.first_seen, a.last_seen
        );
    }
    out.push('\n');

    let mut steps = story.steps.iter().peekable();
    while let Some(step) = steps.next() {
        let at = step.at();
        match step {
            Step::Received {
                inbound,
                source,
                alerts,
                body,
                ..
            } => {
                let carried: Vec<String> = alerts
                    .iter()
                    .map(|a| format!("{} {}", escape(&a.fingerprint), a.status.as_str()))
                    .collect();
                let _ = writeln!(
                    out,
                    "{at}  received webhook #{inbound} from {}: {}",
                    escape(source),
                    carried.join(", ")
                );
                if let (true, Some(body)) = (payloads, body) {
                    // JSON escapes C0 controls, not DEL, C1 or bidi overrides.
                    let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
                    for line in pretty.lines() {
                        let _ = writeln!(out, "      {}", escape(line));
                    }
                }
            }
            Step::Decided {
                decision, inbound, ..
            } => {
                let from = match inbound {
                    Some(i) => format!("from webhook #{i}"),
                    None => "on re-evaluation".to_owned(),
                };
                let _ = writeln!(
                    out,
                    "{at}  decided {from} for alert {}",
                    escape(&decision.alert)
                );
                for line in render_decision(decision).lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            Step::Changed {
                event, from, to, ..
            } => {
                let from = from
                    .as_deref()
                    .map_or(String::new(), |f| format!("{} -> ", escape(f)));
                let _ = writeln!(out, "{at}  {} {from}{}", escape(event), escape(to));
            }
            Step::Noted { event, detail, .. } => {
                // Status polls repeat the same word for minutes: one line per run.
                let mut repeats = 0;
                let mut last = at;
                while let Some(Step::Noted {
                    event: next_event,
                    detail: next_detail,
                    at: next_at,
                }) = steps.peek()
                {
                    if next_event != event || next_detail != detail {
                        break;
                    }
                    repeats += 1;
                    last = *next_at;
                    steps.next();
                }
                let times = if repeats > 0 {
                    format!("  (x{}, until {last})", repeats + 1)
                } else {
                    String::new()
                };
                let _ = writeln!(out, "{at}  {} {}{times}", escape(event), note(detail));
            }
        }
    }
    out
}

/// A call answer or poll as `key value` pairs, in the order the journal
/// wrote them (escaped: a remediator's answer is outside text too).
pub(super) fn note(detail: &Value) -> String {
    let text = match detail.as_object() {
        Some(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k} {s}"),
                other => format!("{k} {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        None => detail.to_string(),
    };
    escape(&text).into_owned()
}
