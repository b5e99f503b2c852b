//! How long a restart or a takeover takes to restore the engine from the
//! journal, against how many alerts the journal retains (issue 22).
//!
//! For each size (10k, 100k, 1M retained firing alerts; `--alerts N` for one
//! size) a fresh journal is written through the journal's own API (steps of
//! 5,000 alerts, as the decision thread records them: Alertmanager-shaped
//! alerts of 8 labels, with 1 % of them in an event), then restored as
//! `serve` does at start and on takeover (`Decider::restore`): the snapshot
//! and the other reads (open calls, unsent escalations, undecided webhooks),
//! then `Engine::restore`. Each restore runs 3 times; the median is reported,
//! split into reading the journal and rebuilding the engine.
//!
//! SQLite always (a temp dir); PostgreSQL too when `RESGATE_BENCH_PG` is the
//! URL of a server where this user may `CREATE DATABASE` (the bench creates
//! and drops `resgate_restore_N` there, nothing else).
//!
//! `--quick` runs 10k only, once (CI runs it through benches/quick.sh; its
//! numbers are not measurements).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{alert, shipped_rules};
use jiff::{SignedDuration, Timestamp};
use resgate::engine::{AlertEntry, Engine, Event, EventState};
use resgate::journal::{self, Db, Location, StepRecord};

const STEP: usize = 5_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let sizes: Vec<usize> = match args.iter().position(|a| a == "--alerts") {
        Some(i) => args
            .get(i + 1)
            .and_then(|n| n.parse().ok())
            .into_iter()
            .collect(),
        None if quick => vec![10_000],
        None => vec![10_000, 100_000, 1_000_000],
    };
    let runs = if quick { 1 } else { 3 };
    let pg = std::env::var("RESGATE_BENCH_PG").ok();
    println!("restore from the journal: median of {runs} run(s) per size");
    println!(
        "| journal | retained alerts | events | write s | read journal s | rebuild engine s | restore s | alerts/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let dir = tempdir(n);
        let location = Location::File(dir.join(journal::FILE_NAME));
        measure("SQLite", &location, n, runs);
        let _ = std::fs::remove_dir_all(&dir);
        if let Some(url) = &pg {
            let name = format!("resgate_restore_{n}");
            let admin = Location::Postgres(url.clone())
                .open_reader()
                .unwrap_or_else(|e| die(&e));
            let _ = admin.batch(&format!("DROP DATABASE IF EXISTS {name}"));
            admin
                .batch(&format!("CREATE DATABASE {name}"))
                .unwrap_or_else(|e| die(&e));
            measure(
                "PostgreSQL",
                &Location::Postgres(with_db(url, &name)),
                n,
                runs,
            );
            let _ = admin.batch(&format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

fn die(e: &dyn std::fmt::Display) -> ! {
    eprintln!("restore bench: {e}");
    std::process::exit(1);
}

fn tempdir(n: usize) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("resgate-restore-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| die(&e));
    dir
}

/// `url` with its database name replaced by `db`.
fn with_db(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, ""), |(b, q)| (b, q));
    let rest = base
        .trim_start_matches("postgresql://")
        .trim_start_matches("postgres://");
    let host = rest.split('/').next().unwrap_or(rest);
    let scheme = &base[..base.len() - rest.len()];
    if query.is_empty() {
        format!("{scheme}{host}/{db}")
    } else {
        format!("{scheme}{host}/{db}?{query}")
    }
}

fn measure(kind: &str, location: &Location, n: usize, runs: usize) {
    let rules = shipped_rules();
    let start = Instant::now();
    let conn = location.open_writer().unwrap_or_else(|e| die(&e));
    let events = populate(&conn, n);
    drop(conn);
    let write = start.elapsed();
    let mut samples: Vec<(Duration, Duration)> = Vec::new();
    for _ in 0..runs {
        let conn = location.open_reader().unwrap_or_else(|e| die(&e));
        let t0 = Instant::now();
        let snapshot = journal::load_snapshot(&conn).unwrap_or_else(|e| die(&e));
        let calls = journal::open_calls(&conn).unwrap_or_else(|e| die(&e));
        let unsent = journal::unsent_escalations(&conn).unwrap_or_else(|e| die(&e));
        let pending = journal::pending_inbound(&conn).unwrap_or_else(|e| die(&e));
        let at = journal::clock(&conn)
            .unwrap_or_else(|e| die(&e))
            .unwrap_or_else(Timestamp::now);
        let read = t0.elapsed();
        let restored = snapshot.alerts.len();
        let t1 = Instant::now();
        let (engine, _output) = Engine::restore(rules.clone(), snapshot, at);
        let rebuild = t1.elapsed();
        assert_eq!(restored, n, "the journal holds {restored} alerts, not {n}");
        assert_eq!(engine.state().alerts.entries().count(), n);
        std::hint::black_box((calls, unsent, pending));
        drop(engine);
        samples.push((read, rebuild));
    }
    samples.sort_by_key(|(r, b)| *r + *b);
    let (read, rebuild) = samples[samples.len() / 2];
    let total = read + rebuild;
    println!(
        "| {kind} | {n} | {events} | {:.1} | {:.2} | {:.2} | **{:.2}** | {:.0} |",
        write.as_secs_f64(),
        read.as_secs_f64(),
        rebuild.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64().max(1e-9)
    );
}

/// Writes `n` firing alerts (and an event for every hundredth) in steps of
/// [`STEP`], each in its own transaction; the number of events.
fn populate(conn: &Db, n: usize) -> usize {
    let instance = journal::instance_id(conn).unwrap_or_else(|e| die(&e));
    let t0 = Timestamp::now()
        .checked_sub(SignedDuration::from_mins(30))
        .unwrap_or_else(|e| die(&e));
    let mut events = 0;
    let mut i = 0;
    while i < n {
        let end = (i + STEP).min(n);
        let mut step = StepRecord {
            now: Some(t0),
            ..StepRecord::default()
        };
        for k in i..end {
            let a = alert(
                &[
                    ("alertname", format!("Restore{}", k % 40)),
                    ("instance", format!("host-{k}.example:9100")),
                    ("job", "node".to_owned()),
                    (
                        "severity",
                        if k % 3 == 0 { "critical" } else { "warning" }.to_owned(),
                    ),
                    ("service", format!("svc-{}", k % 50)),
                    ("team", format!("team-{}", k % 7)),
                    ("region", format!("eu-{}", k % 3)),
                    ("env", "prod".to_owned()),
                ],
                t0,
            );
            let fp = a.fingerprint.clone();
            if k % 100 == 0 {
                events += 1;
                let id = format!("ev-{}", k / 100 + 1);
                step.events.insert(
                    id.clone(),
                    Event {
                        id,
                        remediation: "restart-node".to_owned(),
                        target: format!("host-{k}.example"),
                        alert: fp.clone(),
                        alerts: std::iter::once(fp.clone()).collect(),
                        state: EventState::Rescued,
                        remote_id: None,
                        fired_at: t0,
                        succeeded_at: Some(t0),
                        warm_until: Some(t0),
                        history: Vec::new(),
                    },
                );
            }
            step.alerts.insert(
                fp,
                AlertEntry {
                    alert: Arc::new(a),
                    first_seen: t0,
                    last_seen: t0,
                    resolved_at: None,
                },
            );
        }
        let prepared = step.prepare().unwrap_or_else(|e| die(&e));
        conn.begin().unwrap_or_else(|e| die(&e));
        journal::record_step(conn, &instance, &step, &prepared).unwrap_or_else(|e| die(&e));
        conn.batch("COMMIT").unwrap_or_else(|e| die(&e));
        i = end;
    }
    events
}
