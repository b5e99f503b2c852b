//! What `resgate test` says when an expectation fails because nothing was
//! decided for it (issue 18 item 8): the alert discarded (`no_match`) and the
//! nearest remediation, with the matchers that fail and the values the alert has.

mod common;

use common::Test;

const RULES: &str = "sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run\"\nremediations:\n  restart:\n    match: {alertname: Down, service: \"=~.+\"}\n    target: \"{{ service }}\"\n    remediator: runner\n    budget: {attempts: 2, within: 1h}\n  scale:\n    match: {alertname: QueueBacklog, queue: \"=~.+\", severity: page}\n    target: \"{{ queue }}\"\n    remediator: runner\n    budget: {attempts: 2, within: 1h}\n";

fn run_test(tests: &str) -> String {
    let run = Test::new()
        .file("rules/r.yaml", RULES)
        .file("rules/r.test.yaml", tests)
        .args(["test", "rules"])
        .run()
        .code(1);
    run.stdout.clone()
}

#[test]
fn a_discarded_alert_names_no_match_and_the_expected_remediation() {
    let out = run_test(
        "tests:\n  - name: a typo in the alertname\n    labels: {alertname: Dwn, service: api}\n    expect:\n      - {remediation: restart, verdict: fire}\n",
    );
    assert!(out.contains("  nothing was decided for it:\n"), "{out}");
    assert!(out.contains(" was discarded (no_match) at 0s\n"), "{out}");
    assert!(
        out.contains("    no remediation matches {alertname=\"Dwn\", service=\"api\"}\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "    nearest remediation: restart: its match fails on alertname=\"Down\" (the alert has alertname=\"Dwn\")\n"
        ),
        "{out}"
    );
}

#[test]
fn without_a_named_remediation_the_nearest_is_the_one_most_of_whose_matchers_hold() {
    // Two of scale's three matchers hold, one of restart's two.
    let out = run_test(
        "tests:\n  - name: a warning is not a page\n    timeline:\n      - {at: 0m, labels: {alertname: QueueBacklog, queue: mail, severity: warning}}\n    expect:\n      - {at: 0m, verdict: fire}\n",
    );
    assert!(
        out.contains(
            "    nearest remediation: scale: its match fails on severity=\"page\" (the alert has severity=\"warning\")\n"
        ),
        "{out}"
    );
    let out = run_test(
        "tests:\n  - name: no queue label\n    labels: {alertname: QueueBacklog, severity: page}\n    expect:\n      - {remediation: scale, verdict: fire}\n",
    );
    assert!(
        out.contains("its match fails on queue=~\".+\" (the alert has no queue label)"),
        "{out}"
    );
}
