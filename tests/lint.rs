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
