//! What the crash and failover tests share: a seeded generator, a client that
//! posts without panicking, and the checks against what the client was told
//! (acknowledged alerts) and what the fake remediator received (calls).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

use super::daemon::write_rules;
use super::fake_remediator::{Behaviour, FakeRemediator, ReceivedCall};

/// A cheap deterministic generator (tests print their seed, so a failing run
/// can be repeated).
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n.max(1)
    }
}

/// One acknowledged alert: what the journal must hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acked {
    pub instance: String,
    pub status: String,
    pub starts_at: String,
}

impl Acked {
    /// The same alert however its time was written.
    fn normalised(&self) -> Acked {
        Acked {
            starts_at: self
                .starts_at
                .parse::<jiff::Timestamp>()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            ..self.clone()
        }
    }
}

/// The next notification of an ApiDown workload over `instances` instances: a
/// new `startsAt` each time, or one time in five a resolve. Returns (instance,
/// status, startsAt).
pub fn next_notification(
    rng: &mut Lcg,
    minute: &mut u64,
    instances: u64,
) -> (String, &'static str, String) {
    let instance = format!("api-{}", rng.next(instances));
    *minute += 1;
    let resolve = rng.next(5) == 0;
    let starts_at = if resolve {
        "2026-11-25T00:00:00Z".to_owned()
    } else {
        format!(
            "2026-11-25T{:02}:{:02}:00Z",
            (*minute / 60) % 24,
            *minute % 60
        )
    };
    let status = if resolve { "resolved" } else { "firing" };
    (instance, status, starts_at)
}

/// The remediator and rules the kill tests run: a Rundeck-like fake that
/// holds each call 30 ms (so kills land between a call and its answer) and
/// reports `running` for `running_polls` polls, and `write_rules` in `rules`
/// with `poll.timeout` set to `poll_timeout`: a call whose answer a kill lost
/// stays in flight that long, so it must be short for the test to end.
pub fn kill_test_remediator(
    rules: &std::path::Path,
    running_polls: usize,
    poll_timeout: &str,
) -> FakeRemediator {
    let fake = FakeRemediator::start(Behaviour {
        hang: Some(Duration::from_millis(30)),
        running_polls,
        ..Behaviour::default()
    });
    write_rules(rules, &fake, "");
    super::edit(
        &rules.join("sources.yaml"),
        "timeout: 1m",
        &format!("timeout: {poll_timeout}"),
    );
    fake
}

/// POSTs without panicking: a killed daemon is an error, not a test failure.
pub fn post(addr: &str, body: &[u8]) -> Option<(u16, String)> {
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

/// Asserts every acknowledged alert is among the journal's inbound rows
/// (`alerts` column texts).
pub fn assert_all_journaled(acked: &[Acked], inbound_alerts: &[String]) {
    let journaled: BTreeSet<Acked> = inbound_alerts
        .iter()
        .flat_map(|row| {
            let alerts: Vec<Value> = serde_json::from_str(row).expect("alerts JSON");
            alerts.into_iter().map(|a| {
                Acked {
                    instance: a["labels"]["instance"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    status: a["status"].as_str().unwrap_or_default().to_owned(),
                    starts_at: a["starts_at"].as_str().unwrap_or_default().to_owned(),
                }
                .normalised()
            })
        })
        .collect();
    let missing: Vec<&Acked> = acked
        .iter()
        .filter(|a| !journaled.contains(&a.normalised()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged alerts are not in the journal: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}

/// Asserts one call per Idempotency-Key, each key an event of the journal,
/// and one fire decision per event. Returns the events by state.
pub fn assert_one_call_per_event(
    calls: &[ReceivedCall],
    events: &[Value],
    decisions: &[Value],
) -> BTreeMap<String, usize> {
    let mut per_key: BTreeMap<String, usize> = BTreeMap::new();
    for c in calls {
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
    for e in events {
        *states
            .entry(e["state"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    states
}

/// The states an event is still in flight in.
pub const OPEN_STATES: [&str; 4] = ["pending", "accepted", "running", "warming"];

pub fn all_final(events: &Value) -> bool {
    events["events"].as_array().is_some_and(|events| {
        events
            .iter()
            .all(|e| !OPEN_STATES.contains(&e["state"].as_str().unwrap_or_default()))
    })
}
