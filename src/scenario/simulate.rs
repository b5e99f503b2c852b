//! Running a scenario file (`resgate simulate SCENARIO.yaml`): the timeline of a
//! test without its expectations, run to its last step.
//!
//! Printing the result and drawing it ([`crate::timeline`]) are the callers' job.

use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;

use crate::rules::{self, RuleSet};

use super::input::{self, Resolver};
use super::run::Trace;
use super::schema::{ScenarioFile, TestCase};
use super::test;

/// A scenario that has run.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    /// The scenario's `name:`, if it has one.
    pub name: Option<String>,
    /// The virtual clock's start: the first payload's `startsAt`.
    pub start: Timestamp,
    pub trace: Trace,
}

/// Reads the scenario at `path` and runs it against `rules`. `source` overrides
/// the file's `source:`. Errors are for the user: they name the file.
pub fn run(rules: &Arc<RuleSet>, path: &Path, source: Option<&str>) -> Result<ScenarioRun, String> {
    let file: ScenarioFile = rules::yaml::read(path)?;
    let source_name = source.map(str::to_owned).or(file.source.clone());
    let source = input::pick_source(rules, source_name.as_deref())?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let resolver = Resolver {
        base,
        rules,
        source,
    };
    let case = TestCase {
        name: file.name.clone().unwrap_or_default(),
        source: source_name,
        state: file.state,
        alert: None,
        labels: None,
        remediators: file.remediators,
        timeline: Some(file.timeline),
        expect: Vec::new(),
    };
    let first = case
        .timeline
        .iter()
        .flatten()
        .find_map(|s| s.alert.as_deref().or(s.resolve.as_deref()));
    let start = resolver.start(first);
    let trace = test::timeline_trace(rules, &resolver, &case, start)?;
    Ok(ScenarioRun {
        name: file.name,
        start,
        trace,
    })
}
