//! Crash test: a client posts alerts to `resgate serve` while the harness
//! `kill -9`s the daemon at random moments and starts it again on the same
//! data directory. Then, against the client's record of acknowledged (2xx)
//! posts and the fake remediator's record of calls:
//! - every acknowledged alert is in the journal;
//! - no remediation call was received twice (one Idempotency-Key, one call);
//! - every event reaches a final state after the last restart, each call the
//!   remediator received belongs to an event, each event fired once.
//!
//! Kills land during ingest, between a decision and its call (the fake holds
//! each call 30 ms), between the call and journaling its answer, and while
//! polling. Short mode (`cargo test`): 50 kills. Long mode:
//! `CRASH_ROUNDS=1000 cargo test --release --test crash -- --nocapture`.
//! Loopback only; every wait is bounded.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, alertmanager_payload, write_rules};
use common::fake_remediator::{Behaviour, FakeRemediator};
use serde_json::Value;

/// A cheap deterministic generator (the seed is printed, so a failing run can
/// be repeated with `CRASH_SEED`).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// One acknowledged alert: what the journal must hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Acked {
    instance: String,
    status: String,
    starts_at: String,
}

/// POSTs without panicking: a killed daemon is an error, not a test failure.
fn post(addr: &str, body: &[u8]) -> Option<(u16, String)> {
    let addr: SocketAddr = addr.parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let head = format!(
        "POST /webhook/alertmanager HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

#[test]
fn kill_9_at_random_points_loses_nothing_acknowledged_and_never_calls_twice() {
    let rounds: usize = std::env::var("CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_129);
    println!("crash test: {rounds} kills, CRASH_SEED={seed}");

    let fake = FakeRemediator::start(Behaviour {
        hang: Some(Duration::from_millis(30)),
        running_polls: 2,
        ..Behaviour::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    write_rules(&rules, &fake, "");
    // A call whose answer a crash lost stays in flight until `poll.timeout`:
    // short here so the test ends.
    common::edit(&rules.join("sources.yaml"), "timeout: 1m", "timeout: 3s");
    let data = dir.path().join("data");

    let addr = Arc::new(Mutex::new(String::new()));
    let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = {
        let (addr, acked, stop, attempts) =
            (addr.clone(), acked.clone(), stop.clone(), attempts.clone());
        std::thread::spawn(move || {
            let mut rng = Lcg(seed);
            let mut minute = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let target = addr.lock().map(|a| a.clone()).unwrap_or_default();
                if target.is_empty() {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                // 20 instances; each post is a new notification (new startsAt)
                // or, one time in five, a resolve.
                let instance = format!("api-{}", rng.next(20));
                minute += 1;
                let resolve = rng.next(5) == 0;
                let starts_at = if resolve {
                    "2026-11-25T00:00:00Z".to_owned()
                } else {
                    format!(
                        "2026-11-25T{:02}:{:02}:00Z",
                        (minute / 60) % 24,
                        minute % 60
                    )
                };
                let status = if resolve { "resolved" } else { "firing" };
                let labels = [
                    ("alertname", "ApiDown"),
                    ("severity", "critical"),
                    ("service", "api"),
                    ("instance", instance.as_str()),
                ];
                let body = alertmanager_payload(status, &labels, &starts_at);
                attempts.fetch_add(1, Ordering::SeqCst);
                match post(&target, &body) {
                    Some((200, _)) => {
                        if let Ok(mut a) = acked.lock() {
                            a.push(Acked {
                                instance,
                                status: status.to_owned(),
                                starts_at,
                            });
                        }
                    }
                    // Down (killed, starting) or refusing: try again shortly,
                    // as Alertmanager would.
                    _ => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        })
    };

    let mut rng = Lcg(seed ^ 0x5eed);
    let begin = Instant::now();
    for _ in 0..rounds {
        let d = Daemon::start(&rules, &data, &[]);
        if let Ok(mut a) = addr.lock() {
            *a = d.addr.clone();
        }
        std::thread::sleep(Duration::from_millis(10 + rng.next(150)));
        d.kill9();
    }
    let d = Daemon::start(&rules, &data, &[]);
    if let Ok(mut a) = addr.lock() {
        *a = d.addr.clone();
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    client.join().expect("the client ends");

    // Everything reaches a final state: calls answered or timed out, polls
    // done, warm-ups over (1 s), pending inbound decided.
    let open = ["pending", "accepted", "running", "warming"];
    d.wait_for(
        "every event to reach a final state",
        Duration::from_secs(60),
        |d| {
            d.get_json("/api/v1/events?limit=10000")["events"]
                .as_array()
                .is_some_and(|events| {
                    events
                        .iter()
                        .all(|e| !open.contains(&e["state"].as_str().unwrap_or_default()))
                })
        },
    );
    let acked = acked.lock().map(|a| a.clone()).unwrap_or_default();
    let attempts = attempts.load(Ordering::SeqCst);
    d.wait_for(
        "every acknowledged webhook to be decided",
        Duration::from_secs(30),
        |d| {
            let metrics = d.request("GET", "/metrics", &[], b"").1;
            metrics.contains("resgate_inbound_undecided 0")
        },
    );
    let events = d.get_json("/api/v1/events?limit=10000")["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let decisions = d.get_json("/api/v1/decisions?limit=10000")["decisions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    drop(d);

    // 1. Every acknowledged alert is in the journal.
    let conn = rusqlite::Connection::open(data.join("resgate.db")).unwrap();
    let mut stmt = conn.prepare("SELECT alerts FROM inbound").unwrap();
    let journaled: BTreeSet<Acked> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .flat_map(|row| {
            let alerts: Vec<Value> = serde_json::from_str(&row.unwrap()).unwrap();
            alerts.into_iter().map(|a| Acked {
                instance: a["labels"]["instance"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                status: a["status"].as_str().unwrap_or_default().to_owned(),
                starts_at: a["starts_at"].as_str().unwrap_or_default().to_owned(),
            })
        })
        .collect();
    let normalise = |a: &Acked| Acked {
        starts_at: a
            .starts_at
            .parse::<jiff::Timestamp>()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        ..a.clone()
    };
    let journaled: BTreeSet<Acked> = journaled.iter().map(normalise).collect();
    let missing: Vec<&Acked> = acked
        .iter()
        .filter(|a| !journaled.contains(&normalise(a)))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged alerts are not in the journal: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // 2. One call per Idempotency-Key, one key per event.
    let calls = fake.calls();
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for c in &calls {
        let key = c.header("Idempotency-Key").unwrap_or_default().to_owned();
        *per_key.entry(key).or_default() += 1;
    }
    let twice: Vec<(&String, &usize)> = per_key.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "calls received more than once: {twice:?}");
    let event_ids: BTreeSet<String> = events
        .iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    for key in per_key.keys() {
        let event = key.rsplit_once("-ev-").map(|(_, n)| format!("ev-{n}"));
        assert!(
            event.as_ref().is_some_and(|e| event_ids.contains(e)),
            "a call with key {key} belongs to no journaled event"
        );
    }

    // 3. Each event was fired by exactly one decision.
    let mut fires: BTreeMap<String, usize> = BTreeMap::new();
    for d in decisions.iter().filter(|d| d["verdict"] == "fire") {
        if let Some(e) = d["event"].as_str() {
            *fires.entry(e.to_owned()).or_default() += 1;
        }
    }
    assert!(fires.values().all(|n| *n == 1), "{fires:?}");
    assert_eq!(
        fires.len(),
        events.len(),
        "every event has its fire decision"
    );

    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        *states
            .entry(e["state"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    println!(
        "crash test: {rounds} kills in {:.1} s; {attempts} posts tried, {} acknowledged, all journaled; \
         {} decisions, {} events {states:?}; {} calls received, none twice",
        begin.elapsed().as_secs_f64(),
        acked.len(),
        decisions.len(),
        events.len(),
        calls.len()
    );
    assert!(
        acked.len() > rounds,
        "the client got posts through between kills"
    );
}
