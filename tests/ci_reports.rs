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

/// Every lint case in tests/lint, and a rules directory whose file name and
/// unknown key hold each character the GitHub and SARIF escapes are for.
fn lint_cases() -> Vec<resgate::rules::Loaded> {
    let mut dirs: Vec<_> = std::fs::read_dir("tests/lint")
        .expect("tests/lint")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| resgate::rules::load_path(d)).collect()
}

const HOSTILE_FILE: &str = "we,ird: 50% [r]#1.yaml";
const HOSTILE_RULES: &str = "sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run\"\nremediations:\n  restart:\n    match: {alertname: Down}\n    target: \"{{ alertname }}\"\n    remediator: runner\n    budget: {attempts: 2, within: 1h}\n    \"k,e:y%0A\\r\\nz\": 1\n";

/// Undoes the escaping of actions/toolkit's command.ts, as the runner does
/// (`%25` last, so an escaped `%` is never read as the start of another).
fn unescape(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

/// A workflow command as GitHub documents it ("Workflow commands for GitHub
/// Actions", setting an error/warning message): `::error
/// file=…,line=…,col=…,endLine=…,endColumn=…,title=…::message`, properties
/// escaped so that neither `,` nor `:` nor a newline appears raw.
fn parse_command(line: &str) -> (String, Vec<(String, String)>, String) {
    let re = regex::Regex::new(r"^::(error|warning|notice) ([^:\r\n]*)::([^\r\n]*)$").expect("re");
    let c = re
        .captures(line)
        .unwrap_or_else(|| panic!("not a workflow command: {line:?}"));
    let props = c[2]
        .split(',')
        .map(|p| {
            let (k, v) = p
                .split_once('=')
                .unwrap_or_else(|| panic!("{p:?} in {line}"));
            assert!(
                ["file", "line", "col", "endLine", "endColumn", "title"].contains(&k),
                "undocumented property {k}"
            );
            (k.to_owned(), unescape(v))
        })
        .collect();
    (c[1].to_owned(), props, unescape(&c[3]))
}

#[test]
fn github_commands_follow_the_documented_syntax_and_match_the_json_report() {
    let t = Test::new().file(&format!("rules/{HOSTILE_FILE}"), HOSTILE_RULES);
    let dir = t.path().join("rules");
    let mut loaded = lint_cases();
    loaded.push(resgate::rules::load_path(&dir));
    let mut seen_hostile = false;
    for l in &loaded {
        let out = resgate::cli::report::github::render(&l.diagnostics, &l.sources);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), l.diagnostics.len(), "{out}");
        for (line, d) in lines.iter().zip(&l.diagnostics) {
            let json = resgate::diag::to_json(d, &l.sources);
            let (command, props, message) = parse_command(line);
            let get = |k: &str| props.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone());
            assert_eq!(command, format!("{:?}", d.severity).to_lowercase());
            assert_eq!(get("title").as_deref(), Some(d.code));
            assert_eq!(get("file"), json.file);
            assert_eq!(get("line"), json.line.map(|n| n.to_string()));
            assert_eq!(get("col"), json.column.map(|n| n.to_string()));
            if let (Some(l1), Some(l2)) = (get("line"), get("endLine")) {
                assert!(l2.parse::<usize>().unwrap() >= l1.parse::<usize>().unwrap());
            }
            let mut expected = d.message.clone();
            if let Some(help) = &d.help {
                expected.push_str(&format!("\nhelp: {help}"));
            }
            assert_eq!(message, expected);
            if get("file").is_some_and(|f| f.ends_with(HOSTILE_FILE)) && d.message.contains("k,e:y")
            {
                seen_hostile = true;
            }
        }
    }
    assert!(
        seen_hostile,
        "the hostile key is reported in the hostile file"
    );

    // End to end: stdout holds the commands alone, exit 1 on errors.
    let run = t
        .args(["lint", "--format", "github", "rules"])
        .run()
        .code(1);
    assert!(!run.stdout.is_empty());
    for line in run.stdout.lines() {
        parse_command(line);
    }
}

#[test]
fn sarif_validates_against_the_official_schema() {
    // tests/sarif/README.md says where the schema comes from.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("tests/sarif/sarif-schema-2.1.0.json").expect("schema"),
    )
    .expect("schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.enable_format_assertions();
    compiler
        .add_resource("file:///sarif-schema-2.1.0.json", schema)
        .expect("add the schema");
    let id = compiler
        .compile("file:///sarif-schema-2.1.0.json", &mut schemas)
        .expect("compile the schema");

    let t = Test::new().file(&format!("rules/{HOSTILE_FILE}"), HOSTILE_RULES);
    let mut loaded = lint_cases();
    loaded.push(resgate::rules::load_path(&t.path().join("rules")));
    let mut results = 0;
    for l in &loaded {
        let text = resgate::cli::report::sarif::render(&l.diagnostics, &l.sources);
        let log: serde_json::Value = serde_json::from_str(&text).expect("SARIF is JSON");
        if let Err(e) = schemas.validate(&log, id) {
            panic!("{e:#}\n{text}");
        }
        let run = &log["runs"][0];
        let got = run["results"].as_array().expect("results");
        assert_eq!(got.len(), l.diagnostics.len());
        for (r, d) in got.iter().zip(&l.diagnostics) {
            let json = resgate::diag::to_json(d, &l.sources);
            assert_eq!(r["ruleId"], d.code);
            let index = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(run["tool"]["driver"]["rules"][index]["id"], d.code);
            let region = &r["locations"][0]["physicalLocation"]["region"];
            assert_eq!(region["startLine"].as_u64().map(|n| n as usize), json.line);
            assert_eq!(
                region["startColumn"].as_u64().map(|n| n as usize),
                json.column
            );
            results += 1;
        }
    }
    assert!(results > 30, "the lint cases give many results: {results}");

    // End to end, with the hostile file name as a URI reference.
    let run = t.args(["lint", "--format", "sarif", "rules"]).run().code(1);
    let log: serde_json::Value = serde_json::from_str(&run.stdout).expect("stdout is SARIF");
    assert!(schemas.validate(&log, id).is_ok());
    // The validator is no rubber stamp: a level SARIF does not define fails.
    let mut wrong = log.clone();
    wrong["runs"][0]["results"][0]["level"] = "fatal".into();
    assert!(schemas.validate(&wrong, id).is_err());
    let uri = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
        ["uri"]
        .as_str()
        .expect("uri");
    assert!(uri.ends_with("we,ird:%2050%25%20%5Br%5D%231.yaml"), "{uri}");
}

/// The cells of every table row, each as the text a reader sees, parsed by
/// pulldown-cmark with GitHub's table extension.
fn table_rows(markdown: &str) -> Vec<Vec<String>> {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell: Option<String> = None;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::TableCell) => cell = Some(String::new()),
            Event::End(TagEnd::TableCell) => row.push(cell.take().expect("in a cell")),
            Event::End(TagEnd::TableRow | TagEnd::TableHead) => rows.push(std::mem::take(&mut row)),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = &mut cell {
                    c.push_str(&t);
                }
            }
            Event::Html(_) | Event::InlineHtml(_) => panic!("HTML in the comment:\n{markdown}"),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => {
                panic!("a link in the comment:\n{markdown}")
            }
            _ => {}
        }
    }
    rows
}

#[test]
fn markdown_backtest_is_one_table_row_per_example_whatever_the_values_hold() {
    use resgate::backtest::diff::{Change, ChangeCount, Diff, Example, Group};
    let hostile = [
        "a|b",
        "`tick` and ``two``",
        "`",
        "x\\|y\\",
        "<img src=x onerror=alert(1)>",
        "[link](https://example.com) @here **bold**",
        " spaced ",
        "line\nbreak\r\u{1b}[31m",
    ];
    let example = |i: usize| Example {
        alert: hostile[i % hostile.len()].to_owned(),
        target: Some(hostile[(i + 1) % hostile.len()].to_owned()),
        before: vec![
            hostile[(i + 2) % hostile.len()].to_owned(),
            "fire".to_owned(),
        ],
        after: vec![],
    };
    let diff = Diff {
        compared: 9,
        decisions_before: 8,
        decisions_after: 7,
        skipped_paused: 0,
        groups: vec![
            Group {
                remediation: Some("re|st`art".to_owned()),
                pairs_changed: 8,
                changes: vec![ChangeCount {
                    change: Change::NoLongerFire,
                    alerts: 8,
                    examples: (0..8).map(example).collect(),
                }],
            },
            Group {
                remediation: None,
                pairs_changed: 1,
                changes: vec![ChangeCount {
                    change: Change::NowFire,
                    alerts: 1,
                    examples: vec![example(3)],
                }],
            },
        ],
    };
    let at: jiff::Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
    let summary = resgate::cli::report::markdown::Summary {
        rules: "rules|new",
        version: "abc",
        webhooks: 3,
        alerts: 4,
        from: at,
        to: at,
    };
    let md = resgate::cli::report::markdown::render(&summary, &diff);
    let rows = table_rows(&md);
    assert_eq!(
        rows[0],
        [
            "Remediation",
            "Change",
            "Alerts",
            "Alert",
            "Target",
            "Recorded",
            "Replayed"
        ]
    );
    assert_eq!(
        rows.len(),
        1 + 8 + 1,
        "a header and one row per example:\n{md}"
    );
    let shown = |s: &str| resgate::term::escape(s).into_owned();
    for (i, row) in rows[1..9].iter().enumerate() {
        let e = example(i);
        assert_eq!(row.len(), 7, "{row:?}\n{md}");
        assert_eq!(row[0], "re|st`art");
        assert_eq!(row[1], "would no longer fire");
        assert_eq!(row[2], "8");
        assert_eq!(row[3], shown(&e.alert), "\n{md}");
        assert_eq!(row[4], shown(e.target.as_deref().unwrap()), "\n{md}");
        assert_eq!(row[5], shown(&e.before.join(", ")), "\n{md}");
        assert_eq!(row[6], "(nothing)");
    }
    assert_eq!(rows[9][0], "(no remediation matched)");
    assert!(
        md.starts_with("### resgate backtest: 9 of 9 alert/remediation pairs"),
        "{md}"
    );
}
