//! `resgate backtest` on a journal recorded by a live `resgate serve` (real
//! HTTP on loopback, a Rundeck-like fake remediator): replayed through the
//! same rules the diff is empty; through changed rules it names what changes.

mod common;

use std::path::Path;
use std::time::Duration;

use common::daemon::{Daemon, alertmanager_payload, api_down_on, write_rules};
use common::fake_remediator::{Behaviour, FakeRemediator};
use common::{edit, resgate};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

const GUARD: &str = "    unless:\n      deploying: \"firing(A), label(A, \\\"alertname\\\", \\\"DeployInProgress\\\"), label(A, \\\"service\\\", $service)\"\n    warmup: 1s";

fn backtest(data: &Path, rules: &Path, extra: &[&str]) -> (i32, String, String) {
    let (data, rules) = (path(data), path(rules));
    let mut all = vec!["backtest", "--journal", data, "--rules", rules];
    all.extend_from_slice(extra);
    resgate(&all, &[])
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 temp path")
}

/// Records a live run: a fire with a collapse, rescued; a deferral on a
/// deploy, fired once the deploy ends, rescued; an alert nothing matches.
fn record(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let fake = FakeRemediator::start(Behaviour {
        running_polls: 10,
        ..Behaviour::default()
    });
    let rules = dir.join("rules");
    write_rules(&rules, &fake, "");
    edit(&rules.join("restart.yaml"), "    warmup: 1s", GUARD);
    let data = dir.join("data");
    let d = Daemon::start(&rules, &data, &[]);
    let post = |labels: &[(&str, &str)], status: &str, starts_at: &str| {
        let body = alertmanager_payload(status, labels, starts_at);
        assert_eq!(d.post("/webhook/alertmanager", &body).0, 200);
    };
    let deploy = [("alertname", "DeployInProgress"), ("service", "api")];

    post(&api_down_on("api-1"), "firing", "2026-11-25T10:00:00Z");
    d.wait_for("ev-1 running", WAIT, |d| d.event_state("ev-1") == "running");
    post(&api_down_on("api-1"), "firing", "2026-11-25T10:05:00Z");
    d.wait_for("ev-1 warming", WAIT, |d| d.event_state("ev-1") == "warming");
    post(&api_down_on("api-1"), "resolved", "2026-11-25T10:00:00Z");
    d.wait_for("ev-1 rescued", WAIT, |d| d.event_state("ev-1") == "rescued");

    post(&deploy, "firing", "2026-11-25T10:10:00Z");
    post(&api_down_on("api-2"), "firing", "2026-11-25T10:10:00Z");
    d.wait_for("a deferral on the deploy", WAIT, |d| {
        d.decisions().iter().any(|x| x["reason"] == "deploying")
    });
    post(
        &[("alertname", "DiskFull"), ("host", "db-1")],
        "firing",
        "2026-11-25T10:10:00Z",
    );
    post(&deploy, "resolved", "2026-11-25T10:10:00Z");
    d.wait_for("ev-2 warming", WAIT, |d| d.event_state("ev-2") == "warming");
    post(&api_down_on("api-2"), "resolved", "2026-11-25T10:10:00Z");
    d.wait_for("ev-2 rescued", WAIT, |d| d.event_state("ev-2") == "rescued");
    assert!(d.terminate().success());
    (rules, data)
}

macro_rules! assert_report_snapshot {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
            (r"through \S+ \(version [0-9a-f]{12}\)", "through [RULES] (version [VERSION])"),
        ]}, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn the_recorded_rules_replay_to_an_empty_diff_and_changed_rules_to_a_named_one() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, data) = record(dir.path());

    let (code, text, err) = backtest(&data, &rules, &["--fail-on-change"]);
    assert_eq!(
        code, 0,
        "the same rules must decide the same:\n{text}\n{err}"
    );
    assert_report_snapshot!("same_rules", text);

    // Without the deploy guard the second alert would not have waited.
    let unguarded = dir.path().join("unguarded");
    std::fs::create_dir_all(&unguarded).unwrap();
    for file in ["sources.yaml", "restart.yaml"] {
        let text = std::fs::read_to_string(rules.join(file)).unwrap();
        std::fs::write(unguarded.join(file), text.replace(GUARD, "    warmup: 1s")).unwrap();
    }
    let (code, text, err) = backtest(&data, &unguarded, &["--fail-on-change"]);
    assert_eq!(code, 1, "{text}\n{err}");
    assert_report_snapshot!("without_the_deploy_guard", text);

    // JSON carries the same diff.
    let (code, json, _) = backtest(&data, &unguarded, &["--format", "json"]);
    assert_eq!(code, 0, "without --fail-on-change a diff is not a failure");
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["diff"]["groups"][0]["remediation"], "restart-api");
    assert_eq!(
        report["diff"]["groups"][0]["changes"][0]["change"],
        "no_longer_defer"
    );
    assert_eq!(report["webhooks"], 8);

    // Markdown for a pull-request comment: the same change as a table row
    // (its parsing is tested in tests/ci_reports.rs).
    let (code, md, _) = backtest(&data, &unguarded, &["--format", "markdown"]);
    assert_eq!(code, 0);
    assert!(
        md.starts_with(
            "### resgate backtest: 1 of 4 alert/remediation pairs would be decided differently\n"
        ),
        "{md}"
    );
    assert!(
        md.contains("\n| `restart-api` | would no longer defer | 1 | `41ce48c007018191` | `api/api-2` | `defer(deploying), fire` | `fire` |\n"),
        "{md}"
    );

    // The replayed timeline as a picture.
    let svg = dir.path().join("replay.svg");
    let (code, _, err) = backtest(&data, &rules, &["--svg", svg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&picture).expect("XML");
    let fires = doc
        .descendants()
        .filter(|n| n.attribute("data-verdict") == Some("fire"))
        .count();
    assert_eq!(fires, 2);
}

#[test]
fn a_journal_that_is_not_there_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = backtest(&dir.path().join("nope"), Path::new("rules"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--journal takes the directory"), "{err}");
}

#[test]
fn simulate_decides_a_payload_against_the_state_recorded_at_a_past_moment() {
    let dir = tempfile::tempdir().unwrap();
    let (rules, data) = record(dir.path());
    // The second webhook arrived while ev-1 was running on api-1: a repeat
    // (new startsAt) then collapses. (The same startsAt would be a duplicate.)
    let conn = rusqlite::Connection::open(data.join("resgate.db")).unwrap();
    let second: String = conn
        .query_row("SELECT received_at FROM inbound WHERE id = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    let payload = dir.path().join("api-1.json");
    std::fs::write(
        &payload,
        alertmanager_payload("firing", &api_down_on("api-1"), "2026-11-25T10:05:00Z"),
    )
    .unwrap();
    let simulate = |extra: &[&str]| {
        let mut all = vec!["simulate", path(&payload), "--rules", path(&rules)];
        all.extend_from_slice(extra);
        resgate(&all, &[])
    };

    let data_arg = data.to_str().unwrap();
    let (code, text, err) = simulate(&["--journal", data_arg, "--at", &second]);
    assert_eq!(code, 0, "{err}");
    assert!(
        text.contains("collapse restart-api api/api-1 (in_flight) -> ev-1"),
        "then, ev-1 was running: {text}"
    );
    // Without the journal the same payload meets an empty state and fires.
    let (code, text, _) = simulate(&["--at", &second]);
    assert_eq!(code, 0);
    assert!(
        text.contains("fire restart-api api/api-1 -> ev-1"),
        "{text}"
    );
    // Before the first retained webhook there is nothing to rebuild.
    let (code, _, err) = simulate(&["--journal", data_arg, "--at", "2001-01-01T00:00:00Z"]);
    assert_eq!(code, 2);
    assert!(err.contains("before the first webhook"), "{err}");
}
