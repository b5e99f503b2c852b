//! The notification outbox in `resgate serve` (DESIGN.md §9, issue 21):
//! real daemon, real SQLite journal, a receiver on loopback.
//!
//! - each notification is journaled with the decision or transition that
//!   causes it, and delivered by its own thread;
//! - a receiver that is down gets the same notification again later, with
//!   the same `Idempotency-Key`; a crash loses nothing (kill -9, restart);
//! - what was delivered is never delivered again after a restart;
//! - `/metrics` counts sent notifications and queues per notifier.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::daemon::{
    API_DOWN, Daemon, alertmanager_payload, alertmanager_storm, api_down_on, outbox_counts,
    write_rules, write_storm_rules,
};
use common::fake_remediator::{Behaviour, FakeRemediator};
use serde_json::Value;

#[derive(Debug, Clone)]
struct Got {
    key: String,
    body: Value,
    /// What the receiver answered.
    status: u16,
}

/// A `webhook`-preset receiver answering `status` (changeable while running).
struct Receiver {
    url: String,
    status: Arc<AtomicU16>,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(status: u16) -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = server.server_addr().to_ip().map_or(0, |a| a.port());
        let status = Arc::new(AtomicU16::new(status));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (answer, seen) = (status.clone(), got.clone());
        thread::spawn(move || {
            for mut request in server.incoming_requests() {
                let mut text = String::new();
                let _ = request.as_reader().read_to_string(&mut text);
                let key = request
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Idempotency-Key"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let code = answer.load(Ordering::SeqCst);
                seen.lock().unwrap_or_else(|e| e.into_inner()).push(Got {
                    key,
                    body: serde_json::from_str(&text).unwrap_or(Value::Null),
                    status: code,
                });
                let _ =
                    request.respond(tiny_http::Response::from_string("").with_status_code(code));
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}"),
            status,
            got,
        }
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Requests that were answered 2xx are not told apart here: the tests
    /// count requests by key, and switch the answer only between phases.
    fn with_on(&self, on: &str) -> Vec<Got> {
        self.got()
            .into_iter()
            .filter(|g| g.body["on"] == on)
            .collect()
    }
}

fn notifier_rules(dir: &Path, receiver: &Receiver) {
    std::fs::write(
        dir.join("notify.yaml"),
        format!(
            r#"notifiers:
  ops: {{preset: webhook, url: "{}/hook", digest: 0s}}
notify: {{to: [ops], on: [fire, rescued, not_rescued, failed]}}
"#,
            receiver.url
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

const FAST: &[&str] = &[
    "--notify-backoff",
    "20ms",
    "--notify-attempts",
    "100000",
    "--external-url",
    "https://resgate.example",
];

fn outbox_rows(data: &Path) -> Vec<(i64, String, Option<String>)> {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("resgate.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut stmt = conn
        .prepare("SELECT id, key, sent_at FROM outbox ORDER BY id")
        .unwrap_or_else(|e| panic!("{e}"));
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .collect()
}

#[test]
fn a_receiver_down_across_a_crash_gets_each_notification_once_it_is_back_and_never_twice() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rules, data) = (tmp.path().join("rules"), tmp.path().join("data"));
    let fake = FakeRemediator::start(Behaviour::default());
    write_rules(&rules, &fake, "");
    // Warm-up long enough to outlast the crash below: the event must still
    // be warming when the alert resolves.
    let restart = std::fs::read_to_string(rules.join("restart.yaml")).unwrap_or_default();
    std::fs::write(
        rules.join("restart.yaml"),
        restart.replace("warmup: 1s", "warmup: 10m"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let receiver = Receiver::start(503);
    notifier_rules(&rules, &receiver);

    let d = Daemon::start(&rules, &data, FAST);
    let (status, _) = d.post(
        "/webhook/alertmanager",
        &alertmanager_payload("firing", API_DOWN, "2026-12-07T10:00:00Z"),
    );
    assert_eq!(status, 200);
    d.wait_for("the fire", Duration::from_secs(20), |d| {
        !d.events().is_empty()
    });
    // The receiver is down: the fire is tried, again and again, same key.
    d.wait_for("three tries", Duration::from_secs(20), |_| {
        receiver.with_on("fire").len() >= 3
    });
    let tries = receiver.with_on("fire");
    assert!(tries.iter().all(|g| g.key == tries[0].key), "{tries:?}");
    assert!(!tries[0].key.is_empty());
    // The decision did not wait for it: the fix ran meanwhile.
    d.wait_for("the fix to succeed", Duration::from_secs(20), |d| {
        d.event_state("ev-1") == "warming"
    });
    d.kill9();

    receiver.status.store(200, Ordering::SeqCst);
    let d = Daemon::start(&rules, &data, FAST);
    d.wait_for("the fire delivered", Duration::from_secs(20), |_| {
        outbox_rows(&data).first().is_some_and(|r| r.2.is_some())
    });
    let fire = receiver.with_on("fire");
    assert_eq!(
        fire.last().map(|g| &g.key),
        Some(&tries[0].key),
        "same key after the crash"
    );
    assert_eq!(
        fire.last().map(|g| g.body["event"].clone()),
        Some(Value::from("ev-1"))
    );
    assert_eq!(
        fire.last().map(|g| g.body["link"].clone()),
        Some(Value::from("https://resgate.example/events/ev%2D1"))
    );

    // The alert resolves within warm-up: rescued, told once.
    d.post(
        "/webhook/alertmanager",
        &alertmanager_payload("resolved", API_DOWN, "2026-12-07T10:00:00Z"),
    );
    d.wait_for("rescued", Duration::from_secs(20), |d| {
        d.event_state("ev-1") == "rescued"
    });
    d.wait_for("rescued delivered", Duration::from_secs(20), |_| {
        receiver.with_on("rescued").len() == 1
    });
    let metrics = d.request("GET", "/metrics", &[], b"").1;
    assert!(
        metrics.contains("resgate_notifications_total{notifier=\"ops\",result=\"sent\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("resgate_notifications_queued{notifier=\"ops\"}"),
        "{metrics}"
    );
    d.terminate();

    // After a restart, a new fire's notification goes out; the worker sends
    // in journal order, so had it resent an old one, that would come first.
    let before = receiver.got().len();
    let d = Daemon::start(&rules, &data, FAST);
    d.post(
        "/webhook/alertmanager",
        &alertmanager_payload("firing", &api_down_on("api-2:8080"), "2026-12-07T10:05:00Z"),
    );
    d.wait_for("the second fire delivered", Duration::from_secs(20), |_| {
        receiver.got().len() > before
    });
    let after: Vec<Got> = receiver.got().split_off(before);
    assert_eq!(after.len(), 1, "only the new fire: {after:?}");
    assert_eq!(after[0].body["event"], "ev-2");
    // Every row sent, each key once among the 2xx deliveries.
    let rows = outbox_rows(&data);
    assert_eq!(rows.len(), 3, "{rows:?}");
    let mut keys: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    keys.dedup();
    assert_eq!(keys.len(), 3);
    d.terminate();
}

/// The storm of issue 21: 500 alerts, `on: [fire, defer]`, `digest: 1h`.
/// The receiver is down while they are decided, then comes back: it gets
/// one message, whose count (1 + what was summed into it) is every
/// notification journaled; nothing is dropped, nothing else is sent within
/// the window.
#[test]
fn a_storm_of_500_alerts_is_one_message_whose_sums_add_up_to_500() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rules, data) = (tmp.path().join("rules"), tmp.path().join("data"));
    // Jobs keep running: max_concurrent defers all but two.
    let _fake = write_storm_rules(&rules);
    let receiver = Receiver::start(503);
    std::fs::write(
        rules.join("notify.yaml"),
        format!(
            "notifiers:\n  ops: {{preset: webhook, url: \"{}/hook\", digest: 1h}}\nnotify: {{to: [ops], on: [fire, defer]}}\n",
            receiver.url
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let d = Daemon::start(&rules, &data, FAST);
    let (status, body) = d.post("/webhook/alertmanager", &alertmanager_storm(500));
    assert_eq!(status, 200, "{body}");
    d.wait_for(
        "500 notifications journaled",
        Duration::from_secs(60),
        |_| outbox_counts(&data, None).0 >= 500,
    );
    receiver.status.store(200, Ordering::SeqCst);
    d.wait_for(
        "a message delivered and marked sent",
        Duration::from_secs(30),
        |_| receiver.got().iter().any(|g| g.status == 200) && outbox_counts(&data, None).1 > 0,
    );
    let delivered: Vec<Got> = receiver
        .got()
        .into_iter()
        .filter(|g| g.status == 200)
        .collect();
    assert_eq!(
        delivered.len(),
        1,
        "one message in the window: {delivered:?}"
    );
    let m = &delivered[0].body;
    let summed: u64 = m["more"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t["count"].as_u64().unwrap_or(0))
        .sum();
    let (total, sent, _) = outbox_counts(&data, None);
    assert_eq!(
        1 + summed,
        sent as u64,
        "the message accounts for every row it marked sent"
    );
    assert_eq!(
        total, 500,
        "one notification per alert: 2 fires, 498 defers"
    );
    assert_eq!(sent, total, "nothing left behind or dropped");
    let text = m["text"].as_str().unwrap_or("");
    assert!(
        text.contains("498 restart-api deferred: concurrency")
            || text.contains("497 restart-api deferred: concurrency"),
        "{text}"
    );
    d.terminate();
}

/// `digest` is "at most one message per notifier per window" (DESIGN.md §9),
/// restarts included: the window was kept in memory, so a daemon restarted
/// (or crash-looping) sent its next message at once, one per start. Here the
/// window is 1h: after a message and a kill -9, a new notification is
/// journaled and stays unsent for the 3 s watched (15 of the sender's 200 ms
/// polls); before the fix it went out within the first poll.
#[test]
fn the_digest_window_holds_across_a_restart() {
    let fake = FakeRemediator::start(Behaviour::default());
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rules, data) = (tmp.path().join("rules"), tmp.path().join("data"));
    write_rules(&rules, &fake, "");
    let receiver = Receiver::start(200);
    std::fs::write(
        rules.join("notify.yaml"),
        format!(
            "notifiers:\n  ops: {{preset: webhook, url: \"{}/hook\", digest: 1h}}\nnotify: {{to: [ops], on: [fire]}}\n",
            receiver.url
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = Daemon::start(&rules, &data, FAST);
    let first = alertmanager_payload("firing", &api_down_on("api-1:8080"), "2026-11-25T10:00:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &first).0, 200);
    d.wait_for("the first message", Duration::from_secs(30), |_| {
        receiver.got().len() == 1 && outbox_counts(&data, None).1 == 1
    });
    d.kill9();

    let d = Daemon::start(&rules, &data, FAST);
    let second = alertmanager_payload("firing", &api_down_on("api-2:8080"), "2026-11-25T10:01:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &second).0, 200);
    d.wait_for(
        "the second notification journaled",
        Duration::from_secs(30),
        |_| outbox_counts(&data, None).0 == 2,
    );
    for _ in 0..15 {
        thread::sleep(Duration::from_millis(200));
        assert_eq!(
            receiver.got().len(),
            1,
            "a second message within the digest window, after a restart"
        );
    }
    assert_eq!(outbox_counts(&data, None).1, 1, "still one row sent");
    d.terminate();
}
