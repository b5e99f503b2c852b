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

/// More alerts than one encoding block (8,192), every tenth a second entry of
/// an earlier fingerprint: one entry per payload entry, in order, each with
/// the decisions on its own fingerprint only, and one well-formed document
/// whose entries all sit at the same indentation.
#[test]
fn a_payload_of_many_blocks_is_one_document_in_payload_order() {
    const N: usize = 9_000;
    let fingerprint = |i: usize| format!("{:016x}", if i % 10 == 9 { i - 5 } else { i });
    let alerts: Vec<String> = (0..N)
        .map(|i| {
            let labels = format!(
                "\"alertname\": \"ApiDown\", \"severity\": \"critical\", \"service\": \"api\", \"instance\": \"api-{}:8080\"",
                if i % 10 == 9 { i - 5 } else { i }
            );
            alert(
                &labels,
                "firing",
                Some("2026-11-20T10:00:00Z"),
                &fingerprint(i),
            )
        })
        .collect();
    let body = format!(
        "{{\"version\": \"4\", \"status\": \"firing\", \"alerts\": [{}]}}",
        alerts.join(", ")
    );
    let run = Test::new()
        .file("many.json", &body)
        .args([
            "simulate",
            "--rules",
            &repo("rules"),
            "many.json",
            "--format",
            "json",
        ])
        .run()
        .code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    let entries = v.as_array().expect("an array");
    assert_eq!(entries.len(), N);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["fingerprint"], fingerprint(i), "entry {i}");
        let decisions = e["decisions"].as_array().expect("decisions");
        assert!(!decisions.is_empty(), "entry {i} has no decision");
        assert!(
            decisions.iter().all(|d| d["alert"] == fingerprint(i)),
            "entry {i}: {decisions:?}"
        );
    }
    for i in (9..N).step_by(10) {
        assert_eq!(
            entries[i]["decisions"],
            entries[i - 5]["decisions"],
            "entry {i}"
        );
    }
    let starts = run.stdout.lines().filter(|l| *l == "  {").count();
    assert_eq!(starts, N, "every entry opens at one indentation");
    assert!(run.stdout.starts_with("[\n  {\n") && run.stdout.ends_with("\n  }\n]\n"));
}

/// `--svg FILE` says on stderr where it wrote the picture; stdout is the
/// timeline as without it (issue 18 item 8).
#[test]
fn svg_says_where_it_wrote_the_picture() {
    let plain = Test::new()
        .args([
            "simulate",
            "--rules",
            &repo("rules"),
            &repo("fixtures/scenarios/robo-hammer.yaml"),
        ])
        .run()
        .code(0);
    let run = Test::new()
        .args([
            "simulate",
            "--rules",
            &repo("rules"),
            &repo("fixtures/scenarios/robo-hammer.yaml"),
            "--svg",
            "out/robo.svg",
        ])
        .file("out/.keep", "")
        .run()
        .code(0);
    assert!(run.dir.join("out/robo.svg").is_file());
    assert_eq!(
        run.stderr, "wrote the timeline picture to out/robo.svg\n",
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, plain.stdout);
}
