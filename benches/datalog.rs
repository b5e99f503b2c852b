//! Datalog engine benchmark: a 100-rule program over 1,000 alerts' facts.
//!
//! The program is DESIGN.md's `topology.dl` (a 50-service `depends_on` chain,
//! `deploying`, `upstream_down`) plus generated per-alertname rules with
//! joins, comparisons, a regex and negation, 100 rules in all. Measured: a full
//! `evaluate`, an incremental one after one new alert, a recomputation after an
//! alert resolves, and query latency of the two guards of DESIGN.md.
//! Target: a full evaluation in under 1 ms.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use resgate::datalog::{
    Builtins, Compiled, Database, QueryId, SourceId, Value, parse_body, parse_program,
};

const ALERTS: usize = 1000;
const SERVICES: usize = 50;
const ALERTNAMES: usize = 23;

fn program_text() -> String {
    let mut text = String::new();
    for i in 0..SERVICES - 1 {
        text.push_str(&format!("depends_on(\"s{i}\", \"s{}\").\n", i + 1));
    }
    text.push_str(
        r#"
depends(X, Y) :- depends_on(X, Y).
depends(X, Z) :- depends_on(X, Y), depends(Y, Z).
deploying(S) :- firing(A), label(A, "alertname", "DeployInProgress"), label(A, "service", S).
deploying(S) :- in_flight("deploy-api", S).
upstream_down(S) :- depends(S, D), firing(A), label(A, "service", D), label(A, "alertname", "ServiceDown").
svc(S) :- label(_, "service", S).
"#,
    );
    let mut rules = 6;
    let mut k = 0;
    while rules < 100 {
        let name = format!("Alert{}", k % ALERTNAMES);
        let rule = match k % 4 {
            0 => format!(
                "alerting_{k}(S) :- firing(A), label(A, \"alertname\", \"{name}\"), label(A, \"service\", S).\n"
            ),
            1 => format!(
                "old_{k}(S) :- firing(A), label(A, \"alertname\", \"{name}\"), age(A, N), N >= 600, label(A, \"service\", S).\n"
            ),
            2 => format!(
                "critical_{k}(S) :- label(A, \"alertname\", \"{name}\"), label(A, \"severity\", V), V =~ \"crit.*|page\", label(A, \"service\", S), not resolved(A).\n"
            ),
            _ => format!(
                "calm_{k}(S) :- svc(S), not alerting_{}(S), not upstream_down(S), not deploying(S).\n",
                k - 3
            ),
        };
        text.push_str(&rule);
        rules += 1;
        k += 1;
    }
    text
}

fn compiled() -> (Arc<Compiled>, QueryId, QueryId) {
    let program = parse_program(&program_text(), SourceId(0), 0).expect("bench program parses");
    let mut compiled =
        Compiled::new(&program, &Builtins::resgate()).expect("bench program compiles");
    let mut query = |text: &str| {
        let body = parse_body(text, SourceId(1), 0).expect("query parses");
        compiled
            .compile_query(&body, &["alert", "service"])
            .expect("query compiles")
    };
    let deploying = query("deploying($service)");
    let upstream = query("upstream_down($service)");
    (Arc::new(compiled), deploying, upstream)
}

fn add_alert(db: &mut Database, i: usize) {
    let a = db.intern(&format!("alert-{i}"));
    let alertname = match i % 40 {
        0 => "DeployInProgress".to_owned(),
        1 => "ServiceDown".to_owned(),
        n => format!("Alert{}", n % ALERTNAMES),
    };
    let severity = ["critical", "warning", "page", "info"][i % 4];
    let service = format!("s{}", (i * 7) % SERVICES);
    db.insert("alert", &[a]).ok();
    db.insert(if i % 10 == 9 { "resolved" } else { "firing" }, &[a])
        .ok();
    db.insert("age", &[a, Value::Int((i as i64 * 37) % 1200)])
        .ok();
    for (k, v) in [
        ("alertname", alertname.as_str()),
        ("service", &service),
        ("severity", severity),
    ] {
        let (k, v) = (db.intern(k), db.intern(v));
        db.insert("label", &[a, k, v]).ok();
    }
}

fn loaded(compiled: &Arc<Compiled>) -> Database {
    let mut db = Database::new(Arc::clone(compiled));
    for i in 0..ALERTS {
        add_alert(&mut db, i);
    }
    db
}

fn bench(c: &mut Criterion) {
    let (compiled, deploying, upstream) = compiled();
    let fresh = loaded(&compiled);
    let mut evaluated = fresh.clone();
    evaluated.evaluate();
    let derived: usize = compiled
        .predicates()
        .iter()
        .filter(|p| p.kind == resgate::datalog::PredKind::Rules)
        .map(|p| evaluated.facts(&p.name).count())
        .sum();
    eprintln!(
        "program: {} rules + {} facts, {} alerts, {} derived facts",
        100,
        SERVICES - 1,
        ALERTS,
        derived
    );

    c.bench_function("evaluate/full (100 rules, 1000 alerts)", |b| {
        b.iter_batched(
            || fresh.clone(),
            |mut db| {
                db.evaluate();
                db
            },
            BatchSize::LargeInput,
        )
    });

    c.bench_function("evaluate/incremental (+1 alert)", |b| {
        b.iter_batched(
            || {
                let mut db = evaluated.clone();
                add_alert(&mut db, ALERTS + 1);
                db
            },
            |mut db| {
                db.evaluate();
                db
            },
            BatchSize::LargeInput,
        )
    });

    c.bench_function("evaluate/after a removal (recompute)", |b| {
        b.iter_batched(
            || {
                let mut db = evaluated.clone();
                let a = db.intern("alert-3");
                db.remove("firing", &[a]).ok();
                db
            },
            |mut db| {
                db.evaluate();
                db
            },
            BatchSize::LargeInput,
        )
    });

    let alert = evaluated.lookup("alert-41").expect("alert exists");
    let s7 = evaluated.lookup("s7").expect("service exists");
    let s0 = evaluated.lookup("s0").expect("service exists");
    assert!(evaluated.query(upstream, &[alert, s0]).is_some());
    c.bench_function("query/deploying($service)", |b| {
        b.iter(|| black_box(evaluated.query(deploying, black_box(&[alert, s7]))))
    });
    c.bench_function("query/upstream_down($service)", |b| {
        b.iter(|| black_box(evaluated.query(upstream, black_box(&[alert, s0]))))
    });
    c.bench_function("explain/upstream_down(s0)", |b| {
        b.iter(|| black_box(evaluated.explain("upstream_down", black_box(&[s0]))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
