//! Bounds on what webhooks can make the daemon hold (issue 19, item 3).
//!
//! Webhook routes take input from anyone who can reach them, often without
//! credentials. Unbounded, ten posts of 10,000 distinct alerts added 65 MB of
//! memory and 106 MB of journal in under three seconds. Three bounds, checked
//! before a webhook is journaled (nothing refused is ever acknowledged):
//!
//! - alerts per request (`--max-alerts-per-request`): more is the sender's
//!   fault, 413;
//! - alerts held (`--max-alerts`, and `--max-alert-bytes` of their labels
//!   and annotations, since a count alone does not bound alerts of any size):
//!   a webhook bringing alerts not held yet (or making held ones larger)
//!   while full is refused with 503 and `Retry-After`, our capacity, so the
//!   sender retries within seconds (DESIGN.md §5); alerts already held
//!   (repeats, resolves) always pass, so the state can drain;
//! - journal size (`--journal-max-size`): webhooks stop with 503 once the
//!   journal, plus an estimate of what the decisions of the webhooks not
//!   decided yet will write, reaches 90% of the cap; the rest is a margin for
//!   the estimate, calls and state changes.
//!
//! Each refusal is counted in `/metrics` and logged once per change between
//! "room" and "full". This module decides; the HTTP route only answers.

use std::hash::BuildHasher;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustc_hash::FxHashMap;

use crate::source::Alert;

/// Why a webhook is refused before it is journaled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The body carries more alerts than `--max-alerts-per-request` (413).
    TooManyAlerts { given: usize, max: usize },
    /// Holding its new alerts would pass `--max-alerts` or `--max-alert-bytes` (503).
    AlertsFull {
        held: usize,
        bytes: u64,
        max: usize,
        max_bytes: u64,
    },
    /// The journal, with the room kept for the decisions of what is
    /// acknowledged and not decided yet, is past the share of
    /// `--journal-max-size` webhooks may use (503).
    JournalFull { used: u64, owed: u64, limit: u64 },
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
            Refusal::AlertsFull {
                held,
                bytes,
                max,
                max_bytes,
            } => format!(
                "resgate holds {held} alerts ({bytes} bytes of labels and annotations), at its limit of \
                 {max} alerts or {max_bytes} bytes, and takes no new ones until some resolve; retry"
            ),
            Refusal::JournalFull { used, owed, limit } => format!(
                "the journal is full ({used} bytes used and about {owed} kept for the decisions \
                 of webhooks not decided yet, of the {limit} bytes webhooks may use); \
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

/// Journal bytes kept for deciding one alert, on top of twice its
/// [`weight`]: deciding writes the alert's row (its labels and annotations as
/// JSON) and at least one decision row with its proof and index entries.
/// Measured on 185,712 discarded bench alerts (`benches/http.sh`): 513 bytes
/// of `alerts` and 322 of `decisions` and indexes per alert, with a weight of
/// about 300; a fire's proof is longer, hence the margin.
const DECISION_BYTES_PER_ALERT: u64 = 1024;

/// An estimate, on the high side, of the journal bytes deciding `alerts`
/// will write. Webhooks are admitted only while the journal has room for the
/// decisions of every webhook acknowledged and not decided yet: a backlog
/// larger than the 10% kept back filled the journal and stalled the decision
/// thread on "database or disk is full" with work it had promised to do.
pub fn decision_bytes(alerts: &[Alert]) -> u64 {
    alerts
        .iter()
        .map(|a| DECISION_BYTES_PER_ALERT.saturating_add(2 * u64::from(weight(a))))
        .fold(0, u64::saturating_add)
}

/// What one alert is counted for against `--max-alert-bytes`: its strings
/// (labels, annotations, fingerprint, source, group, link). What the engine
/// spends on top is about the same for every alert, and `--max-alerts` bounds it.
pub fn weight(alert: &Alert) -> u32 {
    let pairs: usize = alert
        .labels
        .iter()
        .chain(alert.annotations.iter())
        .map(|(k, v)| k.len().saturating_add(v.len()))
        .fold(0, usize::saturating_add);
    let rest = [
        alert.fingerprint.len(),
        alert.source.len(),
        alert.group_key.as_ref().map_or(0, String::len),
        alert.generator_url.as_ref().map_or(0, String::len),
    ];
    let total = rest.into_iter().fold(pairs, usize::saturating_add);
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// The alerts held, by key, with the weight counted for each.
#[derive(Default)]
struct Held {
    weights: FxHashMap<u64, u32>,
    bytes: u64,
}

impl Held {
    /// Counts `key` at `weight`; returns what it was counted at before.
    fn set(&mut self, key: u64, weight: u32) -> Option<u32> {
        let before = self.weights.insert(key, weight);
        self.bytes = self
            .bytes
            .saturating_sub(u64::from(before.unwrap_or(0)))
            .saturating_add(u64::from(weight));
        before
    }

    fn remove(&mut self, key: u64) {
        if let Some(w) = self.weights.remove(&key) {
            self.bytes = self.bytes.saturating_sub(u64::from(w));
        }
    }
}

/// What [`Limits::admit`] changed for one webhook: each key with the weight
/// it had before (`None`: it was not held), to undo if it is not journaled.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reservation(Vec<(u64, Option<u32>)>);

impl Reservation {
    /// How many alerts it added.
    pub fn new_alerts(&self) -> usize {
        self.0.iter().filter(|(_, before)| before.is_none()).count()
    }
}

/// The fingerprints of the alerts held (as 64-bit hashes), and the bounds.
pub struct Limits {
    pub max_alerts_per_request: usize,
    pub max_alerts: usize,
    /// Bytes of [`weight`] held at most.
    pub max_alert_bytes: u64,
    /// `--journal-max-size`, if any.
    pub journal_max_bytes: Option<u64>,
    /// Alerts in the engine's state, plus those admitted and not decided yet:
    /// admitting a webhook inserts its new fingerprints at once, so concurrent
    /// requests cannot each see room for the same last slots.
    held: RwLock<Held>,
    /// Keys [`Limits::key`]: SipHash with a key drawn at start.
    hasher: std::collections::hash_map::RandomState,
    alerts_full: AtomicBool,
    journal_full: AtomicBool,
    /// [`decision_bytes`] of the webhooks acknowledged and not decided yet.
    owed: AtomicU64,
}

impl Limits {
    pub fn new(
        max_alerts_per_request: usize,
        max_alerts: usize,
        max_alert_bytes: u64,
        journal_max_bytes: Option<u64>,
    ) -> Limits {
        Limits {
            max_alerts_per_request,
            max_alerts,
            max_alert_bytes,
            journal_max_bytes,
            held: RwLock::new(Held::default()),
            hasher: std::collections::hash_map::RandomState::new(),
            alerts_full: AtomicBool::new(false),
            journal_full: AtomicBool::new(false),
            owed: AtomicU64::new(0),
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
    /// bytes. On success its alerts not held yet are now held (reserved), and
    /// held ones it makes larger are counted larger; the reservation is what
    /// [`Limits::release`] undoes if the webhook is not journaled after all.
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
    ) -> Result<Reservation, Refusal> {
        if alerts.len() > self.max_alerts_per_request {
            return Err(Refusal::TooManyAlerts {
                given: alerts.len(),
                max: self.max_alerts_per_request,
            });
        }
        if let Some(max) = self.journal_max_bytes {
            let limit = webhook_share(max);
            // This webhook's own decisions count too: one webhook may bring
            // more decisions than the room kept back.
            let owed = self.owed().saturating_add(decision_bytes(alerts));
            let full = journal_used.saturating_add(owed) >= limit;
            self.changed(&self.journal_full, full, || {
                tracing::error!(
                    used = journal_used,
                    owed,
                    limit,
                    "the journal is full: webhooks are answered 503 until pruning frees room or --journal-max-size is raised"
                );
            }, || tracing::info!(used = journal_used, limit, "the journal has room again: webhooks are taken"));
            if full {
                return Err(Refusal::JournalFull {
                    used: journal_used,
                    owed,
                    limit,
                });
            }
        }
        if !decides {
            return Ok(Reservation::default());
        }
        // Weighed before the lock: the largest copy of each alert in the body.
        let mut weights: FxHashMap<u64, u32> = FxHashMap::default();
        for a in alerts {
            let w = weights.entry(self.key(&a.fingerprint)).or_default();
            *w = (*w).max(weight(a));
        }
        let mut held = match self.held.write() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut changes: Vec<(u64, u32)> = Vec::new();
        let (mut new, mut grown) = (0usize, 0u64);
        for (k, w) in weights {
            match held.weights.get(&k) {
                Some(&before) if before >= w => {}
                Some(&before) => {
                    grown = grown.saturating_add(u64::from(w - before));
                    changes.push((k, w));
                }
                None => {
                    new += 1;
                    grown = grown.saturating_add(u64::from(w));
                    changes.push((k, w));
                }
            }
        }
        if changes.is_empty() {
            return Ok(Reservation::default());
        }
        let count = held.weights.len();
        let bytes = held.bytes;
        let (max, max_bytes) = (self.max_alerts, self.max_alert_bytes);
        let full =
            (new > 0 && count.saturating_add(new) > max) || bytes.saturating_add(grown) > max_bytes;
        self.changed(&self.alerts_full, full, || {
            tracing::error!(
                held = count,
                bytes,
                max,
                max_bytes,
                "alert limit reached: webhooks with new (or larger) alerts are answered 503 until some resolve or --max-alerts / --max-alert-bytes is raised"
            );
        }, || tracing::info!(held = count, bytes, max, max_bytes, "alerts below their limit again: new alerts are taken"));
        if full {
            return Err(Refusal::AlertsFull {
                held: count,
                bytes,
                max,
                max_bytes,
            });
        }
        let undo = changes
            .into_iter()
            .map(|(k, w)| (k, held.set(k, w)))
            .collect();
        Ok(Reservation(undo))
    }

    /// Undoes what [`Limits::admit`] reserved for a webhook that was not
    /// journaled. What another webhook brought meanwhile may go too: the
    /// decision thread puts back every alert it decides ([`Limits::hold`]).
    pub fn release(&self, reservation: Reservation) {
        if reservation.0.is_empty() {
            return;
        }
        if let Ok(mut held) = self.held.write() {
            for (k, before) in reservation.0 {
                match before {
                    Some(w) => {
                        held.set(k, w);
                    }
                    None => held.remove(k),
                }
            }
        }
    }

    /// The decision thread holds these alerts (decided, or restored from the
    /// journal; with a shared journal, taken by any instance). An alert is
    /// counted at the largest weight seen until it is forgotten: the engine
    /// may keep a smaller copy, never a larger one uncounted.
    pub fn hold<'a>(&self, alerts: impl IntoIterator<Item = &'a Alert>) {
        if let Ok(mut held) = self.held.write() {
            for a in alerts {
                let (k, w) = (self.key(&a.fingerprint), weight(a));
                if held.weights.get(&k).is_none_or(|&before| before < w) {
                    held.set(k, w);
                }
            }
        }
    }

    /// The decision thread forgot these (resolved long enough ago).
    pub fn forget<'a>(&self, fingerprints: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut held) = self.held.write() {
            for fp in fingerprints {
                held.remove(self.key(fp));
            }
            let weights = &mut held.weights;
            if let Some(c) = crate::engine::shrunk(weights.capacity(), weights.len()) {
                weights.shrink_to(c);
            }
        }
    }

    /// A webhook's alerts were handed to the decision thread: keep journal
    /// room for their decisions ([`decision_bytes`]) until [`Limits::paid`].
    /// Called before the webhook is journaled, so that the decision thread
    /// cannot pay it first.
    pub fn owe(&self, bytes: u64) {
        let _ = self
            .owed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(bytes))
            });
    }

    /// Their decisions are journaled (or the webhook was not).
    pub fn paid(&self, bytes: u64) {
        let _ = self
            .owed
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_sub(bytes))
            });
    }

    /// Journal bytes kept for the decisions of webhooks not decided yet.
    pub fn owed(&self) -> u64 {
        self.owed.load(Ordering::Relaxed)
    }

    /// How many alerts are held, and their [`weight`] (for `/metrics`).
    pub fn held(&self) -> (usize, u64) {
        self.held
            .read()
            .map_or((0, 0), |h| (h.weights.len(), h.bytes))
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
        let (held, bytes) = self.held();
        let mut out = format!(
            "# HELP resgate_alerts_held Alerts held: firing, resolved within the last hour, or admitted and not decided yet.\n\
             # TYPE resgate_alerts_held gauge\nresgate_alerts_held {}\n\
             # HELP resgate_alerts_held_limit Alerts held at most (--max-alerts); webhooks with new alerts get 503 beyond.\n\
             # TYPE resgate_alerts_held_limit gauge\nresgate_alerts_held_limit {}\n\
             # HELP resgate_alerts_held_bytes Bytes of labels, annotations and other strings of the alerts held.\n\
             # TYPE resgate_alerts_held_bytes gauge\nresgate_alerts_held_bytes {bytes}\n\
             # HELP resgate_alerts_held_bytes_limit Those bytes at most (--max-alert-bytes); webhooks with new or larger alerts get 503 beyond.\n\
             # TYPE resgate_alerts_held_bytes_limit gauge\nresgate_alerts_held_bytes_limit {}\n\
             # HELP resgate_alerts_per_request_limit Alerts one webhook may carry (--max-alerts-per-request); more get 413.\n\
             # TYPE resgate_alerts_per_request_limit gauge\nresgate_alerts_per_request_limit {}\n",
            held, self.max_alerts, self.max_alert_bytes, self.max_alerts_per_request
        );
        if let Some(used) = journal_used {
            out.push_str(&format!(
                "# HELP resgate_journal_used_bytes Bytes of the journal file in use (pages not on the free list).\n\
                 # TYPE resgate_journal_used_bytes gauge\nresgate_journal_used_bytes {used}\n"
            ));
        }
        out.push_str(&format!(
            "# HELP resgate_journal_owed_bytes Journal bytes kept for the decisions of webhooks acknowledged and not decided yet (an estimate on the high side); webhooks get 503 once used plus these reach resgate_journal_webhook_limit_bytes.\n\
             # TYPE resgate_journal_owed_bytes gauge\nresgate_journal_owed_bytes {}\n",
            self.owed()
        ));
        if let Some(max) = self.journal_max_bytes {
            out.push_str(&format!(
                "# HELP resgate_journal_max_bytes The journal's cap (--journal-max-size); webhooks get 503 from resgate_journal_webhook_limit_bytes.\n\
                 # TYPE resgate_journal_max_bytes gauge\nresgate_journal_max_bytes {max}\n\
                 # HELP resgate_journal_webhook_limit_bytes Journal bytes in use (plus resgate_journal_owed_bytes) beyond which webhooks get 503 (90% of the cap).\n\
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
        let limits = Limits::new(100, 10, u64::MAX, None);
        assert_eq!(
            limits
                .admit(&alerts("a", 8), 0, true)
                .map(|r| r.new_alerts()),
            Ok(8)
        );
        assert_eq!(
            limits.admit(&alerts("b", 3), 0, true),
            Err(Refusal::AlertsFull {
                held: 8,
                bytes: limits.held().1,
                max: 10,
                max_bytes: u64::MAX
            })
        );
        assert_eq!(limits.held().0, 8, "a refused webhook reserves nothing");
        // Repeats and resolves of held alerts: the way the state drains.
        assert_eq!(
            limits.admit(&alerts("a", 8), 0, true),
            Ok(Reservation::default())
        );
        assert_eq!(
            limits
                .admit(&alerts("b", 2), 0, true)
                .map(|r| r.new_alerts()),
            Ok(2)
        );
        assert_eq!(limits.held().0, 10);
        limits.forget(["a0", "a1", "a2"]);
        assert_eq!(
            limits
                .admit(&alerts("b", 3), 0, true)
                .map(|r| r.new_alerts()),
            Ok(1)
        );
    }

    #[test]
    fn a_webhook_not_journaled_gives_its_reservation_back() {
        let limits = Limits::new(100, 10, u64::MAX, None);
        let reserved = limits.admit(&alerts("a", 10), 0, true).unwrap();
        limits.release(reserved);
        assert_eq!(limits.held().0, 0);
        assert!(limits.admit(&alerts("b", 10), 0, true).is_ok());
    }

    /// A count alone does not bound alerts of any size: their bytes are
    /// bounded too, and a held alert grown larger counts its growth.
    #[test]
    fn the_bytes_of_alerts_held_are_bounded_too() {
        let limits = Limits::new(100, 1_000, 10_000, None);
        let mut big = alerts("big", 2);
        for a in &mut big {
            a.labels.insert("blob".into(), "x".repeat(4_000));
        }
        assert!(limits.admit(&big, 0, true).is_ok());
        let mut third = alerts("big", 3).split_off(2);
        third[0].labels.insert("blob".into(), "x".repeat(4_000));
        assert!(matches!(
            limits.admit(&third, 0, true),
            Err(Refusal::AlertsFull { held: 2, .. })
        ));
        // Small new alerts still fit; a held one made larger past the bound does not.
        assert!(limits.admit(&alerts("small", 3), 0, true).is_ok());
        big[0]
            .annotations
            .insert("description".into(), "y".repeat(3_000));
        assert!(limits.admit(&big[..1], 0, true).is_err());
        // Its resolve, as large as before, always passes.
        big[0].annotations.clear();
        big[0].status = AlertStatus::Resolved;
        assert_eq!(limits.admit(&big[..1], 0, true), Ok(Reservation::default()));
        limits.forget(["big0", "big1"]);
        assert!(limits.admit(&third, 0, true).is_ok());
    }

    #[test]
    fn a_standby_which_decides_nothing_holds_nothing() {
        let limits = Limits::new(100, 10, u64::MAX, None);
        assert_eq!(
            limits.admit(&alerts("a", 50), 0, false),
            Ok(Reservation::default())
        );
        assert_eq!(limits.held().0, 0);
    }

    #[test]
    fn too_many_alerts_in_one_request_is_the_senders_fault() {
        let limits = Limits::new(5, 1000, u64::MAX, None);
        let refused = limits.admit(&alerts("a", 6), 0, true).unwrap_err();
        assert_eq!(refused.status(), 413);
        assert_eq!(limits.held().0, 0);
    }

    #[test]
    fn the_journal_stops_webhooks_at_ninety_percent_of_its_cap() {
        let limits = Limits::new(5, 1000, u64::MAX, Some(1_000_000));
        // One alert "a0"/"b0" from "am": weight 4, so 1,024 + 2 × 4 bytes owed.
        let own = decision_bytes(&alerts("a", 1));
        assert_eq!(own, 1_032);
        assert!(
            limits
                .admit(&alerts("a", 1), 900_000 - own - 1, true)
                .is_ok()
        );
        let refused = limits
            .admit(&alerts("b", 1), 900_000 - own, true)
            .unwrap_err();
        assert_eq!(
            refused,
            Refusal::JournalFull {
                used: 900_000 - own,
                owed: own,
                limit: 900_000
            }
        );
        assert_eq!(refused.status(), 503, "our capacity, never a 4xx");
    }

    #[test]
    fn room_owed_to_undecided_webhooks_counts_until_it_is_paid() {
        let limits = Limits::new(5, 1000, u64::MAX, Some(1_000_000));
        limits.owe(500_000);
        assert!(matches!(
            limits.admit(&alerts("a", 1), 400_000, true),
            Err(Refusal::JournalFull { owed, .. }) if owed == 501_032
        ));
        limits.paid(500_000);
        assert!(limits.admit(&alerts("a", 1), 400_000, true).is_ok());
        // Paying what was never owed (a restore) cannot go below zero.
        limits.paid(7);
        assert_eq!(limits.owed(), 0);
    }
}
