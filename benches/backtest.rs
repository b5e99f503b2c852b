//! Backtest over a journal of 100,000 alerts (issue: trust before autonomy;
//! target: under 10 s on the 2-core machine).
//!
//! Setup (not timed): the shipped `rules/`, a week of generated notifications
//! from 2,000 alert identities (ApiDown, ServiceDown, DiskFull, deploys,
//! noise...; repeats every few minutes, resolves), decided once on a virtual
//! clock with remediators that take a minute, and written into a real journal
//! file the way `serve` lays it out. Timed: what `resgate backtest` does with
//! that journal and the same rules: read it, replay it, diff. The diff of the
//! same rules must be empty; the benchmark prints its size as a check.
//! `--quick` runs 2,000 alerts (CI keeps it compiling and running); `--alerts N`
//! any other number.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use resgate::backtest;
use resgate::engine::{Decision, EventState, Transition, Verdict};
use resgate::journal::{self, history};
use resgate::rules::RuleSet;
use resgate::scenario::{Action, Fake, Runner, Step};
use resgate::source::{Alert, AlertStatus, fingerprint};
use rusqlite::{Connection, params};

use common::Lcg;

fn main() {
    let alerts = common::alerts_arg(2_000, 100_000);
    let rules = common::shipped_rules();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("no temp dir: {e}");
            std::process::exit(1);
        }
    };
    let db = dir.path().join(journal::FILE_NAME);

    let setup = Instant::now();
    let steps = notifications(alerts);
    let recorded_decisions = record(&rules, &steps, &db);
    println!(
        "setup: {alerts} alerts, {recorded_decisions} decisions journaled in {:.1} s (not timed)",
        setup.elapsed().as_secs_f64()
    );

    let begin = Instant::now();
    let conn = match journal::open_reader(&db) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let recorded = match history::recorded(&conn) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let read = begin.elapsed();
    let assume = Fake::default();
    let Some(replay) = backtest::replay(&rules, &recorded, assume) else {
        eprintln!("nothing to replay");
        std::process::exit(1);
    };
    let replayed = begin.elapsed() - read;
    let after: Vec<history::RecordedDecision> = replay
        .trace
        .decisions
        .iter()
        .map(history::RecordedDecision::from)
        .collect();
    let diff = backtest::diff(&recorded.decisions, &after, replay.start);
    let total = begin.elapsed();
    println!(
        "backtest of {alerts} alerts: {:.2} s total (read {:.2} s, replay {:.2} s, diff {:.2} s); \
         {:.0} alerts/s; target < 10 s: {}",
        total.as_secs_f64(),
        read.as_secs_f64(),
        replayed.as_secs_f64(),
        (total - read - replayed).as_secs_f64(),
        alerts as f64 / total.as_secs_f64(),
        if total.as_secs_f64() < 10.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "check: {} decisions recorded, {} replayed, {} of {} pairs changed (same rules: expect 0)",
        diff.decisions_before,
        diff.decisions_after,
        diff.changed(),
        diff.compared
    );
}

const SERVICES: [&str; 6] = ["api", "auth", "db", "checkout", "storage", "search"];

/// The label set of alert identity `i` of 2,000.
fn identity(i: usize) -> BTreeMap<String, String> {
    let service = SERVICES[i % SERVICES.len()];
    let pairs: Vec<(&str, String)> = match i % 10 {
        0..=3 => vec![
            ("alertname", "ApiDown".into()),
            ("severity", "critical".into()),
            ("service", service.into()),
            ("instance", format!("{service}-{}:8080", i % 40)),
        ],
        4 => vec![
            ("alertname", "ServiceDown".into()),
            ("service", service.into()),
        ],
        5 => vec![
            ("alertname", "DiskFull".into()),
            ("instance", format!("host-{}", i % 200)),
        ],
        6 => vec![
            ("alertname", "DeployInProgress".into()),
            ("service", service.into()),
        ],
        7 => vec![
            ("alertname", "ApiErrorBudgetBurn".into()),
            ("service", service.into()),
        ],
        _ => vec![
            ("alertname", format!("Noise{}", i % 50)),
            ("instance", format!("host-{i}")),
        ],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A week of notifications, about one every 6 s: an identity fires, repeats,
/// and after a while resolves.
fn notifications(n: usize) -> Vec<(Timestamp, Alert)> {
    let start: Timestamp = "2026-11-20T00:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let mut rng = Lcg(7);
    let mut firing: HashMap<usize, Timestamp> = HashMap::new();
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let at = start
            .checked_add(SignedDuration::from_secs(k as i64 * 6))
            .unwrap_or(start);
        let i = rng.next(2_000);
        let labels = identity(i);
        let resolve = firing.contains_key(&i) && rng.next(4) == 0;
        let starts_at = *firing.entry(i).or_insert(at);
        if resolve {
            firing.remove(&i);
        }
        out.push((
            at,
            Alert {
                source: "alertmanager".to_owned(),
                fingerprint: fingerprint(&labels),
                status: if resolve {
                    AlertStatus::Resolved
                } else {
                    AlertStatus::Firing
                },
                labels,
                annotations: BTreeMap::new(),
                starts_at,
                ends_at: resolve.then_some(at),
                group_key: None,
                generator_url: None,
            },
        ));
    }
    out
}

/// Decides the notifications once and writes the journal a live run would
/// have left: inbound rows, decisions, events and their changes.
fn record(rules: &Arc<RuleSet>, steps: &[(Timestamp, Alert)], db: &Path) -> usize {
    let Some(start) = steps.first().map(|s| s.0) else {
        return 0;
    };
    let end = steps.last().map_or(start, |s| s.0);
    let runner_steps: Vec<Step> = steps
        .iter()
        .map(|(at, a)| Step {
            at: at.duration_since(start),
            action: Action::Alerts(vec![a.clone()]),
        })
        .collect();
    let trace = Runner::new(rules.clone(), start, BTreeMap::new()).run(
        start,
        runner_steps,
        end.duration_since(start),
    );
    // The bench writes rows the way a long-running serve would have, with
    // SQLite's own API (much faster than one engine step per row).
    let conn = match journal::open_writer(db) {
        Ok(journal::Db::Sqlite(c)) => c,
        Ok(other) => {
            eprintln!("expected a SQLite journal, got {other:?}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = write(&conn, steps, &trace.decisions, &trace.transitions) {
        eprintln!("cannot write the journal: {e}");
        std::process::exit(1);
    }
    trace.decisions.len()
}

fn ts(t: Timestamp) -> String {
    format!("{t:.6}")
}

fn write(
    conn: &Connection,
    steps: &[(Timestamp, Alert)],
    decisions: &[Decision],
    transitions: &[Transition],
) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN")?;
    for (at, alert) in steps {
        let json = serde_json::to_string(&[alert]).unwrap_or_default();
        conn.prepare_cached(
            "INSERT INTO inbound (received_at, source, body, alerts, done_at) VALUES (?1, 'alertmanager', x'7b7d', ?2, ?1)",
        )?
        .execute(params![ts(*at), json])?;
    }
    // Decided, as serve leaves them (migrations/sqlite/007-local-writes.sql).
    conn.execute_batch("DELETE FROM inbound_undecided")?;
    let mut fired: HashMap<&str, (&Decision, usize)> = HashMap::new();
    for d in decisions {
        if let (Verdict::Fire, Some(e)) = (d.verdict, &d.event) {
            let seq = fired.len() + 1;
            fired.insert(e.as_str(), (d, seq));
        }
        conn.prepare_cached(
            "INSERT INTO decisions (at, alert, remediation, target, verdict, reason, event, proof)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '{}')",
        )?
        .execute(params![
            ts(d.at),
            d.alert,
            d.remediation,
            d.target,
            d.verdict.as_str(),
            d.reason,
            d.event
        ])?;
    }
    let mut last: HashMap<&str, (Timestamp, EventState)> = HashMap::new();
    for t in transitions {
        conn.prepare_cached(
            "INSERT INTO event_changes (event, at, from_state, to_state) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            t.event,
            ts(t.at),
            t.from.map(EventState::as_str),
            t.to.as_str()
        ])?;
        last.insert(t.event.as_str(), (t.at, t.to));
    }
    for (id, (d, seq)) in &fired {
        let (updated, state) = last.get(id).copied().unwrap_or((d.at, EventState::Pending));
        conn.prepare_cached(
            "INSERT INTO events (id, seq, remediation, target, alert, alerts, state, fired_at,
               updated_at, history, call, idempotency_key)
             VALUES (?1, ?2, ?3, ?4, ?5, '[]', ?6, ?7, ?8, '[]', 'answered', ?1)",
        )?
        .execute(params![
            id,
            *seq as i64,
            d.remediation,
            d.target,
            d.alert,
            state.as_str(),
            ts(d.at),
            ts(updated)
        ])?;
    }
    conn.execute_batch("COMMIT")
}
