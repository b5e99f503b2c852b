//! The alert: what every source mapping produces and the engine decides on.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Firing,
    Resolved,
}

/// One alert as a source mapping produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// The `sources:` entry that mapped it.
    pub source: String,
    /// Stable identity of the alert across notifications: Alertmanager's own
    /// fingerprint when the sender gives one, else [`fingerprint`] of the labels.
    pub fingerprint: String,
    pub status: AlertStatus,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub starts_at: Timestamp,
    /// `None` while firing (Alertmanager sends the zero time `0001-01-01T00:00:00Z`).
    pub ends_at: Option<Timestamp>,
    /// The sender's group (Alertmanager `groupKey`): part of the dedupe key in serve.
    pub group_key: Option<String>,
    pub generator_url: Option<String>,
}

/// Alertmanager's fingerprint of a label set (FNV-1a 64 over the sorted
/// name/value pairs, each followed by the 0xff separator), as 16 hex digits.
///
/// Using the same algorithm means a JMESPath source's alert gets the ID an
/// Alertmanager would have given the same labels.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    // BTreeMap iterates in name order, which is what Alertmanager sorts by.
    for (name, value) in labels {
        feed(name.as_bytes());
        feed(&[0xff]);
        feed(value.as_bytes());
        feed(&[0xff]);
    }
    format!("{hash:016x}")
}

/// What a dedupe table remembers of one notification instead of its strings:
/// 128 bits of SHA-256 over `(source, groupKey, fingerprint, startsAt, status)`
/// (`source` only `with_source`), each string length-prefixed so that no two
/// different notifications feed the same bytes.
///
/// A collision would make a new notification look like a copy, and a copy is
/// dropped (serve) or not decided (the engine), so it must not happen by chance
/// or by design. By chance: a table holds at most a few hundred thousand keys,
/// n²/2¹²⁹ ≈ 10⁻²⁸. By design: a sender that finds a pair of colliding
/// notifications (≈ 2⁶⁴ SHA-256 computations) only gets its own second one
/// ignored; shadowing someone else's alert needs a second preimage of a digest
/// it cannot see (2¹²⁸). Deterministic, unlike a randomly keyed hash, so the
/// engine stays a pure function of its inputs (backtests replay the same).
pub fn notification_digest(alert: &Alert, with_source: bool) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut text = |s: &str| {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    };
    if with_source {
        text(&alert.source);
    }
    match &alert.group_key {
        Some(g) => {
            text("1");
            text(g);
        }
        None => text("0"),
    }
    text(&alert.fingerprint);
    text(alert.status.as_str());
    h.update(alert.starts_at.as_second().to_le_bytes());
    h.update(alert.starts_at.subsec_nanosecond().to_le_bytes());
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl AlertStatus {
    /// `firing` or `resolved`, exactly as Alertmanager writes them.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "firing" => Some(AlertStatus::Firing),
            "resolved" => Some(AlertStatus::Resolved),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
        }
    }
}
