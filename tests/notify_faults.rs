//! Notification receivers that misbehave (DESIGN.md §9, issue 21): one that
//! hangs holds up only its own messages, never a decision and never another
//! notifier; one that keeps failing (500, 429 with Retry-After, garbage) is
//! tried up to `--notify-attempts`, then counted failed in `/metrics` and
//! shown on the status page with why. Real daemon, SQLite, loopback only.

mod common;

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::daemon::{Daemon, alertmanager_storm, outbox_counts, write_rules, write_storm_rules};
use common::fake_remediator::{Behaviour, FakeRemediator};
use serde_json::Value;

/// Accepts connections and never answers (keeps them open).
fn hanging_receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map_or(0, |a| a.port());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (format!("http://127.0.0.1:{port}"), accepted)
}

/// Answers each request from `script` in turn (the last one repeats).
fn scripted_receiver(
    script: Vec<(u16, &'static str, Option<&'static str>)>,
) -> (String, Arc<Mutex<Vec<Value>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = server.server_addr().to_ip().map_or(0, |a| a.port());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    thread::spawn(move || {
        for (i, mut request) in server.incoming_requests().enumerate() {
            let mut text = String::new();
            let _ = request.as_reader().read_to_string(&mut text);
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(serde_json::from_str(&text).unwrap_or(Value::Null));
            let (code, body, retry_after) = script[i.min(script.len() - 1)];
            let mut response = tiny_http::Response::from_string(body).with_status_code(code);
            if let Some(after) = retry_after
                && let Ok(h) = tiny_http::Header::from_bytes("Retry-After", after)
            {
                response = response.with_header(h);
            }
            let _ = request.respond(response);
        }
    });
    (format!("http://127.0.0.1:{port}"), got)
}

#[test]
fn a_hanging_notifier_delays_neither_decisions_nor_the_other_notifier() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rules, data) = (tmp.path().join("rules"), tmp.path().join("data"));
    let _fake = write_storm_rules(&rules);
    let (stuck_url, accepted) = hanging_receiver();
    let (ops_url, ops_got) = scripted_receiver(vec![(200, "ok", None)]);
    std::fs::write(
        rules.join("notify.yaml"),
        format!(
            "notifiers:\n  stuck: {{preset: slack, url: \"{stuck_url}/hook\", timeout: 5m, digest: 0s}}\n  ops: {{preset: webhook, url: \"{ops_url}/hook\", digest: 0s}}\nnotify: {{to: [stuck, ops], on: [fire, defer]}}\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let d = Daemon::start(&rules, &data, &[]);
    // The stuck receiver holds its first message before the storm starts.
    let (status, _) = d.post("/webhook/alertmanager", &alertmanager_storm(1));
    assert_eq!(status, 200);
    d.wait_for(
        "the stuck receiver to hold a request",
        Duration::from_secs(20),
        |_| accepted.load(Ordering::SeqCst) >= 1,
    );
    let (status, body) = d.post("/webhook/alertmanager", &alertmanager_storm(300));
    assert_eq!(status, 200, "{body}");
    // Every alert decided (300 distinct instances; the first is already in).
    d.wait_for("300 alerts decided", Duration::from_secs(60), |d| {
        d.get_json("/api/v1/decisions?limit=1000")["decisions"]
            .as_array()
            .map_or(0, Vec::len)
            >= 300
    });
    // The other notifier delivered everything it was given.
    d.wait_for("ops to deliver all", Duration::from_secs(30), |_| {
        let (rows, sent, _) = outbox_counts(&data, Some("ops"));
        rows >= 300 && sent == rows
    });
    let summed: u64 = ops_got
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|m| {
            1 + m["more"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| t["count"].as_u64().unwrap_or(0))
                .sum::<u64>()
        })
        .sum();
    assert_eq!(
        summed as i64,
        outbox_counts(&data, Some("ops")).0,
        "ops' messages account for every row"
    );
    // The stuck one still holds its first request; nothing of it was sent.
    let (stuck_rows, stuck_sent, _) = outbox_counts(&data, Some("stuck"));
    assert_eq!(stuck_sent, 0);
    assert!(stuck_rows >= 300);
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one request at a time per notifier"
    );
    d.wait_for("the queue in /metrics", Duration::from_secs(10), |d| {
        d.request("GET", "/metrics", &[], b"").1.lines().any(|l| {
            l.starts_with("resgate_notifications_queued{notifier=\"stuck\"}") && !l.ends_with(" 0")
        })
    });
    d.terminate();
}

#[test]
fn a_receiver_that_keeps_failing_is_retried_then_counted_failed_and_shown() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (rules, data) = (tmp.path().join("rules"), tmp.path().join("data"));
    let fake = FakeRemediator::start(Behaviour::default());
    write_rules(&rules, &fake, "");
    // 429 with Retry-After 0, then garbage with 500, then 503 forever.
    let (url, got) = scripted_receiver(vec![
        (429, "slow down", Some("0")),
        (500, "<html>\u{0}garbage", None),
        (503, "", None),
    ]);
    std::fs::write(
        rules.join("notify.yaml"),
        format!(
            "notifiers:\n  ops: {{preset: mattermost, url: \"{url}/hooks/secret-key\", digest: 0s}}\nnotify: {{to: [ops], on: [fire]}}\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = Daemon::start(
        &rules,
        &data,
        &["--notify-attempts", "4", "--notify-backoff", "10ms"],
    );
    let (status, _) = d.post("/webhook/alertmanager", &alertmanager_storm(1));
    assert_eq!(status, 200);
    d.wait_for("the notification to fail", Duration::from_secs(30), |_| {
        outbox_counts(&data, Some("ops")).2 == 1
    });
    assert_eq!(
        got.lock().unwrap_or_else(|e| e.into_inner()).len(),
        4,
        "exactly the 4 tries"
    );
    d.wait_for("failed in /metrics", Duration::from_secs(10), |d| {
        d.request("GET", "/metrics", &[], b"")
            .1
            .contains("resgate_notifications_total{notifier=\"ops\",result=\"failed\"} 1")
    });
    let (_, page) = d.request("GET", "/", &[], b"");
    let section = page
        .split("<section id=\"notifications\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no notifications section:\n{page}"));
    assert!(section.contains("<td>ops</td>"), "{section}");
    assert!(section.contains("class=\"warn\">1</td>"), "{section}");
    assert!(
        section.contains("gave up after 4 tries: receiver answered 503"),
        "{section}"
    );
    // The webhook URL is a secret: never on the page.
    assert!(!page.contains("secret-key"));
    d.terminate();
}
