//! Timeline pictures: writing the SVG for a generated model of 10,000 decisions
//! (100 targets × 100 decisions over a day, each target with 100 notifications,
//! 10 firing spans and 10 events of three phases), as `simulate --svg` or a
//! future status page would. Measures `timeline::svg::render` alone: the model
//! is built once, outside the loop.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};
use resgate::engine::{EventState, Verdict};
use resgate::source::AlertStatus;
use resgate::timeline::{EventBar, Mark, Phase, Row, Span, Tick, Timeline, svg};

const TARGETS: usize = 100;
const PER_TARGET: usize = 100;

fn model() -> Timeline {
    let start = Timestamp::constant(1_767_225_600, 0);
    let at = |secs: usize| start + SignedDuration::from_secs(secs as i64);
    let verdicts = [
        Verdict::Fire,
        Verdict::Collapse,
        Verdict::Defer,
        Verdict::Defer,
        Verdict::Collapse,
        Verdict::Escalate,
        Verdict::Discard,
    ];
    let rows = (0..TARGETS)
        .map(|t| {
            let alert = format!("{t:016x}");
            // One decision every 14 minutes and a bit, staggered per target.
            let moment = |i: usize| at(i * 863 + t * 7);
            let decisions = (0..PER_TARGET)
                .map(|i| {
                    let verdict = verdicts[(i + t) % verdicts.len()];
                    Mark {
                        at: moment(i),
                        verdict,
                        reason: (verdict == Verdict::Defer).then(|| "deploying".to_owned()),
                        alert: alert.clone(),
                        event: Some(format!("ev-{t}-{}", i / 10)),
                    }
                })
                .collect();
            let notifications = (0..PER_TARGET)
                .map(|i| Tick {
                    at: moment(i),
                    alert: alert.clone(),
                    name: "ApiErrorBudgetBurn".to_owned(),
                    status: if i % 10 == 9 {
                        AlertStatus::Resolved
                    } else {
                        AlertStatus::Firing
                    },
                })
                .collect();
            let firing = (0..10)
                .map(|k| Span {
                    alert: alert.clone(),
                    name: "ApiErrorBudgetBurn".to_owned(),
                    from: moment(k * 10),
                    to: Some(moment(k * 10 + 9)),
                })
                .collect();
            let events = (0..10)
                .map(|k| {
                    let phase = |state, a, b| Phase {
                        state,
                        from: moment(k * 10 + a),
                        to: moment(k * 10 + b),
                    };
                    EventBar {
                        id: format!("ev-{t}-{k}"),
                        phases: vec![
                            phase(EventState::Accepted, 0, 1),
                            phase(EventState::Running, 1, 4),
                            phase(EventState::Warming, 4, 8),
                        ],
                        outcome: Some((
                            moment(k * 10 + 8),
                            if k % 3 == 0 {
                                EventState::NotRescued
                            } else {
                                EventState::Rescued
                            },
                        )),
                    }
                })
                .collect();
            Row {
                remediation: Some(format!("redeploy-{}", t % 9)),
                target: format!("svc-{t}/pod-{t}.prod.example.internal:8080"),
                firing,
                notifications,
                decisions,
                events,
            }
        })
        .collect();
    Timeline {
        title: Some("10,000 decisions".to_owned()),
        start,
        end: at(PER_TARGET * 863 + TARGETS * 7),
        rows,
    }
}

fn bench(c: &mut Criterion) {
    let timeline = model();
    let decisions = timeline.decisions().count();
    assert_eq!(decisions, TARGETS * PER_TARGET);
    eprintln!(
        "timeline: {decisions} decisions, {} targets, SVG of {} bytes",
        timeline.rows.len(),
        svg::render(&timeline).len()
    );
    c.bench_function("render/10k decisions (100 targets)", |b| {
        b.iter(|| black_box(svg::render(black_box(&timeline))).len())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
