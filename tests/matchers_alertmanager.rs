//! Differential test: every matcher in the table must select exactly the alerts
//! Alertmanager's matcher selects (issue 17). The table and where each case comes
//! from: tests/alertmanager_matchers/cases.rs, generated from Go's regexp by gen.go.

#[path = "alertmanager_matchers/cases.rs"]
mod cases;
#[path = "alertmanager_matchers/random.rs"]
mod random;

use cases::{CASES, Case, Go};
use resgate::rules::matcher::Matcher;

/// What resgate answers for one case.
fn resgate(written: &str, label: Option<&str>) -> Go {
    match Matcher::parse("l", written) {
        Err(_) => Go::Invalid,
        Ok(m) if m.matches(label) => Go::Match,
        Ok(_) => Go::NoMatch,
    }
}

fn assert_all_agree(cases: &[Case]) {
    let disagree: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            let ours = resgate(c.written, c.label);
            (ours != c.go).then(|| {
                format!(
                    "{:?} on {:?}: Alertmanager {:?}, resgate {ours:?}",
                    c.written, c.label, c.go
                )
            })
        })
        .collect();
    assert!(
        disagree.is_empty(),
        "{} of {} cases disagree:\n{}",
        disagree.len(),
        cases.len(),
        disagree.join("\n")
    );
}

#[test]
fn every_case_agrees_with_alertmanager() {
    assert_all_agree(CASES);
}

/// Random patterns built from the pieces Go and the regex crate read
/// differently, with Go's answers (gen.go -random, fixed seed).
#[test]
fn random_patterns_agree_with_alertmanager() {
    assert!(random::RANDOM.len() > 2000);
    assert_all_agree(random::RANDOM);
}

/// A matcher that holds for an alert without its label is what lint's catch-all
/// check (docs/decisions.md "Empty or catch-all match") and the "guaranteed label"
/// analysis read: `matches_missing` must be the table's answer for a missing label.
#[test]
fn missing_label_analysis_agrees_with_alertmanager() {
    for c in CASES
        .iter()
        .filter(|c| c.label.is_none() && c.go != Go::Invalid)
    {
        let m = Matcher::parse("l", c.written).ok();
        assert_eq!(
            m.map(|m| m.matches_missing()),
            Some(c.go == Go::Match),
            "{:?}",
            c.written
        );
    }
}

/// The one deliberate difference (docs/decisions.md "Matchers as Alertmanager's"):
/// Go compiles Alertmanager's `^(?:a)|(b)$` for the operand `a)|(b`, which then
/// matches any value starting with `a` or ending with `b`, far more than it reads.
/// resgate refuses the operand instead of firing on those alerts.
#[test]
fn an_operand_that_escapes_the_anchors_is_refused() {
    for written in ["=~a)|(b", "!~a)|(b", "=~x)|.*|(y"] {
        let err = Matcher::parse("l", written).err().map(|e| e.message);
        assert!(
            err.as_deref().is_some_and(|m| m.contains("unopened group")),
            "{written}: {err:?}"
        );
    }
}

/// A rules file with Alertmanager's spellings: `\Q…\E` and the explicit `=` load
/// (before issue 17 the `\Q` refused the whole directory), and `=critical` is the
/// equality with `critical`.
fn load(matchers: &str) -> resgate::rules::Loaded {
    let text = format!(
        r#"
sources:
  alertmanager: {{kind: alertmanager}}
remediators:
  runner:
    url: "https://runner.example/run"
  pager:
    url: "https://pager.example/alerts"
remediations:
  restart-api:
    match: {{{matchers}}}
    target: "api"
    remediator: runner
    budget: {{attempts: 3, within: 1h}}
    escalate: pager
"#
    );
    resgate::rules::load_texts(vec![(std::path::PathBuf::from("rules.yaml"), text)])
}

fn codes(loaded: &resgate::rules::Loaded) -> Vec<&'static str> {
    loaded.diagnostics.iter().map(|d| d.code).collect()
}

#[test]
fn alertmanager_spellings_load_and_select_as_written() {
    let loaded = load(r#"alertname: "=ApiDown", service: '=~\Qapi.v1\E|web', severity: "==x""#);
    assert_eq!(codes(&loaded), Vec::<&str>::new());
    let rules = loaded
        .rules
        .as_ref()
        .map(|r| r.remediation("restart-api").is_some());
    assert_eq!(rules, Some(true));
}

/// lint's catch-all check (docs/decisions.md "Empty or catch-all match") follows
/// the table: a `match` whose every matcher holds for a missing label is refused,
/// one with a matcher that needs the label is not.
#[test]
fn catch_all_follows_the_missing_label_semantics() {
    for catch_all in [r#"team: "=""#, r#"team: "!~.+""#, r#"team: "=~\\Q\\E|.*""#] {
        assert!(
            codes(&load(catch_all)).contains(&"match-all"),
            "{catch_all}"
        );
    }
    for selective in [r#"team: "=~.+""#, r#"team: "=db""#, r#"team: "=~\\d""#] {
        assert!(
            !codes(&load(selective)).contains(&"match-all"),
            "{selective}"
        );
    }
}
