//! Golden tests for `resgate lint`: each folder under `tests/lint/` is a rules
//! directory with one mistake; its rendered diagnostics are an insta snapshot.
//! Adding a case is adding a folder and a line to `cases!` below (a test checks
//! that no folder is forgotten).

use std::path::Path;

use resgate::diag::{self, RenderStyle};
use resgate::rules;

fn render_case(name: &str) -> String {
    let dir = Path::new("tests/lint").join(name);
    let loaded = rules::load_path(&dir);
    let mut out = String::new();
    for d in &loaded.diagnostics {
        out.push_str(&diag::render(d, &loaded.sources, RenderStyle::plain()));
    }
    out.push_str(&format!(
        "-- {} error(s), {} warning(s), rules {}\n",
        loaded.errors(),
        loaded.warnings(),
        if loaded.rules.is_some() {
            "loaded"
        } else {
            "refused"
        }
    ));
    out
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                insta::assert_snapshot!(stringify!($name), render_case(stringify!($name)));
            }
        )*

        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

cases!(
    ok_base,
    yaml_syntax,
    unknown_key,
    duplicate_key,
    datalog_syntax,
    undefined_predicate,
    undefined_predicate_in_dl,
    arity_mismatch,
    unsafe_variable,
    unsafe_head_variable,
    negation_cycle,
    invalid_regex_matcher,
    invalid_regex_datalog,
    invalid_jmespath,
    invalid_template,
    unknown_remediator,
    unknown_escalation,
    label_not_guaranteed,
    label_not_guaranteed_template,
    unused_predicate,
    no_target,
    no_budget,
    empty_match,
    match_all,
    duplicate_name,
    invalid_duration,
    secret_in_url,
    // The base may come from the environment; a secret after it may not.
    secret_after_url_base,
    unknown_source_kind,
    builtin_redefined,
    bad_mode,
    invalid_auth,
    job_runner_no_status_url,
    id_no_status_url,
    job_runner_no_auth_header,
    // `target:` one space short after `match:`'s block: valid for no YAML
    // parser (PyYAML 6: "expected <block end>, but found '<block mapping
    // start>'" at line 11, column 4), but serde-saphyr's deserializer said
    // `missing key remediator` at `match:` first (issue 18).
    misindented_key,
    // DESIGN.md §9: a misspelt notifier or event word would silently tell nobody.
    unknown_notifier,
    notifier_config,
    unused_notifier,
    notifier_template,
    // `facts:` (DESIGN.md §8): a relation named like a built-in or a `.dl`
    // predicate, a guard reading it with the wrong arity, and one of each
    // mistake a fact source can hold.
    facts_clash,
    facts_arity,
    facts_invalid,
);

#[test]
fn every_case_folder_is_listed() {
    let mut folders: Vec<String> = std::fs::read_dir("tests/lint")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    folders.sort();
    let mut listed: Vec<String> = CASES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(folders, listed);
}

/// Each broken case must be refused (or, for warning-only cases, warn), and the
/// one clean case must load with no findings at all.
#[test]
fn cases_fail_the_way_their_name_says() {
    let warning_only = [
        "label_not_guaranteed",
        "label_not_guaranteed_template",
        "unused_predicate",
        "job_runner_no_auth_header",
        "unused_notifier",
    ];
    for name in CASES {
        let loaded = rules::load_path(&Path::new("tests/lint").join(name));
        if *name == "ok_base" {
            assert!(
                loaded.diagnostics.is_empty(),
                "{name}: {:?}",
                loaded.diagnostics
            );
            assert!(loaded.rules.is_some());
        } else if warning_only.contains(name) {
            assert_eq!(loaded.errors(), 0, "{name}: {:?}", loaded.diagnostics);
            assert!(loaded.warnings() > 0, "{name} should warn");
            assert!(loaded.rules.is_some());
        } else {
            assert!(loaded.errors() > 0, "{name} should be refused");
            assert!(loaded.rules.is_none());
            for d in &loaded.diagnostics {
                assert!(
                    d.src.is_some() && !d.labels.is_empty(),
                    "{name}: {} has no span",
                    d.code
                );
            }
        }
    }
}

#[test]
fn shipped_rules_lint_clean() {
    let loaded = rules::load_path(Path::new("rules"));
    let rendered: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| diag::render(d, &loaded.sources, RenderStyle::plain()))
        .collect();
    assert!(loaded.diagnostics.is_empty(), "{}", rendered.join("\n"));
    let rules = loaded.rules.expect("shipped rules load");
    assert_eq!(rules.remediations.len(), 5);
}

/// A valid `facts:` section (DESIGN.md §8): the relations load with their
/// defaults, guards and `.dl` rules read them, and a fraction compares.
#[test]
fn facts_section_loads() {
    let yaml = r#"
sources:
  alertmanager: {kind: alertmanager}
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
      deploying: "rollout($service)"
    budget: {attempts: 3, within: 1h}
    escalate: pager
facts:
  queue_depth:
    prometheus: "${env:PROMETHEUS_URL}"
    query: sum by (service) (rabbitmq_queue_messages_ready)
    columns: [service, value]
    every: 30s
  error_ratio:
    prometheus: "http://127.0.0.1:9090"
    query: 'sum by (service) (rate(http_errors_total{code=~"5.."}[5m])) / sum by (service) (rate(http_requests_total[5m]))'
    columns: [service, value]
    every: 1m
    stale_after: 5m
    timeout: 2s
  rollout:
    http: "https://argocd.example/api/v1/applications"
    headers: {Authorization: "Bearer ${env:ARGOCD_TOKEN}"}
    rows: "items[?status.operationState.phase=='Running']"
    columns: ["metadata.name"]
"#;
    let loaded = rules::load_texts(vec![
        ("rules.yaml".into(), yaml.to_owned()),
        (
            "queue.dl".into(),
            "backlog(S) :- queue_depth(S, D), D > 1000.\n".to_owned(),
        ),
    ]);
    let rendered: Vec<String> = loaded
        .diagnostics
        .iter()
        .map(|d| diag::render(d, &loaded.sources, RenderStyle::plain()))
        .collect();
    assert!(loaded.diagnostics.is_empty(), "{}", rendered.join("\n"));
    let rules = loaded.rules.expect("rules load");
    let names: Vec<&str> = rules.facts.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["queue_depth", "error_ratio", "rollout"]);
    let q = rules.fact_source("queue_depth").unwrap();
    assert_eq!(q.arity(), 2);
    assert_eq!(q.every, std::time::Duration::from_secs(30));
    assert_eq!(
        q.stale_after,
        std::time::Duration::from_secs(90),
        "3 × every"
    );
    assert_eq!(q.timeout, std::time::Duration::from_secs(10));
    let e = rules.fact_source("error_ratio").unwrap();
    assert_eq!(e.stale_after, std::time::Duration::from_secs(300));
    assert!(matches!(
        &q.kind,
        rules::FactKind::Prometheus { url_env: Some(v), .. } if v == "PROMETHEUS_URL"
    ));
    // serve checks every secret before it starts: the header and the URL base.
    let places: Vec<&str> = rules.secret_uses.iter().map(|u| u.place.as_str()).collect();
    assert!(
        places.contains(&"fact relation \"queue_depth\", prometheus"),
        "{places:?}"
    );
    assert!(
        places.contains(&"fact relation \"rollout\", header Authorization"),
        "{places:?}"
    );
}
