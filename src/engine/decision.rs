//! What the engine answers: a verdict per (alert, remediation), with its proof.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The five verdicts of DESIGN.md §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Fire,
    Collapse,
    Defer,
    Escalate,
    Discard,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Fire => "fire",
            Verdict::Collapse => "collapse",
            Verdict::Defer => "defer",
            Verdict::Escalate => "escalate",
            Verdict::Discard => "discard",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Some(match s {
            "fire" => Verdict::Fire,
            "collapse" => Verdict::Collapse,
            "defer" => Verdict::Defer,
            "escalate" => Verdict::Escalate,
            "discard" => Verdict::Discard,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One decision: for one alert and (except for a discard of an alert nothing
/// matches) one remediation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub at: Timestamp,
    /// The alert's fingerprint.
    pub alert: String,
    pub remediation: Option<String>,
    /// The rendered target key.
    pub target: Option<String>,
    pub verdict: Verdict,
    /// `in_flight`, `warming_up`, `budget`, `paused`, a guard's name, `concurrency`,
    /// `no_match`, `shadow`; `None` for a plain fire.
    pub reason: Option<String>,
    /// The event a fire created or a collapse joined.
    pub event: Option<String>,
    pub proof: Proof,
}

/// Why the cascade stopped where it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// No remediation's `match` (and `when`) holds for the alert.
    NoMatch { labels: Vec<(String, String)> },
    /// An event of this remediation on this target is accepted or running.
    InFlight {
        event: String,
        state: String,
        since: Timestamp,
    },
    /// The last success on this target is still warming up.
    WarmingUp {
        event: String,
        succeeded_at: Timestamp,
        until: Timestamp,
    },
    /// The budget of attempts inside its window is spent.
    Budget {
        attempts: u32,
        within_secs: u64,
        events: Vec<String>,
        already_escalated: bool,
    },
    Paused {
        scope: String,
        reason: String,
        until: Option<Timestamp>,
    },
    /// An `unless` guard held: which body, and the facts that made it true.
    Guard {
        guard: String,
        body: String,
        bindings: Vec<(String, String)>,
        facts: Vec<FactProof>,
    },
    /// `max_concurrent` events of the remediation are accepted or running.
    Concurrency { limit: u32, events: Vec<String> },
    /// Nothing stopped it: the matchers that held and the guards that did not.
    Fire {
        matched: Vec<String>,
        guards_checked: Vec<String>,
    },
    /// A guard or `when` would read a fact relation whose last good refresh
    /// is too old (or that was never refreshed): nothing fires on an unknown
    /// world (DESIGN.md §8).
    StaleFacts {
        /// `when`, or the first `unless` guard that would have read them.
        guard: String,
        sources: Vec<super::relations::StaleSource>,
    },
    /// Deciding failed (a template could not render): nothing fires.
    Error { message: String },
}

/// A fact used by a proof, with how it was derived if it is not a built-in one.
///
/// Shared, not owned: a storm defers thousands of alerts on the same few facts,
/// and the engine hands out one cached tree for all of them (a clone is a few
/// reference counts, not a copy of every string in the tree).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactProof {
    /// `deploying("api")`.
    pub fact: Arc<str>,
    /// For derived facts: the rule that derived it (as written) and the facts it used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Arc<str>>,
    #[serde(default, skip_serializing_if = "<[FactProof]>::is_empty")]
    pub from: Arc<[FactProof]>,
}
