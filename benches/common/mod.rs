//! What the benchmarks share: a seedless generator, alerts from label lists,
//! and the generated rule set of ANCHORS.md's workload. (A folder, so that
//! cargo does not take it for a benchmark of its own.)
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use resgate::rules::{self, RuleSet};
use resgate::source::{Alert, AlertStatus, fingerprint};

/// Services in the generated dependency chain `svc-1 → svc-2 → … → svc-50`.
pub const SERVICES: usize = 50;

/// A cheap deterministic generator: the benchmarks must not depend on a seed crate.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// `--alerts N` from the command line; else `quick` with `--quick`, `full` without.
pub fn alerts_arg(quick: usize, full: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    let fallback = if args.iter().any(|a| a == "--quick") {
        quick
    } else {
        full
    };
    args.iter()
        .position(|a| a == "--alerts")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(fallback)
}

/// The shipped `rules/`; the bench exits with a message when they do not load.
pub fn shipped_rules() -> Arc<RuleSet> {
    match rules::load_path(std::path::Path::new("rules")).rules {
        Some(rules) => Arc::new(rules),
        None => {
            eprintln!("the shipped rules do not load");
            std::process::exit(1);
        }
    }
}

/// A firing alert of source `am` with these labels, starting at `at`.
pub fn alert(labels: &[(&str, String)], at: Timestamp) -> Alert {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Alert {
        source: "am".to_owned(),
        fingerprint: fingerprint(&labels),
        status: AlertStatus::Firing,
        labels,
        annotations: BTreeMap::new(),
        starts_at: at,
        ends_at: None,
        group_key: None,
        generator_url: None,
    }
}

/// `remediations` remediations matching alertname `AlertN` + severity ∈
/// {critical, page}, guarded by `deploying($service)` and
/// `upstream_down($service)` over the 50-service chain; `extra_sources` is
/// YAML appended under `sources:` (after the Alertmanager source `am`).
pub fn generated_rules(remediations: usize, extra_sources: &str) -> Arc<RuleSet> {
    let mut yaml = format!(
        "sources:\n  am: {{kind: alertmanager}}\n{extra_sources}remediators:\n  runner:\n    url: \"https://runner.example/run\"\nremediations:\n"
    );
    for i in 0..remediations {
        yaml.push_str(&format!(
            "  fix-{i}:\n    match: {{alertname: Alert{i}, severity: \"=~critical|page\", service: \"=~.+\"}}\n    target: \"{{{{ service }}}}\"\n    remediator: runner\n    unless:\n      deploying: \"deploying($service)\"\n      upstream: \"upstream_down($service)\"\n    budget: {{attempts: 3, within: 1h}}\n"
        ));
    }
    let mut dl = String::new();
    for s in 1..SERVICES {
        dl.push_str(&format!("depends_on(\"svc-{s}\", \"svc-{}\").\n", s + 1));
    }
    dl.push_str(
        "depends(X, Y) :- depends_on(X, Y).\ndepends(X, Z) :- depends_on(X, Y), depends(Y, Z).\n",
    );
    dl.push_str("deploying(S) :- label(A, \"alertname\", \"DeployInProgress\"), firing(A), label(A, \"service\", S).\n");
    dl.push_str("down(S) :- label(A, \"alertname\", \"ServiceDown\"), firing(A), label(A, \"service\", S).\n");
    dl.push_str("upstream_down(S) :- depends(S, D), down(D).\n");
    let loaded = rules::load_texts(vec![
        (PathBuf::from("gen.yaml"), yaml),
        (PathBuf::from("gen.dl"), dl),
    ]);
    match loaded.rules {
        Some(r) => Arc::new(r),
        None => panic!(
            "generated rules do not load: {:?}",
            loaded.diagnostics.first().map(|d| &d.message)
        ),
    }
}
