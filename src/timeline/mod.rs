//! Timeline pictures: what happened to each target during a scenario run, as a
//! small model ([`Timeline`]) that renderers draw ([`svg`]).
//!
//! The model is built from a finished run ([`Trace`]): one row per target
//! (remediation + rendered target key), with the firing spans and notification
//! ticks of the alerts decided on it, every decision, and every event split into
//! its phases. It holds times, not pixels: layout belongs to the renderer. It
//! does not decide anything and does no I/O; a `serve` status page or
//! `backtest` could build the same model from the journal.

pub mod svg;

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use crate::engine::{EventState, Verdict};
use crate::scenario::simulate::ScenarioRun;
use crate::scenario::{Entry, Trace};
use crate::source::AlertStatus;

/// Everything one picture shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// The scenario's name.
    pub title: Option<String>,
    pub start: Timestamp,
    /// Where the virtual clock stopped: spans and phases still open end here.
    pub end: Timestamp,
    /// In order of first appearance.
    pub rows: Vec<Row>,
}

/// One target: a remediation's rendered target key, or an alert no remediation
/// matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    /// `None` for alerts no remediation matched (their discards).
    pub remediation: Option<String>,
    /// The rendered target key; for unmatched alerts, the alert's name.
    pub target: String,
    /// When the alerts decided on this row were firing.
    pub firing: Vec<Span>,
    /// Every notification of those alerts (firing or resolved).
    pub notifications: Vec<Tick>,
    pub decisions: Vec<Mark>,
    pub events: Vec<EventBar>,
}

impl Row {
    /// What the picture writes at the left of the row.
    pub fn label(&self) -> String {
        match &self.remediation {
            Some(r) => format!("{r} · {}", self.target),
            None => format!("no remediation · {}", self.target),
        }
    }
}

/// An alert firing, from its first firing notification to the one that
/// resolved it (`to: None`: still firing when the run ended).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The alert's fingerprint.
    pub alert: String,
    /// Its `alertname` label, for tooltips.
    pub name: String,
    pub from: Timestamp,
    pub to: Option<Timestamp>,
}

/// One notification: a sender posting the alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub at: Timestamp,
    pub alert: String,
    pub name: String,
    pub status: AlertStatus,
}

/// One decision on a row (the row gives its remediation and target).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: Timestamp,
    pub verdict: Verdict,
    /// `in_flight`, `warming_up`, a guard's name...; `None` for a plain fire.
    pub reason: Option<String>,
    /// The alert's fingerprint.
    pub alert: String,
    /// The event a fire created or a collapse joined.
    pub event: Option<String>,
}

/// One remediation event as a bar: its phases back to back, then how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct EventBar {
    pub id: String,
    pub phases: Vec<Phase>,
    /// A final state (`rescued`, `not_rescued`, `failed`, `timed_out`,
    /// `refused`) and when it was reached; `None`: still open at the end.
    pub outcome: Option<(Timestamp, EventState)>,
}

/// An event in one non-final state from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    pub state: EventState,
    pub from: Timestamp,
    pub to: Timestamp,
}

impl Timeline {
    /// The picture of a scenario run, titled with the scenario's name.
    pub fn from_run(run: &ScenarioRun) -> Timeline {
        let mut timeline = Timeline::from_trace(&run.trace, run.start);
        timeline.title = run.name.clone();
        timeline
    }

    /// Builds the model from a finished run that started at `start`.
    pub fn from_trace(trace: &Trace, start: Timestamp) -> Timeline {
        let names: HashMap<&str, &str> = trace
            .notifications
            .iter()
            .map(|n| {
                let name = n.alert.labels.get("alertname").map_or("", String::as_str);
                (n.alert.fingerprint.as_str(), name)
            })
            .collect();
        let name_of = |fp: &str| -> String {
            match names.get(fp) {
                Some(name) if !name.is_empty() => (*name).to_owned(),
                _ => fp.get(..8).unwrap_or(fp).to_owned(),
            }
        };

        let mut rows: Vec<Row> = Vec::new();
        let mut index: HashMap<(Option<String>, String), usize> = HashMap::new();
        let mut row_of = |rows: &mut Vec<Row>, remediation: Option<&str>, target: String| {
            let key = (remediation.map(str::to_owned), target);
            *index
                .entry(key)
                .or_insert_with_key(|(remediation, target)| {
                    rows.push(Row {
                        remediation: remediation.clone(),
                        target: target.clone(),
                        ..Row::default()
                    });
                    rows.len() - 1
                })
        };
        // Which rows each alert was decided on: its spans and ticks go there.
        let mut alert_rows: HashMap<&str, Vec<usize>> = HashMap::new();
        // Events in order of their first transition, with the moment they fired.
        let mut events: BTreeMap<&str, (usize, EventBar)> = BTreeMap::new();
        let mut event_order: Vec<&str> = Vec::new();
        let mut fired_at: HashMap<&str, Timestamp> = HashMap::new();
        let mut end = trace.end.unwrap_or(start);

        for entry in &trace.log {
            match entry {
                Entry::Decision(d) => {
                    end = end.max(d.at);
                    let target = match (&d.remediation, &d.target) {
                        (_, Some(t)) => t.clone(),
                        (Some(_), None) => "(target did not render)".to_owned(),
                        (None, None) => name_of(&d.alert),
                    };
                    let row = row_of(&mut rows, d.remediation.as_deref(), target);
                    let on = alert_rows.entry(d.alert.as_str()).or_default();
                    if !on.contains(&row) {
                        on.push(row);
                    }
                    if let (Verdict::Fire, Some(event)) = (d.verdict, &d.event) {
                        fired_at.entry(event.as_str()).or_insert(d.at);
                    }
                    rows[row].decisions.push(Mark {
                        at: d.at,
                        verdict: d.verdict,
                        reason: d.reason.clone(),
                        alert: d.alert.clone(),
                        event: d.event.clone(),
                    });
                }
                Entry::Transition(t) => {
                    end = end.max(t.at);
                    let row = row_of(&mut rows, Some(&t.remediation), t.target.clone());
                    let (_, bar) = events.entry(t.event.as_str()).or_insert_with(|| {
                        event_order.push(t.event.as_str());
                        // Before its first transition the event was in `from`
                        // (pending) since it fired.
                        let since = fired_at.get(t.event.as_str()).copied().unwrap_or(t.at);
                        let phases = t.from.map_or_else(Vec::new, |state| {
                            vec![Phase {
                                state,
                                from: since,
                                to: since,
                            }]
                        });
                        (
                            row,
                            EventBar {
                                id: t.event.clone(),
                                phases,
                                outcome: None,
                            },
                        )
                    });
                    if let Some(open) = bar.phases.last_mut().filter(|_| bar.outcome.is_none()) {
                        open.to = t.at;
                    }
                    if t.to.is_final() {
                        bar.outcome = Some((t.at, t.to));
                    } else {
                        bar.phases.push(Phase {
                            state: t.to,
                            from: t.at,
                            to: t.at,
                        });
                    }
                }
            }
        }
        for n in &trace.notifications {
            end = end.max(n.at);
        }

        for id in event_order {
            if let Some((row, mut bar)) = events.remove(id) {
                if bar.outcome.is_none()
                    && let Some(open) = bar.phases.last_mut()
                {
                    open.to = end;
                }
                rows[row].events.push(bar);
            }
        }

        // Firing spans: from the first firing notification to the resolving one.
        let mut open: HashMap<&str, Timestamp> = HashMap::new();
        let mut spans: Vec<(&str, Span)> = Vec::new();
        for n in &trace.notifications {
            let fp = n.alert.fingerprint.as_str();
            let Some(on) = alert_rows.get(fp) else {
                continue; // never decided (only ever resolved): nothing to anchor it to
            };
            for &row in on {
                rows[row].notifications.push(Tick {
                    at: n.at,
                    alert: fp.to_owned(),
                    name: name_of(fp),
                    status: n.alert.status,
                });
            }
            match n.alert.status {
                AlertStatus::Firing => {
                    open.entry(fp).or_insert(n.at);
                }
                AlertStatus::Resolved => {
                    if let Some(from) = open.remove(fp) {
                        spans.push((fp, span(fp, name_of(fp), from, Some(n.at))));
                    }
                }
            }
        }
        let mut still: Vec<(&str, Timestamp)> = open.into_iter().collect();
        still.sort();
        spans.extend(
            still
                .into_iter()
                .map(|(fp, from)| (fp, span(fp, name_of(fp), from, None))),
        );
        for (fp, span) in spans {
            for &row in alert_rows.get(fp).into_iter().flatten() {
                rows[row].firing.push(span.clone());
            }
        }
        for row in &mut rows {
            row.firing.sort_by_key(|s| s.from);
        }

        Timeline {
            title: None,
            start,
            end: end.max(start),
            rows,
        }
    }

    pub fn decisions(&self) -> impl Iterator<Item = &Mark> {
        self.rows.iter().flat_map(|r| r.decisions.iter())
    }

    pub fn events(&self) -> impl Iterator<Item = &EventBar> {
        self.rows.iter().flat_map(|r| r.events.iter())
    }
}

fn span(alert: &str, name: String, from: Timestamp, to: Option<Timestamp>) -> Span {
    Span {
        alert: alert.to_owned(),
        name,
        from,
        to,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use jiff::{SignedDuration, Timestamp};

    use super::*;
    use crate::engine::{Decision, Proof, Transition};
    use crate::scenario::Notification;
    use crate::source::Alert;

    const T0: Timestamp = Timestamp::constant(1_767_225_600, 0);

    fn at(mins: i64) -> Timestamp {
        T0 + SignedDuration::from_mins(mins)
    }

    fn alert(fp: &str, status: AlertStatus, mins: i64) -> Notification {
        Notification {
            at: at(mins),
            alert: Alert {
                source: "am".to_owned(),
                fingerprint: fp.to_owned(),
                status,
                labels: BTreeMap::from([("alertname".to_owned(), "ApiDown".to_owned())]),
                annotations: BTreeMap::new(),
                starts_at: at(0),
                ends_at: None,
                group_key: None,
                generator_url: None,
            },
        }
    }

    fn decision(mins: i64, verdict: Verdict, reason: Option<&str>) -> Entry {
        Entry::Decision(Decision {
            at: at(mins),
            alert: "fp1".to_owned(),
            remediation: Some("restart".to_owned()),
            target: Some("api".to_owned()),
            verdict,
            reason: reason.map(str::to_owned),
            event: Some("ev-1".to_owned()),
            proof: Proof::Error {
                message: String::new(),
            },
        })
    }

    fn moved(mins: i64, from: EventState, to: EventState) -> Entry {
        Entry::Transition(Transition {
            at: at(mins),
            event: "ev-1".to_owned(),
            remediation: "restart".to_owned(),
            target: "api".to_owned(),
            from: Some(from),
            to,
        })
    }

    fn trace(log: Vec<Entry>, notifications: Vec<Notification>, end: i64) -> Trace {
        Trace {
            notifications,
            end: Some(at(end)),
            log,
            ..Trace::default()
        }
    }

    #[test]
    fn phases_follow_transitions_and_end_in_the_outcome() {
        use EventState::*;
        let t = trace(
            vec![
                decision(0, Verdict::Fire, None),
                moved(1, Pending, Accepted),
                moved(2, Accepted, Running),
                decision(5, Verdict::Collapse, Some("in_flight")),
                moved(10, Running, Warming),
                moved(16, Warming, Rescued),
            ],
            vec![
                alert("fp1", AlertStatus::Firing, 0),
                alert("fp1", AlertStatus::Firing, 5),
                alert("fp1", AlertStatus::Resolved, 16),
            ],
            16,
        );
        let tl = Timeline::from_trace(&t, T0);
        assert_eq!(tl.rows.len(), 1);
        let row = &tl.rows[0];
        assert_eq!(row.label(), "restart · api");
        let bar = &row.events[0];
        let phases: Vec<(EventState, Timestamp, Timestamp)> =
            bar.phases.iter().map(|p| (p.state, p.from, p.to)).collect();
        assert_eq!(
            phases,
            vec![
                (Pending, at(0), at(1)),
                (Accepted, at(1), at(2)),
                (Running, at(2), at(10)),
                (Warming, at(10), at(16)),
            ]
        );
        assert_eq!(bar.outcome, Some((at(16), Rescued)));
        assert_eq!(row.firing.len(), 1);
        assert_eq!(
            (row.firing[0].from, row.firing[0].to),
            (at(0), Some(at(16)))
        );
        assert_eq!(row.notifications.len(), 3);
        assert_eq!(row.decisions.len(), 2);
        assert_eq!(row.decisions[1].reason.as_deref(), Some("in_flight"));
    }

    #[test]
    fn open_phases_and_spans_run_to_the_end() {
        use EventState::*;
        let t = trace(
            vec![
                decision(0, Verdict::Fire, None),
                moved(0, Pending, Accepted),
                moved(0, Accepted, Running),
            ],
            vec![alert("fp1", AlertStatus::Firing, 0)],
            30,
        );
        let tl = Timeline::from_trace(&t, T0);
        assert_eq!(tl.end, at(30));
        let bar = &tl.rows[0].events[0];
        assert_eq!(bar.outcome, None);
        let last = bar.phases.last().copied();
        assert_eq!(last.map(|p| (p.state, p.to)), Some((Running, at(30))));
        assert_eq!(tl.rows[0].firing[0].to, None);
    }

    #[test]
    fn unmatched_alerts_get_a_row_named_after_the_alert() {
        let mut d = decision(0, Verdict::Discard, Some("no_match"));
        if let Entry::Decision(d) = &mut d {
            d.remediation = None;
            d.target = None;
            d.event = None;
        }
        let t = trace(vec![d], vec![alert("fp1", AlertStatus::Firing, 0)], 0);
        let tl = Timeline::from_trace(&t, T0);
        assert_eq!(tl.rows.len(), 1);
        assert_eq!(tl.rows[0].label(), "no remediation · ApiDown");
        assert_eq!(tl.rows[0].firing.len(), 1);
    }
}
