//! Hostile input over HTTP against `resgate serve` on loopback: every case gets
//! its status, nothing reaches the journal, and a good client keeps being
//! served while it happens.
//!
//! A background "good client" asks `GET /healthz` on a fresh connection every
//! 10 ms for the whole test; each case reports the good client's p99 latency
//! during it (printed as a table; run with `--nocapture` to see it). Timing is
//! asserted only against a generous bound (5 s), so a loaded CI machine does
//! not fail the test. Every attack is bounded in connections and time.
//!
//! Cases already covered by tests/serve.rs (bearer 401, 413 by length, the
//! late body 408, a long head 431, chunked 411, the connection cap) are
//! repeated here only where they take part in a flood or a new variant.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use common::daemon::{API_DOWN, Daemon, alertmanager_payload, rig, write_rules};
use common::fake_remediator::{Behaviour, FakeRemediator};
use resgate::serve::auth::sign_hex;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
/// A good client waiting longer than this during an attack fails the test.
const GENEROUS: Duration = Duration::from_secs(5);
/// Quick cases are repeated for this long: a small flood, and enough time for
/// the good client to take a few samples.
const FLOOD: Duration = Duration::from_millis(300);

const AM_TOKEN: &str = "am-t0ken";
const GF_SECRET: &str = "gf-s3cret";
const PD_SECRET: &str = "pd-s3cret";
const LEGACY_PASSWORD: &str = "legacy-pw";
const API_TOKEN: &str = "api-t0ken";
const GF_SIGNATURE: &str = "X-Grafana-Alerting-Signature";
const GF_TIMESTAMP: &str = "X-Grafana-Alerting-Timestamp";

/// One answer, head included (for `Allow` and friends).
struct Response {
    status: u16,
    head: String,
    body: String,
}

fn parse(raw: &[u8]) -> Response {
    let text = String::from_utf8_lossy(raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// Sends `bytes` as they are on a fresh connection; the answer.
fn raw(addr: &str, bytes: &[u8]) -> Response {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The server may answer (413, 401) and close before taking all of it.
    let _ = c.write_all(bytes);
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    parse(&out)
}

/// A request with `Connection: close` and a Content-Length for `body`.
fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut bytes = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        bytes.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        bytes.push_str("Content-Type: application/json\r\n");
    }
    bytes.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = bytes.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

/// Sends `prefix`, then `drip` one byte every `every`, until the server
/// answers; the answer.
fn trickle(addr: &str, prefix: &[u8], drip: &[u8], every: Duration) -> Response {
    let mut c = TcpStream::connect(addr).expect("connect");
    let _ = c.write_all(prefix);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    c.set_read_timeout(Some(every)).expect("timeout");
    for byte in drip {
        // Stop dripping once the answer starts: writing into a closed
        // connection would make the kernel drop the answer with a reset.
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
        if c.write_all(std::slice::from_ref(byte)).is_err() {
            break;
        }
    }
    c.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let _ = c.read_to_end(&mut out);
    parse(&out)
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `GET /healthz` on a fresh connection every 10 ms until stopped.
struct GoodClient {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Instant, Duration, u16)>>>,
    thread: Option<JoinHandle<()>>,
}

impl GoodClient {
    fn start(addr: &str) -> GoodClient {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (addr, flag, out) = (addr.to_owned(), stop.clone(), samples.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                let started = Instant::now();
                let status = raw(
                    &addr,
                    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                )
                .status;
                out.lock().unwrap_or_else(|e| e.into_inner()).push((
                    started,
                    started.elapsed(),
                    status,
                ));
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        GoodClient {
            stop,
            samples,
            thread: Some(thread),
        }
    }

    /// Latencies and statuses of the requests started between `from` and `to`.
    fn between(&self, from: Instant, to: Instant) -> Vec<(Duration, u16)> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(at, _, _)| *at >= from && *at <= to)
            .map(|(_, took, status)| (*took, *status))
            .collect()
    }
}

impl Drop for GoodClient {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn p99(samples: &[(Duration, u16)]) -> Option<Duration> {
    let mut took: Vec<Duration> = samples.iter().map(|(d, _)| *d).collect();
    took.sort();
    let i = (took.len() * 99).div_ceil(100).checked_sub(1)?;
    took.get(i).copied()
}

/// Rows of every table an accepted webhook, a decision or a pause writes.
fn journaled(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open the journal");
    ["inbound", "alerts", "decisions", "events", "pauses"]
        .iter()
        .map(|t| {
            conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .expect("count")
        })
        .sum()
}

/// Four sources, one per mapping, each with a different credential, and the
/// remediators and the restart rule of `write_rules`.
fn hostile_rules(dir: &Path, fake: &FakeRemediator) {
    write_rules(dir, fake, "");
    let sources = std::fs::read_to_string(dir.join("sources.yaml")).expect("sources.yaml");
    let sources = sources.replace(
        "  alertmanager: {kind: alertmanager}\n",
        r#"  alertmanager: {kind: alertmanager, auth: {bearer: "${env:AM_TOKEN}"}}
  grafana:
    kind: grafana
    auth: {hmac: {secret: "${env:GF_SECRET}", timestamp_header: X-Grafana-Alerting-Timestamp}}
  pagerduty: {kind: pagerduty, auth: {hmac: {secret: "${env:PD_SECRET}"}}}
  legacy:
    kind: jmespath
    alerts: "events[]"
    labels: "{alertname: type, service: tags.svc, instance: host}"
    status: "state || 'firing'"
    auth: {basic: {username: legacy, password: "${env:LEGACY_PW}"}}
"#,
    );
    assert!(sources.contains("grafana:"), "sources.yaml changed shape");
    std::fs::write(dir.join("sources.yaml"), sources).expect("write sources.yaml");
}

fn start(dir: &Path, fake: &FakeRemediator, extra: &[&str]) -> Daemon {
    let rules = dir.join("rules");
    hostile_rules(&rules, fake);
    Daemon::start_env(
        &rules,
        &dir.join("data"),
        extra,
        &[
            ("AM_TOKEN", AM_TOKEN),
            ("GF_SECRET", GF_SECRET),
            ("PD_SECRET", PD_SECRET),
            ("LEGACY_PW", LEGACY_PASSWORD),
            ("RESGATE_API_TOKEN", API_TOKEN),
        ],
    )
}

/// Headers that pass each source's check for `body`.
fn credentials(source: &str, body: &[u8]) -> Vec<(String, String)> {
    let pair = |k: &str, v: String| (k.to_owned(), v);
    match source {
        "alertmanager" => vec![pair("Authorization", format!("Bearer {AM_TOKEN}"))],
        "grafana" => {
            let ts = now_secs().to_string();
            vec![
                pair(GF_SIGNATURE, sign_hex(GF_SECRET, Some(&ts), body)),
                pair(GF_TIMESTAMP, ts),
            ]
        }
        "pagerduty" => vec![pair(
            "X-PagerDuty-Signature",
            format!("v1={}", sign_hex(PD_SECRET, None, body)),
        )],
        "legacy" => {
            let basic = base64::engine::general_purpose::STANDARD
                .encode(format!("legacy:{LEGACY_PASSWORD}"));
            vec![pair("Authorization", format!("Basic {basic}"))]
        }
        other => panic!("no credentials for {other}"),
    }
}

fn post_signed(addr: &str, source: &str, body: &[u8]) -> Response {
    let creds = credentials(source, body);
    let headers: Vec<(&str, &str)> = creds
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    request(addr, "POST", &format!("/webhook/{source}"), &headers, body)
}

const SOURCES: [&str; 4] = ["alertmanager", "grafana", "pagerduty", "legacy"];

/// What the table prints for one case.
struct Row {
    case: String,
    status: u16,
    journaled: i64,
    good: Vec<(Duration, u16)>,
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<62} {:>6} {:>9} {:>6} {:>10}  good statuses",
        "case", "status", "journaled", "good n", "good p99"
    );
    for row in rows {
        let p99 = p99(&row.good).map_or("-".to_owned(), |d| {
            format!("{:.1} ms", d.as_secs_f64() * 1e3)
        });
        let mut statuses: Vec<u16> = row.good.iter().map(|(_, s)| *s).collect();
        statuses.sort_unstable();
        statuses.dedup();
        println!(
            "{:<62} {:>6} {:>9} {:>6} {:>10}  {statuses:?}",
            row.case,
            row.status,
            if row.journaled == 0 { "no" } else { "YES" },
            row.good.len(),
            p99
        );
    }
}

/// Runs `attack` (repeated for [`FLOOD`] unless `once`), checks its status,
/// that nothing was journaled and that the good client was served.
struct Cases<'a> {
    addr: String,
    db: &'a Path,
    good: &'a GoodClient,
    rows: Vec<Row>,
}

impl Cases<'_> {
    fn run(&mut self, case: &str, want: u16, once: bool, attack: &dyn Fn(&str) -> Response) {
        let from = Instant::now();
        let mut last;
        loop {
            last = attack(&self.addr);
            assert_eq!(
                last.status, want,
                "{case}: got {}\n{}\n\n{}",
                last.status, last.head, last.body
            );
            if once || from.elapsed() >= FLOOD {
                break;
            }
        }
        let to = Instant::now();
        // Every refusal says why, as JSON, and shows no file of the server.
        let reason: Value = serde_json::from_str(&last.body)
            .unwrap_or_else(|_| panic!("{case}: the reason is not JSON: {:?}", last.body));
        assert!(
            reason["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{case}: {}",
            last.body
        );
        for secret in [
            AM_TOKEN,
            GF_SECRET,
            PD_SECRET,
            LEGACY_PASSWORD,
            API_TOKEN,
            "root:",
        ] {
            assert!(
                !last.body.contains(secret),
                "{case}: {secret:?} in {}",
                last.body
            );
        }
        let journaled = journaled(self.db);
        assert_eq!(journaled, 0, "{case}: something was journaled");
        let good = self.good.between(from, to);
        check_good(case, &good, &[200]);
        self.rows.push(Row {
            case: case.to_owned(),
            status: last.status,
            journaled,
            good,
        });
    }
}

fn check_good(case: &str, good: &[(Duration, u16)], allowed: &[u16]) {
    for (took, status) in good {
        assert!(
            allowed.contains(status),
            "{case}: the good client got {status}"
        );
        assert!(*took < GENEROUS, "{case}: the good client waited {took:?}");
    }
}

fn nested(depth: usize) -> Vec<u8> {
    let mut body = vec![b'['; depth];
    body.extend(std::iter::repeat_n(b']', depth));
    body
}

#[test]
fn hostile_requests_get_their_status_nothing_is_journaled_and_a_good_client_is_served() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let d = start(
        dir.path(),
        &fake,
        &[
            "--max-connections",
            "256",
            "--idle-timeout",
            "5s",
            "--head-timeout",
            "1s",
            "--body-timeout",
            "1s",
            "--max-body",
            "200000",
        ],
    );
    let db = dir.path().join("data/resgate.db");
    let began = Instant::now();
    let good = GoodClient::start(&d.addr);
    let mut cases = Cases {
        addr: d.addr.clone(),
        db: &db,
        good: &good,
        rows: Vec::new(),
    };
    let payload = alertmanager_payload("firing", API_DOWN, "2026-11-25T10:00:00Z");
    let am_auth = format!("Bearer {AM_TOKEN}");
    let am = |headers: &str, body: &[u8]| {
        let mut bytes = format!(
            "POST /webhook/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nAuthorization: {am_auth}\r\nContent-Type: application/json\r\n{headers}\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        bytes
    };

    // Oversize bodies: refused from the length, before a byte is read.
    cases.run(
        "413: Content-Length over --max-body, body never sent",
        413,
        false,
        &|a| raw(a, &am("Content-Length: 200001\r\n", b"")),
    );
    cases.run("413: Content-Length of 2^64-1", 413, false, &|a| {
        raw(a, &am("Content-Length: 18446744073709551615\r\n", b""))
    });
    cases.run("400: Content-Length over 2^64", 400, false, &|a| {
        raw(a, &am("Content-Length: 99999999999999999999999\r\n", b""))
    });
    cases.run("400: Content-Length +2 (not digits)", 400, false, &|a| {
        raw(a, &am("Content-Length: +2\r\n", b"{}"))
    });
    cases.run("400: two Content-Lengths that disagree", 400, false, &|a| {
        raw(a, &am("Content-Length: 2\r\nContent-Length: 40\r\n", b"{}"))
    });
    cases.run(
        "411: Transfer-Encoding and Content-Length",
        411,
        false,
        &|a| {
            raw(
                a,
                &am(
                    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                    b"0\r\n\r\n",
                ),
            )
        },
    );

    // Slow senders: the deadlines are for the whole head and body, not per read.
    cases.run(
        "408: body dripped 1 byte / 200 ms (--body-timeout 1s)",
        408,
        true,
        &|a| {
            let head = am("Content-Length: 60\r\n", b"");
            trickle(a, &head, &[b' '; 60], Duration::from_millis(200))
        },
    );
    cases.run(
        "408: head dripped 1 byte / 200 ms (--head-timeout 1s)",
        408,
        true,
        &|a| {
            trickle(
                a,
                b"G",
                b"ET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa\r\n\r\n",
                Duration::from_millis(200),
            )
        },
    );

    // Heads too large.
    cases.run("431: one 20 KB header", 431, false, &|a| {
        let big = format!("X-Big: {}\r\n", "a".repeat(20_000));
        raw(a, &am(&format!("{big}Content-Length: 0\r\n"), b""))
    });
    cases.run("431: 101 header lines", 431, false, &|a| {
        let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
        raw(a, &am(&many, b""))
    });

    // Wrong methods.
    for (method, path, allow) in [
        ("PUT", "/webhook/alertmanager", "POST"),
        ("GET", "/webhook/alertmanager", "POST"),
        ("DELETE", "/healthz", "GET, HEAD"),
        ("POST", "/metrics", "GET, HEAD"),
        ("POST", "/api/v1/decisions", "GET, HEAD"),
        ("PATCH", "/api/v1/pauses", "GET, HEAD, POST, DELETE"),
    ] {
        cases.run(&format!("405: {method} {path}"), 405, false, &|a| {
            let r = request(a, method, path, &[], b"");
            assert!(
                r.head.contains(&format!("\r\nAllow: {allow}")),
                "{method} {path}: {}",
                r.head
            );
            r
        });
    }
    // Methods are case-sensitive (RFC 9110 §9.1): `get` is no method we know.
    cases.run("501: lower-case method", 501, false, &|a| {
        raw(a, b"get /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    });

    // Path traversal: routes are matched on segments, never on files.
    for (method, path) in [
        ("GET", "/../etc/passwd"),
        ("GET", "/%2e%2e/%2e%2e/etc/passwd"),
        ("GET", "//etc/passwd"),
        ("GET", "/api/v1/../../../etc/passwd"),
        ("GET", "/api/v1/events/..%2F..%2F..%2Fetc%2Fpasswd"),
        ("GET", "/api/v1/events/../../../etc/passwd"),
        ("POST", "/webhook/../api/v1/pauses"),
        ("POST", "/webhook/..%2Fapi%2Fv1%2Fpauses"),
        ("POST", "/webhook/%2e%2e"),
        ("POST", "/webhook/alertmanager/.."),
        ("POST", "/webhook/alertmanager%2F.."),
        ("DELETE", "/api/v1/pauses/../../webhook/alertmanager"),
        ("POST", "/webhook/%ff"),
    ] {
        cases.run(&format!("404: {method} {path}"), 404, false, &|a| {
            let auth = [("Authorization", am_auth.as_str())];
            request(a, method, path, &auth, &payload)
        });
    }

    // Invalid UTF-8.
    cases.run("400: raw 0xFF in the path", 400, false, &|a| {
        raw(a, b"GET /\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    });
    // obs-text in a header value is allowed (RFC 9110 §5.5), but it cannot
    // stand in for credentials.
    cases.run("401: raw 0xFF in a header value", 401, false, &|a| {
        raw(
            a,
            b"POST /webhook/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer \xff\r\nContent-Length: 0\r\n\r\n",
        )
    });
    for source in SOURCES {
        cases.run(
            &format!("400: invalid UTF-8 body to {source}"),
            400,
            false,
            &|a| {
                post_signed(
                    a,
                    source,
                    b"{\"alerts\": [\"\xff\xfe\"], \"events\": \"\xc0\"}",
                )
            },
        );
    }

    // Deeply nested JSON: refused at serde_json's depth limit (128), no stack
    // overflow on the 256 KiB connection threads; inside the limit too.
    for source in SOURCES {
        cases.run(
            &format!("400: 100k '[' then ']' to {source}"),
            400,
            false,
            &|a| post_signed(a, source, &nested(100_000)),
        );
        cases.run(
            &format!("400: 30k unclosed '{{\"a\":' to {source}"),
            400,
            false,
            &|a| post_signed(a, source, "{\"a\":".repeat(30_000).as_bytes()),
        );
        cases.run(&format!("400: 120 deep inside a label, to {source}"), 400, false, &|a| {
            let deep = String::from_utf8(nested(120)).unwrap();
            let body = format!(
                r#"{{"version":"4","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":{deep}}},"startsAt":"2026-11-25T10:00:00Z"}}],"events":[{{"type":{deep},"tags":{{"svc":{deep}}}}}],"event":{{"event_type":"incident.triggered","data":{{"id":"P1","title":{deep},"service":{deep}}}}}}}"#
            );
            post_signed(a, source, body.as_bytes())
        });
    }
    cases.run("400: 100k '[' to the pauses API", 400, false, &|a| {
        let token = format!("Bearer {API_TOKEN}");
        request(
            a,
            "POST",
            "/api/v1/pauses",
            &[("Authorization", &token)],
            &nested(30_000),
        )
    });

    // Wrong credentials, checked before the body is read where they are headers.
    cases.run("401: no bearer token", 401, false, &|a| {
        request(a, "POST", "/webhook/alertmanager", &[], &payload)
    });
    cases.run("401: wrong bearer token, body never sent", 401, false, &|a| {
        raw(
            a,
            b"POST /webhook/alertmanager HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer nope\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
        )
    });
    cases.run(
        "401: Basic credentials on a bearer source",
        401,
        false,
        &|a| {
            request(
                a,
                "POST",
                "/webhook/alertmanager",
                &[("Authorization", "Basic YTpi")],
                &payload,
            )
        },
    );
    cases.run("401: wrong basic password", 401, false, &|a| {
        let wrong = base64::engine::general_purpose::STANDARD.encode("legacy:nope");
        let header = format!("Basic {wrong}");
        request(
            a,
            "POST",
            "/webhook/legacy",
            &[("Authorization", &header)],
            &payload,
        )
    });
    cases.run("401: malformed basic credentials", 401, false, &|a| {
        request(
            a,
            "POST",
            "/webhook/legacy",
            &[("Authorization", "Basic !!!")],
            &payload,
        )
    });
    cases.run("401: grafana without a signature", 401, false, &|a| {
        let ts = now_secs().to_string();
        request(
            a,
            "POST",
            "/webhook/grafana",
            &[(GF_TIMESTAMP, &ts)],
            &payload,
        )
    });
    cases.run("401: grafana signature of another body", 401, false, &|a| {
        let ts = now_secs().to_string();
        let sig = sign_hex(GF_SECRET, Some(&ts), b"{}");
        request(
            a,
            "POST",
            "/webhook/grafana",
            &[(GF_SIGNATURE, &sig), (GF_TIMESTAMP, &ts)],
            &payload,
        )
    });
    cases.run(
        "401: grafana signed with another secret",
        401,
        false,
        &|a| {
            let ts = now_secs().to_string();
            let sig = sign_hex("guess", Some(&ts), &payload);
            request(
                a,
                "POST",
                "/webhook/grafana",
                &[(GF_SIGNATURE, &sig), (GF_TIMESTAMP, &ts)],
                &payload,
            )
        },
    );
    for (what, offset) in [
        ("replayed: timestamp 10 min old", -600),
        ("timestamp 10 min ahead", 600),
    ] {
        cases.run(
            &format!("401: grafana {what}, signature valid"),
            401,
            false,
            &|a| {
                let ts = (now_secs() + offset).to_string();
                let sig = sign_hex(GF_SECRET, Some(&ts), &payload);
                request(
                    a,
                    "POST",
                    "/webhook/grafana",
                    &[(GF_SIGNATURE, &sig), (GF_TIMESTAMP, &ts)],
                    &payload,
                )
            },
        );
    }
    cases.run("401: grafana malformed timestamp", 401, false, &|a| {
        let ts = "soon";
        let sig = sign_hex(GF_SECRET, Some(ts), &payload);
        request(
            a,
            "POST",
            "/webhook/grafana",
            &[(GF_SIGNATURE, &sig), (GF_TIMESTAMP, ts)],
            &payload,
        )
    });
    cases.run("401: pagerduty wrong v1 signature", 401, false, &|a| {
        let sig = format!("v1={}", sign_hex("guess", None, &payload));
        request(
            a,
            "POST",
            "/webhook/pagerduty",
            &[("X-PagerDuty-Signature", &sig)],
            &payload,
        )
    });
    cases.run("401: pauses API without the token", 401, false, &|a| {
        request(
            a,
            "POST",
            "/api/v1/pauses",
            &[],
            br#"{"remediation":"restart-api","reason":"x"}"#,
        )
    });
    cases.run("401: pauses API with a wrong token", 401, false, &|a| {
        request(
            a,
            "DELETE",
            "/api/v1/pauses?remediation=restart-api",
            &[("Authorization", "Bearer api-t0keN")],
            b"",
        )
    });

    // Silent connections and the connection caps: see
    // silent_sockets_hold_a_slot_for_the_head_timeout_at_most.

    // Nothing of all that reached the journal.
    assert_eq!(journaled(&db), 0);
    assert!(d.decisions().is_empty());
    assert!(d.events().is_empty());
    print_table(&cases.rows);
    let whole = good.between(began, Instant::now());
    println!(
        "good client: {} requests, p99 {:?} over the whole test",
        whole.len(),
        p99(&whole)
    );

    // A signed Grafana request is taken once; the same request replayed
    // within the 5 minutes its timestamp is valid is answered 200 but not
    // journaled again (dedupe), and it is the same alert anyway. After the
    // 5 minutes it is refused (above).
    let grafana = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/grafana/firing.json"
    ))
    .expect("grafana fixture");
    let ts = now_secs().to_string();
    let sig = sign_hex(GF_SECRET, Some(&ts), &grafana);
    let headers = [(GF_SIGNATURE, sig.as_str()), (GF_TIMESTAMP, ts.as_str())];
    let first = request(&d.addr, "POST", "/webhook/grafana", &headers, &grafana);
    assert_eq!(first.status, 200, "{}", first.body);
    let replay = request(&d.addr, "POST", "/webhook/grafana", &headers, &grafana);
    assert_eq!(replay.status, 200, "{}", replay.body);
    let replay: Value = serde_json::from_str(&replay.body).unwrap();
    assert_eq!(replay["journaled"], 0, "the replay is a duplicate");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let inbound: i64 = conn
        .query_row("SELECT count(*) FROM inbound", [], |r| r.get(0))
        .unwrap();
    assert_eq!(inbound, 1);
    drop(good);
}

/// Duplicate keys in a JSON object: the last one wins, as in serde_json and
/// in Go's encoding/json, which Alertmanager and Grafana use; resgate reads
/// a body the way the sender's own JSON library would. (Senders never write
/// duplicates; HMAC signatures cover the bytes, so the choice cannot be
/// used to make a signed body say something else.)
#[test]
fn duplicate_json_keys_take_the_last_value() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &fake, &[]);
    let body = br#"{"version":"4","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am","groupKey":"g","truncatedAlerts":0,
"alerts":[{"status":"firing","labels":{"alertname":"Dup","service":"first","service":"second"},"annotations":{},"startsAt":"2026-11-25T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":""}]}"#;
    let r = post_signed(&d.addr, "alertmanager", body);
    assert_eq!(r.status, 200, "{}", r.body);
    let conn = rusqlite::Connection::open(dir.path().join("data/resgate.db")).unwrap();
    let alerts: String = conn
        .query_row("SELECT alerts FROM inbound", [], |r| r.get(0))
        .unwrap();
    let alerts: Value = serde_json::from_str(&alerts).unwrap();
    let alert = &alerts[0];
    assert_eq!(alert["labels"]["service"], "second", "{alert}");
    assert!(fake.calls().is_empty());
}

/// The HMAC timestamp is a network value: `i64::MIN + now` made `now - ts`
/// overflow (issue 19, item 5). A debug build's connection thread panicked
/// and never gave its slot back, so with `--max-connections 4` four such
/// requests made every later one 503 and SIGTERM hung; a release build
/// wrapped the difference to `i64::MIN`, whose `abs()` is negative, and took
/// a signature of any age. Each is refused 401, and the daemon keeps serving.
#[test]
fn an_overflowing_signature_timestamp_is_refused_and_leaks_no_connection_slot() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &fake, &["--max-connections", "4"]);
    let grafana = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/grafana/firing.json"
    ))
    .expect("grafana fixture");
    for stamp in [i64::MIN + now_secs(), i64::MIN, i64::MAX, i64::MIN + 1] {
        let ts = stamp.to_string();
        // A valid signature of that timestamp: only the skew check stands
        // between it and the journal.
        let sig = sign_hex(GF_SECRET, Some(&ts), &grafana);
        let r = request(
            &d.addr,
            "POST",
            "/webhook/grafana",
            &[(GF_SIGNATURE, &sig), (GF_TIMESTAMP, &ts)],
            &grafana,
        );
        assert_eq!(r.status, 401, "timestamp {ts}: {}\n{}", r.head, r.body);
        assert!(r.body.contains("too old or in the future"), "{}", r.body);
    }
    let healthy = request(&d.addr, "GET", "/healthz", &[], b"");
    assert_eq!(
        healthy.status, 200,
        "a slot is free again: {}",
        healthy.body
    );
    assert_eq!(journaled(&dir.path().join("data/resgate.db")), 0);
    assert!(d.terminate().success(), "SIGTERM stops the daemon");
}

/// A lingering close (reading what a client still sends after an error
/// answer, RFC 9112 §9.6) holds the connection's slot until the client
/// closes too, so it is only for a client that may still be sending (a body
/// refused unread). When every error answer lingered, a client that had read
/// its 404 and kept the socket open for a moment held one of `--max-connections
/// 1`'s slots for the 1 s linger: the next request got 503 (a CI run: four 401s
/// then `/healthz` at `--max-connections 4`). Here the socket stays open for
/// 300 ms, well inside that second, and the next request is served.
#[test]
fn an_error_answer_whose_request_was_read_frees_its_slot_at_once() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &fake, &["--max-connections", "1"]);
    let addr = d.addr.as_str();
    let mut first = TcpStream::connect(addr).expect("connect");
    first
        .write_all(
            format!("GET /no-such-route HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .expect("send");
    first
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut answer = Vec::new();
    let _ = first.read_to_end(&mut answer);
    assert!(
        answer.starts_with(b"HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // The client has its answer and the server's FIN, and has not closed.
    std::thread::sleep(Duration::from_millis(300));
    let next = request(addr, "GET", "/healthz", &[], b"");
    assert_eq!(next.status, 200, "the slot is free: {}", next.body);
    drop(first);
}

/// Sends `method path` with exactly these header lines (Host included) and a
/// Content-Length for `body`, on a fresh connection.
fn exactly(addr: &str, method: &str, path: &str, headers: &[&str], body: &[u8]) -> Response {
    let mut bytes = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        bytes.push_str(h);
        bytes.push_str("\r\n");
    }
    bytes.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = bytes.into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes)
}

/// Issue 19, item 1: with the default set-up (loopback, no API token) any web
/// page the operator opens could pause a remediation, approve one, forge an
/// alert (browser "simple" requests: POST, `text/plain`, a foreign Origin),
/// and read the journal by DNS rebinding (`Host: evil.example`). The Fetch
/// standard lets a page send cross-site, without a preflight, only
/// `text/plain`, `multipart/form-data` and `application/x-www-form-urlencoded`
/// bodies (CORS-safelisted request headers), always with its own `Origin`; a
/// rebinding page's requests carry its own name in `Host`.
#[test]
fn a_web_page_cannot_drive_the_daemon() {
    let (fake, dir, rules) = rig(Behaviour::default(), "");
    let d = Daemon::start(
        &rules,
        &dir.path().join("data"),
        &[
            "--allowed-host",
            "resgate.test",
            "--allowed-host",
            ".ops.test",
        ],
    );
    let db = dir.path().join("data/resgate.db");
    let addr = d.addr.as_str();
    let port = addr.rsplit_once(':').unwrap().1;
    let host = format!("Host: {addr}");
    let payload = alertmanager_payload("firing", API_DOWN, "2026-11-25T10:00:00Z");
    let pause = br#"{"remediation":"restart-api","reason":"from a web page"}"#;
    let evil = "Origin: http://evil.example";
    let text = "Content-Type: text/plain";
    let json = "Content-Type: application/json";

    // Cross-site writes, as a page's fetch() or <form> sends them.
    for (what, method, path, headers, body, want) in [
        (
            "pause, text/plain, foreign Origin",
            "POST",
            "/api/v1/pauses",
            [text, evil],
            &pause[..],
            403,
        ),
        (
            "pause, text/plain, no Origin",
            "POST",
            "/api/v1/pauses",
            [text, ""],
            &pause[..],
            415,
        ),
        (
            "pause, no Content-Type",
            "POST",
            "/api/v1/pauses",
            ["", ""],
            &pause[..],
            415,
        ),
        (
            "approve, text/plain, foreign Origin",
            "POST",
            "/api/v1/events/ev-1/approve",
            [text, evil],
            b"",
            403,
        ),
        (
            "approve, no Content-Type, no body",
            "POST",
            "/api/v1/events/ev-1/approve",
            ["", ""],
            b"",
            415,
        ),
        (
            "unpause, form, foreign Origin",
            "DELETE",
            "/api/v1/pauses?remediation=restart-api",
            ["Content-Type: application/x-www-form-urlencoded", evil],
            b"",
            403,
        ),
        (
            "webhook, text/plain, foreign Origin",
            "POST",
            "/webhook/alertmanager",
            [text, evil],
            &payload[..],
            403,
        ),
        (
            "webhook, text/plain, no Origin",
            "POST",
            "/webhook/alertmanager",
            [text, ""],
            &payload[..],
            415,
        ),
        (
            "webhook, multipart",
            "POST",
            "/webhook/alertmanager",
            ["Content-Type: multipart/form-data; boundary=x", ""],
            &payload[..],
            415,
        ),
        (
            "webhook, JSON, foreign Origin",
            "POST",
            "/webhook/alertmanager",
            [json, evil],
            &payload[..],
            403,
        ),
        (
            "webhook, JSON, Origin null (sandboxed page)",
            "POST",
            "/webhook/alertmanager",
            [json, "Origin: null"],
            &payload[..],
            403,
        ),
        (
            "webhook, JSON, Origin on another local port",
            "POST",
            "/webhook/alertmanager",
            [json, "Origin: http://127.0.0.1:1"],
            &payload[..],
            403,
        ),
        (
            "webhook, JSON, gzip Content-Encoding",
            "POST",
            "/webhook/alertmanager",
            [json, "Content-Encoding: gzip"],
            &payload[..],
            415,
        ),
    ] {
        let headers: Vec<&str> = [host.as_str()]
            .into_iter()
            .chain(headers)
            .filter(|h| !h.is_empty())
            .collect();
        let r = exactly(addr, method, path, &headers, body);
        assert_eq!(r.status, want, "{what}: {}\n{}", r.head, r.body);
        assert_eq!(journaled(&db), 0, "{what}: journaled");
    }

    // DNS rebinding: every route, reads included, refuses a foreign name.
    for path in [
        "/",
        "/healthz",
        "/metrics",
        "/api/v1/events",
        "/api/v1/decisions",
        "/api/v1/pauses",
    ] {
        for foreign in [
            "evil.example",
            &format!("evil.example:{port}"),
            "localhost.evil.example",
            "resgate.test.evil.example",
        ] {
            let r = exactly(addr, "GET", path, &[&format!("Host: {foreign}")], b"");
            assert_eq!(r.status, 403, "GET {path} Host {foreign}: {}", r.body);
            assert!(r.body.contains("--allowed-host"), "{}", r.body);
        }
    }
    let r = exactly(
        addr,
        "POST",
        "/webhook/alertmanager",
        &["Host: evil.example", json],
        &payload,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(journaled(&db), 0);
    assert!(fake.calls().is_empty());

    // What the daemon answers for: IP literals, localhost, --allowed-host
    // names (a leading dot: the domain and below); Origins of itself.
    for name in [
        addr.to_owned(),
        "127.0.0.1".to_owned(),
        format!("localhost:{port}"),
        "[::1]".to_owned(),
        "resgate.test".to_owned(),
        "RESGATE.test:8443".to_owned(),
        "ops.test".to_owned(),
        "a.ops.test".to_owned(),
    ] {
        let r = exactly(
            addr,
            "GET",
            "/api/v1/events",
            &[&format!("Host: {name}")],
            b"",
        );
        assert_eq!(r.status, 200, "Host {name}: {}", r.body);
    }
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        "https://resgate.test".to_owned(),
    ] {
        let r = exactly(
            addr,
            "GET",
            "/healthz",
            &[&host, &format!("Origin: {origin}")],
            b"",
        );
        assert_eq!(r.status, 200, "{origin}: {}", r.body);
        let r = exactly(
            addr,
            "POST",
            "/api/v1/events/ev-1/approve",
            &[&host, json, &format!("Origin: {origin}")],
            b"",
        );
        assert_eq!(
            r.status, 404,
            "approve from {origin} reaches the route: {}",
            r.body
        );
    }
    // A program's write, as Alertmanager sends it (no Origin, JSON; charset
    // parameters allowed), is taken.
    let r = exactly(
        addr,
        "POST",
        "/webhook/alertmanager",
        &[&host, "Content-Type: application/json; charset=utf-8"],
        &payload,
    );
    assert_eq!(r.status, 200, "{}", r.body);

    // Each refusal above is counted, so that a page probing the daemon
    // shows in /metrics: 7 cross-site writes, 6 × 4 + 1 foreign names.
    let metrics = exactly(addr, "GET", "/metrics", &[&host], b"").body;
    for series in [
        "resgate_http_requests_refused_total{reason=\"foreign_origin\"} 7",
        "resgate_http_requests_refused_total{reason=\"foreign_host\"} 25",
    ] {
        assert!(metrics.contains(series), "{series}\n{metrics}");
    }
}

/// Beyond loopback without an API token, the operator API would be open to
/// the network: serve refuses to start and says what to do.
#[test]
fn serve_refuses_to_listen_beyond_loopback_without_an_api_token() {
    let (_fake, dir, rules) = rig(Behaviour::default(), "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(["serve", "--listen", "0.0.0.0:0", "--rules"])
        .arg(&rules)
        .arg("--data")
        .arg(dir.path().join("data"))
        .env_remove("RESGATE_API_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run resgate serve");
    // Bounded: a daemon that did start must not hang the test.
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RESGATE_API_TOKEN"), "{stderr}");
    assert!(stderr.contains("--insecure-no-api-token"), "{stderr}");
    assert!(out.stdout.is_empty(), "it never listened");
}

/// Issue 19, item 6: each MUST of RFC 9110/9112 the probe found broken, on a
/// raw socket, with the RFC section that says it. The same bytes sent to
/// nginx 1.22.1 (Debian 12, `return 200` on 127.0.0.1) get the same status,
/// except: a bare LF, which nginx takes as a line end (RFC 9112 §2.2 allows
/// either; refusing it leaves a front end no other reading of the head), and
/// `get`/`FOO`, which nginx answers 400/200 (its `return` takes any method)
/// where RFC 9110 §9.1 says 501.
#[test]
fn rfc_9112_musts_at_the_edge() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let d = start(dir.path(), &fake, &[]);
    let db = dir.path().join("data/resgate.db");
    let addr = d.addr.as_str();
    let port = addr.rsplit_once(':').unwrap().1;
    let payload = alertmanager_payload("firing", API_DOWN, "2026-11-25T10:00:00Z");
    let payload = String::from_utf8(payload).unwrap();
    let len = payload.len();
    let webhook = |extra: &[u8], body: &str| {
        let mut bytes = format!(
            "POST /webhook/alertmanager HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
             Authorization: Bearer {AM_TOKEN}\r\nContent-Type: application/json\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(extra);
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body.as_bytes());
        bytes
    };
    let get = |extra: &[u8]| {
        let mut bytes =
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n").into_bytes();
        bytes.extend_from_slice(extra);
        bytes.extend_from_slice(b"\r\n");
        bytes
    };
    let line = |text: String| text.into_bytes();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        // RFC 9110 §5.5: CR, LF and NUL are never part of a field value.
        ("CR inside a value", get(b"X-A: a\rb\r\n"), 400),
        ("NUL inside a value", get(b"X-A: a\0b\r\n"), 400),
        (
            "a bare LF hiding a Transfer-Encoding",
            webhook(
                format!("X-A: a\nTransfer-Encoding: chunked\r\nContent-Length: {len}\r\n")
                    .as_bytes(),
                &payload,
            ),
            400,
        ),
        ("obs-fold (RFC 9112 §5.2)", get(b"X-A: a\r\n b\r\n"), 400),
        (
            "space before the colon (RFC 9112 §5.1)",
            get(b"X-A : a\r\n"),
            400,
        ),
        // RFC 9112 §3.2: missing, repeated or malformed Host: 400.
        (
            "no Host in HTTP/1.1",
            b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two Hosts",
            get(format!("Host: {addr}\r\n").as_bytes()),
            400,
        ),
        (
            "Host with a space",
            b"GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Host [::1 unclosed",
            b"GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "empty Host",
            b"GET /healthz HTTP/1.1\r\nHost:\r\n\r\n".to_vec(),
            400,
        ),
        (
            "HTTP/1.0 without Host (allowed)",
            b"GET /healthz HTTP/1.0\r\n\r\n".to_vec(),
            200,
        ),
        // RFC 9112 §3.2.2: absolute-form is accepted; its host replaces Host.
        (
            "absolute-form target",
            line(format!(
                "GET http://127.0.0.1:{port}/healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )),
            200,
        ),
        (
            "absolute-form target naming a foreign host",
            line(format!(
                "GET http://evil.example/healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )),
            403,
        ),
        // RFC 9110 §9.1: an unknown method is 501, not 405.
        (
            "unknown method",
            line(format!("FOO /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n")),
            501,
        ),
        // RFC 9110 §15.6.6: a major version we do not speak is 505.
        (
            "HTTP/2.0",
            line(format!("GET /healthz HTTP/2.0\r\nHost: {addr}\r\n\r\n")),
            505,
        ),
        // RFC 9112 §2.2: an empty line before the request line is ignored.
        (
            "a leading empty line",
            line(format!(
                "\r\nGET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
            )),
            200,
        ),
        // RFC 9110 §5.5: obs-text (0x80-0xFF) in a value is allowed.
        ("obs-text in a value", get(b"X-Note: caf\xe9\r\n"), 200),
        // RFC 9112 §6.3: a Content-Length that is not digits is invalid.
        (
            "Content-Length with a no-break space (UTF-8)",
            webhook("Content-Length: 2\u{a0}\r\n".as_bytes(), "{}"),
            400,
        ),
        (
            "Content-Length with a no-break space (Latin-1)",
            webhook(b"Content-Length: 2\xa0\r\n", "{}"),
            400,
        ),
        (
            "two different Content-Lengths",
            webhook(
                format!("Content-Length: {len}\r\nContent-Length: 2\r\n").as_bytes(),
                &payload,
            ),
            400,
        ),
        // Not a MUST, but a gzip body must never be read as JSON.
        (
            "Content-Encoding: gzip",
            webhook(
                format!("Content-Encoding: gzip\r\nContent-Length: {len}\r\n").as_bytes(),
                &payload,
            ),
            415,
        ),
    ];
    for (what, bytes, want) in cases {
        let r = raw(addr, &bytes);
        assert_eq!(r.status, want, "{what}: {}\n{}", r.head, r.body);
        assert_eq!(journaled(&db), 0, "{what}: journaled");
    }

    // HEAD works wherever GET does: the same head, no body (RFC 9110 §9.3.2).
    let header = |r: &Response, name: &str| {
        r.head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with(name))
            .map(str::to_owned)
    };
    for path in [
        "/healthz",
        "/",
        "/api/v1/events",
        "/metrics",
        "/api/v1/pauses",
    ] {
        let ask = |method: &str| {
            raw(
                addr,
                format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
        };
        let (head, get) = (ask("HEAD"), ask("GET"));
        assert_eq!(head.status, 200, "HEAD {path}: {}", head.head);
        assert!(
            head.body.is_empty(),
            "HEAD {path} sent a body: {:?}",
            head.body
        );
        assert_eq!(
            header(&head, "content-type"),
            header(&get, "content-type"),
            "{path}"
        );
        if path == "/healthz" {
            assert_eq!(
                header(&head, "content-length"),
                header(&get, "content-length")
            );
        }
    }

    // `Connection` is a list of tokens (RFC 9110 §7.6.1): `keep-alive, close`
    // closes after the answer, well before the 30 s idle timeout.
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        c,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive, close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let ended = c.read_to_end(&mut out);
    assert!(ended.is_ok(), "the connection stayed open: {ended:?}");
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // RFC 9110 §11.1: the auth scheme is case-insensitive.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {API_TOKEN}");
        let r = request(
            addr,
            "POST",
            "/api/v1/pauses",
            &[("Authorization", &auth)],
            br#"{"remediation":"restart-api","reason":"scheme case"}"#,
        );
        assert_eq!(r.status, 201, "{scheme}: {}", r.body);
    }
}

/// Issue 19, item 2: 1,030 connections that sent nothing made every webhook
/// and `/healthz` answer 503 for the 30 s idle timeout (a connection's first
/// request waited the idle timeout), and nothing capped one client. Now a
/// silent connection is closed at the head timeout (3 s here; the idle
/// timeout is 10 min, so waiting for it would fail the bounded reads below),
/// and one address holds at most --max-connections-per-ip.
#[test]
fn silent_sockets_hold_a_slot_for_the_head_timeout_at_most() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let d = start(
        dir.path(),
        &fake,
        &[
            "--max-connections",
            "64",
            "--max-connections-per-ip",
            "16",
            "--head-timeout",
            "3s",
            "--idle-timeout",
            "10m",
        ],
    );
    let addr = d.addr.as_str();
    let silent: Vec<TcpStream> = (0..16)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // The 17th connection from 127.0.0.1 is over the per-address cap: 503
    // at once, with the reason (the accept loop takes connections in order).
    // Every one of 40 in a row reads the whole answer: the refusal was
    // written in pieces and the close reset the connection before the body
    // left (a CI run read `503` with an empty body), RFC 9112 §9.6.
    for attempt in 0..40 {
        let refused = raw(
            addr,
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(
            refused.status, 503,
            "attempt {attempt}: {}\n{}",
            refused.head, refused.body
        );
        assert!(
            refused.body.contains("--max-connections-per-ip"),
            "attempt {attempt}: the body of the refusal was lost: {:?}",
            refused.body
        );
    }
    // Each silent connection is closed by the server after the head
    // timeout: the read ends (0 bytes), well before 30 s.
    for mut c in silent {
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut buf = [0u8; 256];
        let read = c.read(&mut buf);
        assert!(
            matches!(read, Ok(0)),
            "a silent connection was kept: {read:?} {:?}",
            read.as_ref()
                .map(|n| String::from_utf8_lossy(&buf[..*n]).into_owned())
        );
    }
    // Everyone is served again: a health check and a webhook.
    let health = request(addr, "GET", "/healthz", &[], b"");
    assert_eq!(health.status, 200, "{}", health.body);
    let payload = alertmanager_payload("firing", API_DOWN, "2026-11-25T10:00:00Z");
    let hook = post_signed(addr, "alertmanager", &payload);
    assert_eq!(hook.status, 200, "{}", hook.body);
    let metrics = request(addr, "GET", "/metrics", &[], b"").body;
    assert!(
        metrics.contains("resgate_http_connections_refused_total{reason=\"per_ip\"} 40"),
        "{metrics}"
    );
}

/// Issue 19, item 2: out of file descriptors, new connections were reset
/// silently (the accept loop spun on EMFILE without a word). Under `ulimit -n
/// 64`, 80 silent connections exhaust the daemon's descriptors: it says so
/// once (not once per failed accept), counts the failures, and once the
/// connections go away it says it recovered and serves again.
#[test]
fn out_of_file_descriptors_is_logged_once_and_recovered_from() {
    let (_fake, dir, rules) = rig(Behaviour::default(), "");
    let log = dir.path().join("stderr.log");
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_resgate"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--head-timeout",
            "60s",
            "--rules",
        ])
        .arg(&rules)
        .arg("--data")
        .arg(dir.path().join("data"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start resgate serve under ulimit -n 64");
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("resgate listening on http://")
        .unwrap_or_else(|| panic!("did not start: {line:?}"))
        .to_owned();
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let silent: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(&addr).expect("connect (the backlog takes it)"))
        .collect();
    let deadline = Instant::now() + WAIT;
    while !logs().contains("cannot accept connections") {
        assert!(
            Instant::now() < deadline,
            "no log line when out of descriptors:\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Give the accept loop time to fail many more times: still one line.
    std::thread::sleep(Duration::from_millis(500));
    drop(silent);
    let deadline = Instant::now() + WAIT;
    while !logs().contains("accepting connections again") {
        assert!(Instant::now() < deadline, "no recovery:\n{}", logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    let health = request(&addr, "GET", "/healthz", &[], b"");
    assert_eq!(health.status, 200, "{}", health.body);
    let metrics = request(&addr, "GET", "/metrics", &[], b"").body;
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("resgate_http_accept_errors_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(failures >= 2, "{metrics}");
    // One line per change of state, not per failed accept: the outage lines
    // and the recovery lines alternate. When the 80 queued connections are
    // accepted after recovery the daemon may run out again (each holds a
    // descriptor until its reader sees EOF); that is a new outage and may
    // log its own line, so the count alone would depend on scheduling.
    let text = logs();
    let changes: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            if l.contains("cannot accept connections") {
                Some("out")
            } else if l.contains("accepting connections again") {
                Some("back")
            } else {
                None
            }
        })
        .collect();
    assert!(changes.len() >= 2, "{text}");
    for (i, change) in changes.iter().enumerate() {
        let expected = if i % 2 == 0 { "out" } else { "back" };
        assert_eq!(*change, expected, "line {i} of the state changes:\n{text}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
