//! Fact sources in `serve` (DESIGN.md §8): one refresher thread per source,
//! each on its own schedule, handing its result to the decision thread as a
//! message (a slow or dead source never delays a decision), and the board of
//! each source's health for `/metrics` and `/readyz`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::Shared;
use super::decider::Msg;
use crate::engine::FactRow;
use crate::facts::Fetcher;
use crate::rules::RuleSet;

/// One source's health.
#[derive(Debug, Clone, Default)]
struct Status {
    /// `None`: not tried yet.
    up: Option<bool>,
    last_good: Option<Timestamp>,
    rows: usize,
    /// The last refresh's duration.
    seconds: f64,
    errors: u64,
    stale_after: Duration,
}

/// Every source's health, shared by the decision thread (which writes it)
/// and the HTTP threads (which read it).
#[derive(Debug, Default)]
pub struct Board {
    sources: Mutex<BTreeMap<String, Status>>,
    /// Bumped by each reload: refreshers of older rules stop.
    generation: AtomicU64,
}

/// What a refresh changed about a source's health: worth one log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    None,
    Up,
    Down,
}

impl Board {
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// New rules: keep the health of sources that remain, forget the others;
    /// returns the new generation (older refreshers stop).
    pub fn reset(&self, rules: &RuleSet) -> u64 {
        if let Ok(mut map) = self.sources.lock() {
            map.retain(|name, _| rules.fact_source(name).is_some());
            for f in &rules.facts {
                map.entry(f.name.clone()).or_default().stale_after = f.stale_after;
            }
        }
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn refreshed(&self, name: &str, rows: usize, took: Duration, at: Timestamp) -> Change {
        let Ok(mut map) = self.sources.lock() else {
            return Change::None;
        };
        let s = map.entry(name.to_owned()).or_default();
        let change = if s.up == Some(true) {
            Change::None
        } else {
            Change::Up
        };
        s.up = Some(true);
        s.last_good = Some(at);
        s.rows = rows;
        s.seconds = took.as_secs_f64();
        change
    }

    pub fn failed(&self, name: &str, took: Duration) -> Change {
        let Ok(mut map) = self.sources.lock() else {
            return Change::None;
        };
        let s = map.entry(name.to_owned()).or_default();
        let change = if s.up == Some(false) {
            Change::None
        } else {
            Change::Down
        };
        s.up = Some(false);
        s.errors = s.errors.saturating_add(1);
        s.seconds = took.as_secs_f64();
        change
    }

    /// The sources whose last good refresh is older than `stale_after` (or
    /// that never had one), with that refresh.
    pub fn stale(&self, now: Timestamp) -> Vec<(String, Option<Timestamp>)> {
        let Ok(map) = self.sources.lock() else {
            return Vec::new();
        };
        map.iter()
            .filter(|(_, s)| match s.last_good {
                None => true,
                Some(at) => {
                    let age = now.duration_since(at);
                    jiff::SignedDuration::try_from(s.stale_after).is_ok_and(|limit| age > limit)
                }
            })
            .map(|(n, s)| (n.clone(), s.last_good))
            .collect()
    }

    /// The `resgate_fact_source_*` series.
    pub fn render(&self, now: Timestamp, out: &mut String) {
        let Ok(map) = self.sources.lock() else {
            return;
        };
        let series = |out: &mut String,
                      name: &str,
                      kind: &str,
                      help: &str,
                      value: &dyn Fn(&Status) -> Option<f64>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (relation, s) in map.iter() {
                if let Some(v) = value(s) {
                    let _ = writeln!(out, "{name}{{relation=\"{}\"}} {v}", escape(relation));
                }
            }
        };
        series(
            out,
            "resgate_fact_source_up",
            "gauge",
            "Whether the fact source's last refresh succeeded (1) or failed (0).",
            &|s| Some(if s.up == Some(true) { 1.0 } else { 0.0 }),
        );
        series(
            out,
            "resgate_fact_source_stale",
            "gauge",
            "Whether the relation is stale (no good refresh within stale_after): decisions reading it defer.",
            &|s| {
                let stale = s.last_good.is_none_or(|at| {
                    jiff::SignedDuration::try_from(s.stale_after)
                        .is_ok_and(|limit| now.duration_since(at) > limit)
                });
                Some(if stale { 1.0 } else { 0.0 })
            },
        );
        series(
            out,
            "resgate_fact_source_age_seconds",
            "gauge",
            "Seconds since the fact source's last good refresh.",
            &|s| {
                s.last_good
                    .map(|at| now.duration_since(at).as_secs_f64().max(0.0))
            },
        );
        series(
            out,
            "resgate_fact_source_rows",
            "gauge",
            "Rows of the relation after its last good refresh.",
            &|s| Some(s.rows as f64),
        );
        series(
            out,
            "resgate_fact_source_refresh_seconds",
            "gauge",
            "How long the fact source's last refresh took.",
            &|s| s.up.map(|_| s.seconds),
        );
        series(
            out,
            "resgate_fact_source_errors_total",
            "counter",
            "Failed refreshes of the fact source.",
            &|s| Some(s.errors as f64),
        );
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One refresh's outcome, for the decision thread.
pub struct Refresh {
    pub relation: String,
    pub result: Result<Vec<FactRow>, String>,
    pub took: Duration,
    pub generation: u64,
}

/// Starts one refresher per fact source of `rules`, for `generation`.
pub fn spawn_refreshers(shared: &Arc<Shared>, rules: &Arc<RuleSet>, generation: u64) {
    let fetcher = Arc::new(Fetcher::new());
    for (i, source) in rules.facts.iter().enumerate() {
        let (shared, rules, fetcher) = (shared.clone(), rules.clone(), fetcher.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("facts-{}", source.name))
            .spawn(move || refresh_loop(&shared, &rules, i, &fetcher, generation));
        if let Err(e) = spawned {
            tracing::error!(relation = %source.name, error = %e, "cannot start a fact refresher thread");
        }
    }
}

fn refresh_loop(shared: &Shared, rules: &RuleSet, i: usize, fetcher: &Fetcher, generation: u64) {
    let Some(source) = rules.facts.get(i) else {
        return;
    };
    let board = &shared.metrics.facts;
    loop {
        if board.generation() != generation || shared.shutdown.is_set() {
            return;
        }
        let started = Instant::now();
        let result = fetcher.fetch(source, &shared.secrets);
        let took = started.elapsed();
        if board.generation() != generation {
            return;
        }
        let refresh = Refresh {
            relation: source.name.clone(),
            result,
            took,
            generation,
        };
        if shared.decider.send(Msg::Facts(refresh)).is_err() {
            return;
        }
        // The interval runs from the end of a refresh: a slow source is not
        // asked again before it answered.
        if shared.shutdown.wait(source.every) {
            return;
        }
    }
}
