//! The decision diff: for each alert and remediation, the verdicts the journal
//! recorded against the verdicts a replay made, classified and grouped.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::engine::Verdict;
use crate::journal::history::RecordedDecision;

/// How the decisions on one alert (for one remediation) changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    NowFire,
    NoLongerFire,
    NowEscalate,
    NoLongerEscalate,
    NowCollapse,
    NoLongerCollapse,
    NowDefer,
    NoLongerDefer,
    NowDiscard,
    NoLongerDiscard,
    /// The same verdicts, for other reasons or in another order.
    ReasonChanged,
}

impl Change {
    pub fn describe(self) -> &'static str {
        match self {
            Change::NowFire => "would now fire",
            Change::NoLongerFire => "would no longer fire",
            Change::NowEscalate => "would now escalate",
            Change::NoLongerEscalate => "would no longer escalate",
            Change::NowCollapse => "would now collapse",
            Change::NoLongerCollapse => "would no longer collapse",
            Change::NowDefer => "would now defer",
            Change::NoLongerDefer => "would no longer defer",
            Change::NowDiscard => "would now discard",
            Change::NoLongerDiscard => "would no longer discard",
            Change::ReasonChanged => "same verdicts, other reasons",
        }
    }

    fn of(verdict: Verdict, more: bool) -> Change {
        match (verdict, more) {
            (Verdict::Fire, true) => Change::NowFire,
            (Verdict::Fire, false) => Change::NoLongerFire,
            (Verdict::Escalate, true) => Change::NowEscalate,
            (Verdict::Escalate, false) => Change::NoLongerEscalate,
            (Verdict::Collapse, true) => Change::NowCollapse,
            (Verdict::Collapse, false) => Change::NoLongerCollapse,
            (Verdict::Defer, true) => Change::NowDefer,
            (Verdict::Defer, false) => Change::NoLongerDefer,
            (Verdict::Discard, true) => Change::NowDiscard,
            (Verdict::Discard, false) => Change::NoLongerDiscard,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Diff {
    /// (alert, remediation) pairs decided on in the compared window.
    pub compared: usize,
    pub decisions_before: usize,
    pub decisions_after: usize,
    /// Pairs left out because the journal shows them paused: pauses are API
    /// calls, not webhooks, and a replay does not know them.
    pub skipped_paused: usize,
    /// By remediation (`None`: alerts no remediation matched), changes in
    /// [`Change`] order.
    pub groups: Vec<Group>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// How many (alert, remediation) pairs changed at all.
    pub fn changed(&self) -> usize {
        self.groups.iter().map(|g| g.pairs_changed).sum()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub remediation: Option<String>,
    pub pairs_changed: usize,
    pub changes: Vec<ChangeCount>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChangeCount {
    pub change: Change,
    /// Alerts with this change.
    pub alerts: usize,
    /// A few of them, the first in time first.
    pub examples: Vec<Example>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub alert: String,
    pub target: Option<String>,
    /// `fire`, `defer(deploying)`...: the verdicts in order.
    pub before: Vec<String>,
    pub after: Vec<String>,
}

/// Examples kept per change.
const EXAMPLES: usize = 3;

type Key = (String, Option<String>);
/// Alerts with one change, and their examples with when each began.
type Tally = (usize, Vec<(Timestamp, Example)>);

/// Compares the decisions made at or after `since`.
pub fn diff(before: &[RecordedDecision], after: &[RecordedDecision], since: Timestamp) -> Diff {
    let old = by_key(before, since);
    let new = by_key(after, since);
    let mut keys: Vec<&Key> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();

    let empty = Vec::new();
    let mut skipped_paused = 0;
    let mut groups: BTreeMap<Option<String>, BTreeMap<Change, Tally>> = BTreeMap::new();
    let mut pairs_changed: BTreeMap<Option<String>, usize> = BTreeMap::new();
    for key in &keys {
        let was = old.get(*key).unwrap_or(&empty);
        let is = new.get(*key).unwrap_or(&empty);
        if was.iter().any(|d| d.reason.as_deref() == Some("paused")) {
            skipped_paused += 1;
            continue;
        }
        let words =
            |ds: &[&RecordedDecision]| -> Vec<String> { ds.iter().map(|d| word(d)).collect() };
        let (was_words, is_words) = (words(was), words(is));
        if was_words == is_words {
            continue;
        }
        let mut changes = Vec::new();
        for verdict in [
            Verdict::Fire,
            Verdict::Escalate,
            Verdict::Collapse,
            Verdict::Defer,
            Verdict::Discard,
        ] {
            let count =
                |ds: &[&RecordedDecision]| ds.iter().filter(|d| d.verdict == verdict).count();
            let (a, b) = (count(was), count(is));
            if a != b {
                changes.push(Change::of(verdict, b > a));
            }
        }
        if changes.is_empty() {
            changes.push(Change::ReasonChanged);
        }
        let first = was
            .iter()
            .chain(is.iter())
            .map(|d| d.at)
            .min()
            .unwrap_or(since);
        let target = was.iter().chain(is.iter()).find_map(|d| d.target.clone());
        let example = Example {
            alert: key.0.clone(),
            target,
            before: was_words,
            after: is_words,
        };
        *pairs_changed.entry(key.1.clone()).or_default() += 1;
        let group = groups.entry(key.1.clone()).or_default();
        for change in changes {
            let (count, examples) = group.entry(change).or_default();
            *count += 1;
            examples.push((first, example.clone()));
        }
    }

    let groups = groups
        .into_iter()
        .map(|(remediation, changes)| Group {
            pairs_changed: pairs_changed.get(&remediation).copied().unwrap_or(0),
            remediation,
            changes: changes
                .into_iter()
                .map(|(change, (alerts, mut examples))| {
                    examples.sort_by_key(|(at, _)| *at);
                    ChangeCount {
                        change,
                        alerts,
                        examples: examples
                            .into_iter()
                            .take(EXAMPLES)
                            .map(|(_, e)| e)
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    Diff {
        compared: keys.len() - skipped_paused,
        decisions_before: before.iter().filter(|d| d.at >= since).count(),
        decisions_after: after.iter().filter(|d| d.at >= since).count(),
        skipped_paused,
        groups,
    }
}

fn by_key(
    decisions: &[RecordedDecision],
    since: Timestamp,
) -> BTreeMap<Key, Vec<&RecordedDecision>> {
    let mut map: BTreeMap<Key, Vec<&RecordedDecision>> = BTreeMap::new();
    for d in decisions.iter().filter(|d| d.at >= since) {
        map.entry((d.alert.clone(), d.remediation.clone()))
            .or_default()
            .push(d);
    }
    map
}

/// `fire`, `collapse(in_flight)`, `defer(deploying)`.
fn word(d: &RecordedDecision) -> String {
    match &d.reason {
        Some(r) => format!("{}({r})", d.verdict),
        None => d.verdict.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(secs: i64, alert: &str, verdict: Verdict, reason: Option<&str>) -> RecordedDecision {
        RecordedDecision {
            at: Timestamp::from_second(1_800_000_000 + secs).unwrap(),
            alert: alert.into(),
            remediation: Some("restart-api".into()),
            target: Some(format!("api/{alert}")),
            verdict,
            reason: reason.map(Into::into),
        }
    }

    fn since() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    #[test]
    fn the_same_decisions_make_an_empty_diff() {
        let ds = vec![
            d(0, "a", Verdict::Fire, None),
            d(60, "a", Verdict::Collapse, Some("in_flight")),
        ];
        let diff = diff(&ds, &ds.clone(), since());
        assert!(diff.is_empty(), "{diff:?}");
        assert_eq!(diff.compared, 1);
    }

    #[test]
    fn a_guard_that_no_longer_holds_shows_as_now_fire_and_no_longer_defer() {
        let before = vec![
            d(0, "a", Verdict::Defer, Some("deploying")),
            d(5, "b", Verdict::Fire, None),
        ];
        let after = vec![
            d(0, "a", Verdict::Fire, None),
            d(5, "b", Verdict::Fire, None),
        ];
        let diff = diff(&before, &after, since());
        assert_eq!(diff.changed(), 1);
        let changes: Vec<Change> = diff.groups[0].changes.iter().map(|c| c.change).collect();
        assert_eq!(changes, [Change::NowFire, Change::NoLongerDefer]);
        let example = &diff.groups[0].changes[0].examples[0];
        assert_eq!(example.before, ["defer(deploying)"]);
        assert_eq!(example.after, ["fire"]);
    }

    #[test]
    fn only_reasons_changing_is_its_own_kind_and_paused_pairs_are_skipped() {
        let before = vec![
            d(0, "a", Verdict::Defer, Some("deploying")),
            d(0, "p", Verdict::Defer, Some("paused")),
        ];
        let after = vec![
            d(0, "a", Verdict::Defer, Some("concurrency")),
            d(0, "p", Verdict::Fire, None),
        ];
        let diff = diff(&before, &after, since());
        assert_eq!(diff.skipped_paused, 1);
        assert_eq!(diff.groups[0].changes[0].change, Change::ReasonChanged);
        assert_eq!(diff.changed(), 1);
    }

    #[test]
    fn decisions_before_the_window_are_not_compared() {
        let before = vec![d(-10, "a", Verdict::Fire, None)];
        let diff = diff(&before, &[], since());
        assert!(diff.is_empty());
        assert_eq!(diff.decisions_before, 0);
    }
}
