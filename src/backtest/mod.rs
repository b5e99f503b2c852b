//! Backtests: replay what a journal recorded through other rules and say what
//! they would have decided differently.
//!
//! The replay is the scenario runner on a virtual clock: every retained webhook
//! is delivered at the moment it was received, and every fire is played by a
//! fake remediator scripted from the journal: the recorded event on the same
//! target (its duration and how it ended), else the median of the
//! remediation's recorded events, else an assumption the caller gives. No I/O
//! here: the caller reads the journal ([`crate::journal::history`]).

pub mod diff;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use crate::engine::EventState;
use crate::journal::history::{Recorded, RecordedEvent};
use crate::rules::RuleSet;
use crate::scenario::schema::FakeOutcome;
use crate::scenario::{Action, Fake, Runner, Step, Trace};

pub use diff::{Change, Diff, diff};

/// How each fire of the replay found its remediator's behaviour.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Scripted {
    /// The recorded event of the same remediation and target fired within a
    /// minute of the replayed fire: the same event, played as it went.
    pub same_event: usize,
    /// A recorded event on the same target, at another time.
    pub same_target: usize,
    /// The median duration of the remediation's recorded successes.
    pub remediation_median: usize,
    /// Nothing recorded for the remediation: the caller's assumption.
    pub assumed: usize,
}

pub struct Replay {
    pub trace: Trace,
    pub start: Timestamp,
    pub end: Timestamp,
    pub scripted: Scripted,
}

/// Replays every webhook of `recorded` through `rules`. A fire the journal has
/// nothing to go by is played as `assume`.
pub fn replay(rules: &Arc<RuleSet>, recorded: &Recorded, assume: Fake) -> Option<Replay> {
    replay_with_progress(rules, recorded, assume, Box::new(|_| {}))
}

/// [`replay`], telling `progress` how many webhooks are replayed so far.
pub fn replay_with_progress(
    rules: &Arc<RuleSet>,
    recorded: &Recorded,
    assume: Fake,
    progress: Box<dyn FnMut(usize)>,
) -> Option<Replay> {
    let start = recorded.inbound.first()?.received_at;
    let end = [
        recorded.inbound.last().map(|i| i.received_at),
        recorded.decisions.last().map(|d| d.at),
        // A fact change after the last webhook may free a deferred alert.
        recorded.facts.last().map(|c| c.at),
        recorded
            .events
            .iter()
            .filter_map(|e| e.ended.map(|(at, _)| at))
            .max(),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(start)
    .max(start);
    let (runner, counts) = runner(rules, recorded, assume, start, end);
    let mut runner = runner.with_progress(progress);
    let steps = steps(recorded, start, |t| t <= end);
    runner.play(start, steps, end.duration_since(start));
    let scripted = counts.lock().map(|c| *c).unwrap_or_default();
    Some(Replay {
        trace: runner.into_trace(),
        start,
        end,
        scripted,
    })
}

/// The engine as the journal's webhooks up to `at` leave it (through `rules`,
/// fires played as recorded): ready to decide something more at `at`.
/// `None` when nothing was received by then.
pub fn state_at(
    rules: &Arc<RuleSet>,
    recorded: &Recorded,
    assume: Fake,
    at: Timestamp,
) -> Option<Runner> {
    let start = recorded.inbound.first()?.received_at;
    if start > at {
        return None;
    }
    let (mut runner, _) = runner(rules, recorded, assume, start, at);
    // What arrived at `at` itself is not yet state: the caller decides at `at`.
    let steps = steps(recorded, start, |t| t < at);
    runner.play(start, steps, at.duration_since(start));
    Some(runner)
}

/// The retained webhooks received when `within` says, as timeline steps from
/// `start`, after the fact relations' recorded rows: each recorded change
/// becomes the relation's whole rows at its time (changes before `start` at
/// `start`), so a replay never queries a live source. Recorded rows count as
/// fresh from then on: the journal records changes, not failed refreshes.
fn steps(recorded: &Recorded, start: Timestamp, within: impl Fn(Timestamp) -> bool) -> Vec<Step> {
    let mut out = Vec::new();
    let mut rows: BTreeMap<&str, Vec<crate::engine::FactRow>> = BTreeMap::new();
    for c in &recorded.facts {
        let current = rows.entry(c.relation.as_str()).or_default();
        // Rows compared by their JSON: a 10,000-row relation is not compared
        // row by row against each removed row.
        let key = |r: &crate::engine::FactRow| serde_json::to_string(r).unwrap_or_default();
        let removed: std::collections::HashSet<String> = c.removed.iter().map(key).collect();
        current.retain(|r| !removed.contains(&key(r)));
        let mut present: std::collections::HashSet<String> = current.iter().map(key).collect();
        for r in &c.added {
            if present.insert(key(r)) {
                current.push(r.clone());
            }
        }
        if within(c.at) {
            out.push(Step {
                at: c.at.duration_since(start).max(SignedDuration::ZERO),
                action: Action::Facts(c.relation.clone(), current.clone()),
            });
        }
    }
    out.extend(
        recorded
            .inbound
            .iter()
            .filter(|i| within(i.received_at))
            .map(|i| Step {
                at: i.received_at.duration_since(start),
                action: Action::Alerts(i.alerts.clone()),
            }),
    );
    out
}

/// A runner whose fires are scripted from the journal's events, and the
/// tally of how each fire was scripted.
fn runner(
    rules: &Arc<RuleSet>,
    recorded: &Recorded,
    assume: Fake,
    start: Timestamp,
    end: Timestamp,
) -> (Runner, Arc<Mutex<Scripted>>) {
    // Work still running when the journal ends must not end in the replay.
    let open_for = end
        .duration_since(start)
        .saturating_add(SignedDuration::from_hours(24));
    let book = Book::new(&recorded.events, open_for);
    let counts = Arc::new(Mutex::new(Scripted::default()));
    let tally = counts.clone();
    let script = Box::new(move |remediation: &str, target: &str, at: Timestamp| {
        let (fake, how) = book.fake(remediation, target, at, assume);
        if let Ok(mut c) = tally.lock() {
            match how {
                How::SameEvent => c.same_event += 1,
                How::SameTarget => c.same_target += 1,
                How::Median => c.remediation_median += 1,
                How::Assumed => c.assumed += 1,
            }
        }
        fake
    });
    let runner = Runner::new(rules.clone(), start, BTreeMap::new()).with_script(script);
    (runner, counts)
}

enum How {
    SameEvent,
    SameTarget,
    Median,
    Assumed,
}

/// The recorded events, ready to script fires from.
struct Book {
    /// (remediation, target) → events in firing order.
    by_target: HashMap<(String, String), Vec<RecordedEvent>>,
    /// remediation → median duration of its recorded successes.
    median: HashMap<String, SignedDuration>,
    open_for: SignedDuration,
}

impl Book {
    fn new(events: &[RecordedEvent], open_for: SignedDuration) -> Book {
        let mut by_target: HashMap<(String, String), Vec<RecordedEvent>> = HashMap::new();
        let mut durations: HashMap<String, Vec<SignedDuration>> = HashMap::new();
        for e in events {
            by_target
                .entry((e.remediation.clone(), e.target.clone()))
                .or_default()
                .push(e.clone());
            if let Some((at, state)) = e.ended
                && succeeded(state)
            {
                durations
                    .entry(e.remediation.clone())
                    .or_default()
                    .push(at.duration_since(e.fired_at));
            }
        }
        let median = durations
            .into_iter()
            .map(|(r, mut d)| {
                d.sort();
                let m = d[d.len() / 2];
                (r, m)
            })
            .collect();
        Book {
            by_target,
            median,
            open_for,
        }
    }

    fn fake(&self, remediation: &str, target: &str, at: Timestamp, assume: Fake) -> (Fake, How) {
        let key = (remediation.to_owned(), target.to_owned());
        if let Some(events) = self.by_target.get(&key) {
            // The recorded event fired nearest to this fire.
            let nearest = events
                .iter()
                .min_by_key(|e| e.fired_at.duration_since(at).abs());
            if let Some(e) = nearest {
                let how = if e.fired_at.duration_since(at).abs() <= SignedDuration::from_mins(1) {
                    How::SameEvent
                } else {
                    How::SameTarget
                };
                return (self.played(e), how);
            }
        }
        match self.median.get(remediation) {
            Some(&takes) => (
                Fake {
                    takes,
                    then: FakeOutcome::Succeeded,
                },
                How::Median,
            ),
            None => (assume, How::Assumed),
        }
    }

    /// A recorded event as a fake: as long as it took, ending as it ended.
    fn played(&self, e: &RecordedEvent) -> Fake {
        match e.ended {
            None => Fake {
                takes: self.open_for,
                then: FakeOutcome::Succeeded,
            },
            Some((at, state)) => Fake {
                takes: at.duration_since(e.fired_at).max(SignedDuration::ZERO),
                then: match state {
                    EventState::Failed => FakeOutcome::Failed,
                    EventState::TimedOut => FakeOutcome::TimedOut,
                    EventState::Refused => FakeOutcome::NeverAccepts,
                    _ => FakeOutcome::Succeeded,
                },
            },
        }
    }
}

fn succeeded(state: EventState) -> bool {
    matches!(
        state,
        EventState::Warming | EventState::Rescued | EventState::NotRescued
    )
}
