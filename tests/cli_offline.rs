//! `resgate test` and `resgate simulate` as a user runs them.

mod common;

use common::Test;
use std::process::Command;

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_rule_tests_pass() {
    let run = Test::new().args(["test", &repo("rules")]).run().code(0);
    let last = run.stdout.lines().last().unwrap_or("");
    assert!(last.ends_with(" passed, 0 failed"), "{}", run.stdout);
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
}

/// PagerDuty updates (acknowledged, escalated, priority_updated) between the
/// trigger and the resolve are no notification: no second attempt; the
/// reopening is (tests/rules/pagerduty).
#[test]
fn pagerduty_updates_start_no_attempt_in_the_offline_engine() {
    let run = Test::new()
        .args(["test", &repo("tests/rules/pagerduty")])
        .run();
    assert!(run.stdout.contains("1 passed, 0 failed"), "{}", run.stdout);
    run.code(0);
}

const RULES: &str = "sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run\"\nremediations:\n  restart:\n    match: {alertname: Down, service: \"=~.+\"}\n    target: \"{{ service }}\"\n    remediator: runner\n    unless: {deploying: \"firing(A), label(A, \\\"alertname\\\", \\\"Deploying\\\"), label(A, \\\"service\\\", $service)\"}\n    budget: {attempts: 2, within: 1h}\n";

#[test]
fn a_failing_expectation_shows_expected_actual_and_the_proof() {
    let tests = "tests:\n  - name: wrongly expects a fire\n    state:\n      alerts: [{labels: {alertname: Deploying, service: api}}]\n    labels: {alertname: Down, service: api}\n    expect:\n      - {remediation: restart, verdict: fire}\n";
    let run = Test::new()
        .file("rules/r.yaml", RULES)
        .file("rules/r.test.yaml", tests)
        .args(["test", "rules"])
        .run()
        .code(1);
    insta::assert_snapshot!(run.stdout.replace(&format!("{}/", run.dir.display()), ""));
}

#[test]
fn an_unexpected_fire_in_a_timeline_fails_the_test() {
    let tests = "tests:\n  - name: forgets the second attempt\n    remediators: {runner: {takes: 1m, then: failed}}\n    timeline:\n      - {at: 0m, labels: {alertname: Down, service: api}}\n      - {at: 5m, labels: {alertname: Down, service: api}}\n    expect:\n      - {at: 0m, remediation: restart, verdict: fire}\n";
    let run = Test::new()
        .file("rules/r.yaml", RULES)
        .file("rules/r.test.yaml", tests)
        .args(["test", "rules"])
        .run()
        .code(1);
    assert!(
        run.stdout.contains("unexpected fire restart at 5m"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.ends_with("0 passed, 1 failed\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn simulate_a_payload_shows_each_alert_with_its_decision() {
    let run = Test::new()
        .args([
            "simulate",
            "--rules",
            &repo("rules"),
            &repo("fixtures/alertmanager/storm.json"),
        ])
        .run()
        .code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn simulate_a_scenario_prints_a_timeline() {
    let run = Test::new()
        .args([
            "simulate",
            "--rules",
            &repo("rules"),
            &repo("fixtures/scenarios/robo-hammer.yaml"),
        ])
        .run()
        .code(0);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn simulate_json_is_machine_readable() {
    let run = Test::new()
        .args([
            "simulate",
            "--format",
            "json",
            "--rules",
            &repo("rules"),
            &repo("fixtures/alertmanager/api-down.json"),
        ])
        .run()
        .code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(v[0]["decisions"][0]["verdict"], "fire");
    assert_eq!(v[0]["decisions"][0]["remediation"], "restart-api");
    assert_eq!(v[0]["decisions"][0]["proof"]["kind"], "fire");
}

#[test]
fn simulate_rejects_a_payload_that_is_not_json() {
    let run = Test::new()
        .file("bad.json", "{\"version\": \"4\", \"alerts\": [")
        .args(["simulate", "--rules", &repo("rules"), "bad.json"])
        .run()
        .code(2);
    assert!(run.stderr.contains("bad.json"), "{}", run.stderr);
    assert_eq!(run.stdout, "");
}

#[test]
fn simulate_rejects_an_alert_without_labels_naming_the_field() {
    let payload = "{\"version\": \"4\", \"status\": \"firing\", \"alerts\": [{\"status\": \"firing\", \"startsAt\": \"2026-11-20T10:00:00Z\"}]}";
    let run = Test::new()
        .file("nolabels.json", payload)
        .args(["simulate", "--rules", &repo("rules"), "nolabels.json"])
        .run()
        .code(2);
    assert!(run.stderr.contains("nolabels.json"), "{}", run.stderr);
    assert!(run.stderr.contains("labels"), "{}", run.stderr);
}

/// A payload that maps to no alert (PagerDuty's `incident.acknowledged` is no
/// notification, issue 17) printed nothing at all, which reads as "it did not
/// run"; it says so. JSON stays an empty array.
#[test]
fn simulate_says_when_a_payload_holds_no_alert() {
    let rules = repo("tests/rules/pagerduty");
    let payload = repo("fixtures/pagerduty/incident-acknowledged.json");
    let text = Test::new()
        .args(["simulate", "--rules", &rules, &payload])
        .run()
        .code(0);
    assert!(
        text.stdout
            .starts_with("no alerts: source \"pagerduty\" maps this payload to none"),
        "{}",
        text.stdout
    );
    let json = Test::new()
        .args(["simulate", "--rules", &rules, &payload, "--format", "json"])
        .run()
        .code(0);
    assert_eq!(json.stdout.trim(), "[]");
}

#[test]
fn simulate_a_missing_file_is_a_usage_error() {
    Test::new()
        .args(["simulate", "--rules", &repo("rules"), "nope.json"])
        .run()
        .code(2);
}

/// DESIGN.md §1: `--format json` is for machines, so stdout is one JSON
/// document; the `N passed, M failed` line went after it on stdout (issue 18).
#[test]
fn test_json_stdout_is_only_json_and_the_count_goes_to_stderr() {
    for (tests, code) in [
        (
            "tests:\n  - name: passes\n    labels: {alertname: Down, service: api}\n    expect:\n      - {remediation: restart, verdict: fire}\n",
            0,
        ),
        (
            "tests:\n  - name: fails\n    labels: {alertname: Down, service: api}\n    expect:\n      - {remediation: restart, verdict: defer}\n",
            1,
        ),
    ] {
        let run = Test::new()
            .file("rules/r.yaml", RULES)
            .file("rules/r.test.yaml", tests)
            .args(["test", "rules", "--format", "json"])
            .run()
            .code(code);
        let json: serde_json::Value = serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout));
        assert_eq!(json[0]["passed"], code == 0, "{json}");
        let count = if code == 0 {
            "1 passed, 0 failed"
        } else {
            "0 passed, 1 failed"
        };
        assert!(run.stderr.contains(count), "{}", run.stderr);
    }
}

/// `then: no_answer` under `mode: approve`: the call goes out when the
/// operator approves, so `poll.timeout` counts from the approval, as serve's
/// tracker counts it (DESIGN.md §3: after acceptance resgate never fires
/// blindly again). Counted from the fire, an approval 40 minutes late timed
/// the event out the moment the call was sent, and the re-fire a minute later
/// was a second attempt while the first job may run (issue 17, no_answer).
#[test]
fn no_answer_after_a_late_approval_holds_the_target_for_poll_timeout_from_the_call() {
    let rules = "sources:\n  am: {kind: alertmanager}\nremediators:\n  rd:\n    preset: rundeck\n    url: \"https://rundeck.example/api/45/job/x/run\"\n    headers: {X-Rundeck-Auth-Token: \"${env:T}\"}\n    status_url: \"https://rundeck.example/api/45/execution/{{ id }}\"\n    poll: {every: 15s, timeout: 30m}\n  pager:\n    url: \"https://pager.example/alerts\"\nremediations:\n  restart:\n    match: {alertname: Down, service: \"=~.+\"}\n    target: \"{{ service }}\"\n    remediator: rd\n    mode: approve\n    approve_within: 1h\n    budget: {attempts: 3, within: 2h}\n    escalate: pager\n";
    let tests = "tests:\n  - name: approved 40m late, no answer\n    remediators: {rd: {then: no_answer}}\n    timeline:\n      - {at: 0m, labels: {alertname: Down, service: api}}\n      - {at: 40m, approve: ev-1}\n      - {at: 41m, labels: {alertname: Down, service: api}}\n      - {at: 69m, labels: {alertname: Down, service: api}}\n      - {at: 71m, labels: {alertname: Down, service: api}}\n    expect:\n      - {at: 0m, remediation: restart, verdict: fire}\n      - {at: 41m, remediation: restart, verdict: collapse, reason: in_flight}\n      - {at: 69m, remediation: restart, verdict: collapse, reason: in_flight}\n      - {at: 70m, event: restart, state: timed_out}\n      - {at: 71m, remediation: restart, verdict: fire}\n";
    let run = Test::new()
        .file("rules/r.yaml", rules)
        .file("rules/r.test.yaml", tests)
        .args(["test", "rules"])
        .run();
    assert!(run.stdout.contains("1 passed, 0 failed"), "{}", run.stdout);
    run.code(0);
}

/// `resgate schema rules | head -1`, or any reader that stops early: before,
/// `println!` panicked with a backtrace ("failed printing to stdout: Broken
/// pipe"). The status is 141 (what a shell shows for a command SIGPIPE
/// ended), never 0: a `resgate test | head` under `pipefail` must not pass.
#[test]
fn a_closed_stdout_ends_quietly_with_141_not_a_panic() {
    for args in [
        &["schema", "rules"][..],
        &["test", "--format", "junit", "rules"][..],
        &["lint", "rules", "--format", "json"][..],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_resgate"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
    }
}

/// A full disk under the output (`/dev/full` answers every write ENOSPC):
/// one line naming the cause and exit 2, not a panic.
#[test]
fn an_unwritable_stdout_is_one_error_line_and_exit_2() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return common::skipped("no /dev/full on this system");
    };
    let out = Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(["schema", "rules"])
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.starts_with("error: cannot write the output: No space left"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}
