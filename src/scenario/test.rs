//! Running the tests of a `*.test.yaml` file.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::SignedDuration;

use crate::engine::{Decision, Engine};
use crate::rules::RuleSet;

use super::expect::{self, Failure};
use super::input::{self, Resolver};
use super::run::{Runner, Trace};
use super::schema::{TestCase, TestFile};

/// The outcome of one test.
#[derive(Debug)]
pub struct TestResult {
    pub file: PathBuf,
    pub name: String,
    /// Empty when the test passed.
    pub failures: Vec<Failure>,
    /// Wall-clock time the test took to run (JUnit's `time`).
    pub time: std::time::Duration,
}

impl TestResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Reads and parses a test file. Errors are for the user: they name the file.
pub fn read(path: &Path) -> Result<TestFile, String> {
    crate::rules::yaml::read(path)
}

pub fn run_file(rules: &Arc<RuleSet>, path: &Path, file: &TestFile) -> Vec<TestResult> {
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    file.tests
        .iter()
        .map(|case| {
            let started = std::time::Instant::now();
            let failures = match run_case(rules, &base, case) {
                Ok(f) => f,
                Err(message) => vec![Failure {
                    message,
                    detail: String::new(),
                }],
            };
            TestResult {
                file: path.to_path_buf(),
                name: case.name.clone(),
                failures,
                time: started.elapsed(),
            }
        })
        .collect()
}

fn run_case(rules: &Arc<RuleSet>, base: &Path, case: &TestCase) -> Result<Vec<Failure>, String> {
    let source = input::pick_source(rules, case.source.as_deref())?;
    let resolver = Resolver {
        base: base.to_path_buf(),
        rules,
        source,
    };
    if case.expect.is_empty() {
        return Err("the test expects nothing: add an `expect` list".to_owned());
    }
    match (&case.timeline, &case.alert, &case.labels) {
        (Some(timeline), None, None) => {
            let first = timeline
                .iter()
                .find_map(|s| s.alert.as_deref().or(s.resolve.as_deref()));
            let start = resolver.start(first);
            let trace = timeline_trace(rules, &resolver, case, start)?;
            Ok(expect::check(&trace, &case.expect, start, true, rules))
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            // The payload is read once: its first alert sets the start.
            let (start, alerts) = match &case.alert {
                Some(path) => input::payload_at(
                    resolver.source,
                    &resolver.path(path),
                    input::Moment::Earliest,
                )?,
                None => (input::DEFAULT_START, Vec::new()),
            };
            let decisions = single(rules, &resolver, case, start, alerts)?;
            let trace = Trace {
                decisions,
                ..Trace::default()
            };
            Ok(expect::check(&trace, &case.expect, start, false, rules))
        }
        (None, None, None) => {
            Err("a test needs an `alert`, inline `labels`, or a `timeline`".to_owned())
        }
        _ => Err(
            "give either `alert`/`labels` (a single-alert test) or `timeline`, not both".to_owned(),
        ),
    }
}

/// A single-alert test: set up the state, then decide the one alert (the
/// payload's `alerts`, or the test's inline labels).
fn single(
    rules: &Arc<RuleSet>,
    resolver: &Resolver<'_>,
    case: &TestCase,
    start: jiff::Timestamp,
    alerts: Vec<crate::source::Alert>,
) -> Result<Vec<Decision>, String> {
    let mut engine = Engine::new(rules.clone(), start);
    if let Some(state) = &case.state {
        for (name, rows) in &state.facts {
            input::fact_rows(rules, name, rows)?;
            engine
                .set_facts(
                    name,
                    rows.clone(),
                    start,
                    crate::engine::Freshness::Scripted,
                )
                .map_err(|e| e.to_string())?;
        }
        for r in &state.alerts {
            let alerts = resolver.alert_ref(r, start)?;
            let _ = engine.ingest_owned(alerts, start);
        }
        for p in &state.pauses {
            let _ = engine.pause(input::pause(p, start)?, start);
        }
    }
    let alerts = match (&case.alert, &case.labels) {
        (Some(_), _) => alerts,
        (None, Some(labels)) => vec![input::labelled(labels, start)?],
        (None, None) => Vec::new(),
    };
    // A set: a list searched once per decision made a large payload quadratic.
    let fingerprints: HashSet<&str> = alerts.iter().map(|a| a.fingerprint.as_str()).collect();
    let out = engine.ingest(&alerts, start);
    Ok(out
        .decisions
        .into_iter()
        .filter(|d| fingerprints.contains(&d.alert.as_str()))
        .collect())
}

/// Runs a timeline test (or a scenario) to the last moment it mentions.
pub fn timeline_trace(
    rules: &Arc<RuleSet>,
    resolver: &Resolver<'_>,
    case: &TestCase,
    start: jiff::Timestamp,
) -> Result<Trace, String> {
    let timeline = case.timeline.as_deref().unwrap_or_default();
    let steps = resolver.steps(timeline, start)?;
    let mut until = steps
        .iter()
        .map(|s| s.at)
        .max()
        .unwrap_or(SignedDuration::ZERO);
    for (i, e) in case.expect.iter().enumerate() {
        if let Some(at) = &e.at {
            until = until.max(input::offset(at, &format!("expect[{i}].at"))?);
        }
    }
    let fakes = input::fakes(&case.remediators, rules)?;
    let mut runner = Runner::new(rules.clone(), start, fakes);
    if let Some(state) = &case.state {
        runner = runner.with_state(resolver, state, start)?;
    }
    Ok(runner.run(start, steps, until))
}
