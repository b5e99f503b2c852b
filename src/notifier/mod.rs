//! Notifications (DESIGN.md §9): telling people in chat, on dashboards and in
//! their incident tool what resgate did and why.
//!
//! Three stages, each its own module: [`plan`] turns what the engine
//! produced (decisions, transitions) into [`Notice`]s per notifier; [`render`]
//! turns a notice into the exact HTTP request of a preset; [`send`] delivers
//! one request and classifies the answer. `plan` and `render` are pure: no
//! clock, no network, no journal. Named `notifier`, not `notify`, because the
//! file watcher crate already owns that name.

pub mod plan;
pub mod render;
pub mod send;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::engine::Verdict;
use crate::rules::NotifyOn;

/// One thing to tell one notifier: what, where, why, how it ended, and where
/// to read the whole story. Plain data, journaled as JSON in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Unique per notification and stable across resends: receivers that
    /// dedupe (an `Idempotency-Key` header) see a resend as the same message.
    pub key: String,
    /// The event word (`fire`, `rescued`, ...).
    pub on: String,
    pub at: Timestamp,
    pub remediation: String,
    pub target: String,
    /// The event fired, joined or ended; `None` for a defer or escalation.
    pub event: Option<String>,
    /// For a decision: its verdict and reason.
    pub verdict: Option<Verdict>,
    pub reason: Option<String>,
    /// Why, in one line: the guard and its fact, the budget, the pause.
    pub why: String,
    /// How it ended, for an event's end.
    pub outcome: Option<String>,
    /// When the event was fired: where a dashboard region starts.
    pub started: Option<Timestamp>,
    /// The event's page (`--external-url` + `/events/{id}`).
    pub link: Option<String>,
}

impl Notice {
    pub fn on(&self) -> Option<NotifyOn> {
        NotifyOn::parse(&self.on)
    }
}

/// What earlier notices of a digest window came to, when they did not get a
/// message of their own: "14 more restart-api deferred: concurrency".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub remediation: String,
    pub on: String,
    pub reason: Option<String>,
    pub count: u64,
}

/// One message: a notice, and the sum of those folded into it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub notice: Notice,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<Tally>,
}

/// What the notices folded into one message come to, grouped by
/// remediation, event word and reason in the order they first appear.
/// Counts add up to `notices.len()`: a storm is summed, never dropped.
pub fn tally<'a>(notices: impl IntoIterator<Item = &'a Notice>) -> Vec<Tally> {
    let mut out: Vec<Tally> = Vec::new();
    for n in notices {
        match out
            .iter_mut()
            .find(|t| t.remediation == n.remediation && t.on == n.on && t.reason == n.reason)
        {
            Some(t) => t.count = t.count.saturating_add(1),
            None => out.push(Tally {
                remediation: n.remediation.clone(),
                on: n.on.clone(),
                reason: n.reason.clone(),
                count: 1,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_groups_and_its_counts_add_up() {
        let n = |on: &str, reason: Option<&str>| Notice {
            key: String::new(),
            on: on.into(),
            at: Timestamp::UNIX_EPOCH,
            remediation: "restart-api".into(),
            target: "t".into(),
            event: None,
            verdict: None,
            reason: reason.map(str::to_owned),
            why: String::new(),
            outcome: None,
            started: None,
            link: None,
        };
        let mut notices: Vec<Notice> = (0..14).map(|_| n("defer", Some("concurrency"))).collect();
        notices.extend((0..3).map(|_| n("rescued", None)));
        notices.push(n("defer", Some("deploying")));
        let t = tally(&notices);
        assert_eq!(t.iter().map(|t| t.count).sum::<u64>(), notices.len() as u64);
        assert_eq!(
            t.iter()
                .map(|t| (t.on.as_str(), t.reason.as_deref(), t.count))
                .collect::<Vec<_>>(),
            [
                ("defer", Some("concurrency"), 14),
                ("rescued", None, 3),
                ("defer", Some("deploying"), 1)
            ]
        );
    }
}
