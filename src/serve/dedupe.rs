//! Recognises copies of alerts already journaled within a short window: the
//! second Alertmanager of an HA pair, or a sender retrying after a timeout.
//! Such copies are answered 2xx but journaled (and decided) once.
//!
//! Keys are recorded only after their batch is committed, so a copy that
//! arrives while the first is still being written is journaled too; the
//! engine's own dedupe decides it once. Safety never rests on this.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::source::{Alert, notification_digest};

/// An alert's `(source, groupKey, fingerprint, startsAt, status)`, as a digest:
/// 16 bytes per key instead of copies of its strings (see
/// [`notification_digest`] for why a collision is not a concern).
type Key = [u8; 16];

fn key(a: &Alert) -> Key {
    notification_digest(a, true)
}

/// At most this many keys are remembered: a flood of distinct alerts cannot
/// grow memory without bound (the oldest are forgotten first).
const MAX_KEYS: usize = 200_000;

pub struct Dedupe {
    window: Duration,
    /// Times are kept as nanoseconds since this (8 bytes, not an `Instant`'s 16).
    base: Instant,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Key → when it was last recorded.
    seen: FxHashMap<Key, u64>,
    order: VecDeque<(u64, Key)>,
}

impl Dedupe {
    pub fn new(window: Duration) -> Dedupe {
        Dedupe {
            window,
            base: Instant::now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn tick(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The alerts of `alerts` not seen within the window, in order.
    pub fn fresh(&self, alerts: Vec<Alert>) -> Vec<Alert> {
        let Ok(mut inner) = self.inner.lock() else {
            return alerts;
        };
        let window = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        inner.expire(self.tick(), window);
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
        let now = self.tick();
        for a in alerts {
            let k = key(a);
            inner.seen.insert(k, now);
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
    fn expire(&mut self, now: u64, window: u64) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_sub(*at) < window {
                break;
            }
            if let Some((at, k)) = self.order.pop_front()
                && self.seen.get(&k) == Some(&at)
            {
                self.seen.remove(&k);
            }
        }
        if let Some(c) = crate::engine::shrunk(self.seen.capacity(), self.seen.len()) {
            self.seen.shrink_to(c);
        }
        if let Some(c) = crate::engine::shrunk(self.order.capacity(), self.order.len()) {
            self.order.shrink_to(c);
        }
    }
}
