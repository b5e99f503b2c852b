//! Safety properties of the engine over random timelines (proptest):
//! whatever order alerts, resolves, remediator results and time arrive in,
//! - never two events in flight for one remediation and target (no robo-hammer);
//! - every non-shadow fire creates exactly one event;
//! - at most one escalation per remediation and target inside its budget window;
//! - events only move along the lifecycle of DESIGN.md §3;
//! - no fire on a target inside the warm-up window of an earlier success there,
//!   whatever that event's state is now (DESIGN.md §3 row 2), across restarts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use resgate::engine::{Engine, EventState, Outcome, Verdict};
use resgate::rules::{self, RuleSet};
use resgate::source::{Alert, AlertStatus, fingerprint};

fn rules() -> Arc<RuleSet> {
    let loaded = rules::load_path(Path::new("rules"));
    Arc::new(loaded.rules.expect("shipped rules load"))
}

/// A small pool of label sets that hit every shipped remediation and guard.
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
            ("service", "api"),
            ("instance", "api-2"),
        ],
        &[
            ("alertname", "ApiDown"),
            ("severity", "critical"),
            ("service", "api"),
            ("instance", "api-3"),
        ],
        &[("alertname", "ApiErrorBudgetBurn"), ("service", "api")],
        &[("alertname", "DeployInProgress"), ("service", "api")],
        &[("alertname", "ServiceDown"), ("service", "db")],
        &[("alertname", "ServiceDown"), ("service", "checkout")],
        &[("alertname", "ServiceDown"), ("service", "search")],
        &[
            ("alertname", "WorkersOverProvisioned"),
            ("service", "mailer"),
        ],
        &[("alertname", "QueueBacklog"), ("queue", "mail")],
        &[("alertname", "DiskFull"), ("instance", "db-1")],
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
    /// Finish the n-th in-flight event (modulo their count).
    Finish(usize, u8),
    Refuse(usize),
    Wait(u32),
    /// serve restarts: the engine is rebuilt from its snapshot (as the journal
    /// records it), or forgets old resolved alerts.
    Restart,
    Forget,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..11).prop_map(Op::Fire),
        2 => (0usize..11).prop_map(Op::Resolve),
        3 => (0usize..8, 0u8..3).prop_map(|(i, o)| Op::Finish(i, o)),
        1 => (0usize..8).prop_map(Op::Refuse),
        3 => (1u32..1800).prop_map(Op::Wait),
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
        annotations: BTreeMap::new(),
        starts_at,
        ends_at: None,
        group_key: None,
        generator_url: None,
    }
}

fn allowed(from: EventState, to: EventState) -> bool {
    use EventState::*;
    matches!(
        (from, to),
        (
            Pending,
            Accepted | Running | Refused | Failed | TimedOut | Warming
        ) | (Accepted, Running | Failed | TimedOut | Warming)
            | (Running, Failed | TimedOut | Warming)
            | (Warming, Rescued | NotRescued)
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn no_double_fire_and_lifecycle_holds(ops in prop::collection::vec(op(), 1..120)) {
        let rules = rules();
        let pool = pool();
        let start: Timestamp = "2026-11-20T10:00:00Z".parse().expect("time");
        let mut engine = Engine::new(rules.clone(), start);
        let mut now = start;
        let mut escalations: Vec<(String, String, Timestamp)> = Vec::new();
        let mut fired_events = BTreeSet::new();

        for op in ops {
            let out = match op {
                Op::Fire(i) => engine.ingest(&[alert(&pool[i], AlertStatus::Firing, start)], now),
                Op::Resolve(i) => engine.ingest(&[alert(&pool[i], AlertStatus::Resolved, start)], now),
                Op::Finish(..) | Op::Refuse(_) if engine.state().events.iter().all(|e| !e.state.in_flight()) => {
                    engine.advance(now)
                }
                Op::Finish(n, o) => {
                    let flying: Vec<String> = engine.state().events.iter().filter(|e| e.state.in_flight()).map(|e| e.id.clone()).collect();
                    let id = &flying[n % flying.len()];
                    let outcome = [Outcome::Succeeded, Outcome::Failed, Outcome::TimedOut][o as usize % 3];
                    let mut out = engine.accepted(id, Some("x".to_owned()), now);
                    out.append(engine.finished(id, outcome, now));
                    out
                }
                Op::Refuse(n) => {
                    let flying: Vec<String> = engine.state().events.iter().filter(|e| e.state == EventState::Pending).map(|e| e.id.clone()).collect();
                    match flying.get(n % flying.len().max(1)) {
                        Some(id) => engine.refused(id, now),
                        None => engine.advance(now),
                    }
                }
                Op::Restart => {
                    let snapshot = engine.snapshot();
                    let next = snapshot.next_event;
                    let (restored, out) = Engine::restore(rules.clone(), snapshot, now);
                    engine = restored;
                    prop_assert_eq!(engine.snapshot().next_event, next, "event numbers continue");
                    out
                }
                Op::Forget => {
                    let before = engine.state().alerts.len();
                    let gone = engine.forget_resolved(now);
                    prop_assert_eq!(engine.state().alerts.len(), before - gone.len());
                    for fp in gone.iter().map(|f| &f.fingerprint) {
                        prop_assert!(engine.state().events.iter().filter(|e| !e.state.is_final()).all(|e| !e.alerts.contains(fp)),
                            "forgot {} while an open event waits on it", fp);
                    }
                    engine.advance(now)
                }
                Op::Wait(secs) => {
                    now = now.saturating_add(SignedDuration::from_secs(i64::from(secs))).expect("time");
                    engine.advance(now)
                }
            };

            for d in &out.decisions {
                match d.verdict {
                    Verdict::Fire if d.reason.as_deref() != Some("shadow") => {
                        let event = d.event.clone().expect("a fire names its event");
                        let (r, t) = (d.remediation.as_deref(), d.target.as_deref());
                        for e in &engine.state().events {
                            let warm = e.succeeded_at.zip(e.warm_until).is_some_and(|(s, u)| s <= d.at && d.at < u);
                            prop_assert!(!(warm && e.id != event && Some(e.remediation.as_str()) == r && Some(e.target.as_str()) == t),
                                "{} fired at {} inside the warm-up of {} ({})", event, d.at, e.id, e.state);
                        }
                        prop_assert!(fired_events.insert(event), "one event per fire");
                    }
                    Verdict::Escalate => {
                        let (r, t) = (d.remediation.clone().unwrap_or_default(), d.target.clone().unwrap_or_default());
                        let within = rules.remediation(&r).map(|x| x.budget.within).unwrap_or_default();
                        let within = SignedDuration::try_from(within).expect("window");
                        for (pr, pt, at) in &escalations {
                            prop_assert!(!(pr == &r && pt == &t && d.at.duration_since(*at) < within),
                                "escalated twice inside the window for {r}/{t}");
                        }
                        escalations.push((r, t, d.at));
                    }
                    _ => {}
                }
            }

            let mut flying: BTreeMap<(String, String), usize> = BTreeMap::new();
            for e in &engine.state().events {
                if e.state.in_flight() {
                    *flying.entry((e.remediation.clone(), e.target.clone())).or_default() += 1;
                }
                for pair in e.history.windows(2) {
                    prop_assert!(allowed(pair[0].1, pair[1].1), "{}: {} -> {}", e.id, pair[0].1, pair[1].1);
                }
            }
            for ((r, t), n) in flying {
                prop_assert!(n <= 1, "{n} events in flight for {r}/{t}");
            }
            // max_concurrent holds for every remediation.
            for r in &rules.remediations {
                if let Some(limit) = r.max_concurrent {
                    let n = engine.state().events.iter().filter(|e| e.remediation == r.name && e.state.in_flight()).count();
                    prop_assert!(n <= limit as usize, "{}: {n} in flight, max {limit}", r.name);
                }
            }
        }
    }
}
