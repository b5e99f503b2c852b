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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, alertmanager_payload};
use common::load::{
    Acked, Lcg, all_final, assert_all_journaled, assert_one_call_per_event, kill_test_remediator,
    next_notification, post,
};

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

    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    let fake = kill_test_remediator(&rules, 2, "3s");
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
                let (instance, status, starts_at) = next_notification(&mut rng, &mut minute, 20);
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
    d.wait_for(
        "every event to reach a final state",
        Duration::from_secs(60),
        |d| all_final(&d.get_json("/api/v1/events?limit=10000")),
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
    let inbound: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_all_journaled(&acked, &inbound);

    // 2. One call per Idempotency-Key, one key per event, one fire per event.
    let calls = fake.calls();
    let states = assert_one_call_per_event(&calls, &events, &decisions);

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
