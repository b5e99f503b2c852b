//! Alerting on resgate itself: contrib/prometheus/resgate.rules.yml and the
//! Grafana dashboard contrib/grafana/resgate.json.
//!
//! - `promtool check rules` accepts the rules, and `promtool test rules` runs
//!   their unit tests (contrib/prometheus/resgate.rules.test.yml); the format is
//!   Prometheus's, https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/.
//! - Every metric an alert or a dashboard query names is one a running
//!   `resgate serve` exports: the test starts one on loopback and reads
//!   `/metrics`, so a renamed metric breaks the test, not somebody's pager.
//! - Every alert pages with a severity, a summary and a runbook that exists in
//!   docs/operations.md, and has a firing and a quiet case in the unit tests.
//!
//! promtool comes from the Debian package prometheus (.ci/run installs it):
//! without it the promtool checks are skipped with a notice, or fail when `CI`
//! is set.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::daemon::Daemon;
use serde_json::Value;

const RULES: &str = "contrib/prometheus/resgate.rules.yml";
const RULE_TESTS: &str = "contrib/prometheus/resgate.rules.test.yml";
const DASHBOARD: &str = "contrib/grafana/resgate.json";

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(rel: &str) -> Value {
    serde_saphyr::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// promtool on PATH (or in /usr/bin, where Debian puts it); `None` after the
/// skip notice, a panic when `CI` is set.
fn promtool() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/bin"));
    let found = dirs
        .into_iter()
        .map(|d| d.join("promtool"))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but promtool was not found: install the Debian package \
                 prometheus (.ci/run does this)"
            );
        }
        common::skipped(&format!(
            "promtool was not found (`apt-get install -y prometheus` to check {RULES})"
        ));
    }
    found
}

fn run_promtool(promtool: &Path, args: &[&str], dir: &Path) -> String {
    let out = Command::new(promtool)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool");
    let text = common::printed(&out);
    assert!(
        out.status.success(),
        "promtool {} failed:\n{text}",
        args.join(" ")
    );
    text
}

/// Every rule of the rules file: (alert name, rule).
fn alerts() -> Vec<(String, Value)> {
    let rules = yaml(RULES);
    let mut out = Vec::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("only alerting rules");
            out.push((name.to_owned(), rule.clone()));
        }
    }
    out
}

#[test]
fn rules_pass_promtool_check() {
    let Some(promtool) = promtool() else { return };
    let text = run_promtool(
        &promtool,
        &["check", "rules", "resgate.rules.yml"],
        &repo("contrib/prometheus"),
    );
    let count = alerts().len();
    assert!(
        text.contains(&format!("SUCCESS: {count} rules found")),
        "{text}"
    );
}

#[test]
fn rules_pass_their_promtool_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let text = run_promtool(
        &promtool,
        &["test", "rules", "resgate.rules.test.yml"],
        &repo("contrib/prometheus"),
    );
    assert!(text.contains("SUCCESS"), "{text}");
}

/// A unit test that only ever expects silence would pass a rule that never
/// fires, one that only expects alerts a rule that always does.
#[test]
fn every_alert_has_a_firing_and_a_quiet_unit_test() {
    let tests = yaml(RULE_TESTS);
    assert_eq!(tests["rule_files"][0], "resgate.rules.yml");
    // alert name → (firing cases, quiet cases)
    let mut cases: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for test in tests["tests"].as_array().expect("tests") {
        for case in test["alert_rule_test"].as_array().expect("alert_rule_test") {
            let name = case["alertname"].as_str().expect("alertname").to_owned();
            let firing = case["exp_alerts"].as_array().is_some_and(|a| !a.is_empty());
            let entry = cases.entry(name).or_default();
            if firing {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
    }
    for (name, _) in alerts() {
        let (firing, quiet) = cases.remove(&name).unwrap_or_default();
        assert!(
            firing > 0 && quiet > 0,
            "{name}: {firing} firing and {quiet} quiet unit tests; each alert needs both"
        );
    }
    assert!(
        cases.is_empty(),
        "tests for alerts that do not exist: {cases:?}"
    );
}

/// GitHub's heading anchors: lowercase, spaces to `-`, other punctuation dropped.
fn anchors(markdown: &str) -> BTreeSet<String> {
    markdown
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            l.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

#[test]
fn every_alert_has_a_severity_a_summary_and_a_runbook_that_exists() {
    let operations = anchors(&read("docs/operations.md"));
    let alerts = alerts();
    assert!(!alerts.is_empty());
    for (name, rule) in alerts {
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(
            ["critical", "warning"].contains(&severity),
            "{name}: severity {severity:?}"
        );
        for key in ["summary", "description"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name} has no {key}"
            );
        }
        let runbook = rule["annotations"]["runbook_url"]
            .as_str()
            .unwrap_or_default();
        let anchor = runbook
            .strip_prefix("docs/operations.md#")
            .unwrap_or_else(|| {
                panic!("{name}: runbook_url {runbook:?} is not in docs/operations.md")
            });
        assert_eq!(anchor, name.to_lowercase(), "{name}: runbook_url {runbook}");
        assert!(
            operations.contains(anchor),
            "{name}: docs/operations.md has no heading for #{anchor}"
        );
    }
}

/// Label-list keywords: `by (a, b)` names labels, not metrics.
const LABEL_LISTS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];
/// Words that are never a metric name where they stand: aggregations (also
/// written before their `by (...)`), binary operators, modifiers, literals.
const KEYWORDS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
    "and",
    "or",
    "unless",
    "atan2",
    "bool",
    "offset",
    "inf",
    "nan",
];

/// The metric names a PromQL expression selects: the identifiers outside
/// strings, `{...}` and `[...]` that are no function call, keyword or label
/// list (grammar: https://prometheus.io/docs/prometheus/latest/querying/basics/).
/// Grafana's `$variables` are skipped.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let (mut braces, mut brackets) = (0usize, 0usize);
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' && c != '`' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' => (braces, i) = (braces + 1, i + 1),
            '}' => (braces, i) = (braces.saturating_sub(1), i + 1),
            '[' => (brackets, i) = (brackets + 1, i + 1),
            ']' => (brackets, i) = (brackets.saturating_sub(1), i + 1),
            // Numbers and durations (`offset 5m`, `1e3`, `0x1f`).
            '0'..='9' | '.' => {
                while i < chars.len() && (ident(chars[i]) || chars[i] == '.') {
                    i += 1;
                }
            }
            // A Grafana variable: `$job`, `${datasource}`, `$__rate_interval`.
            '$' => {
                i += 1;
                while i < chars.len() && (ident(chars[i]) || chars[i] == '{' || chars[i] == '}') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len() && ident(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let call = chars.get(next) == Some(&'(');
                if braces > 0 || brackets > 0 {
                    // A label name or a value inside a selector.
                } else if LABEL_LISTS.contains(&word.as_str()) {
                    if call {
                        while i < chars.len() && chars[i] != ')' {
                            i += 1;
                        }
                    }
                } else if !call && !KEYWORDS.contains(&word.as_str()) {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

#[test]
fn metric_names_are_found_where_promql_puts_them() {
    let names = |e: &str| metric_names(e).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"sum by (source, code) (rate(a_total{code=~"4..",x="}by("}[5m] offset 1h))
                / on (instance) group_left (team) b_info > bool 0 or c unless vector(1)"#
        ),
        ["a_total", "b_info", "c"]
    );
    assert_eq!(
        names(
            r#"histogram_quantile(0.99, sum(rate(h_bucket{job=~"$job"}[$__rate_interval])) by (le))"#
        ),
        ["h_bucket"]
    );
    assert_eq!(names("max(x) * 1000 and group_left y"), ["x", "y"]);
    assert!(names("vector(1) + time()").is_empty());
}

/// The metric names a running `resgate serve` exports, read from its
/// `/metrics`: each `# TYPE` line's name (a histogram's also with `_bucket`,
/// `_sum`, `_count`) and each sample's.
fn exported_metrics() -> BTreeSet<String> {
    let text = scrape_fresh_daemon();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            if kind == "histogram" || kind == "summary" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().unwrap_or_default();
            names.insert(name.to_owned());
        }
    }
    // Prometheus writes `up` for every target it scrapes
    // (https://prometheus.io/docs/concepts/jobs_instances/).
    names.insert("up".to_owned());
    names
}

/// A `resgate serve` with the starter rules of `resgate init`, and its temp
/// dir (rules in `rules/`).
fn start_daemon() -> (Daemon, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    for (rel, text) in resgate::cli::init::FILES {
        let path = rules.join(rel);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("rules dir");
        std::fs::write(path, text).expect("rule file");
    }
    let daemon = Daemon::start(&rules, &dir.path().join("data"), &[]);
    (daemon, dir)
}

fn scrape(daemon: &Daemon) -> String {
    let (status, text) = daemon.request("GET", "/metrics", &[], b"");
    assert_eq!(status, 200, "{text}");
    text
}

/// `/metrics` of a `resgate serve` with the starter rules, before anything
/// happened.
fn scrape_fresh_daemon() -> String {
    let (daemon, _dir) = start_daemon();
    scrape(&daemon)
}

/// Every PromQL expression of the dashboard, with where it is: panel targets
/// and the metric of each `label_values(metric, label)` variable.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"]
                .as_str()
                .expect("a Prometheus target has expr");
            out.push((format!("panel {title:?}"), expr.to_owned()));
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("variables")
    {
        if var["type"] != "query" {
            continue;
        }
        let query = var["query"]["query"].as_str().expect("a variable query");
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.rsplit_once(','))
            .map(|(metric, _)| metric)
            .unwrap_or_else(|| panic!("variable {}: {query}", var["name"]));
        out.push((format!("variable {}", var["name"]), inner.to_owned()));
    }
    out
}

#[test]
fn every_metric_in_the_rules_and_the_dashboard_is_one_resgate_exports() {
    let exported = exported_metrics();
    assert!(exported.contains("resgate_decisions_total"), "{exported:?}");
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON");
    let mut queries: Vec<(String, String)> = alerts()
        .into_iter()
        .map(|(name, rule)| {
            (
                format!("alert {name}"),
                rule["expr"].as_str().expect("expr").to_owned(),
            )
        })
        .collect();
    queries.extend(dashboard_queries(&dashboard));
    let mut used = BTreeSet::new();
    for (where_, expr) in &queries {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{where_}: no metric in {expr}");
        for name in names {
            assert!(
                exported.contains(&name),
                "{where_} uses {name}, which resgate does not export: {expr}\nexported: {exported:?}"
            );
            used.insert(name);
        }
    }
    // What the dashboard shows.
    for family in [
        "resgate_decisions_total",
        "resgate_event_transitions_total",
        "resgate_ingest_requests_total",
        "resgate_journal_commit_seconds_bucket",
        "resgate_inbound_undecided",
        "resgate_journal_errors_total",
        "resgate_rules_reloads_total",
        "resgate_leader",
    ] {
        assert!(used.contains(family), "nothing shows {family}");
    }
}

/// `increase()` cannot see the first sample of a series: a counter that first
/// appears at 1 would never fire the alerts. Those they select start at 0.
#[test]
fn counters_the_alerts_watch_are_exported_at_zero_from_the_start() {
    let text = scrape_fresh_daemon();
    let zero = |series: &str| {
        assert!(
            text.lines().any(|l| l == format!("{series} 0")),
            "a fresh daemon does not export `{series} 0`:\n{text}"
        );
    };
    zero("resgate_journal_errors_total");
    zero(r#"resgate_rules_reloads_total{result="refused"}"#);
    for result in [
        "refused",
        "unknown",
        "not_sent",
        "escalation_refused",
        "escalation_unknown",
        "escalation_not_sent",
    ] {
        zero(&format!(
            r#"resgate_remediator_calls_total{{result="{result}"}}"#
        ));
    }
    for result in ["ok", "error", "unrecognised"] {
        zero(&format!(
            r#"resgate_remediator_polls_total{{result="{result}"}}"#
        ));
    }
    for to in ["timed_out", "failed", "not_rescued"] {
        zero(&format!(r#"resgate_event_transitions_total{{to="{to}"}}"#));
    }
}

#[test]
fn dashboard_has_a_datasource_variable_and_resgate_annotations() {
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON");
    // Grafana 12's classic dashboard model.
    assert!(dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 41));
    assert_eq!(dashboard["uid"], "resgate");
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("variables");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "no Prometheus data source variable"
    );
    // Every panel and target asks the chosen data source, none a fixed one.
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        assert!(
            ids.insert(panel["id"].as_u64().expect("panel id")),
            "panel ids repeat"
        );
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${datasource}",
            "{}",
            panel["title"]
        );
        for target in panel["targets"].as_array().expect("targets") {
            assert_eq!(
                target["datasource"]["uid"], "${datasource}",
                "{}",
                panel["title"]
            );
        }
    }
    // DESIGN.md §9: the grafana-annotations notifier writes region
    // annotations tagged `resgate`; the dashboard shows them from Grafana's
    // own annotation store, filtered by that tag.
    let annotations = dashboard["annotations"]["list"]
        .as_array()
        .expect("annotations");
    assert!(
        annotations.iter().any(|a| a["enable"] == true
            && a["datasource"]["uid"] == "-- Grafana --"
            && a["target"]["type"] == "tags"
            && a["target"]["tags"] == serde_json::json!(["resgate"])),
        "no annotation query for Grafana annotations tagged resgate"
    );
}

/// Prometheus's own parser reads each dashboard query: they become the
/// recording rules of a scratch rule file for `promtool check rules`.
#[test]
fn dashboard_queries_parse_as_promql() {
    let Some(promtool) = promtool() else { return };
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("dashboard JSON");
    let mut file = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let queries = dashboard_queries(&dashboard);
    for (n, (_, expr)) in queries.iter().enumerate() {
        // Grafana fills these in before Prometheus sees the query.
        let expr = expr
            .replace("$__rate_interval", "5m")
            .replace("$__range", "6h")
            .replace("$__interval", "1m");
        let quoted = serde_json::to_string(&expr).expect("a JSON string");
        file.push_str(&format!(
            "      - record: dashboard:query_{n}\n        expr: {quoted}\n"
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("dashboard.rules.yml"), file).expect("scratch rules");
    let text = run_promtool(
        &promtool,
        &["check", "rules", "dashboard.rules.yml"],
        dir.path(),
    );
    assert!(
        text.contains(&format!("SUCCESS: {} rules found", queries.len())),
        "{text}"
    );
}

/// The samples of `metric` in a scrape: label string (as in the text) → value.
fn samples(text: &str, metric: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(metric))
        .filter_map(|rest| {
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            Some((labels.to_owned(), value.to_owned()))
        })
        .collect()
}

/// End to end: what a real daemon exports before and after a refused reload,
/// as Prometheus would have scraped it, fires ResgateRulesReloadRefused in
/// `promtool test rules`. The first scrapes (minutes 0-4) are the fresh
/// daemon's, the later ones after the refusal; a series missing from a scrape
/// has no sample there (`_`), as in Prometheus. Before the counters started at
/// 0 this did not fire: `increase()` cannot see a series' first sample.
#[test]
fn a_real_refused_reload_fires_its_alert_in_promtool() {
    let Some(promtool) = promtool() else { return };
    let (daemon, dir) = start_daemon();
    let metric = "resgate_rules_reloads_total";
    let before = samples(&scrape(&daemon), metric);
    std::fs::write(
        dir.path().join("rules/broken.yaml"),
        "remediations:\n  x: {match: {a: b}, remediator: nowhere}\n",
    )
    .expect("broken rule file");
    daemon.wait_for(
        "the refused reload",
        std::time::Duration::from_secs(30),
        |d| {
            samples(&scrape(d), metric)
                .get(r#"result="refused""#)
                .map(String::as_str)
                == Some("1")
        },
    );
    let after = samples(&scrape(&daemon), metric);

    let mut series = String::new();
    for (labels, value) in &after {
        let early = before.get(labels).map_or("_", String::as_str);
        let sep = if labels.is_empty() { "" } else { "," };
        series.push_str(&format!(
            "      - series: '{metric}{{job=\"resgate\",instance=\"x:9095\"{sep}{labels}}}'\n        values: '{early}x4 {value}x10'\n"
        ));
    }
    let (_, rule) = alerts()
        .into_iter()
        .find(|(name, _)| name == "ResgateRulesReloadRefused")
        .expect("the alert");
    let mut annotations = String::new();
    for (key, text) in rule["annotations"].as_object().expect("annotations") {
        let text = text
            .as_str()
            .expect("a string")
            .replace("{{ $labels.instance }}", "x:9095");
        assert!(!text.contains("{{"), "{text}");
        annotations.push_str(&format!(
            "              {key}: {}\n",
            serde_json::to_string(&text).expect("JSON")
        ));
    }
    let tests = format!(
        "rule_files: [resgate.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    alert_rule_test:\n      - eval_time: 7m\n        alertname: ResgateRulesReloadRefused\n        exp_alerts:\n          - exp_labels: {{severity: warning, job: resgate, instance: \"x:9095\", result: refused}}\n            exp_annotations:\n{annotations}"
    );
    std::fs::copy(repo(RULES), dir.path().join("resgate.rules.yml")).expect("copy the rules");
    std::fs::write(dir.path().join("scraped.test.yml"), &tests).expect("test file");
    let out = Command::new(promtool)
        .args(["test", "rules", "scraped.test.yml"])
        .current_dir(dir.path())
        .output()
        .expect("run promtool");
    assert!(
        out.status.success(),
        "the refused reload did not fire the alert:\n{}{}\n{tests}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
