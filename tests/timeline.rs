//! Timeline pictures (`resgate simulate SCENARIO.yaml --svg FILE`), checked as
//! XML: markers per verdict, event bars, escaping, and the layout of many rows.
//! The committed `docs/robo-hammer.svg` must match what the binary draws;
//! regenerate it with `UPDATE_SVG=1 cargo test --test timeline`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::Test;
use jiff::{SignedDuration, Timestamp};
use resgate::engine::{EventState, Verdict};
use resgate::rules;
use resgate::scenario::simulate;
use resgate::source::AlertStatus;
use resgate::timeline::svg::{self, LABEL_CHARS, ROW_HEIGHT, WIDTH};
use resgate::timeline::{EventBar, Mark, Phase, Row, Span, Tick, Timeline};
use roxmltree::{Document, Node};

const ROBO_HAMMER: &str = "fixtures/scenarios/robo-hammer.yaml";

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn parse(svg: &str) -> Document<'_> {
    match Document::parse(svg) {
        Ok(doc) => doc,
        Err(e) => panic!("the SVG is not well-formed XML: {e}\n{svg}"),
    }
}

fn has_class(node: &Node<'_, '_>, class: &str) -> bool {
    node.attribute("class")
        .is_some_and(|c| c.split_whitespace().any(|c| c == class))
}

fn elements<'a, 'i>(doc: &'a Document<'i>, class: &'a str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.is_element() && has_class(n, class))
        .collect()
}

/// The text of a node's `<title>` child.
fn title<'a>(node: &Node<'a, '_>) -> Option<&'a str> {
    node.children()
        .find(|c| c.tag_name().name() == "title")
        .and_then(|t| t.text())
}

fn num(node: &Node<'_, '_>, attr: &str) -> f64 {
    let value = node.attribute(attr).unwrap_or_default();
    value
        .parse()
        .unwrap_or_else(|_| panic!("{attr}={value:?} is not a number"))
}

fn robo_hammer() -> (simulate::ScenarioRun, String) {
    let loaded = rules::load_path(&repo("rules"));
    let Some(ruleset) = loaded.rules else {
        panic!("the shipped rules do not load");
    };
    let run = match simulate::run(&Arc::new(ruleset), &repo(ROBO_HAMMER), None) {
        Ok(run) => run,
        Err(e) => panic!("{e}"),
    };
    let picture = svg::render(&Timeline::from_run(&run));
    (run, picture)
}

#[test]
fn robo_hammer_shows_one_fire_and_every_decision_as_its_verdicts_marker() {
    let (run, picture) = robo_hammer();
    let doc = parse(&picture);
    let markers = elements(&doc, "decision");

    let mut expected: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &run.trace.decisions {
        *expected.entry(d.verdict.as_str()).or_default() += 1;
    }
    let mut drawn: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &markers {
        *drawn
            .entry(m.attribute("data-verdict").unwrap_or("?"))
            .or_default() += 1;
    }
    assert_eq!(
        drawn, expected,
        "markers per verdict vs the run's decisions"
    );
    // The point of the picture: the alert re-fired, the remediation did not.
    assert_eq!(drawn.get("fire"), Some(&1));
    assert!(drawn.get("collapse").is_some_and(|n| *n >= 1), "{drawn:?}");
    assert!(drawn.get("defer").is_some_and(|n| *n >= 1), "{drawn:?}");

    // Shape and colour say the verdict; the reason is in the tooltip.
    for m in &markers {
        let verdict = m.attribute("data-verdict").unwrap_or_default();
        let shape = m
            .children()
            .find(|c| c.is_element() && has_class(c, "marker"))
            .unwrap_or_else(|| panic!("decision without a marker: {verdict}"));
        let (element, kind) = match verdict {
            "fire" => ("path", "triangle"),
            "collapse" => ("circle", "circle"),
            "defer" => ("rect", "square"),
            other => panic!("unexpected verdict {other} in robo-hammer"),
        };
        assert_eq!(shape.tag_name().name(), element, "{verdict}");
        assert!(
            has_class(&shape, kind),
            "{verdict} drawn as {:?}",
            shape.attribute("class")
        );
        assert_eq!(m.attribute("data-shape"), Some(kind));
    }
    let titles: Vec<&str> = markers.iter().filter_map(title).collect();
    for d in &run.trace.decisions {
        if let Some(reason) = &d.reason {
            let shown = format!("{} ({reason})", d.verdict);
            assert!(
                titles.iter().any(|t| t.contains(&shown)),
                "no tooltip says {shown:?}: {titles:?}"
            );
        }
    }
    let fill = |verdict: &str| {
        markers
            .iter()
            .find(|m| m.attribute("data-verdict") == Some(verdict))
            .and_then(|m| m.children().find(|c| has_class(c, "marker")))
            .and_then(|s| s.attribute("fill"))
    };
    assert_ne!(fill("fire"), fill("collapse"));
    assert_ne!(fill("collapse"), fill("defer"));
}

#[test]
fn robo_hammer_event_bar_runs_then_warms_and_ends_rescued() {
    let (_, picture) = robo_hammer();
    let doc = parse(&picture);
    let events = elements(&doc, "event");
    assert_eq!(
        events.len(),
        1,
        "one event: the rollback that was not repeated"
    );
    let bar = &events[0];
    assert_eq!(bar.attribute("data-end"), Some("rescued"));
    let phases: Vec<(String, f64, f64)> = bar
        .children()
        .filter(|c| has_class(c, "phase"))
        .map(|p| {
            let class = p.attribute("class").unwrap_or_default();
            (class.replace("phase ", ""), num(&p, "x"), num(&p, "width"))
        })
        .collect();
    let names: Vec<&str> = phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["running", "warming"]);
    // Back to back: warming starts where running ends.
    assert!(
        (phases[0].1 + phases[0].2 - phases[1].1).abs() < 0.2,
        "{phases:?}"
    );
    let ends: Vec<Node<'_, '_>> = bar.children().filter(|c| has_class(c, "end")).collect();
    assert_eq!(ends.len(), 1);
    assert!(has_class(&ends[0], "rescued"));
}

#[test]
fn committed_robo_hammer_picture_is_current() {
    let run = Test::new()
        .args([
            "simulate",
            &repo(ROBO_HAMMER).display().to_string(),
            "--rules",
            &repo("rules").display().to_string(),
            "--svg",
            "out.svg",
        ])
        .run()
        .code(0);
    let drawn = std::fs::read_to_string(run.dir.join("out.svg")).unwrap_or_default();
    assert!(drawn.starts_with("<svg"), "--svg wrote no picture");

    // The timeline on stdout is the same with or without --svg.
    let plain = Test::new()
        .args([
            "simulate",
            &repo(ROBO_HAMMER).display().to_string(),
            "--rules",
            &repo("rules").display().to_string(),
        ])
        .run()
        .code(0);
    assert_eq!(run.stdout, plain.stdout);

    // The library draws the same picture as the binary.
    assert_eq!(drawn, robo_hammer().1);

    let committed = repo("docs/robo-hammer.svg");
    if std::env::var_os("UPDATE_SVG").is_some() {
        if let Err(e) = std::fs::write(&committed, &drawn) {
            panic!("cannot write {}: {e}", committed.display());
        }
        return;
    }
    let kept = std::fs::read_to_string(&committed).unwrap_or_default();
    assert!(
        kept == drawn,
        "{} is stale; run UPDATE_SVG=1 cargo test --test timeline",
        committed.display()
    );
}

#[test]
fn svg_for_a_payload_is_a_usage_error() {
    let run = Test::new()
        .args([
            "simulate",
            &repo("fixtures/alertmanager/api-down.json")
                .display()
                .to_string(),
            "--rules",
            &repo("rules").display().to_string(),
            "--svg",
            "out.svg",
        ])
        .run()
        .code(2);
    assert!(run.stderr.contains("--svg"), "{}", run.stderr);
    assert!(run.stderr.contains("scenario"), "{}", run.stderr);
    assert!(!run.dir.join("out.svg").exists());
}

#[test]
fn an_unwritable_svg_path_is_a_usage_error_naming_it() {
    let run = Test::new()
        .args([
            "simulate",
            &repo(ROBO_HAMMER).display().to_string(),
            "--rules",
            &repo("rules").display().to_string(),
            "--svg",
            "no/such/dir/out.svg",
        ])
        .run()
        .code(2);
    assert!(run.stderr.contains("no/such/dir/out.svg"), "{}", run.stderr);
}

const HOSTILE: &str = r#"<script>&"'"#;

const RULES: &str = "sources:\n  am: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run\"\nremediations:\n  restart:\n    match: {alertname: Down, service: \"=~.+\"}\n    target: \"{{ service }}\"\n    remediator: runner\n    budget: {attempts: 2, within: 1h}\n";

#[test]
fn a_hostile_label_from_an_alert_is_escaped() {
    let scenario = format!(
        "name: {name:?}\ntimeline:\n  - {{at: 0m, labels: {{alertname: Down, service: {label:?}}}}}\n  - {{at: 5m, labels: {{alertname: Down, service: {label:?}}}}}\n",
        name = format!("hostile {HOSTILE}"),
        label = HOSTILE,
    );
    let run = Test::new()
        .file("rules/r.yaml", RULES)
        .file("scenario.yaml", &scenario)
        .args([
            "simulate",
            "scenario.yaml",
            "--rules",
            "rules",
            "--svg",
            "out.svg",
        ])
        .run()
        .code(0);
    let picture = std::fs::read_to_string(run.dir.join("out.svg")).unwrap_or_default();
    let doc = parse(&picture);
    assert!(!doc.descendants().any(|n| n.tag_name().name() == "script"));
    assert!(!picture.contains("<script"));
    let labels = elements(&doc, "label");
    assert_eq!(labels.len(), 1, "one target");
    let full = format!("restart · {HOSTILE}");
    assert_eq!(title(&labels[0]), Some(full.as_str()));
    let text = labels[0]
        .children()
        .find(|c| c.tag_name().name() == "text")
        .and_then(|t| t.text());
    assert_eq!(text, Some(full.as_str()));
    let doc_title = doc
        .root_element()
        .children()
        .find(|c| c.tag_name().name() == "title");
    assert_eq!(
        doc_title.and_then(|t| t.text()),
        Some(format!("hostile {HOSTILE}").as_str())
    );
}

const T0: Timestamp = Timestamp::constant(1_767_225_600, 0);

fn at(secs: i64) -> Timestamp {
    T0 + SignedDuration::from_secs(secs)
}

#[test]
fn every_text_and_attribute_of_the_model_is_escaped() {
    let row = Row {
        remediation: Some(format!("fix{HOSTILE}")),
        target: HOSTILE.to_owned(),
        firing: vec![Span {
            alert: HOSTILE.to_owned(),
            name: HOSTILE.to_owned(),
            from: at(0),
            to: None,
        }],
        notifications: vec![Tick {
            at: at(0),
            alert: HOSTILE.to_owned(),
            name: HOSTILE.to_owned(),
            status: AlertStatus::Firing,
        }],
        decisions: vec![Mark {
            at: at(60),
            verdict: Verdict::Defer,
            reason: Some(HOSTILE.to_owned()),
            alert: HOSTILE.to_owned(),
            event: Some(HOSTILE.to_owned()),
        }],
        events: vec![EventBar {
            id: HOSTILE.to_owned(),
            phases: vec![Phase {
                state: EventState::Running,
                from: at(0),
                to: at(120),
            }],
            outcome: Some((at(120), EventState::Failed)),
        }],
    };
    let timeline = Timeline {
        title: Some(HOSTILE.to_owned()),
        start: T0,
        end: at(600),
        rows: vec![row],
    };
    let picture = svg::render(&timeline);
    assert!(!picture.contains("<script"));
    let doc = parse(&picture);
    assert!(!doc.descendants().any(|n| n.tag_name().name() == "script"));
    // Each piece of text comes back exactly as it went in.
    let root_title = doc
        .root_element()
        .children()
        .find(|c| c.tag_name().name() == "title");
    assert_eq!(root_title.and_then(|t| t.text()), Some(HOSTILE));
    let label = elements(&doc, "label");
    let full = format!("fix{HOSTILE} · {HOSTILE}");
    assert_eq!(label.first().and_then(title), Some(full.as_str()));
    let event = elements(&doc, "event");
    assert_eq!(
        event.first().and_then(|e| e.attribute("data-event")),
        Some(HOSTILE)
    );
    let firing = elements(&doc, "firing");
    let span = firing
        .iter()
        .filter_map(title)
        .find(|t| t.contains("firing from"));
    assert!(span.is_some_and(|t| t.starts_with(HOSTILE)), "{span:?}");
    // (The legend's tick has no tooltip; the row's has.)
    let tick = elements(&doc, "tick")
        .iter()
        .find_map(title)
        .unwrap_or_default()
        .to_owned();
    assert!(
        tick.contains(&format!("{HOSTILE} (firing, alert <script>)")),
        "{tick}"
    );
    let reason = elements(&doc, "decision")
        .first()
        .and_then(title)
        .unwrap_or_default()
        .to_owned();
    assert!(
        reason.contains(&format!("({HOSTILE}) → {HOSTILE}")),
        "{reason}"
    );
}

/// 100 targets with labels from short to far too long.
fn many_targets(n: usize) -> Timeline {
    let rows = (0..n)
        .map(|i| {
            let target = format!("svc-{i}/{}", "pod-ä-".repeat(i % 13));
            Row {
                remediation: Some(format!("restart-{}", i % 7)),
                target,
                firing: vec![Span {
                    alert: format!("fp{i}"),
                    name: "Down".to_owned(),
                    from: at(i as i64 * 30),
                    to: Some(at(i as i64 * 30 + 900)),
                }],
                decisions: vec![Mark {
                    at: at(i as i64 * 30),
                    verdict: Verdict::Fire,
                    reason: None,
                    alert: format!("fp{i}"),
                    event: Some(format!("ev-{i}")),
                }],
                ..Row::default()
            }
        })
        .collect();
    Timeline {
        title: None,
        start: T0,
        end: at(n as i64 * 30 + 900),
        rows,
    }
}

#[test]
fn a_hundred_targets_get_a_row_each_and_no_two_labels_overlap() {
    let timeline = many_targets(100);
    let picture = svg::render(&timeline);
    let doc = parse(&picture);
    let root = doc.root_element();
    assert_eq!(num(&root, "width"), WIDTH);
    let height = num(&root, "height");
    assert!(height >= 100.0 * ROW_HEIGHT, "height {height}");

    let labels = elements(&doc, "label");
    assert_eq!(labels.len(), 100);
    let mut boxes: Vec<(f64, f64, f64, f64)> = labels
        .iter()
        .map(|l| {
            let b = l
                .children()
                .find(|c| has_class(c, "label-box"))
                .unwrap_or_else(|| panic!("label without its box"));
            (
                num(&b, "x"),
                num(&b, "y"),
                num(&b, "width"),
                num(&b, "height"),
            )
        })
        .collect();
    boxes.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (i, a) in boxes.iter().enumerate() {
        assert!(a.3 > 0.0 && a.2 > 0.0);
        assert!(a.1 + a.3 <= height, "label {i} falls off the picture");
        for b in &boxes[i + 1..] {
            let apart =
                a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
            assert!(apart, "label boxes overlap: {a:?} and {b:?}");
        }
    }

    // Long labels are cut with an ellipsis; the tooltip keeps the whole text.
    let mut cut = 0;
    for (label, row) in labels.iter().zip(&timeline.rows) {
        let full = row.label();
        assert_eq!(title(label), Some(full.as_str()));
        let text = label
            .children()
            .find(|c| c.tag_name().name() == "text")
            .and_then(|t| t.text())
            .unwrap_or_default();
        assert!(text.chars().count() <= LABEL_CHARS, "{text:?} is too long");
        if text != full {
            cut += 1;
            assert!(text.ends_with('…'), "{text:?}");
            assert!(full.starts_with(text.trim_end_matches('…')));
        }
    }
    assert!(cut > 0, "the test must include labels that need cutting");
    assert_eq!(elements(&doc, "decision").len(), 100);
}
