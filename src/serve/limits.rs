//! Bounds on what webhooks can make the daemon hold (issue 19, item 3).
//!
//! Webhook routes take input from anyone who can reach them, often without
//! credentials. Unbounded, ten posts of 10,000 distinct alerts added 65 MB of
//! memory and 106 MB of journal in under three seconds. Three bounds, checked
//! before a webhook is journaled (nothing refused is ever acknowledged):
//!
//! - alerts per request (`--max-alerts-per-request`): more is the sender's
//!   fault, 413;
//! - alerts held (`--max-alerts`): a webhook bringing alerts not held yet
//!   while full is refused with 503 and `Retry-After`, our capacity, so the
//!   sender retries within seconds (DESIGN.md §5); alerts already held
//!   (repeats, resolves) always pass, so the state can drain;
//! - journal size (`--journal-max-size`): webhooks stop at 90% of the cap with
//!   503, keeping the rest for the decisions of what was acknowledged.
//!
//! Each refusal is counted in `/metrics` and logged once per change between
//! "room" and "full". This module decides; the HTTP route only answers.

use std::hash::BuildHasher;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use rustc_hash::FxHashSet;

use crate::source::Alert;

/// Why a webhook is refused before it is journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The body carries more alerts than `--max-alerts-per-request` (413).
    TooManyAlerts { given: usize, max: usize },
    /// Holding its new alerts would pass `--max-alerts` (503).
    AlertsFull { max: usize },
    /// The journal is past the share of `--journal-max-size` webhooks may use (503).
    JournalFull { used: u64, limit: u64 },
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::TooManyAlerts { .. } => 413,
            Refusal::AlertsFull { .. } | Refusal::JournalFull { .. } => 503,
        }
    }

    /// The `reason` label of `resgate_ingest_refused_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::TooManyAlerts { .. } => "alerts_per_request",
            Refusal::AlertsFull { .. } => "alerts_held",
            Refusal::JournalFull { .. } => "journal_full",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Refusal::TooManyAlerts { given, max } => format!(
                "{given} alerts in one webhook, more than the {max} accepted; \
                 send fewer per request (Alertmanager: max_alerts) or raise --max-alerts-per-request"
            ),
            Refusal::AlertsFull { max } => format!(
                "resgate holds {max} alerts, its limit, and takes no new ones until some resolve; retry"
            ),
            Refusal::JournalFull { used, limit } => format!(
                "the journal is full ({used} of the {limit} bytes webhooks may use); \
                 retry; an operator must prune or raise --journal-max-size"
            ),
        }
    }
}

/// The share of `--journal-max-size` webhooks may fill: the rest stays free for
/// the decisions, calls and state changes of what was already acknowledged,
/// which must never be the writes that fail.
pub fn webhook_share(max_bytes: u64) -> u64 {
    max_bytes - max_bytes / 10
}

/// The fingerprints of the alerts held (as 64-bit hashes), and the bounds.
pub struct Limits {
    pub max_alerts_per_request: usize,
    pub max_alerts: usize,
    /// `--journal-max-size`, if any.
    pub journal_max_bytes: Option<u64>,
    /// Alerts in the engine's state, plus those admitted and not decided yet:
    /// admitting a webhook inserts its new fingerprints at once, so concurrent
    /// requests cannot each see room for the same last slots.
    held: RwLock<FxHashSet<u64>>,
    /// Keys [`Limits::key`]: SipHash with a key drawn at start.
    hasher: std::collections::hash_map::RandomState,
    alerts_full: AtomicBool,
    journal_full: AtomicBool,
}

impl Limits {
    pub fn new(
        max_alerts_per_request: usize,
        max_alerts: usize,
        journal_max_bytes: Option<u64>,
    ) -> Limits {
        Limits {
            max_alerts_per_request,
            max_alerts,
            journal_max_bytes,
            held: RwLock::new(FxHashSet::default()),
            hasher: std::collections::hash_map::RandomState::new(),
            alerts_full: AtomicBool::new(false),
            journal_full: AtomicBool::new(false),
        }
    }

    /// A fingerprint as the set keeps it: 8 bytes, whatever its length. The
    /// sender chooses fingerprints (Alertmanager's `fingerprint` field), so
    /// the hash is keyed and secret: with a known one (FxHash) anyone could
    /// make any number of new alerts pass as one held alert. A chance
    /// collision only admits one alert as if held: the bound is off by one.
    fn key(&self, fingerprint: &str) -> u64 {
        self.hasher.hash_one(fingerprint)
    }

    /// Checks a mapped webhook against every bound, given the journal's used
    /// bytes. On success its alerts not held yet are now held (reserved);
    /// the returned keys are what [`Limits::release`] gives back if the
    /// webhook is not journaled after all.
    ///
    /// `decides`: this instance runs the decision thread, which holds the
    /// alerts and forgets resolved ones. A standby of a shared journal has
    /// none: it would only ever add to the set, so it checks the other bounds
    /// and leaves this one to the leader, which holds what it decides.
    pub fn admit(
        &self,
        alerts: &[Alert],
        journal_used: u64,
        decides: bool,
    ) -> Result<Vec<u64>, Refusal> {
        if alerts.len() > self.max_alerts_per_request {
            return Err(Refusal::TooManyAlerts {
                given: alerts.len(),
                max: self.max_alerts_per_request,
            });
        }
        if let Some(max) = self.journal_max_bytes {
            let limit = webhook_share(max);
            let full = journal_used >= limit;
            self.changed(&self.journal_full, full, || {
                tracing::error!(
                    used = journal_used,
                    limit,
                    "the journal is full: webhooks are answered 503 until pruning frees room or --journal-max-size is raised"
                );
            }, || tracing::info!(used = journal_used, limit, "the journal has room again: webhooks are taken"));
            if full {
                return Err(Refusal::JournalFull {
                    used: journal_used,
                    limit,
                });
            }
        }
        if !decides {
            return Ok(Vec::new());
        }
        let mut held = match self.held.write() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut new: Vec<u64> = alerts
            .iter()
            .map(|a| self.key(&a.fingerprint))
            .filter(|k| !held.contains(k))
            .collect();
        new.sort_unstable();
        new.dedup();
        if new.is_empty() {
            return Ok(new);
        }
        let full = held.len().saturating_add(new.len()) > self.max_alerts;
        let max = self.max_alerts;
        let count = held.len();
        self.changed(&self.alerts_full, full, || {
            tracing::error!(
                held = count,
                max,
                "alert limit reached: webhooks with new alerts are answered 503 until some resolve or --max-alerts is raised"
            );
        }, || tracing::info!(held = count, max, "alerts below their limit again: new alerts are taken"));
        if full {
            return Err(Refusal::AlertsFull { max });
        }
        held.extend(new.iter().copied());
        Ok(new)
    }

    /// Gives back what [`Limits::admit`] reserved for a webhook that was not
    /// journaled. A key another webhook also brought may go too: the decision
    /// thread puts back every alert it decides ([`Limits::hold`]).
    pub fn release(&self, keys: &[u64]) {
        if keys.is_empty() {
            return;
        }
        if let Ok(mut held) = self.held.write() {
            for k in keys {
                held.remove(k);
            }
        }
    }

    /// The decision thread holds these alerts (decided, or restored from the
    /// journal; with a shared journal, taken by any instance).
    pub fn hold<'a>(&self, fingerprints: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut held) = self.held.write() {
            held.extend(fingerprints.into_iter().map(|fp| self.key(fp)));
        }
    }

    /// The decision thread forgot these (resolved long enough ago).
    pub fn forget<'a>(&self, fingerprints: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut held) = self.held.write() {
            for fp in fingerprints {
                held.remove(&self.key(fp));
            }
            if let Some(c) = crate::engine::shrunk(held.capacity(), held.len()) {
                held.shrink_to(c);
            }
        }
    }

    /// How many alerts are held (for `/metrics`).
    pub fn held(&self) -> usize {
        self.held.read().map_or(0, |h| h.len())
    }

    /// Logs a change of a full/room flag once, not once per request.
    fn changed(
        &self,
        flag: &AtomicBool,
        full: bool,
        filled: impl FnOnce(),
        emptied: impl FnOnce(),
    ) {
        if flag.swap(full, Ordering::Relaxed) != full {
            if full { filled() } else { emptied() }
        }
    }

    /// The lines of `/metrics` about the bounds.
    pub fn render(&self, journal_used: Option<u64>) -> String {
        let mut out = format!(
            "# HELP resgate_alerts_held Alerts held: firing, resolved within the last hour, or admitted and not decided yet.\n\
             # TYPE resgate_alerts_held gauge\nresgate_alerts_held {}\n\
             # HELP resgate_alerts_held_limit Alerts held at most (--max-alerts); webhooks with new alerts get 503 beyond.\n\
             # TYPE resgate_alerts_held_limit gauge\nresgate_alerts_held_limit {}\n\
             # HELP resgate_alerts_per_request_limit Alerts one webhook may carry (--max-alerts-per-request); more get 413.\n\
             # TYPE resgate_alerts_per_request_limit gauge\nresgate_alerts_per_request_limit {}\n",
            self.held(),
            self.max_alerts,
            self.max_alerts_per_request
        );
        if let Some(used) = journal_used {
            out.push_str(&format!(
                "# HELP resgate_journal_used_bytes Bytes of the journal file in use (pages not on the free list).\n\
                 # TYPE resgate_journal_used_bytes gauge\nresgate_journal_used_bytes {used}\n"
            ));
        }
        if let Some(max) = self.journal_max_bytes {
            out.push_str(&format!(
                "# HELP resgate_journal_max_bytes The journal's cap (--journal-max-size); webhooks get 503 from resgate_journal_webhook_limit_bytes.\n\
                 # TYPE resgate_journal_max_bytes gauge\nresgate_journal_max_bytes {max}\n\
                 # HELP resgate_journal_webhook_limit_bytes Journal bytes in use beyond which webhooks get 503 (90% of the cap).\n\
                 # TYPE resgate_journal_webhook_limit_bytes gauge\nresgate_journal_webhook_limit_bytes {}\n",
                webhook_share(max)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::AlertStatus;

    fn alert(fp: &str) -> Alert {
        Alert {
            source: "am".into(),
            fingerprint: fp.to_owned(),
            status: AlertStatus::Firing,
            labels: Default::default(),
            annotations: Default::default(),
            starts_at: jiff::Timestamp::UNIX_EPOCH,
            ends_at: None,
            group_key: None,
            generator_url: None,
        }
    }

    fn alerts(prefix: &str, n: usize) -> Vec<Alert> {
        (0..n).map(|i| alert(&format!("{prefix}{i}"))).collect()
    }

    #[test]
    fn new_alerts_past_the_limit_are_refused_and_held_ones_always_pass() {
        let limits = Limits::new(100, 10, None);
        assert_eq!(
            limits.admit(&alerts("a", 8), 0, true).map(|k| k.len()),
            Ok(8)
        );
        assert_eq!(
            limits.admit(&alerts("b", 3), 0, true),
            Err(Refusal::AlertsFull { max: 10 })
        );
        assert_eq!(limits.held(), 8, "a refused webhook reserves nothing");
        // Repeats and resolves of held alerts: the way the state drains.
        assert_eq!(limits.admit(&alerts("a", 8), 0, true), Ok(vec![]));
        assert_eq!(
            limits.admit(&alerts("b", 2), 0, true).map(|k| k.len()),
            Ok(2)
        );
        assert_eq!(limits.held(), 10);
        limits.forget(["a0", "a1", "a2"]);
        assert_eq!(
            limits.admit(&alerts("b", 3), 0, true).map(|k| k.len()),
            Ok(1)
        );
    }

    #[test]
    fn a_webhook_not_journaled_gives_its_reservation_back() {
        let limits = Limits::new(100, 10, None);
        let keys = limits.admit(&alerts("a", 10), 0, true).unwrap();
        limits.release(&keys);
        assert_eq!(limits.held(), 0);
        assert!(limits.admit(&alerts("b", 10), 0, true).is_ok());
    }

    #[test]
    fn a_standby_which_decides_nothing_holds_nothing() {
        let limits = Limits::new(100, 10, None);
        assert_eq!(limits.admit(&alerts("a", 50), 0, false), Ok(vec![]));
        assert_eq!(limits.held(), 0);
    }

    #[test]
    fn too_many_alerts_in_one_request_is_the_senders_fault() {
        let limits = Limits::new(5, 1000, None);
        let refused = limits.admit(&alerts("a", 6), 0, true).unwrap_err();
        assert_eq!(refused.status(), 413);
        assert_eq!(limits.held(), 0);
    }

    #[test]
    fn the_journal_stops_webhooks_at_ninety_percent_of_its_cap() {
        let limits = Limits::new(5, 1000, Some(1000));
        assert!(limits.admit(&alerts("a", 1), 899, true).is_ok());
        let refused = limits.admit(&alerts("b", 1), 900, true).unwrap_err();
        assert_eq!(
            refused,
            Refusal::JournalFull {
                used: 900,
                limit: 900
            }
        );
        assert_eq!(refused.status(), 503, "our capacity, never a 4xx");
    }
}
