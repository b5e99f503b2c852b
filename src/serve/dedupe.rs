//! Recognises copies of alerts already journaled within a short window: the
//! second Alertmanager of an HA pair, or a sender retrying after a timeout.
//! Such copies are answered 2xx but journaled (and decided) once.
//!
//! Keys are recorded only after their batch is committed, so a copy that
//! arrives while the first is still being written is journaled too; the
//! engine's own dedupe decides it once. Safety never rests on this.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::source::{Alert, AlertStatus};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: String,
    group: Option<String>,
    fingerprint: String,
    starts_at: jiff::Timestamp,
    status: AlertStatus,
}

fn key(a: &Alert) -> Key {
    Key {
        source: a.source.clone(),
        group: a.group_key.clone(),
        fingerprint: a.fingerprint.clone(),
        starts_at: a.starts_at,
        status: a.status,
    }
}

/// At most this many keys are remembered: a flood of distinct alerts cannot
/// grow memory without bound (the oldest are forgotten first).
const MAX_KEYS: usize = 200_000;

pub struct Dedupe {
    window: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    seen: HashMap<Key, Instant>,
    order: VecDeque<(Instant, Key)>,
}

impl Dedupe {
    pub fn new(window: Duration) -> Dedupe {
        Dedupe {
            window,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The alerts of `alerts` not seen within the window, in order.
    pub fn fresh(&self, alerts: Vec<Alert>) -> Vec<Alert> {
        let Ok(mut inner) = self.inner.lock() else {
            return alerts;
        };
        let now = Instant::now();
        inner.expire(now, self.window);
        alerts
            .into_iter()
            .filter(|a| !inner.seen.contains_key(&key(a)))
            .collect()
    }

    /// Remembers committed alerts.
    pub fn record(&self, alerts: &[Alert]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let now = Instant::now();
        for a in alerts {
            let k = key(a);
            inner.seen.insert(k.clone(), now);
            inner.order.push_back((now, k));
        }
        while inner.order.len() > MAX_KEYS {
            if let Some((at, k)) = inner.order.pop_front()
                && inner.seen.get(&k) == Some(&at)
            {
                inner.seen.remove(&k);
            }
        }
    }
}

impl Inner {
    fn expire(&mut self, now: Instant, window: Duration) {
        while let Some((at, _)) = self.order.front() {
            if now.duration_since(*at) < window {
                break;
            }
            if let Some((at, k)) = self.order.pop_front()
                && self.seen.get(&k) == Some(&at)
            {
                self.seen.remove(&k);
            }
        }
    }
}
