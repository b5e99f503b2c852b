//! Turning what a test or scenario names (payload files, inline labels, pauses)
//! into engine input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};

use crate::engine::Pause;
use crate::rules::{RuleSet, Source, SourceKind, duration};
use crate::source::{self, Alert, AlertStatus};

use super::run::{Action, Fake, Step};
use super::schema::{self, AlertRef, FakeRemediator, PauseDef};

/// Where a timeline starts when nothing in it says: a fixed, arbitrary instant.
pub const DEFAULT_START: Timestamp = Timestamp::constant(1_767_225_600, 0); // 2026-01-01T00:00:00Z

/// The source that maps a test's payloads: the named one, or the only one, or
/// the one of kind alertmanager.
pub fn pick_source<'r>(rules: &'r RuleSet, name: Option<&str>) -> Result<&'r Source, String> {
    if let Some(name) = name {
        return rules.source(name).ok_or_else(|| {
            let names: Vec<&str> = rules.sources.iter().map(|s| s.name.as_str()).collect();
            format!(
                "unknown source \"{name}\"; {}",
                crate::suggest::help(name, "source", names)
            )
        });
    }
    if let [only] = rules.sources.as_slice() {
        return Ok(only);
    }
    rules
        .sources
        .iter()
        .find(|s| matches!(s.kind, SourceKind::Alertmanager))
        .ok_or_else(|| {
            "no source given and no alertmanager source defined: name one with `source:`".to_owned()
        })
}

/// Reads and maps a payload file.
pub fn payload(source: &Source, path: &Path, received_at: Timestamp) -> Result<Vec<Alert>, String> {
    mapped(source, path, &read(path)?, received_at)
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn mapped(
    source: &Source,
    path: &Path,
    body: &[u8],
    received_at: Timestamp,
) -> Result<Vec<Alert>, String> {
    source::map_payload(source, body, received_at).map_err(|e| format!("{}: {e}", path.display()))
}

/// Stands in for "when resgate received it" while a payload is mapped before
/// that moment is known: no payload states this instant (the year -9999).
const UNSTATED: Timestamp = Timestamp::MIN;

/// Which of a payload's alerts' times sets the moment it is received at.
#[derive(Debug, Clone, Copy)]
pub enum Moment {
    /// The latest `startsAt` (`simulate` decides a payload when all of it has begun).
    Latest,
    /// The earliest `startsAt` (a test's clock starts with its first alert).
    Earliest,
}

/// Reads and maps a payload file once, received at the `moment` its own alerts
/// give, an alert without `startsAt` counting as [`DEFAULT_START`]; alerts
/// without a time of their own take that moment, exactly as if the payload
/// were mapped a second time, received then. Returns the moment and the alerts.
pub fn payload_at(
    source: &Source,
    path: &Path,
    moment: Moment,
) -> Result<(Timestamp, Vec<Alert>), String> {
    mapped_at(source, path, &read(path)?, moment)
}

fn mapped_at(
    source: &Source,
    path: &Path,
    body: &[u8],
    moment: Moment,
) -> Result<(Timestamp, Vec<Alert>), String> {
    let mut alerts = mapped(source, path, body, UNSTATED)?;
    let at = moment_of(alerts.iter().map(|a| a.starts_at), moment);
    for a in &mut alerts {
        received_then(a, at);
    }
    Ok((at, alerts))
}

/// The `moment` of these `startsAt`s, mapped received at [`UNSTATED`].
fn moment_of(starts: impl Iterator<Item = Timestamp>, moment: Moment) -> Timestamp {
    let starts = starts.map(|s| if s == UNSTATED { DEFAULT_START } else { s });
    match moment {
        Moment::Latest => starts.max(),
        Moment::Earliest => starts.min(),
    }
    .unwrap_or(DEFAULT_START)
}

/// An alert mapped received at [`UNSTATED`], as if mapped received `at`.
fn received_then(a: &mut Alert, at: Timestamp) {
    if a.starts_at == UNSTATED {
        a.starts_at = at;
    }
    if a.ends_at == Some(UNSTATED) {
        a.ends_at = Some(at);
    }
}

/// [`payload`] received at `given`, or [`payload_at`] the `moment` when none
/// is given, for a caller that takes the alerts one at a time (`simulate`
/// feeding the engine): `take` gets the moment and the alerts, each made only
/// as it is taken, so that a 100k-alert payload's label maps are never all
/// held at once (holding them was most of `simulate`'s page faults). The
/// moment and the alerts are exactly those of [`payload`] / [`payload_at`].
pub fn with_payload<R>(
    source: &Source,
    path: &Path,
    given: Option<Timestamp>,
    moment: Moment,
    take: impl FnOnce(Timestamp, &mut dyn ExactSizeIterator<Item = Alert>) -> R,
) -> Result<R, String> {
    let body = read(path)?;
    let Some(read) = source::read_payload(source, &body) else {
        let (at, alerts) = match given {
            Some(at) => (at, mapped(source, path, &body, at)?),
            None => mapped_at(source, path, &body, moment)?,
        };
        return Ok(take(at, &mut alerts.into_iter()));
    };
    Ok(match given {
        Some(at) => take(at, &mut read.into_alerts(at)),
        None => {
            let at = moment_of(read.starts().map(|s| s.unwrap_or(UNSTATED)), moment);
            let mut alerts = read.into_alerts(UNSTATED).map(|mut a| {
                received_then(&mut a, at);
                a
            });
            take(at, &mut alerts)
        }
    })
}

/// One firing alert from inline labels.
pub fn labelled(labels: &BTreeMap<String, String>, at: Timestamp) -> Result<Alert, String> {
    if labels.is_empty() {
        return Err("inline `labels` must not be empty".to_owned());
    }
    Ok(Alert {
        source: "test".to_owned(),
        fingerprint: source::fingerprint(labels),
        status: AlertStatus::Firing,
        labels: labels.clone(),
        annotations: BTreeMap::new(),
        starts_at: at,
        ends_at: None,
        group_key: None,
        generator_url: None,
    })
}

pub fn offset(text: &str, what: &str) -> Result<SignedDuration, String> {
    let d = duration::parse(text).or_else(|e| {
        if text.trim() == "0" {
            Ok(std::time::Duration::ZERO)
        } else {
            Err(e)
        }
    });
    d.map_err(|e| format!("{what}: {e}"))
        .and_then(|d| SignedDuration::try_from(d).map_err(|_| format!("{what}: duration too long")))
}

pub fn fakes(
    defs: &BTreeMap<String, FakeRemediator>,
    rules: &RuleSet,
) -> Result<BTreeMap<String, Fake>, String> {
    let mut out = BTreeMap::new();
    for (name, def) in defs {
        if !rules.remediators.iter().any(|r| &r.name == name) {
            let names: Vec<&str> = rules.remediators.iter().map(|r| r.name.as_str()).collect();
            return Err(format!(
                "unknown remediator \"{name}\" in `remediators`; {}",
                crate::suggest::help(name, "remediator", names)
            ));
        }
        let takes = offset(&def.takes, &format!("remediators.{name}.takes"))?;
        out.insert(
            name.clone(),
            Fake {
                takes,
                then: def.then,
            },
        );
    }
    Ok(out)
}

pub fn pause(def: &PauseDef, now: Timestamp) -> Result<Pause, String> {
    let until = match &def.for_ {
        Some(f) => Some(now.saturating_add(offset(f, "pause `for`")?).unwrap_or(now)),
        None => None,
    };
    Ok(Pause {
        remediation: def.remediation.clone(),
        target: def.target.clone(),
        reason: def
            .reason
            .clone()
            .unwrap_or_else(|| "paused in test".to_owned()),
        until,
    })
}

/// Resolves paths relative to the file that names them.
pub struct Resolver<'a> {
    pub base: PathBuf,
    pub rules: &'a RuleSet,
    pub source: &'a Source,
}

impl Resolver<'_> {
    pub fn path(&self, rel: &str) -> PathBuf {
        self.base.join(rel)
    }

    pub fn alert_ref(&self, r: &AlertRef, at: Timestamp) -> Result<Vec<Alert>, String> {
        match r {
            AlertRef::Path(p) => payload(self.source, &self.path(p), at),
            AlertRef::Labels { labels } => Ok(vec![labelled(labels, at)?]),
        }
    }

    /// The start of a timeline: the first payload's first alert's `startsAt`,
    /// so `age($alert, S)` reads as the test author expects.
    pub fn start(&self, first_payload: Option<&str>) -> Timestamp {
        first_payload
            .and_then(|p| payload(self.source, &self.path(p), DEFAULT_START).ok())
            .and_then(|alerts| alerts.iter().map(|a| a.starts_at).min())
            .unwrap_or(DEFAULT_START)
    }

    /// A timeline's steps as engine actions.
    pub fn steps(&self, steps: &[schema::Step], start: Timestamp) -> Result<Vec<Step>, String> {
        let mut out = Vec::new();
        for (i, s) in steps.iter().enumerate() {
            let at = offset(&s.at, &format!("timeline[{i}].at"))?;
            let now = start.saturating_add(at).unwrap_or(start);
            let mut push = |action| out.push(Step { at, action });
            let mut any = false;
            // Facts before alerts of the same step: the alert sees them.
            if let Some(facts) = &s.facts {
                for (name, rows) in facts {
                    fact_rows(self.rules, name, rows)
                        .map_err(|e| format!("timeline[{i}].facts: {e}"))?;
                    push(Action::Facts(name.clone(), rows.clone()));
                }
                any = true;
            }
            if let Some(names) = &s.stale {
                for name in names.iter() {
                    if self.rules.fact_source(name).is_none() {
                        return Err(format!(
                            "timeline[{i}].stale: {}",
                            unknown_relation(self.rules, name)
                        ));
                    }
                    push(Action::Stale(name.clone()));
                }
                any = true;
            }
            if let Some(p) = &s.alert {
                push(Action::Alerts(payload(self.source, &self.path(p), now)?));
                any = true;
            }
            if let Some(p) = &s.resolve {
                let alerts = payload(self.source, &self.path(p), now)?;
                push(Action::Alerts(
                    alerts.into_iter().map(|a| resolved(a, now)).collect(),
                ));
                any = true;
            }
            if let Some(l) = &s.labels {
                push(Action::Alerts(vec![labelled(l, now)?]));
                any = true;
            }
            if let Some(l) = &s.resolve_labels {
                push(Action::Alerts(vec![resolved(labelled(l, now)?, now)]));
                any = true;
            }
            if let Some(p) = &s.pause {
                push(Action::Pause(pause(p, now)?));
                any = true;
            }
            if let Some(p) = &s.unpause {
                push(Action::Unpause {
                    remediation: p.remediation.clone(),
                    target: p.target.clone(),
                });
                any = true;
            }
            if let Some(event) = &s.approve {
                push(Action::Approve(event.clone()));
                any = true;
            }
            if !any {
                return Err(format!(
                    "timeline[{i}] does nothing: give `alert`, `resolve`, `labels`, `resolve_labels`, `pause`, `unpause`, `approve`, `facts` or `stale`"
                ));
            }
        }
        Ok(out)
    }
}

fn unknown_relation(rules: &RuleSet, name: &str) -> String {
    let known: Vec<&str> = rules.facts.iter().map(|f| f.name.as_str()).collect();
    if known.is_empty() {
        format!("no fact relation \"{name}\": the rules have no `facts:` section")
    } else {
        format!(
            "no fact relation \"{name}\" in the rules (they have {})",
            known.join(", ")
        )
    }
}

/// Scripted rows for a fact relation, checked against the rules: the
/// relation exists, every row has its arity, no cell is NaN.
pub fn fact_rows(
    rules: &RuleSet,
    name: &str,
    rows: &[crate::engine::FactRow],
) -> Result<(), String> {
    let Some(source) = rules.fact_source(name) else {
        return Err(unknown_relation(rules, name));
    };
    for (n, row) in rows.iter().enumerate() {
        if row.len() != source.arity() {
            return Err(format!(
                "fact relation \"{name}\" has {} column(s) ({}), but row {} has {}",
                source.arity(),
                source.columns.join(", "),
                n + 1,
                row.len()
            ));
        }
    }
    Ok(())
}

pub fn resolved(mut alert: Alert, now: Timestamp) -> Alert {
    alert.status = AlertStatus::Resolved;
    alert.ends_at = Some(now);
    alert
}

#[cfg(test)]
mod tests {
    //! `with_payload` (alerts made as they are taken, for `simulate`) against
    //! `payload` / `payload_at` (all mapped at once): the same moment, the same
    //! alerts, the same errors, on every shipped Alertmanager and Grafana
    //! fixture and on variants the fast path reads differently or declines.

    use super::*;
    use crate::rules::SourceKind;

    type Got = Result<(Timestamp, Vec<Alert>), String>;

    fn lazily(source: &Source, path: &Path, given: Option<Timestamp>, moment: Moment) -> Got {
        with_payload(source, path, given, moment, |at, alerts| {
            (at, alerts.collect())
        })
    }

    fn variants(text: &str) -> Vec<String> {
        vec![
            text.to_owned(),
            // No startsAt: the alert takes the moment.
            text.replacen("\"startsAt\"", "\"startsAtX\"", 1),
            text.replace("\"startsAt\"", "\"startsAtX\""),
            // Escaped label text (owned, not borrowed, strings).
            text.replacen("\"alertname\"", "\"alert\\u006eame\"", 1),
            // A label given twice: the last value counts.
            text.replacen(
                "\"labels\": {",
                "\"labels\": {\"dup\": \"1\", \"dup\": \"2\", ",
                1,
            ),
            // Declined by the fast path (the checked path says why).
            text.replacen("\"status\"", "\"status\": \"bogus\", \"status\"", 1),
            text.replacen("\"startsAt\": \"", "\"startsAt\": \"x", 1),
        ]
    }

    #[test]
    fn alerts_taken_one_at_a_time_are_those_mapped_at_once() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let tmp = tempfile::tempdir().expect("temp dir");
        let given = Timestamp::from_second(1_800_000_000).expect("a time");
        let mut checked = 0;
        for (sub, kind) in [
            ("alertmanager", SourceKind::Alertmanager),
            ("grafana", SourceKind::Grafana),
        ] {
            let source = Source {
                name: "src".to_owned(),
                kind,
                auth: None,
            };
            let entries = std::fs::read_dir(dir.join(sub)).expect("fixtures");
            for e in entries.flatten() {
                let text = std::fs::read_to_string(e.path()).expect("a fixture");
                for (i, variant) in variants(&text).iter().enumerate() {
                    let path = tmp.path().join(format!("{i}.json"));
                    std::fs::write(&path, variant).expect("written");
                    for moment in [Moment::Latest, Moment::Earliest] {
                        assert_eq!(
                            lazily(&source, &path, None, moment),
                            payload_at(&source, &path, moment),
                            "{} variant {i}",
                            e.path().display()
                        );
                    }
                    assert_eq!(
                        lazily(&source, &path, Some(given), Moment::Latest),
                        payload(&source, &path, given).map(|a| (given, a)),
                        "{} variant {i}",
                        e.path().display()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked >= 70, "payloads checked: {checked}");
    }
}
