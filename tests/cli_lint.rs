//! `resgate lint` as a user runs it: exit codes, stdout/stderr, JSON.

mod common;

use common::Test;

const GOOD: &str = "tests/lint/ok_base/rules.yaml";
const GOOD_DL: &str = "tests/lint/ok_base/topology.dl";

#[test]
fn clean_rules_exit_zero_with_a_summary_on_stdout() {
    let run = Test::new()
        .copy(GOOD, "rules/rules.yaml")
        .copy(GOOD_DL, "rules/topology.dl")
        .args(["lint", "rules"])
        .run()
        .code(0);
    assert_eq!(
        run.stdout,
        "ok: 1 source, 2 remediators, 1 remediation; 0 warnings\n"
    );
    assert_eq!(run.stderr, "");
}

#[test]
fn errors_exit_one_and_go_to_stderr() {
    let run = Test::new()
        .file(
            "rules/r.yaml",
            "remediations:\n  x:\n    remediator: nope\n",
        )
        .args(["lint", "rules"])
        .run()
        .code(1);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains("unknown remediator \"nope\""),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("rules/r.yaml:3:17"), "{}", run.stderr);
}

#[test]
fn missing_directory_is_a_usage_error() {
    let run = Test::new().args(["lint", "does-not-exist"]).run().code(2);
    assert!(
        run.stderr.contains("cannot read does-not-exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_flag_is_a_usage_error() {
    Test::new().args(["lint", "--frobnicate"]).run().code(2);
}

#[test]
fn warnings_pass_unless_denied() {
    let rules = std::fs::read_to_string(GOOD)
        .expect("fixture")
        .replace("deploying($service)", "deploying($team)");
    Test::new()
        .file("rules/rules.yaml", &rules)
        .copy(GOOD_DL, "rules/topology.dl")
        .args(["lint", "rules"])
        .run()
        .code(0);
    let denied = Test::new()
        .file("rules/rules.yaml", &rules)
        .copy(GOOD_DL, "rules/topology.dl")
        .args(["lint", "rules", "--deny", "warnings"])
        .run()
        .code(1);
    // A failure never says `ok:` (issue 18: it did, beside exit 1).
    assert!(!denied.stderr.contains("ok:"), "{}", denied.stderr);
    assert_eq!(denied.stdout, "");
    assert!(
        denied
            .stderr
            .ends_with("0 errors, 1 warning (denied by --deny warnings)\n"),
        "{}",
        denied.stderr
    );
}

#[test]
fn json_format_is_machine_readable() {
    let run = Test::new()
        .file(
            "rules/r.yaml",
            "remediations:\n  x:\n    remediator: nope\n",
        )
        .args(["lint", "rules", "--format", "json"])
        .run()
        .code(1);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("json on stdout");
    assert_eq!(report["ok"], false);
    let diags = report["diagnostics"].as_array().expect("diagnostics array");
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "unknown-remediator")
        .expect("unknown-remediator reported");
    assert_eq!(unknown["file"], "rules/r.yaml");
    assert_eq!(unknown["line"], 3);
    assert_eq!(unknown["severity"], "error");
}

#[test]
fn shipped_rules_pass() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run = Test::new()
        .args(["lint", &format!("{root}/rules")])
        .run()
        .code(0);
    assert!(
        run.stdout
            .starts_with("ok: 1 source, 2 remediators, 5 remediations"),
        "{}",
        run.stdout
    );
}

/// A YAML key the diagnostic names is covered whole by its JSON label, not
/// by its first character (issue 18 item 8): an editor underlines `unles`.
#[test]
fn json_labels_of_a_key_span_the_whole_key() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (case, code, key) in [
        ("unknown_key", "unknown-key", "unles"),
        ("duplicate_key", "duplicate-key", "target"),
    ] {
        let run = Test::new()
            .args([
                "lint",
                &format!("{root}/tests/lint/{case}"),
                "--format",
                "json",
            ])
            .run()
            .code(1);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("json");
        let diag = report["diagnostics"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["code"] == code))
            .unwrap_or_else(|| panic!("{case}: no {code} in {}", run.stdout));
        let label = &diag["labels"][0];
        let (start, end) = (
            label["start"].as_u64().unwrap() as usize,
            label["end"].as_u64().unwrap() as usize,
        );
        let text = std::fs::read_to_string(format!("{root}/tests/lint/{case}/rules.yaml")).unwrap();
        assert_eq!(&text[start..end], key, "{case}: {label}");
    }
}
