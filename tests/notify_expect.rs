//! `resgate test` with notifications in `expect` (DESIGN.md §4 and §9, issue
//! 21): once a test names one, the notifications of its timeline are
//! complete, so a rule change that would post more to a channel fails CI.

use std::path::Path;
use std::process::Command;

const RULES: &str = r#"
sources:
  alertmanager: {kind: alertmanager}
remediators:
  rundeck: {url: "https://rundeck.example/run"}
notifiers:
  ops: {preset: slack, url: "${env:SLACK_WEBHOOK_URL}"}
remediations:
  restart-api:
    match: {alertname: ApiDown, service: "=~.+"}
    target: "{{ service }}"
    remediator: rundeck
    warmup: 10m
    budget: {attempts: 3, within: 1h}
    notify: {to: [ops], on: [fire, rescued]}
"#;

const TEST: &str = r#"
tests:
  - name: a rescue says so once
    remediators: {rundeck: {takes: 2m, then: succeeded}}
    timeline:
      - {at: 0m, labels: {alertname: ApiDown, service: api}}
      - {at: 1m, labels: {alertname: ApiDown, service: api}}
      - {at: 5m, resolve_labels: {alertname: ApiDown, service: api}}
    expect:
      - {at: 0m, remediation: restart-api, verdict: fire}
      - {at: 0m, notify: ops, on: fire}
      - {notify: ops, on: rescued, remediation: restart-api, target: api, count: 1}
"#;

fn run(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_resgate"))
        .arg("test")
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn write(dir: &Path, rules: &str, test: &str) {
    std::fs::write(dir.join("rules.yaml"), rules).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join("rules.test.yaml"), test).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn listed_notifications_pass() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), RULES, TEST);
    let (ok, out) = run(dir.path());
    assert!(ok, "{out}");
}

#[test]
fn a_rule_change_that_would_post_more_fails_the_test() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        &RULES.replace("on: [fire, rescued]", "on: [fire, collapse, rescued]"),
        TEST,
    );
    let (ok, out) = run(dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("unexpected notification to ops: on collapse restart-api api at 1m"),
        "{out}"
    );
}

#[test]
fn a_missing_notification_and_a_misspelt_notifier_fail_with_why() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(
        dir.path(),
        &RULES.replace("on: [fire, rescued]", "on: [fire]"),
        &TEST.replace(
            "- {at: 0m, notify: ops, on: fire}",
            "- {at: 0m, notify: opz, on: fire}",
        ),
    );
    let (ok, out) = run(dir.path());
    assert!(!ok, "{out}");
    assert!(
        out.contains("unknown notifier \"opz\": did you mean \"ops\"?"),
        "{out}"
    );
    assert!(out.contains("notify: ops, on: rescued"), "{out}");
}
