//! `mode: approve`: a fire waits for an operator. Offline through `resgate
//! test` (the `approve:` timeline step), and live through `resgate serve`,
//! `resgate approve` and a Rundeck-like fake remediator.

mod common;

use std::time::Duration;

use common::daemon::{API_DOWN, Daemon, alertmanager_payload, rig};
use common::fake_remediator::Behaviour;
use common::{Test, edit, resgate};

const WAIT: Duration = Duration::from_secs(30);

const RULES: &str = r#"sources:
  alertmanager: {kind: alertmanager}
remediators:
  rundeck:
    url: "https://rundeck.example/api/45/job/restart/run"
remediations:
  restart-api:
    match: {alertname: ApiDown, instance: "=~.+"}
    target: "{{ instance }}"
    remediator: rundeck
    warmup: 5m
    budget: {attempts: 3, within: 1h}
    mode: approve
    approve_within: 30m
"#;

const TESTS: &str = r#"tests:
  - name: an approved fire calls the remediator from the approval on
    remediators: {rundeck: {takes: 2m, then: succeeded}}
    timeline:
      - {at: 0m, labels: {alertname: ApiDown, instance: api-1}}
      - {at: 5m, labels: {alertname: ApiDown, instance: api-1, try: "2"}}
      - {at: 10m, approve: ev-1}
      - {at: 13m, resolve_labels: {alertname: ApiDown, instance: api-1}}
    expect:
      - {at: 0m, remediation: restart-api, verdict: fire, reason: awaiting_approval}
      - {at: 10m, event: restart-api, state: accepted}
      - {at: 12m, event: restart-api, state: succeeded}
      - {at: 5m, remediation: restart-api, verdict: collapse, reason: in_flight}
      - {remediation: restart-api, verdict: fire, count: 1}

  - name: a repeat while waiting collapses into the waiting event
    timeline:
      - {at: 0m, alert: ../payload.json}
      - {at: 5m, alert: ../payload-again.json}
    expect:
      - {at: 0m, remediation: restart-api, verdict: fire, reason: awaiting_approval}
      - {at: 5m, remediation: restart-api, verdict: collapse, reason: in_flight}

  - name: nobody approves, the fire expires uncalled and the next alert asks again
    timeline:
      - {at: 0m, alert: ../payload.json}
      - {at: 40m, alert: ../payload-again.json}
    expect:
      - {at: 0m, remediation: restart-api, verdict: fire, reason: awaiting_approval}
      - {at: 30m, event: restart-api, state: expired}
      - {at: 40m, remediation: restart-api, verdict: fire, reason: awaiting_approval}
      - {event: restart-api, state: accepted, count: 0}
"#;

#[test]
fn resgate_test_plays_approvals_and_expiries() {
    let payload = |starts: &str| {
        String::from_utf8(alertmanager_payload(
            "firing",
            &[("alertname", "ApiDown"), ("instance", "api-1")],
            starts,
        ))
        .unwrap()
    };
    let run = Test::new()
        .file("rules/rules.yaml", RULES)
        .file("rules/approve.test.yaml", TESTS)
        .file("payload.json", &payload("2026-11-25T10:00:00Z"))
        .file("payload-again.json", &payload("2026-11-25T10:05:00Z"))
        .args(["test", "rules"])
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("3 passed, 0 failed"), "{}", run.stdout);
}

#[test]
fn serve_waits_for_the_approval_then_calls_and_expires_what_nobody_approved() {
    let (fake, dir, rules) = rig(Behaviour::default(), "");
    edit(
        &rules.join("restart.yaml"),
        "    warmup: 1s",
        "    mode: approve\n    approve_within: 3s\n    warmup: 1s",
    );
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);
    let server = format!("http://{}", d.addr);

    let firing = alertmanager_payload("firing", API_DOWN, "2026-11-25T10:00:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &firing).0, 200);
    d.wait_for("ev-1 awaiting approval", WAIT, |d| {
        d.event_state("ev-1") == "awaiting_approval"
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        fake.calls().is_empty(),
        "nothing is called before the approval"
    );

    let (code, out, err) = resgate(&["approve", "ev-1", "--server", &server], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "approved ev-1: the remediator is called now");
    d.wait_for("the call after the approval", WAIT, |_| {
        fake.calls().len() == 1
    });
    d.wait_for("ev-1 to run its course", WAIT, |d| {
        matches!(d.event_state("ev-1").as_str(), "warming" | "not_rescued")
    });
    let (code, _, err) = resgate(&["approve", "ev-1", "--server", &server], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("not awaiting approval"), "{err}");
    let (code, _, err) = resgate(&["approve", "ev-404", "--server", &server], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("the daemon has no event ev-404"), "{err}");

    // Another target, never approved: expires after approve_within, uncalled.
    let labels = [
        ("alertname", "ApiDown"),
        ("severity", "critical"),
        ("service", "api"),
        ("instance", "api-2:8080"),
    ];
    let other = alertmanager_payload("firing", &labels, "2026-11-25T10:00:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &other).0, 200);
    d.wait_for("ev-2 to expire", WAIT, |d| {
        d.event_state("ev-2") == "expired"
    });
    assert_eq!(fake.calls().len(), 1, "the expired fire was never called");
    let (status, _) = d.request("POST", "/api/v1/events/ev-2/approve", &[], b"");
    assert_eq!(status, 409, "too late to approve");
}
