//! Label values are data, end to end: a webhook with hostile labels goes
//! through `resgate serve` to the fake remediator, and what arrives there is
//! the value, escaped for where it lands — percent-encoded inside its URL path
//! segment, a JSON string inside a valid body — never a template, a new path
//! segment, a new JSON key, a new log line or an SQL statement.
//!
//! (tests/remediate.rs checks the same on the rendering functions; this is
//! the whole way, journal and logs included.)

mod common;

use std::time::Duration;

use common::daemon::{Daemon, alertmanager_payload, rig};
use common::fake_remediator::Behaviour;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// Quotes, newlines (with a forged log line), templates in both syntaxes,
/// traversal raw and encoded, URL syntax, shell metacharacters, SQL, control
/// and non-ASCII characters.
const SERVICE: &str = "a\"b'c\n2026-01-01T00:00:00Z  INFO FORGED log line\r\n{{ 7 * 7 }}{% if true %}T{% endif %}../..%2F%2e%2e/?x=1&y=2#frag";
const INSTANCE: &str = "h\"}, \"evil\": true, {\"\\n`id` $(id) ; rm -rf / | cat > /tmp/x & ' OR 1=1; DROP TABLE events; -- \u{0}\u{7}é😀 {{ service }}";

#[test]
fn hostile_label_values_reach_the_remediator_as_data() {
    let (fake, dir, rules) = rig(Behaviour::default(), "");
    // Matched on the alert name only, so that any label value reaches the
    // templates (`=~.+` does not match a value with a newline). And a job
    // named by the label alone: a value of `..` would be a path segment.
    std::fs::write(
        rules.join("raw.yaml"),
        r#"remediations:
  inject:
    match: {alertname: Inject}
    target: "{{ service }}/{{ instance }}"
    remediator: rundeck
    vars: {job: "restart-{{ service }}"}
    body:
      argString: "-host {{ instance }}"
      options: {service: "{{ service }}", target: "{{ target }}", n: 3}
    warmup: 1s
    budget: {attempts: 1, within: 1h}
    escalate: pager
  raw-job:
    match: {alertname: RawJob, service: "=~.+"}
    target: "{{ service }}"
    remediator: rundeck
    vars: {job: "{{ service }}"}
    warmup: 1s
    budget: {attempts: 1, within: 1h}
"#,
    )
    .unwrap();
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);

    let labels = [
        ("alertname", "Inject"),
        ("service", SERVICE),
        ("instance", INSTANCE),
    ];
    let mut body: Value = serde_json::from_slice(&alertmanager_payload(
        "firing",
        &labels,
        "2026-11-25T10:00:00Z",
    ))
    .unwrap();
    // Alertmanager's fingerprint is the sender's too, and it names the alert in logs.
    body["alerts"][0]["fingerprint"] = Value::from("fp\nFORGED fingerprint line");
    let (status, answer) = d.post("/webhook/alertmanager", body.to_string().as_bytes());
    assert_eq!(status, 200, "{answer}");
    d.wait_for("the restart call", WAIT, |_| !fake.calls().is_empty());

    let call = &fake.calls()[0];
    assert_eq!(call.method, "POST");
    // The URL: one path segment, percent-encoded, that decodes to the value.
    let path = &call.path;
    assert!(!path.contains(['?', '#']), "the query changed: {path}");
    let job = path
        .strip_prefix("/api/45/job/")
        .and_then(|p| p.strip_suffix("/run"))
        .unwrap_or_else(|| panic!("the path changed: {path}"));
    assert!(!job.contains('/'), "a new path segment: {path}");
    assert!(
        job.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
        "not percent-encoded: {job}"
    );
    let decoded = percent_encoding::percent_decode_str(job)
        .decode_utf8()
        .expect("UTF-8");
    assert_eq!(
        decoded,
        format!("restart-{SERVICE}"),
        "{{{{ }}}} not evaluated"
    );
    // The body: valid JSON, one key, the value intact (not `49`, not `T`).
    let sent: Value = serde_json::from_str(&call.body).expect("the body is JSON");
    let target = format!("{SERVICE}/{INSTANCE}");
    assert_eq!(
        sent,
        serde_json::json!({
            "argString": format!("-host {INSTANCE}"),
            "options": {"service": SERVICE, "target": target, "n": 3},
        })
    );
    // No header was made from a label.
    for (name, value) in &call.headers {
        assert!(!value.contains("FORGED"), "{name}: {value}");
    }

    // The journal kept the values as they were, and still has its tables.
    d.wait_for("the event", WAIT, |d| !d.events().is_empty());
    let event = &d.events()[0];
    assert_eq!(event["target"], target.as_str(), "{event}");
    let fire = d
        .decisions()
        .into_iter()
        .find(|x| x["verdict"] == "fire")
        .expect("a fire decision");
    assert_eq!(fire["target"], target.as_str(), "{fire}");

    // A label that would be a whole `..` path segment: not sent anywhere.
    let before = fake.calls().len();
    let dots = alertmanager_payload(
        "firing",
        &[("alertname", "RawJob"), ("service", "..")],
        "2026-11-25T10:00:00Z",
    );
    let (status, answer) = d.post("/webhook/alertmanager", &dots);
    assert_eq!(status, 200, "{answer}");
    d.wait_for("the raw-job event to be refused", WAIT, |d| {
        d.events().iter().any(|e| {
            e["remediation"] == "raw-job" && (e["state"] == "refused" || e["call"] == "refused")
        })
    });
    assert_eq!(
        fake.calls().len(),
        before,
        "no call for `..`: {:?}",
        fake.calls()
    );

    // Every log line is resgate's: newlines in labels and fingerprints are
    // escaped, so nobody can forge a line.
    let logs = d.logs();
    for line in logs.lines() {
        assert!(
            !line.starts_with("2026-01-01") && !line.starts_with("FORGED"),
            "a forged log line: {line:?}\n{logs}"
        );
    }
}
