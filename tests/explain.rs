//! `resgate explain` on a real journal written by `resgate serve` (real HTTP
//! on loopback, a Rundeck-like fake remediator): an event that succeeded and
//! was collapsed into, one that failed and was escalated, one that timed out.
//! The text is snapshotted with times and poll counts redacted (they depend on
//! the machine's pace); the JSON, the API route and the picture are checked.

mod common;

use std::path::Path;
use std::time::Duration;

use common::daemon::{Daemon, alertmanager_payload, api_down_on, rig};
use common::fake_remediator::Behaviour;
use common::{edit, resgate};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn explain(data: &Path, args: &[&str]) -> (i32, String, String) {
    let data = data.to_str().expect("a UTF-8 temp path");
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.extend(["--data", data]);
    resgate(&all, &[])
}

macro_rules! assert_story_snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
            (r"\(x\d+, until \[TIME\]\)", "(xN, until [TIME])"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        ]}, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn explain_tells_each_kind_of_story() {
    // 10 polls of 100 ms: time enough to post the repeat while it runs,
    // even on a slow machine.
    let (fake, dir, rules) = rig(
        Behaviour {
            running_polls: 10,
            ..Behaviour::default()
        },
        "",
    );
    // One attempt per hour, and a short poll timeout, so that the failure
    // escalates at once and the hung job times out in the test's time.
    edit(&rules.join("restart.yaml"), "attempts: 3", "attempts: 1");
    edit(&rules.join("sources.yaml"), "timeout: 1m", "timeout: 3s");
    let data = dir.path().join("data");
    let d = Daemon::start(&rules, &data, &[]);
    let post = |labels: &[(&str, &str)], status: &str, starts_at: &str| {
        let body = alertmanager_payload(status, labels, starts_at);
        assert_eq!(d.post("/webhook/alertmanager", &body).0, 200);
    };

    // ev-1: fires, a repeat collapses into it, succeeds, the alert resolves.
    post(&api_down_on("api-1"), "firing", "2026-11-25T10:00:00Z");
    d.wait_for("ev-1 running", WAIT, |d| d.event_state("ev-1") == "running");
    post(&api_down_on("api-1"), "firing", "2026-11-25T10:05:00Z");
    d.wait_for("ev-1 warming", WAIT, |d| d.event_state("ev-1") == "warming");
    post(&api_down_on("api-1"), "resolved", "2026-11-25T10:00:00Z");
    d.wait_for("ev-1 rescued", WAIT, |d| d.event_state("ev-1") == "rescued");

    // ev-2: fails; the next notification finds the budget spent: escalate.
    fake.set_behaviour(Behaviour {
        final_status: "failed".to_owned(),
        ..Behaviour::default()
    });
    post(&api_down_on("api-2"), "firing", "2026-11-25T10:00:00Z");
    d.wait_for("ev-2 failed", WAIT, |d| d.event_state("ev-2") == "failed");
    post(&api_down_on("api-2"), "firing", "2026-11-25T10:06:00Z");
    d.wait_for("the escalation", WAIT, |_| !fake.escalations().is_empty());

    // ev-3: the job never finishes; polling gives up after `poll.timeout`.
    fake.set_behaviour(Behaviour {
        running_polls: 1_000_000,
        ..Behaviour::default()
    });
    post(&api_down_on("api-3"), "firing", "2026-11-25T10:00:00Z");
    d.wait_for("ev-3 timed out", WAIT, |d| {
        d.event_state("ev-3") == "timed_out"
    });

    for (event, name) in [
        ("ev-1", "rescued_with_a_collapse"),
        ("ev-2", "failed_then_escalated"),
        ("ev-3", "timed_out"),
    ] {
        let (code, text, stderr) = explain(&data, &[event, "--no-payload"]);
        assert_eq!(code, 0, "{stderr}");
        assert_story_snapshot!(name, text);
    }

    // With payloads: the webhook body as received is in the story.
    let (_, text, _) = explain(&data, &["ev-1"]);
    assert!(text.contains("\"receiver\": \"resgate\""), "{text}");

    // By fingerprint: the alert's own story, escalation included.
    let fingerprint = d
        .decisions()
        .iter()
        .find(|x| x["verdict"] == "escalate")
        .and_then(|x| x["alert"].as_str().map(str::to_owned))
        .expect("an escalate decision");
    let (code, text, stderr) = explain(&data, &[&fingerprint, "--no-payload"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("escalate restart-api api/api-2 (budget)"),
        "{text}"
    );
    assert!(
        text.contains("event ev-2: restart-api on api/api-2, failed"),
        "{text}"
    );

    // JSON: the same story, and the API route gives it too.
    let (code, json, _) = explain(&data, &["ev-1", "--format", "json"]);
    assert_eq!(code, 0);
    let story: Value = serde_json::from_str(&json).unwrap();
    let kinds: Vec<&str> = story["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["step"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"received"), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "decided").count(),
        2,
        "fire and collapse"
    );
    assert!(
        kinds.contains(&"changed") && kinds.contains(&"noted"),
        "{kinds:?}"
    );
    let api = d.get_json("/api/v1/events/ev-1/explain");
    assert_eq!(
        api["steps"].as_array().map(Vec::len),
        story["steps"].as_array().map(Vec::len)
    );
    assert_eq!(
        api["subject"],
        serde_json::json!({"kind": "event", "id": "ev-1"})
    );
    let (status, _) = d.request("GET", "/api/v1/events/ev-99/explain", &[], b"");
    assert_eq!(status, 404);

    // The picture: one fire, one collapse, the bar ends rescued.
    let svg_path = dir.path().join("ev-1.svg");
    let (code, _, stderr) = explain(&data, &["ev-1", "--svg", svg_path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the picture is XML");
    let verdicts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("decision"))
        .filter_map(|n| n.attribute("data-verdict"))
        .collect();
    assert_eq!(verdicts, ["fire", "collapse"]);
    let ends: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("event"))
        .filter_map(|n| n.attribute("data-end"))
        .collect();
    assert_eq!(ends, ["rescued"]);

    // Unknown subjects: exit 1 and a hint.
    let (code, _, stderr) = explain(&data, &["ev-404"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("names no event and no alert"), "{stderr}");
}
