//! Fact relations filled from outside (DESIGN.md §8): their rows and when
//! they were last refreshed, as inputs to the engine. Fetching is elsewhere
//! (`crate::facts`); here a refresh is data handed in with its time.
//!
//! Fail safe: a relation is *stale* when it was never refreshed, when its last
//! good refresh is older than its `stale_after`, or when a script marked it
//! stale; a decision that would read a stale relation defers (`stale_facts`).

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::datalog::Value;
use crate::rules::RuleSet;

/// One cell of a fact row: a string (a label value, a name) or a number (a
/// sample). In YAML and JSON, `[mailer, 1204]` is a string and a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FactValue {
    Number(f64),
    Text(String),
}

impl std::fmt::Display for FactValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FactValue::Text(s) => write!(f, "{s:?}"),
            FactValue::Number(x) => match Value::number(*x) {
                Some(Value::Int(i)) => write!(f, "{i}"),
                Some(Value::Frac(x)) => write!(f, "{x}"),
                _ => f.write_str("NaN"),
            },
        }
    }
}

pub type FactRow = Vec<FactValue>;

/// Why a refresh was refused (the relation keeps its rows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactError {
    #[error("no fact relation \"{0}\" in the rules")]
    Unknown(String),
    #[error("fact relation \"{relation}\" has {arity} column(s), but row {row} has {got}")]
    Arity {
        relation: String,
        arity: usize,
        row: usize,
        got: usize,
    },
    #[error("fact relation \"{relation}\", row {row}: NaN is not a number a guard can compare")]
    NaN { relation: String, row: usize },
}

/// How a relation's rows came: refreshed by `serve` (stale once older than
/// `stale_after`) or scripted by a test or scenario (fresh until a `stale:` step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Refreshed,
    Scripted,
}

#[derive(Debug, Clone, Default)]
pub(super) struct RelationState {
    pub rows: Vec<FactRow>,
    /// The last good refresh.
    pub refreshed: Option<Timestamp>,
    pub scripted: bool,
    /// A script said so (timeline `stale:`), until the next refresh.
    pub marked_stale: bool,
}

/// A stale relation a decision would have read: the proof of `stale_facts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaleSource {
    pub relation: String,
    /// `None`: never refreshed.
    pub last_refresh: Option<Timestamp>,
    pub stale_after_secs: u64,
}

pub(super) struct Relations {
    pub states: Vec<RelationState>,
}

impl Relations {
    pub fn new(rules: &RuleSet) -> Self {
        Relations {
            states: vec![RelationState::default(); rules.facts.len()],
        }
    }

    pub fn is_stale(&self, rules: &RuleSet, i: usize, now: Timestamp) -> bool {
        let (Some(state), Some(source)) = (self.states.get(i), rules.facts.get(i)) else {
            return true;
        };
        if state.marked_stale {
            return true;
        }
        let Some(at) = state.refreshed else {
            return true;
        };
        if state.scripted {
            return false;
        }
        let limit = SignedDuration::try_from(source.stale_after).unwrap_or(SignedDuration::MAX);
        now.duration_since(at) > limit
    }

    /// The stale relations among `reads`, for a proof.
    pub fn stale_among(
        &self,
        rules: &RuleSet,
        reads: &[usize],
        now: Timestamp,
    ) -> Vec<StaleSource> {
        reads
            .iter()
            .filter(|&&i| self.is_stale(rules, i, now))
            .filter_map(|&i| {
                let source = rules.facts.get(i)?;
                Some(StaleSource {
                    relation: source.name.clone(),
                    last_refresh: self.states.get(i).and_then(|s| s.refreshed),
                    stale_after_secs: source.stale_after.as_secs(),
                })
            })
            .collect()
    }
}

/// A row's cells as Datalog values, or why not. Checked whole before anything
/// changes, so a bad row never leaves a relation half-replaced.
pub(super) fn check_rows(relation: &str, arity: usize, rows: &[FactRow]) -> Result<(), FactError> {
    for (n, row) in rows.iter().enumerate() {
        if row.len() != arity {
            return Err(FactError::Arity {
                relation: relation.to_owned(),
                arity,
                row: n + 1,
                got: row.len(),
            });
        }
        if row
            .iter()
            .any(|c| matches!(c, FactValue::Number(x) if x.is_nan()))
        {
            return Err(FactError::NaN {
                relation: relation.to_owned(),
                row: n + 1,
            });
        }
    }
    Ok(())
}

/// The rows `new` adds to `old` and the rows it removes, each once, in
/// their order: what a refresh journals (DESIGN.md §8: only what changed).
pub fn diff(old: &[FactRow], new: &[FactRow]) -> (Vec<FactRow>, Vec<FactRow>) {
    let key = |r: &FactRow| serde_json::to_string(r).unwrap_or_default();
    let old_keys: std::collections::HashSet<String> = old.iter().map(key).collect();
    let new_keys: std::collections::HashSet<String> = new.iter().map(key).collect();
    let mut seen = std::collections::HashSet::new();
    let added = new
        .iter()
        .filter(|r| {
            let k = key(r);
            !old_keys.contains(&k) && seen.insert(k)
        })
        .cloned()
        .collect();
    let mut seen = std::collections::HashSet::new();
    let removed = old
        .iter()
        .filter(|r| {
            let k = key(r);
            !new_keys.contains(&k) && seen.insert(k)
        })
        .cloned()
        .collect();
    (added, removed)
}
