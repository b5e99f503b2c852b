//! Fact relations (DESIGN.md §8) offline: `state.facts`, timeline steps
//! `facts:` and `stale:`, guards reading them, fail-safe deferral on stale
//! relations, and proofs naming the rows used with their refresh time.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::Test;
use resgate::engine::{Engine, FactValue, Freshness, Proof, Verdict};
use resgate::rules;

const RULES: &str = r#"
sources:
  am: {kind: alertmanager}
remediators:
  runner:
    url: "https://runner.example/run"
  pager:
    url: "https://pager.example/alerts"
remediations:
  scale-down:
    match: {alertname: Idle, service: "=~.+"}
    target: "{{ service }}"
    remediator: runner
    when: "error_ratio($service, R), R < 0.05"
    unless:
      backlog: "backlog($service)"
    budget: {attempts: 3, within: 1h}
    escalate: pager
facts:
  queue_depth:
    prometheus: "${env:PROMETHEUS_URL}"
    query: sum by (service) (rabbitmq_queue_messages_ready)
    columns: [service, value]
    every: 30s
  error_ratio:
    prometheus: "${env:PROMETHEUS_URL}"
    query: sum by (service) (rate(errors_total[5m])) / sum by (service) (rate(requests_total[5m]))
    columns: [service, value]
"#;

const DL: &str = "backlog(S) :- queue_depth(S, D), D > 1000.\n";

fn ruleset() -> Arc<rules::RuleSet> {
    let loaded = rules::load_texts(vec![
        ("r.yaml".into(), RULES.to_owned()),
        ("q.dl".into(), DL.to_owned()),
    ]);
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
    Arc::new(loaded.rules.expect("rules load"))
}

fn idle(service: &str, at: jiff::Timestamp) -> resgate::source::Alert {
    let labels: BTreeMap<String, String> = [("alertname", "Idle"), ("service", service)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    resgate::scenario::input::labelled(&labels, at).expect("alert")
}

fn row(service: &str, value: f64) -> Vec<FactValue> {
    vec![
        FactValue::Text(service.to_owned()),
        FactValue::Number(value),
    ]
}

fn t(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

/// The engine with both relations refreshed at `at`.
fn engine_at(at: jiff::Timestamp, depth: f64, ratio: f64) -> Engine {
    let mut e = Engine::new(ruleset(), at);
    e.set_facts(
        "queue_depth",
        vec![row("mailer", depth)],
        at,
        Freshness::Refreshed,
    )
    .unwrap();
    e.set_facts(
        "error_ratio",
        vec![row("mailer", ratio)],
        at,
        Freshness::Refreshed,
    )
    .unwrap();
    e
}

#[test]
fn a_guard_reads_a_fact_row_and_its_proof_names_it_with_the_refresh_time() {
    let at = t("2026-12-07T10:03:30Z");
    let mut e = engine_at(at, 1204.0, 0.01);
    let out = e.ingest(&[idle("mailer", at)], at);
    let d = &out.decisions[0];
    assert_eq!(
        (d.verdict, d.reason.as_deref()),
        (Verdict::Defer, Some("backlog"))
    );
    let Proof::Guard { facts, .. } = &d.proof else {
        panic!("{:?}", d.proof)
    };
    let text = format!("{facts:?}");
    assert!(
        text.contains(r#"queue_depth(\"mailer\", 1204) @ 2026-12-07T10:03:30Z"#),
        "{text}"
    );
}

#[test]
fn a_fraction_in_when_compares_as_a_number() {
    let at = t("2026-12-07T10:00:00Z");
    // 0.06 is not below 0.05: the remediation does not apply at all.
    let mut e = engine_at(at, 3.0, 0.06);
    let out = e.ingest(&[idle("mailer", at)], at);
    assert_eq!(
        out.decisions[0].verdict,
        Verdict::Discard,
        "{:?}",
        out.decisions
    );
    // 0.049 is: nothing stops it.
    let mut e = engine_at(at, 3.0, 0.049);
    let out = e.ingest(&[idle("mailer", at)], at);
    assert_eq!(
        out.decisions[0].verdict,
        Verdict::Fire,
        "{:?}",
        out.decisions
    );
}

#[test]
fn a_relation_never_refreshed_or_too_old_defers_stale_facts() {
    let at = t("2026-12-07T10:00:00Z");
    let mut e = Engine::new(ruleset(), at);
    let out = e.ingest(&[idle("mailer", at)], at);
    let d = &out.decisions[0];
    assert_eq!(
        (d.verdict, d.reason.as_deref()),
        (Verdict::Defer, Some("stale_facts"))
    );
    let Proof::StaleFacts { guard, sources } = &d.proof else {
        panic!("{:?}", d.proof)
    };
    assert_eq!(guard, "when");
    assert_eq!(sources[0].relation, "error_ratio");
    assert_eq!(sources[0].last_refresh, None);

    // Fresh at 10:00; queue_depth's stale_after is 3 × 30s. At 10:01:30 it is
    // exactly 90s old (still fresh); a second later it is stale.
    let late = t("2026-12-07T10:01:31Z");
    let mut e2 = engine_at(at, 3.0, 0.01);
    e2.set_facts(
        "error_ratio",
        vec![row("mailer", 0.01)],
        late,
        Freshness::Refreshed,
    )
    .unwrap();
    let out = e2.ingest(&[idle("mailer", late)], late);
    let d = &out.decisions[0];
    assert_eq!(
        (d.verdict, d.reason.as_deref()),
        (Verdict::Defer, Some("stale_facts"))
    );
    let Proof::StaleFacts { guard, sources } = &d.proof else {
        panic!("{:?}", d.proof)
    };
    assert_eq!(guard, "backlog");
    assert_eq!(sources[0].relation, "queue_depth");
    assert_eq!(sources[0].last_refresh, Some(at));
    assert_eq!(sources[0].stale_after_secs, 90);

    let mut e3 = engine_at(at, 3.0, 0.01);
    let edge = t("2026-12-07T10:01:30Z");
    e3.set_facts(
        "error_ratio",
        vec![row("mailer", 0.01)],
        edge,
        Freshness::Refreshed,
    )
    .unwrap();
    let out = e3.ingest(&[idle("mailer", edge)], edge);
    assert_eq!(
        out.decisions[0].verdict,
        Verdict::Fire,
        "{:?}",
        out.decisions
    );
}

#[test]
fn a_refresh_frees_the_deferred_alert_and_bad_rows_change_nothing() {
    let at = t("2026-12-07T10:00:00Z");
    let mut e = engine_at(at, 1204.0, 0.01);
    let out = e.ingest(&[idle("mailer", at)], at);
    assert_eq!(out.decisions[0].reason.as_deref(), Some("backlog"));
    // A refused refresh (wrong arity, NaN) keeps the rows: still deferred.
    let later = t("2026-12-07T10:00:30Z");
    assert!(
        e.set_facts(
            "queue_depth",
            vec![vec![FactValue::Number(3.0)]],
            later,
            Freshness::Refreshed
        )
        .is_err()
    );
    assert!(
        e.set_facts(
            "queue_depth",
            vec![row("mailer", f64::NAN)],
            later,
            Freshness::Refreshed
        )
        .is_err()
    );
    assert_eq!(
        e.fact_rows("queue_depth").unwrap().0,
        &[row("mailer", 1204.0)][..]
    );
    // The backlog drains: the deferred alert fires with no new notification.
    let out = e
        .set_facts(
            "queue_depth",
            vec![row("mailer", 12.0)],
            later,
            Freshness::Refreshed,
        )
        .unwrap();
    let fires: Vec<_> = out
        .decisions
        .iter()
        .filter(|d| d.verdict == Verdict::Fire)
        .collect();
    assert_eq!(fires.len(), 1, "{:?}", out.decisions);
}

fn tests_yaml(body: &str) -> String {
    format!("tests:\n{body}")
}

#[test]
fn test_files_script_facts_and_staleness() {
    let tests = tests_yaml(
        r#"  - name: a backlog defers the scale-down
    state:
      facts:
        queue_depth: [[mailer, 1204]]
        error_ratio: [[mailer, 0.01]]
    labels: {alertname: Idle, service: mailer}
    expect:
      - {remediation: scale-down, verdict: defer, reason: backlog}
  - name: unscripted facts are unknown, so the decision defers
    labels: {alertname: Idle, service: mailer}
    expect:
      - {remediation: scale-down, verdict: defer, reason: stale_facts}
  - name: the queue drains, the deferred alert fires, then the source dies
    state:
      facts:
        queue_depth: [[mailer, 1204], [api, 3]]
        error_ratio: [[mailer, 0.01], [api, 0.02]]
    timeline:
      - {at: 0m, labels: {alertname: Idle, service: mailer}}
      - {at: 5m, facts: {queue_depth: [[mailer, 200], [api, 3]]}}
      - {at: 9m, stale: queue_depth}
      - {at: 10m, labels: {alertname: Idle, service: api}}
    expect:
      - {at: 0m, remediation: scale-down, verdict: defer, reason: backlog}
      - {at: 5m, remediation: scale-down, target: mailer, verdict: fire}
      - {at: 10m, remediation: scale-down, target: api, verdict: defer, reason: stale_facts}
"#,
    );
    let run = Test::new()
        .file("rules/r.yaml", RULES)
        .file("rules/q.dl", DL)
        .file("rules/r.test.yaml", &tests)
        .args(["test", "rules"])
        .run();
    assert!(
        run.stdout.ends_with("3 passed, 0 failed\n"),
        "{}",
        run.stdout
    );
    run.code(0);
}

#[test]
fn a_script_naming_an_unknown_relation_or_the_wrong_arity_is_refused() {
    let tests = tests_yaml(
        r#"  - name: misspelt relation
    state:
      facts:
        queue_dept: [[mailer, 1204]]
    labels: {alertname: Idle, service: mailer}
    expect:
      - {remediation: scale-down, verdict: defer}
  - name: one column short
    timeline:
      - {at: 0m, facts: {queue_depth: [[1204]]}}
      - {at: 1m, labels: {alertname: Idle, service: mailer}}
    expect:
      - {remediation: scale-down, verdict: defer}
"#,
    );
    let run = Test::new()
        .file("rules/r.yaml", RULES)
        .file("rules/q.dl", DL)
        .file("rules/r.test.yaml", &tests)
        .args(["test", "rules"])
        .run()
        .code(1);
    assert!(
        run.stdout.contains(
            "no fact relation \"queue_dept\" in the rules (they have queue_depth, error_ratio)"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "fact relation \"queue_depth\" has 2 column(s) (service, value), but row 1 has 1"
        ),
        "{}",
        run.stdout
    );
}

/// A backtest (and `simulate --journal --at`, which shares its replay) plays
/// the fact rows the journal recorded at their recorded times, never a live
/// source: the backlog defers, the recorded drain frees the alert.
#[test]
fn a_replay_plays_the_recorded_fact_rows_at_their_times() {
    use resgate::journal::history::Recorded;
    use resgate::journal::{FactChange, Pending};
    let rules = ruleset();
    let t0 = t("2026-12-07T10:00:00Z");
    let t1 = t("2026-12-07T10:02:00Z");
    let recorded = Recorded {
        inbound: vec![Pending {
            id: 1,
            received_at: t0,
            alerts: vec![idle("mailer", t0)],
        }],
        decisions: Vec::new(),
        events: Vec::new(),
        facts: vec![
            FactChange {
                at: t("2026-12-07T09:59:30Z"),
                relation: "queue_depth".into(),
                added: vec![row("mailer", 1204.0), row("api", 3.0)],
                removed: Vec::new(),
            },
            FactChange {
                at: t("2026-12-07T09:59:30Z"),
                relation: "error_ratio".into(),
                added: vec![row("mailer", 0.01)],
                removed: Vec::new(),
            },
            FactChange {
                at: t1,
                relation: "queue_depth".into(),
                added: vec![row("mailer", 20.0)],
                removed: vec![row("mailer", 1204.0)],
            },
        ],
    };
    let fake = resgate::scenario::Fake::default();
    let replay = resgate::backtest::replay(&rules, &recorded, fake).expect("a replay");
    let got: Vec<(jiff::Timestamp, Verdict, Option<String>)> = replay
        .trace
        .decisions
        .iter()
        .map(|d| (d.at, d.verdict, d.reason.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (t0, Verdict::Defer, Some("backlog".to_owned())),
            (t1, Verdict::Fire, None)
        ]
    );
}
