//! The engine stores Datalog facts only for alerts some rule or guard can read
//! (`Facts::reaches`). Checked against the same rules plus one clause that
//! reads every alert (`seen(A) :- alert(A).`), which makes the engine store
//! every alert's facts as it used to: over random timelines both must answer
//! the same (decisions, transitions, snapshots), proofs down to the facts a
//! guard found. Not below: when a fact has several derivations, the one a
//! proof shows depends on the evaluator's history (a removal makes it derive
//! again, in another order), and the reference removes facts the other never
//! stored; either derivation is a true proof.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use resgate::engine::{Engine, Outcome};
use resgate::rules::{self, RuleSet};
use resgate::source::{Alert, AlertStatus, fingerprint};

/// The shipped rules, plus a remediation whose guards read `$alert`'s own
/// facts (`age`, `label`), and `extra` Datalog.
fn rules(extra: &str) -> Arc<RuleSet> {
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir("rules")
        .expect("rules/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("rule file");
            (p, text)
        })
        .collect();
    files.sort();
    files.push((
        PathBuf::from("stale.yaml"),
        r#"remediations:
  stale:
    match: {alertname: Stale, severity: "=~warning|critical", instance: "=~.+"}
    target: "{{ instance }}"
    remediator: rundeck
    vars: {job: "stale"}
    when: "age($alert, S), S >= 600"
    unless:
      noisy: "label($alert, \"team\", \"noisy\")"
    max_concurrent: 1
    budget: {attempts: 2, within: 1h}
"#
        .to_owned(),
    ));
    files.push((PathBuf::from("extra.dl"), extra.to_owned()));
    let loaded = rules::load_texts(files);
    match loaded.rules {
        Some(r) => Arc::new(r),
        None => panic!(
            "rules do not load: {:?}",
            loaded
                .diagnostics
                .iter()
                .map(|d| &d.message)
                .collect::<Vec<_>>()
        ),
    }
}

fn pool() -> Vec<BTreeMap<String, String>> {
    let sets: &[&[(&str, &str)]] = &[
        &[
            ("alertname", "ApiDown"),
            ("severity", "critical"),
            ("service", "api"),
            ("instance", "api-1"),
        ],
        &[
            ("alertname", "ApiDown"),
            ("severity", "page"),
            ("service", "auth"),
            ("instance", "auth-1"),
        ],
        &[("alertname", "DeployInProgress"), ("service", "api")],
        &[("alertname", "DeployInProgress"), ("service", "db")],
        &[("alertname", "ServiceDown"), ("service", "db")],
        &[("alertname", "ServiceDown"), ("service", "storage")],
        &[("alertname", "ApiErrorBudgetBurn"), ("service", "api")],
        &[("alertname", "QueueBacklog"), ("queue", "mail")],
        &[
            ("alertname", "Stale"),
            ("severity", "warning"),
            ("instance", "i-1"),
        ],
        &[
            ("alertname", "Stale"),
            ("severity", "critical"),
            ("instance", "i-2"),
            ("team", "noisy"),
        ],
        &[
            ("alertname", "LoadTest"),
            ("service", "api"),
            ("instance", "x"),
        ],
        &[("alertname", "Noise"), ("service", "db")],
    ];
    sets.iter()
        .map(|s| {
            s.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Fire(usize),
    Resolve(usize),
    Finish(usize, u8),
    Wait(u32),
    Restart,
    Forget,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0usize..12).prop_map(Op::Fire),
        2 => (0usize..12).prop_map(Op::Resolve),
        3 => (0usize..8, 0u8..3).prop_map(|(i, o)| Op::Finish(i, o)),
        3 => (1u32..900).prop_map(Op::Wait),
        1 => Just(Op::Restart),
        1 => Just(Op::Forget),
    ]
}

fn alert(labels: &BTreeMap<String, String>, status: AlertStatus, starts_at: Timestamp) -> Alert {
    Alert {
        source: "alertmanager".to_owned(),
        fingerprint: fingerprint(labels),
        status,
        labels: labels.clone(),
        annotations: [("summary".to_owned(), "s".to_owned())].into(),
        starts_at,
        ends_at: None,
        group_key: None,
        generator_url: None,
    }
}

fn apply(engine: &mut Engine, rules: &Arc<RuleSet>, op: &Op, now: Timestamp) -> String {
    let pool = pool();
    let out = match op {
        Op::Fire(i) => engine.ingest(&[alert(&pool[*i], AlertStatus::Firing, now)], now),
        Op::Resolve(i) => engine.ingest(&[alert(&pool[*i], AlertStatus::Resolved, now)], now),
        Op::Finish(n, o) => {
            let flying: Vec<String> = engine
                .state()
                .events
                .iter()
                .filter(|e| e.state.in_flight())
                .map(|e| e.id.clone())
                .collect();
            match flying.get(n % flying.len().max(1)) {
                Some(id) => {
                    let outcome =
                        [Outcome::Succeeded, Outcome::Failed, Outcome::TimedOut][*o as usize % 3];
                    let mut out = engine.accepted(id, None, now);
                    out.append(engine.finished(id, outcome, now));
                    out
                }
                None => engine.advance(now),
            }
        }
        Op::Wait(_) => engine.advance(now),
        Op::Restart => {
            let (restored, out) = Engine::restore(rules.clone(), engine.snapshot(), now);
            *engine = restored;
            out
        }
        Op::Forget => {
            let gone = engine.forget_resolved(now);
            let out = engine.advance(now);
            return format!("{gone:?} {}", comparable(&out));
        }
    };
    comparable(&out)
}

/// The output as JSON, without the derivations below a guard's facts.
fn comparable(out: &resgate::engine::Output) -> String {
    fn strip(v: &mut serde_json::Value, in_facts: bool) {
        match v {
            serde_json::Value::Object(map) => {
                if in_facts {
                    map.remove("rule");
                    map.remove("from");
                }
                for (k, child) in map.iter_mut() {
                    strip(child, k == "facts");
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| strip(i, in_facts)),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(out).expect("output serializes");
    strip(&mut v, false);
    v.to_string()
}

fn snapshot(engine: &Engine) -> String {
    let s = engine.snapshot();
    format!("{:?} {:?} {:?}", s.alerts, s.events, s.deferred)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn storing_only_reachable_facts_changes_no_answer(ops in prop::collection::vec(op(), 1..100)) {
        let lean = rules("");
        let full = rules("seen(A) :- alert(A).\n");
        let start: Timestamp = "2026-11-20T10:00:00Z".parse().expect("time");
        let (mut a, mut b) = (Engine::new(lean.clone(), start), Engine::new(full.clone(), start));
        let mut now = start;
        for op in &ops {
            if let Op::Wait(secs) = op {
                now = now.saturating_add(SignedDuration::from_secs(i64::from(*secs))).expect("time");
            }
            let (x, y) = (apply(&mut a, &lean, op, now), apply(&mut b, &full, op, now));
            prop_assert_eq!(x, y, "after {:?}", op);
        }
        prop_assert_eq!(snapshot(&a), snapshot(&b));
    }
}
