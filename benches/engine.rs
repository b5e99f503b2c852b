//! Decision latency and throughput of the engine (issue: decision engine).
//!
//! Workload (the shape of ANCHORS.md): N remediations matching on alertname +
//! severity ∈ {critical, page}, guards `deploying(service)` and
//! `upstream_down(service)` over a 50-service dependency chain; 1,000 firing
//! alerts in state (some DeployInProgress, some ServiceDown); then 2,000
//! queried alerts, each decided as it arrives. Reports p50/p99 per decision and
//! alerts/s. `--quick` runs a small version (CI keeps it compiling and running).

use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use resgate::engine::{Engine, Verdict};
use resgate::rules::RuleSet;

mod common;

use common::{Lcg, SERVICES, alert};

fn rules(remediations: usize) -> Arc<RuleSet> {
    common::generated_rules(remediations, "")
}

struct Report {
    p50: f64,
    p99: f64,
    per_sec: f64,
    fired: usize,
    decisions: usize,
}

fn run(remediations: usize, state_alerts: usize, queried: usize) -> Report {
    let rules = rules(remediations);
    let start: Timestamp = "2026-11-20T10:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let mut engine = Engine::new(rules, start);
    let mut rng = Lcg(42);
    let svc = |i: usize| format!("svc-{}", i % SERVICES + 1);
    // State: background alerts, a few deploys and outages.
    let mut batch = Vec::new();
    for i in 0..state_alerts {
        // A few deploys and outages among the 50 services of the chain; the
        // rest is background noise that no remediation matches.
        let (name, service) = match i % 100 {
            0 => ("DeployInProgress".to_owned(), svc(rng.next(SERVICES))),
            1 => (
                "ServiceDown".to_owned(),
                format!("svc-{}", SERVICES - rng.next(5)),
            ),
            _ => (format!("Background{}", i % 37), svc(rng.next(SERVICES))),
        };
        batch.push(alert(
            &[
                ("alertname", name),
                ("service", service),
                ("i", i.to_string()),
            ],
            start,
        ));
    }
    let _ = engine.ingest(&batch, start);

    let mut latencies = Vec::with_capacity(queried);
    let mut fired = 0;
    let mut decisions = 0;
    let begin = Instant::now();
    for q in 0..queried {
        let now = start
            .saturating_add(SignedDuration::from_millis(q as i64 * 10))
            .unwrap_or(start);
        let a = alert(
            &[
                ("alertname", format!("Alert{}", rng.next(remediations))),
                (
                    "severity",
                    if q % 3 == 0 { "page" } else { "critical" }.to_owned(),
                ),
                ("service", format!("svc-{}", rng.next(SERVICES * 2) + 1)),
                ("q", q.to_string()),
            ],
            now,
        );
        let t = Instant::now();
        let out = engine.ingest(std::slice::from_ref(&a), now);
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
        decisions += out.decisions.len();
        fired += out
            .decisions
            .iter()
            .filter(|d| d.verdict == Verdict::Fire)
            .count();
    }
    let total = begin.elapsed().as_secs_f64();
    latencies.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
    Report {
        p50: pct(0.50),
        p99: pct(0.99),
        per_sec: queried as f64 / total,
        fired,
        decisions,
    }
}

/// `resgate test`/`simulate` throughput: generated Alertmanager payloads of 100
/// alerts each, mapped and decided against the shipped rules on one core.
fn throughput(total: usize) -> (f64, f64) {
    let rules = common::shipped_rules();
    let Some(source) = rules.source("alertmanager") else {
        panic!("no alertmanager source")
    };
    let start: Timestamp = "2026-11-20T10:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let kinds = [
        "ApiDown",
        "ServiceDown",
        "WorkersOverProvisioned",
        "DiskFull",
        "QueueBacklog",
        "HighLatency",
    ];
    let mut payloads = Vec::new();
    for p in 0..total / 100 {
        let alerts: Vec<String> = (0..100)
            .map(|i| {
                let n = p * 100 + i;
                let kind = kinds[n % kinds.len()];
                format!(
                    r#"{{"status":"firing","labels":{{"alertname":"{kind}","service":"svc-{}","instance":"i-{n}","severity":"critical","queue":"q{}"}},"annotations":{{"summary":"x"}},"startsAt":"2026-11-20T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"{n:016x}"}}"#,
                    n % 500,
                    n % 7
                )
            })
            .collect();
        payloads.push(format!(
            r#"{{"version":"4","groupKey":"g{p}","status":"firing","receiver":"r","groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"","truncatedAlerts":0,"alerts":[{}]}}"#,
            alerts.join(",")
        ));
    }
    let mut engine = Engine::new(rules.clone(), start);
    let mut decide_secs = 0.0;
    let begin = Instant::now();
    for (i, body) in payloads.iter().enumerate() {
        let now = start
            .saturating_add(SignedDuration::from_secs(i as i64))
            .unwrap_or(start);
        let alerts = match resgate::source::map_payload(source, body.as_bytes(), now) {
            Ok(a) => a,
            Err(e) => panic!("generated payload does not map: {e}"),
        };
        // As `resgate test`/`simulate` do: the engine keeps the mapped alerts.
        let t = Instant::now();
        let _ = engine.ingest_owned(alerts, now);
        decide_secs += t.elapsed().as_secs_f64();
    }
    let all = begin.elapsed().as_secs_f64();
    (total as f64 / all, total as f64 / decide_secs)
}

/// A guard reading a fact relation of `rows` rows (DESIGN.md §8) against the
/// same guard reading `firing`/`label` facts of as many alerts: p50/p99 µs per
/// decision for each, and how long one refresh of `rows` changed rows takes
/// to apply (`Engine::set_facts`, the decision thread's share of a refresh).
fn facts(rows: usize, queried: usize) {
    use resgate::engine::{FactValue, Freshness};
    let text = r#"
sources:
  am: {kind: alertmanager}
remediators:
  runner: {url: "https://runner.example/run"}
  pager: {url: "https://pager.example/alerts"}
remediations:
  by-fact:
    match: {alertname: Idle, service: "=~.+"}
    target: "{{ service }}"
    remediator: runner
    unless: {backlog: "queue_depth($service, D), D > 1000"}
    budget: {attempts: 1000000, within: 1h}
    escalate: pager
  by-alert:
    match: {alertname: Busy, service: "=~.+"}
    target: "{{ service }}"
    remediator: runner
    unless: {backlog: 'firing(A), label(A, "alertname", "QueueBacklog"), label(A, "service", $service)'}
    budget: {attempts: 1000000, within: 1h}
    escalate: pager
facts:
  queue_depth:
    prometheus: "http://127.0.0.1:9090"
    query: sum by (service) (queue)
    columns: [service, value]
    every: 1h
"#;
    let loaded = resgate::rules::load_texts(vec![("r.yaml".into(), text.to_owned())]);
    let Some(rules) = loaded.rules else {
        panic!("bench rules do not load: {:?}", loaded.diagnostics)
    };
    let rules = Arc::new(rules);
    let start: Timestamp = "2026-11-20T10:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let table = |depth: u64| -> Vec<Vec<FactValue>> {
        (0..rows)
            .map(|i| {
                vec![
                    FactValue::Text(format!("svc-{i}")),
                    FactValue::Number(((i as u64 * 7 + depth) % 2000) as f64),
                ]
            })
            .collect()
    };
    let mut engine = Engine::new(rules, start);
    let t = Instant::now();
    let _ = engine.set_facts("queue_depth", table(0), start, Freshness::Refreshed);
    let first = t.elapsed().as_secs_f64() * 1e3;
    let t = Instant::now();
    let _ = engine.set_facts("queue_depth", table(1), start, Freshness::Refreshed);
    let changed = t.elapsed().as_secs_f64() * 1e3;
    // The same number of alert facts: one QueueBacklog alert per service.
    let backlog: Vec<_> = (0..rows)
        .filter(|i| (i * 7 + 1) % 2000 > 1000)
        .map(|i| {
            alert(
                &[
                    ("alertname", "QueueBacklog".to_owned()),
                    ("service", format!("svc-{i}")),
                ],
                start,
            )
        })
        .collect();
    let _ = engine.ingest(&backlog, start);
    let mut rng = Lcg(7);
    let mut measure = |name: &str| -> (f64, f64) {
        let mut latencies = Vec::with_capacity(queried);
        for q in 0..queried {
            let now = start
                .saturating_add(SignedDuration::from_millis(q as i64 * 10))
                .unwrap_or(start);
            let a = alert(
                &[
                    ("alertname", name.to_owned()),
                    ("service", format!("svc-{}", rng.next(rows))),
                    ("q", q.to_string()),
                ],
                now,
            );
            let t = Instant::now();
            let _ = engine.ingest(std::slice::from_ref(&a), now);
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
        }
        latencies.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p) as usize];
        (pct(0.5), pct(0.99))
    };
    let (fact50, fact99) = measure("Idle");
    let (alert50, alert99) = measure("Busy");
    println!(
        "facts: {rows} rows; refresh applied in {first:.2} ms (from empty), {changed:.2} ms (every row changed)"
    );
    println!(
        "facts: decision reading the {rows}-row relation p50 {fact50:.1} µs, p99 {fact99:.1} µs; reading firing/label of as many alerts p50 {alert50:.1} µs, p99 {alert99:.1} µs"
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    if std::env::args().any(|a| a == "--facts") {
        facts(10_000, if quick { 300 } else { 2_000 });
        return;
    }
    let (state, queried) = if quick { (200, 300) } else { (1_000, 2_000) };
    println!(
        "engine decision latency: {state} firing alerts in state, {queried} queried alerts, one ingest each"
    );
    println!(
        "{:>13} {:>10} {:>10} {:>12} {:>8}",
        "remediations", "p50 µs", "p99 µs", "alerts/s", "fire %"
    );
    let only: Option<usize> = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .and_then(|n| n.parse().ok());
    let all: &[usize] = if quick {
        &[10, 100]
    } else {
        &[10, 100, 1_000, 10_000]
    };
    let sizes: Vec<usize> = all
        .iter()
        .copied()
        .filter(|n| only.is_none_or(|o| o == *n))
        .collect();
    let total = if quick { 2_000 } else { 100_000 };
    let (mapped, decided) = throughput(total);
    println!(
        "throughput over {total} alerts against rules/ (payloads of 100): {mapped:.0} alerts/s mapped+decided, {decided:.0} alerts/s decided"
    );
    for n in sizes {
        let r = run(n, state, queried);
        println!(
            "{n:>13} {:>10.1} {:>10.1} {:>12.0} {:>7.1}%",
            r.p50,
            r.p99,
            r.per_sec,
            100.0 * r.fired as f64 / r.decisions.max(1) as f64
        );
    }
    facts(10_000, if quick { 300 } else { 2_000 });
}
