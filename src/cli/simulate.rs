//! `resgate simulate PAYLOAD.json|SCENARIO.yaml`: what the rules decide, and why.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::backtest;
use crate::engine::{Decision, Engine, render_decision, render_transition};
use crate::rules::{self, RuleSet};
use crate::scenario::expect::offset;
use crate::scenario::input;
use crate::scenario::{Entry, Fake, simulate};
use crate::serve::journal;
use crate::source::Alert;
use crate::term::escape;
use crate::timeline::{self, Timeline};

use super::{Exit, Format, Output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A webhook payload (*.json) or a scenario timeline (*.yaml)
    pub input: PathBuf,
    /// Rules directory
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Which `sources:` entry maps the payload (default: the alertmanager one)
    #[arg(long)]
    pub source: Option<String>,
    /// Decide as of this time (RFC 3339; default: the payload's latest startsAt)
    #[arg(long)]
    pub at: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also draw a scenario's timeline as an SVG picture into this file
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Decide a payload against the state a serve journal (its data directory)
    /// recorded at `--at` (default: its last webhook), rebuilt by replaying it
    #[arg(long, value_name = "DATA")]
    pub journal: Option<PathBuf>,
}

pub fn run(args: &Args, out: &Output) -> Exit {
    if !args.input.is_file() {
        eprintln!("error: cannot read {}: no such file", args.input.display());
        return Exit::Usage;
    }
    let is_json = args.input.extension().is_some_and(|e| e == "json");
    if let (true, Some(svg)) = (is_json, &args.svg) {
        eprintln!(
            "error: --svg {} draws a scenario timeline, but {} is a payload; give a SCENARIO.yaml or drop --svg",
            svg.display(),
            args.input.display()
        );
        return Exit::Usage;
    }
    if let (false, Some(data)) = (is_json, &args.journal) {
        eprintln!(
            "error: --journal {} decides a payload against recorded state, but {} is a scenario; give a PAYLOAD.json",
            data.display(),
            args.input.display()
        );
        return Exit::Usage;
    }
    let loaded = rules::load_path(&args.rules);
    let Some(ruleset) = loaded.rules else {
        out.diagnostics(&loaded.diagnostics, &loaded.sources);
        eprintln!("error: the rules in {} do not load", args.rules.display());
        return if loaded.diagnostics.iter().any(|d| d.code == "io") {
            Exit::Usage
        } else {
            Exit::Failed
        };
    };
    let ruleset = Arc::new(ruleset);
    let result = if is_json {
        payload(args, &ruleset)
    } else {
        scenario(args, &ruleset)
    };
    match result {
        Ok(()) => Exit::Ok,
        Err(message) => {
            eprintln!("error: {message}");
            Exit::Usage
        }
    }
}

#[derive(Serialize)]
struct JsonAlert<'a> {
    fingerprint: &'a str,
    status: crate::source::AlertStatus,
    labels: &'a std::collections::BTreeMap<String, String>,
    decisions: &'a [&'a Decision],
}

fn payload(args: &Args, rules: &Arc<RuleSet>) -> Result<(), String> {
    let source = input::pick_source(rules, args.source.as_deref())?;
    let given_at: Option<jiff::Timestamp> = match &args.at {
        Some(t) => Some(
            t.parse()
                .map_err(|e| format!("--at {t:?} is not an RFC 3339 time: {e}"))?,
        ),
        None => None,
    };
    // The payload is read and mapped once: 100k alerts are 27 MB of JSON.
    let (at, decisions, alerts) = match &args.journal {
        None => {
            let (at, alerts) = match given_at {
                Some(at) => (at, input::payload(source, &args.input, at)?),
                None => input::payload_at(source, &args.input, input::Moment::Latest)?,
            };
            let mut engine = Engine::new(rules.clone(), at);
            let decisions = engine.ingest(&alerts, at).decisions;
            (at, decisions, alerts)
        }
        Some(data) => {
            let (at, mut runner) = recorded_state(rules, data, given_at)?;
            let alerts = input::payload(source, &args.input, at)?;
            (at, runner.deliver(&alerts, at), alerts)
        }
    };
    // Each alert's decisions, found by one hash lookup (not a scan of every
    // decision per alert: that made 100k alerts take minutes). Decisions on
    // alerts not in the payload (a timer's, with --journal) are not printed.
    let mut by_alert: HashMap<&str, Vec<&Decision>> = HashMap::with_capacity(alerts.len());
    for a in &alerts {
        by_alert.entry(a.fingerprint.as_str()).or_default();
    }
    for d in &decisions {
        if let Some(list) = by_alert.get_mut(d.alert.as_str()) {
            list.push(d);
        }
    }
    let per_alert = |a: &Alert| -> &[&Decision] {
        by_alert
            .get(a.fingerprint.as_str())
            .map_or(&[], Vec::as_slice)
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match args.format {
        Format::Json => {
            let json: Vec<JsonAlert<'_>> = alerts
                .iter()
                .map(|a| JsonAlert {
                    fingerprint: &a.fingerprint,
                    status: a.status,
                    labels: &a.labels,
                    decisions: per_alert(a),
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &json)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        Format::Text => (|| {
            if args.journal.is_some() {
                writeln!(
                    out,
                    "decided at {at} against the state the journal recorded then"
                )?;
            }
            for a in &alerts {
                let labels: Vec<String> = a
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{}={v:?}", escape(k)))
                    .collect();
                writeln!(
                    out,
                    "alert {} {} {{{}}}",
                    escape(&a.fingerprint),
                    status(a),
                    labels.join(", ")
                )?;
                let decisions = per_alert(a);
                if decisions.is_empty() {
                    writeln!(out, "  (resolved: nothing to decide)")?;
                }
                for d in decisions {
                    for line in render_decision(d).lines() {
                        writeln!(out, "  {line}")?;
                    }
                }
            }
            Ok(())
        })(),
    };
    written.and_then(|()| out.flush()).or_else(closed_pipe)
}

/// A reader that stops early (`| head`) is no error of ours.
fn closed_pipe(e: std::io::Error) -> Result<(), String> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(format!("cannot write the output: {e}"))
    }
}

/// The journal in `data` replayed through `rules` up to `at` (default: its
/// last webhook): the moment and the engine as it was then.
fn recorded_state(
    rules: &Arc<RuleSet>,
    data: &std::path::Path,
    at: Option<jiff::Timestamp>,
) -> Result<(jiff::Timestamp, crate::scenario::Runner), String> {
    let at_journal = journal::Location::parse(&data.to_string_lossy());
    let recorded = at_journal
        .open_reader()
        .and_then(|conn| journal::history::recorded(&conn))
        .map_err(|e| format!("{e} (--journal takes the directory `resgate serve --data` uses)"))?;
    let last = recorded
        .inbound
        .last()
        .map(|i| i.received_at)
        .ok_or_else(|| {
            format!(
                "{} holds no webhook to rebuild a state from",
                at_journal.describe()
            )
        })?;
    let at = at.unwrap_or(last);
    let runner = backtest::state_at(rules, &recorded, Fake::default(), at).ok_or_else(|| {
        format!("--at {at} is before the first webhook the journal still holds; nothing to rebuild")
    })?;
    Ok((at, runner))
}

fn status(a: &Alert) -> &'static str {
    match a.status {
        crate::source::AlertStatus::Firing => "firing",
        crate::source::AlertStatus::Resolved => "resolved",
    }
}

fn scenario(args: &Args, rules: &Arc<RuleSet>) -> Result<(), String> {
    let run = simulate::run(rules, &args.input, args.source.as_deref())?;
    if let Some(path) = &args.svg {
        let picture = timeline::svg::render(&Timeline::from_run(&run));
        std::fs::write(path, picture)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        // On stderr: stdout stays the timeline (or its JSON).
        eprintln!("wrote the timeline picture to {}", path.display());
    }
    let (start, trace) = (run.start, &run.trace);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match args.format {
        Format::Json => {
            #[derive(Serialize)]
            #[serde(tag = "type", rename_all = "lowercase")]
            enum JsonEntry<'a> {
                Decision {
                    offset: String,
                    #[serde(flatten)]
                    decision: &'a Decision,
                },
                Transition {
                    offset: String,
                    #[serde(flatten)]
                    transition: &'a crate::engine::Transition,
                },
            }
            let entries: Vec<JsonEntry<'_>> = trace
                .log
                .iter()
                .map(|e| match e {
                    Entry::Decision(d) => JsonEntry::Decision {
                        offset: offset(start, d.at),
                        decision: d,
                    },
                    Entry::Transition(t) => JsonEntry::Transition {
                        offset: offset(start, t.at),
                        transition: t,
                    },
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &entries)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out))
        }
        Format::Text => (|| {
            if let Some(name) = &run.name {
                writeln!(out, "{}", escape(name))?;
            }
            writeln!(out, "start {start}")?;
            for entry in &trace.log {
                match entry {
                    Entry::Decision(d) => {
                        let text = render_decision(d);
                        let mut lines = text.lines();
                        let alert = escape(d.alert.get(..8).unwrap_or(&d.alert));
                        writeln!(
                            out,
                            "{:>6}  {alert}  {}",
                            offset(start, d.at),
                            lines.next().unwrap_or("")
                        )?;
                        for line in lines {
                            writeln!(out, "{:>6}  {:8}  {line}", "", "")?;
                        }
                    }
                    Entry::Transition(t) => {
                        writeln!(
                            out,
                            "{:>6}  {:8}  event {}",
                            offset(start, t.at),
                            "",
                            render_transition(t).trim_end()
                        )?;
                    }
                }
            }
            Ok(())
        })(),
    };
    written.and_then(|()| out.flush()).or_else(closed_pipe)
}
