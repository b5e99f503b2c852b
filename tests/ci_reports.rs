//! The reports CI tools read (issue 23): each parsed by a real parser of its
//! format or checked against the format's published schema.

mod common;

use common::Test;

const RULES: &str = "sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run\"\nremediations:\n  restart:\n    match: {alertname: Down, service: \"=~.+\"}\n    target: \"{{ service }}\"\n    remediator: runner\n    budget: {attempts: 2, within: 1h}\n";

/// A name a pull request could write: markup, an entity, the CDATA end, a
/// quote, a newline, a tab, and ESC and SOH (not XML 1.0 characters at all).
const HOSTILE: &str = "a <b>&amp; \"q\" ]]> x\ny\tz \u{1b}[31m \u{1}";
const HOSTILE_YAML: &str = "\"a <b>&amp; \\\"q\\\" ]]> x\\ny\\tz \\e[31m \\x01\"";

fn junit_run() -> (String, serde_json::Value) {
    let tests_a = format!(
        "tests:\n  - name: {HOSTILE_YAML}\n    labels: {{alertname: Down, service: api}}\n    expect:\n      - {{remediation: restart, verdict: discard}}\n  - name: fires\n    labels: {{alertname: Down, service: api}}\n    expect:\n      - {{remediation: restart, verdict: fire}}\n"
    );
    let tests_b = "tests:\n  - name: also fires\n    labels: {alertname: Down, service: db}\n    expect:\n      - {remediation: restart, verdict: fire}\n";
    let t = || {
        Test::new()
            .file("rules/r.yaml", RULES)
            .file("rules/a.test.yaml", &tests_a)
            .file("rules/b.test.yaml", tests_b)
    };
    let xml = t()
        .args(["test", "--format", "junit", "rules"])
        .run()
        .code(1)
        .stdout
        .clone();
    let json = t()
        .args(["test", "--format", "json", "rules"])
        .run()
        .code(1)
        .stdout
        .clone();
    (
        xml,
        serde_json::from_str(&json).expect("test --format json"),
    )
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
    node.attribute(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}", node.tag_name().name()))
}

fn count(node: roxmltree::Node<'_, '_>, name: &str) -> usize {
    attr(node, name).parse().expect("a count")
}

/// The structure Jenkins' JUnit XSD requires (jenkinsci/xunit-plugin,
/// src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd):
/// `testsuite` needs `name`, `tests`, `failures`, `errors`; `testcase` needs
/// `name`; `time` is `SUREFIRE_TIME`. GitLab reads the same subset
/// (docs.gitlab.com/ci/testing/unit_test_reports): `testcase` `name`,
/// `classname`, `time`, `failure` text.
#[test]
fn junit_is_one_testcase_per_test_with_counts_times_and_failure_messages() {
    let (xml, json) = junit_run();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let surefire_time =
        regex::Regex::new(r"^(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?$").expect("regex");
    let suites: Vec<_> = root.children().filter(|n| n.is_element()).collect();
    assert_eq!(suites.len(), 2, "one testsuite per test file:\n{xml}");
    let mut cases = Vec::new();
    for suite in &suites {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let tests: Vec<_> = suite.children().filter(|n| n.is_element()).collect();
        assert!(tests.iter().all(|t| t.tag_name().name() == "testcase"));
        assert_eq!(count(*suite, "tests"), tests.len());
        let failed = tests
            .iter()
            .filter(|t| t.children().any(|c| c.has_tag_name("failure")))
            .count();
        assert_eq!(count(*suite, "failures"), failed);
        assert_eq!(count(*suite, "errors"), 0);
        assert!(attr(*suite, "name").ends_with(".test.yaml"));
        assert!(surefire_time.is_match(attr(*suite, "time")));
        for t in tests {
            assert!(
                surefire_time.is_match(attr(t, "time")),
                "{}",
                attr(t, "time")
            );
            // Jenkins reads dots as packages: rules/a.test.yaml is rules.a.
            let file = attr(*suite, "name").trim_end_matches(".test.yaml");
            assert_eq!(attr(t, "classname"), file.replace('/', "."));
            cases.push(t);
        }
    }
    assert_eq!(count(root, "tests"), 3);
    assert_eq!(count(root, "failures"), 1);

    // The same tests, in the same order, as --format json reports them.
    let json = json.as_array().expect("a list");
    assert_eq!(cases.len(), json.len());
    for (case, j) in cases.iter().zip(json) {
        let name = j["name"].as_str().expect("name");
        assert_eq!(
            attr(*case, "name"),
            name.replace('\u{1b}', "\\u{1b}").replace('\u{1}', "\\u{1}")
        );
        let failure = case.children().find(|c| c.has_tag_name("failure"));
        assert_eq!(failure.is_none(), j["passed"].as_bool().expect("passed"));
        if let Some(failure) = failure {
            let first = j["failures"][0].as_str().expect("a failure");
            assert_eq!(attr(failure, "message"), first);
            let text = failure.text().unwrap_or_default();
            assert!(text.starts_with(first), "{text}");
            assert!(text.contains("restart"), "the proof is in the text: {text}");
        }
    }
}

#[test]
fn junit_carries_hostile_names_exactly_and_stays_well_formed() {
    let (xml, _) = junit_run();
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}:\n{xml}"));
    // ESC and SOH cannot be in an XML 1.0 document, not even as references:
    // written as text, every other character is kept as it was.
    let expected = HOSTILE
        .replace('\u{1b}', "\\u{1b}")
        .replace('\u{1}', "\\u{1}");
    let hostile = doc
        .descendants()
        .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(&expected))
        .unwrap_or_else(|| panic!("the hostile test by its exact name:\n{xml}"));
    assert!(hostile.children().any(|c| c.has_tag_name("failure")));
    assert!(!xml.contains('\u{1b}') && !xml.contains('\u{1}'));
    assert!(!xml.contains("]]>"), "{xml}");
}
