//! The shape of `*.test.yaml` files and scenario files (DESIGN.md §4).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub tests: Vec<TestCase>,
}

/// A scenario for `resgate simulate`: a timeline without expectations.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub remediators: BTreeMap<String, FakeRemediator>,
    #[serde(default)]
    pub state: Option<StateDef>,
    pub timeline: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestCase {
    pub name: String,
    /// Which `sources:` entry maps the payloads; default: the only one, or the
    /// one of kind alertmanager.
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub state: Option<StateDef>,
    /// A single-alert test: a payload path...
    #[serde(default)]
    pub alert: Option<String>,
    /// ...or inline labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub remediators: BTreeMap<String, FakeRemediator>,
    #[serde(default)]
    pub timeline: Option<Vec<Step>>,
    #[serde(default)]
    pub expect: Vec<Expectation>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StateDef {
    /// Payloads whose alerts are already firing before the test's alert.
    #[serde(default)]
    pub alerts: Vec<AlertRef>,
    #[serde(default)]
    pub pauses: Vec<PauseDef>,
    /// Fact relations' rows at the start (DESIGN.md §8): `{queue_depth:
    /// [[mailer, 1204]]}`. A relation the test does not set is stale.
    #[serde(default)]
    pub facts: BTreeMap<String, Vec<crate::engine::FactRow>>,
}

/// One relation name or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    pub fn iter(&self) -> impl Iterator<Item = &String> {
        match self {
            Names::One(n) => std::slice::from_ref(n).iter(),
            Names::Many(v) => v.iter(),
        }
    }
}

/// A payload file, or one alert given by its labels.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum AlertRef {
    Path(String),
    Labels { labels: BTreeMap<String, String> },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseDef {
    pub remediation: String,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// How long, from the moment it is set (`2h`); none: until unpaused.
    #[serde(rename = "for", default)]
    pub for_: Option<String>,
}

/// A scripted stand-in for a remediator (Rundeck, StackStorm, ...).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FakeRemediator {
    /// How long the work runs once accepted.
    #[serde(default = "default_takes")]
    pub takes: String,
    #[serde(default)]
    pub then: FakeOutcome,
}

fn default_takes() -> String {
    "1m".to_owned()
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FakeOutcome {
    #[default]
    Succeeded,
    Failed,
    TimedOut,
    /// Every call is refused before acceptance (connection refused, 5xx).
    NeverAccepts,
    /// Every call is sent and gets no answer (a timeout after sending, a
    /// dropped connection): the event stays in flight, is never sent again,
    /// and ends `timed_out` at the remediator's `poll.timeout`.
    NoAnswer,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Offset from the start of the test (`0m`, `5m`, `1h`).
    pub at: String,
    /// Deliver a payload as it is.
    #[serde(default)]
    pub alert: Option<String>,
    /// Deliver a payload's alerts marked resolved.
    #[serde(default)]
    pub resolve: Option<String>,
    /// Deliver one firing alert given by its labels.
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// Resolve the alert with these labels.
    #[serde(default)]
    pub resolve_labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub pause: Option<PauseDef>,
    #[serde(default)]
    pub unpause: Option<PauseDef>,
    /// Approve the event with this ID (`ev-1`), as `resgate approve` does.
    #[serde(default)]
    pub approve: Option<String>,
    /// Replace fact relations' rows: `{queue_depth: [[mailer, 1200]]}`.
    #[serde(default)]
    pub facts: Option<BTreeMap<String, Vec<crate::engine::FactRow>>>,
    /// Fact relations whose source stops answering: stale from here until
    /// the next `facts:` for them.
    #[serde(default)]
    pub stale: Option<Names>,
}

/// What a test expects. Every key given must match.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    #[serde(default)]
    pub at: Option<String>,
    #[serde(default)]
    pub remediation: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub verdict: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    /// For event expectations: the remediation whose event it is.
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    /// How many decisions must match (default: at least one).
    #[serde(default)]
    pub count: Option<usize>,
    /// A notification to this notifier (DESIGN.md §9)...
    #[serde(default)]
    pub notify: Option<String>,
    /// ...on this event word (`fire`, `rescued`, ...).
    #[serde(default)]
    pub on: Option<String>,
}

/// An [`AlertRef`]: a payload path or `{labels: {...}}` (untagged, so its
/// schema is given, not traced).
fn alert_ref_schema() -> serde_json::Value {
    serde_json::json!({"anyOf": [
        {"type": "string"},
        {
            "type": "object",
            // Label values as every traced string: a plain scalar is read as written.
            "properties": {"labels": {
                "type": "object",
                "additionalProperties": {"type": ["string", "number", "boolean"]},
            }},
            "required": ["labels"],
        },
    ]})
}

/// A fact row's cell ([`crate::engine::FactValue`], untagged): a number
/// or a string.
fn fact_value_schema() -> serde_json::Value {
    serde_json::json!({"type": ["number", "string"]})
}

/// [`Names`] (untagged): one relation name or a list of them.
fn names_schema() -> serde_json::Value {
    serde_json::json!({"anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "string"}},
    ]})
}

/// The JSON Schema of a test file (`*.test.yaml`).
pub fn test_file_schema() -> Result<serde_json::Value, String> {
    crate::rules::introspect::schema_of::<TestFile>(
        "resgate test file",
        &[
            (".tests[].state.alerts[]", alert_ref_schema()),
            (".tests[].state.facts{}[][]", fact_value_schema()),
            (".tests[].timeline[].facts{}[][]", fact_value_schema()),
            (".tests[].timeline[].stale", names_schema()),
        ],
    )
}

/// The JSON Schema of a scenario file (`resgate simulate SCENARIO`).
pub fn scenario_file_schema() -> Result<serde_json::Value, String> {
    crate::rules::introspect::schema_of::<ScenarioFile>(
        "resgate scenario file",
        &[
            (".state.alerts[]", alert_ref_schema()),
            (".state.facts{}[][]", fact_value_schema()),
            (".timeline[].facts{}[][]", fact_value_schema()),
            (".timeline[].stale", names_schema()),
        ],
    )
}
