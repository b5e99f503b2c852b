//! `resgate simulate PAYLOAD.json` prints each alert of the payload, in payload
//! order, with exactly the decisions made for it: the snapshots below were
//! taken with the quadratic printer of before issue 18 item 5 and must not
//! change with the linear one. The payload has what the grouping could get
//! wrong: two entries with one fingerprint, a resolved alert, an alert with
//! no `startsAt` (it starts when the payload is decided), no-match discards,
//! guards and the concurrency limit.

mod common;

use common::Test;

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn alert(labels: &str, status: &str, starts_at: Option<&str>, fingerprint: &str) -> String {
    let starts = starts_at
        .map(|s| format!("\"startsAt\": \"{s}\", "))
        .unwrap_or_default();
    format!(
        "{{\"status\": \"{status}\", \"labels\": {{{labels}}}, \"annotations\": {{}}, {starts}\"endsAt\": \"0001-01-01T00:00:00Z\", \"generatorURL\": \"http://prometheus.example:9090/graph\", \"fingerprint\": \"{fingerprint}\"}}"
    )
}

fn payload() -> String {
    let api = |i: u32| {
        format!(
            "\"alertname\": \"ApiDown\", \"severity\": \"critical\", \"service\": \"api\", \"instance\": \"api-{i}:8080\""
        )
    };
    let t = Some("2026-11-20T10:00:00Z");
    let later = Some("2026-11-20T10:04:00Z");
    let alerts = [
        alert(&api(1), "firing", t, "f000000000000001"),
        alert(
            "\"alertname\": \"CertificateExpiring\", \"service\": \"api\"",
            "firing",
            t,
            "f000000000000002",
        ),
        alert(&api(2), "firing", later, "f000000000000003"),
        // The same alert again in one payload (a sender's duplicate).
        alert(&api(1), "firing", t, "f000000000000001"),
        alert(&api(3), "firing", None, "f000000000000004"),
        alert(&api(9), "resolved", t, "f000000000000005"),
        alert(
            "\"alertname\": \"DeployInProgress\", \"service\": \"checkout\"",
            "firing",
            t,
            "f000000000000006",
        ),
        alert(
            "\"alertname\": \"ServiceDown\", \"severity\": \"critical\", \"service\": \"checkout\"",
            "firing",
            t,
            "f000000000000007",
        ),
        alert(
            "\"alertname\": \"ServiceDown\", \"severity\": \"critical\", \"service\": \"db\"",
            "firing",
            later,
            "f000000000000008",
        ),
        alert(&api(4), "firing", t, "f000000000000009"),
    ];
    format!(
        "{{\"version\": \"4\", \"groupKey\": \"{{}}:{{}}\", \"truncatedAlerts\": 0, \"status\": \"firing\", \"receiver\": \"resgate\", \"groupLabels\": {{}}, \"commonLabels\": {{}}, \"commonAnnotations\": {{}}, \"externalURL\": \"http://alertmanager.example:9093\", \"alerts\": [{}]}}",
        alerts.join(", ")
    )
}

fn simulate(format: &str) -> String {
    Test::new()
        .file("mixed.json", &payload())
        .args([
            "simulate",
            "--rules",
            &repo("rules"),
            "mixed.json",
            "--format",
            format,
        ])
        .run()
        .code(0)
        .stdout
        .clone()
}

#[test]
fn a_mixed_payload_prints_as_before_in_text() {
    insta::assert_snapshot!(simulate("text"));
}

#[test]
fn a_mixed_payload_prints_as_before_in_json() {
    let out = simulate("json");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(10), "one entry per alert");
    insta::assert_snapshot!(out);
}
