//! Rule loading and lint speed.
//!
//! - `lint/shipped`: the whole of `resgate lint rules/` minus process start-up
//!   (target: well under 50 ms).
//! - `lint/generated_1000`: 1,000 remediations in one directory.
//! - `lint/10MB_file`: a 10 MB rule file (must load or be refused in seconds).

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use resgate::rules;

fn generated(remediations: usize, pad_to: usize) -> Vec<(PathBuf, String)> {
    let mut yaml = String::from(
        "sources:\n  alertmanager: {kind: alertmanager}\nremediators:\n  runner:\n    url: \"https://runner.example/run/{{ job }}\"\n  pager:\n    url: \"https://pager.example/alerts\"\nremediations:\n",
    );
    let mut i = 0;
    while i < remediations || yaml.len() < pad_to {
        yaml.push_str(&format!(
            "  fix-{i}:\n    match: {{alertname: Alert{i}, severity: \"=~critical|page\", service: \"=~.+\"}}\n    target: \"{{{{ service }}}}\"\n    remediator: runner\n    vars: {{job: \"fix-{i}-{{{{ service }}}}\"}}\n    body: {{argString: \"-service {{{{ service }}}}\"}}\n    unless:\n      deploying: \"deploying($service)\"\n      upstream: \"upstream_down($service)\"\n    warmup: 10m\n    budget: {{attempts: 3, within: 1h}}\n    max_concurrent: 2\n    escalate: pager\n"
        ));
        i += 1;
    }
    // The shipped topology reads `queue_depth`, a fact relation that
    // rules/scale.yaml defines; the generated file defines it the same way.
    yaml.push_str(
        "facts:\n  queue_depth:\n    prometheus: \"http://127.0.0.1:9090\"\n    query: sum by (queue) (rabbitmq_queue_messages_ready)\n    columns: [queue, value]\n    every: 30s\n    stale_after: 2m\n",
    );
    let dl = std::fs::read_to_string("rules/topology.dl").unwrap_or_default();
    vec![
        (PathBuf::from("gen/rules.yaml"), yaml),
        (PathBuf::from("gen/topology.dl"), dl),
    ]
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("lint");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("shipped", |b| {
        b.iter(|| {
            let loaded = rules::load_path(Path::new("rules"));
            assert!(loaded.rules.is_some());
        })
    });
    let files = generated(1_000, 0);
    group.bench_function("generated_1000", |b| {
        b.iter(|| {
            let loaded = rules::load_texts(files.clone());
            assert!(loaded.rules.is_some());
        })
    });
    group.sample_size(10);
    let big = generated(0, 10 * 1024 * 1024);
    eprintln!("10MB file: {} bytes", big[0].1.len());
    group.bench_function("10MB_file", |b| {
        b.iter(|| rules::load_texts(big.clone()).errors())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
