//! `resgate simulate PAYLOAD.json|SCENARIO.yaml`: what the rules decide, and why.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::backtest;
use crate::engine::{Decision, Engine, render_decision, render_transition};
use crate::journal;
use crate::rules::{self, RuleSet};
use crate::scenario::expect::offset;
use crate::scenario::input;
use crate::scenario::{Entry, Fake, simulate};
use crate::source::{Alert, AlertStatus};
use crate::term::escape;
use crate::timeline::{self, Timeline};

use super::{Exit, Format, Output, pretty};

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

/// What the output shows of each payload entry (fingerprint, status, labels),
/// copied into one buffer as the engine takes the alerts. The alerts
/// themselves are made one at a time from the read payload and freed once
/// decided, the next one reusing their memory: holding 100k mapped alerts
/// (~1.5 KB each in ~17 allocations) until the output was most of the
/// command's page faults, each a fresh 4 KiB page the kernel zeroes.
struct Shown {
    /// Each entry's fingerprint, then its label names and values, back to back.
    text: String,
    /// Where each string of `text` ends.
    ends: Vec<usize>,
    entries: Vec<ShownEntry>,
}

struct ShownEntry {
    /// Its fingerprint's index in `ends`; its labels follow.
    first: usize,
    labels: usize,
    status: AlertStatus,
}

impl Shown {
    fn new(alerts: &[Alert]) -> Self {
        let mut shown = Shown::with_capacity(alerts.len());
        for a in alerts {
            shown.add(a);
        }
        shown
    }

    /// Room for `alerts` entries of five labels (Alertmanager's usual few),
    /// so that their buffers rarely grow.
    fn with_capacity(alerts: usize) -> Self {
        Shown {
            text: String::with_capacity(alerts.saturating_mul(96)),
            ends: Vec::with_capacity(alerts.saturating_mul(11)),
            entries: Vec::with_capacity(alerts),
        }
    }

    fn add(&mut self, a: &Alert) {
        self.entries.push(ShownEntry {
            first: self.ends.len(),
            labels: a.labels.len(),
            status: a.status,
        });
        self.push(&a.fingerprint);
        for (k, v) in &a.labels {
            self.push(k);
            self.push(v);
        }
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
        self.ends.push(self.text.len());
    }

    /// String `n` of `text`.
    fn string(&self, n: usize) -> &str {
        let from = n
            .checked_sub(1)
            .and_then(|p| self.ends.get(p))
            .copied()
            .unwrap_or(0);
        let to = self.ends.get(n).copied().unwrap_or(from);
        self.text.get(from..to).unwrap_or_default()
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn fingerprint(&self, entry: usize) -> &str {
        self.entries.get(entry).map_or("", |e| self.string(e.first))
    }

    fn status(&self, entry: usize) -> AlertStatus {
        self.entries
            .get(entry)
            .map_or(AlertStatus::Firing, |e| e.status)
    }

    /// The entry's labels in name order (as its `BTreeMap` held them).
    fn labels(&self, entry: usize) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        let (first, n) = self
            .entries
            .get(entry)
            .map_or((0, 0), |e| (e.first + 1, e.labels));
        (0..n).map(move |i| (self.string(first + 2 * i), self.string(first + 2 * i + 1)))
    }
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
    let (at, decisions, shown) = match &args.journal {
        None => {
            // Each alert is made as the engine takes it and dropped once
            // decided (see `Shown`).
            let latest = input::Moment::Latest;
            input::with_payload(source, &args.input, given_at, latest, |at, alerts| {
                let mut shown = Shown::with_capacity(alerts.len());
                let mut engine = Engine::new(rules.clone(), at);
                let alerts = alerts.inspect(|a| shown.add(a));
                let decisions = engine.ingest_owned(alerts, at).decisions;
                // Not freed: the process ends soon (see the end of this function).
                std::mem::forget(engine);
                (at, decisions, shown)
            })?
        }
        Some(data) => {
            let (at, mut runner) = recorded_state(rules, data, given_at)?;
            let alerts = input::payload(source, &args.input, at)?;
            let decisions = runner.deliver(&alerts, at);
            (at, decisions, Shown::new(&alerts))
        }
    };
    let grouped = Grouped::new(&shown, &decisions);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match args.format {
        Format::Json => write_json(&mut out, &shown, &grouped),
        Format::Text => (|| {
            if args.journal.is_some() {
                writeln!(
                    out,
                    "decided at {at} against the state the journal recorded then"
                )?;
            }
            if shown.is_empty() {
                // An empty screen reads as "it did not run"; some payloads
                // carry no alert by design (a PagerDuty acknowledgement).
                writeln!(
                    out,
                    "no alerts: source \"{}\" maps this payload to none, so nothing is decided",
                    escape(&source.name)
                )?;
            }
            for i in 0..shown.len() {
                let labels: Vec<String> = shown
                    .labels(i)
                    .map(|(k, v)| format!("{}={v:?}", escape(k)))
                    .collect();
                writeln!(
                    out,
                    "alert {} {} {{{}}}",
                    escape(shown.fingerprint(i)),
                    shown.status(i).as_str(),
                    labels.join(", ")
                )?;
                let decisions = grouped.of(i);
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
    let result = written.and_then(|()| out.flush()).or_else(closed_pipe);
    // The process ends here: freeing 100k alerts, their decisions and the
    // engine's state one allocation at a time took a tenth of the command.
    std::mem::forget(grouped);
    std::mem::forget(decisions);
    std::mem::forget(shown);
    result
}

/// Each alert's decisions, in the order they were made, grouped in one pass:
/// a scan of every decision per alert made 100k alerts take minutes. Two
/// entries of the payload with one fingerprint both get all of its decisions;
/// decisions on alerts not in the payload (a timer's, with --journal) none.
struct Grouped<'a> {
    /// Per payload entry, the slot of its fingerprint.
    slot: Vec<usize>,
    /// `decisions[start[s]..start[s + 1]]` are slot `s`'s.
    start: Vec<usize>,
    decisions: Vec<&'a Decision>,
}

impl<'a> Grouped<'a> {
    fn new(shown: &'a Shown, decisions: &'a [Decision]) -> Self {
        let mut slots: FxHashMap<&str, usize> = FxHashMap::default();
        slots.reserve(shown.len());
        let slot: Vec<usize> = (0..shown.len())
            .map(|i| {
                let next = slots.len();
                *slots.entry(shown.fingerprint(i)).or_insert(next)
            })
            .collect();
        let of: Vec<Option<usize>> = decisions
            .iter()
            .map(|d| slots.get(d.alert.as_str()).copied())
            .collect();
        // Counting sort by slot: stable, so each slot keeps decision order.
        let mut start = vec![0usize; slots.len() + 1];
        for s in of.iter().flatten() {
            start[s + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut fill = start.clone();
        let mut grouped: Vec<Option<&Decision>> = vec![None; decisions.len()];
        for (d, s) in decisions.iter().zip(&of) {
            if let Some(s) = s {
                grouped[fill[*s]] = Some(d);
                fill[*s] += 1;
            }
        }
        Grouped {
            slot,
            start,
            decisions: grouped.into_iter().flatten().collect(),
        }
    }

    /// The decisions of the payload's entry `i`.
    fn of(&self, i: usize) -> &[&'a Decision] {
        let s = self.slot[i];
        &self.decisions[self.start[s]..self.start[s + 1]]
    }
}

/// The alerts with their decisions as one pretty JSON array, written a block
/// at a time; each block is encoded on as many threads as there are cores
/// (encoding is most of the command's time after deciding), each thread with
/// its own [`pretty::Encoder`] kept across blocks. The bytes are those of one
/// `serde_json::to_writer_pretty` of the whole array (`tests/simulate_output.rs`).
fn write_json(out: &mut impl Write, shown: &Shown, grouped: &Grouped<'_>) -> std::io::Result<()> {
    const BLOCK: usize = 8192;
    if shown.is_empty() {
        return writeln!(out, "[]");
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let mut encoders: Vec<pretty::Encoder> = std::iter::repeat_with(pretty::Encoder::default)
        .take(threads)
        .collect();
    out.write_all(b"[")?;
    let mut block_start = 0;
    while block_start < shown.len() {
        let block_end = (block_start + BLOCK).min(shown.len());
        let per = (block_end - block_start).div_ceil(threads);
        let parts: Vec<Vec<u8>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (block_start..block_end)
                .step_by(per)
                .zip(encoders.iter_mut())
                .map(|(from, encoder)| {
                    let to = (from + per).min(block_end);
                    scope.spawn(move || {
                        let mut part = Vec::with_capacity((to - from).saturating_mul(1536));
                        for i in from..to {
                            // Each entry at level 1, after the "[" or the
                            // previous entry: ",\n" between them, "\n" first.
                            part.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
                            part.extend_from_slice(b"  ");
                            json_alert(encoder, &mut part, shown, grouped, i);
                        }
                        part
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| std::io::Error::other("an encoder thread panicked"))
                })
                .collect::<std::io::Result<_>>()
        })?;
        for part in parts {
            out.write_all(&part)?;
        }
        block_start = block_end;
    }
    out.write_all(b"\n]\n")
}

/// One payload entry: `{"fingerprint", "status", "labels", "decisions"}`.
fn json_alert(
    encoder: &mut pretty::Encoder,
    out: &mut Vec<u8>,
    shown: &Shown,
    grouped: &Grouped<'_>,
    i: usize,
) {
    let mut o = pretty::Open::object(out, 1);
    o.string("fingerprint", shown.fingerprint(i));
    o.string("status", shown.status(i).as_str());
    let inner = o.inner();
    let mut labels = pretty::Open::object(o.key("labels"), inner);
    for (k, v) in shown.labels(i) {
        labels.string(k, v);
    }
    labels.end();
    let mut list = pretty::Open::array(o.key("decisions"), inner);
    for d in grouped.of(i) {
        let level = list.inner();
        encoder.decision(list.element(), level, d);
    }
    list.end();
    o.end();
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
