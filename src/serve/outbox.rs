//! The outbox threads: deliver the notifications the decision thread
//! journaled (DESIGN.md §9).
//!
//! One worker thread per notifier, so that a receiver that hangs holds up
//! only its own messages, never a decision and never another notifier. A
//! worker sends its notifier's oldest unsent row, and only then the next
//! (a fire before its rescue; Grafana's region is opened before it is
//! closed). At most one message per notifier per `digest` window: whatever
//! queued behind the head is summed up in its message and marked sent with
//! it, never dropped. A failed try waits `--notify-backoff`, doubling up to
//! [`MAX_BACKOFF`] (or the receiver's `Retry-After`), at most
//! `--notify-attempts` tries; then the row is marked failed. Rows are
//! marked sent only after the receiver's 2xx, so a crash in between sends
//! again (same `Idempotency-Key`): at-least-once, never lost.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::Timestamp;

use super::Shared;
use crate::journal::outbox::{self, Pending};
use crate::notifier::render::{self, Target};
use crate::notifier::send::{Delivery, Sender, grafana_annotation_id};
use crate::notifier::{Message, Notice};
use crate::remediate::SecretSource;
use crate::rules::{Notifier, NotifyPreset};

/// A worker looks for new rows this often when idle.
const POLL: Duration = Duration::from_millis(200);
/// The longest wait between two tries of one notification.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);
/// At most this many queued notifications are summed into one message (a
/// bigger backlog goes out over the next windows).
const MAX_FOLD: u32 = 100_000;
/// The dispatcher refreshes `/metrics` this often.
const METRICS_EVERY: Duration = Duration::from_secs(2);

/// Starts the dispatcher, which starts a worker per notifier.
pub fn spawn(shared: Arc<Shared>) -> Option<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("outbox".into())
        .spawn(move || dispatch(&shared))
        .ok()
}

fn leads(shared: &Shared) -> bool {
    !shared.leadership.shared || shared.leadership.held().is_some()
}

fn dispatch(shared: &Arc<Shared>) {
    let mut workers: BTreeMap<String, JoinHandle<()>> = BTreeMap::new();
    let mut last_metrics: Option<std::time::Instant> = None;
    loop {
        if shared.shutdown.wait(POLL) {
            break;
        }
        // A standby sends nothing: the leader does, from the same journal.
        if !leads(shared) {
            continue;
        }
        let rules = shared.rules();
        for n in &rules.notifiers {
            let running = workers.get(&n.name).is_some_and(|w| !w.is_finished());
            if !running {
                let (s, name) = (shared.clone(), n.name.clone());
                if let Ok(w) = std::thread::Builder::new()
                    .name(format!("notify-{}", n.name))
                    .spawn(move || work(&s, &name))
                {
                    workers.insert(n.name.clone(), w);
                }
            }
        }
        if last_metrics.is_none_or(|t| t.elapsed() >= METRICS_EVERY) {
            last_metrics = Some(std::time::Instant::now());
            orphans_and_metrics(shared, &rules.notifiers);
        }
    }
    for (_, w) in workers {
        let _ = w.join();
    }
}

/// Rows of a notifier the rules no longer define fail (nobody can send
/// them); `/metrics` gets every notifier's queue.
fn orphans_and_metrics(shared: &Shared, notifiers: &[Notifier]) {
    let Ok(conn) = shared.readers.get() else {
        return;
    };
    if let Ok(names) = outbox::notifiers_with_unsent(&conn) {
        for name in names {
            if notifiers.iter().any(|n| n.name == name) {
                continue;
            }
            if let Ok(rows) = outbox::unsent(&conn, &name, 10_000) {
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                let error = format!("notifier \"{name}\" is no longer in the rules");
                let now = Timestamp::now();
                let n = ids.len() as u64;
                if shared
                    .leader_write(move |db| outbox::mark_failed(db, &ids, now, &error))
                    .is_ok()
                {
                    shared.metrics.notifications(&name, "failed", n);
                }
            }
        }
    }
    if let Ok(counts) = outbox::counts(&conn) {
        let now = Timestamp::now();
        let mut queues: BTreeMap<String, (u64, f64)> = notifiers
            .iter()
            .map(|n| (n.name.clone(), (0, 0.0)))
            .collect();
        for (name, c) in counts {
            let age = c.oldest_queued.map_or(0.0, |t| {
                (now.as_millisecond().saturating_sub(t.as_millisecond())).max(0) as f64 / 1000.0
            });
            queues.insert(name, (c.queued, age));
        }
        shared.metrics.set_outbox(queues);
    }
    for n in notifiers {
        shared.metrics.notifications(&n.name, "sent", 0);
    }
}

/// One notifier's sender: its oldest unsent row, then the next; at most one
/// message per `digest` window, the rest of the queue summed up in it.
fn work(shared: &Arc<Shared>, name: &str) {
    let sender = Sender::new();
    // When the last message went out: read from the journal at start, so
    // that a restart does not open a new `digest` window early (a crash loop
    // would otherwise send one message per start). A sent time in the future
    // (the wall clock stepped back) counts as now.
    let mut last_sent: Option<std::time::Instant> = shared
        .readers
        .get()
        .and_then(|conn| outbox::last_sent(&conn, name))
        .unwrap_or_else(|e| {
            tracing::warn!(notifier = name, error = %e, "cannot read when the last message went out");
            None
        })
        .and_then(|at| {
            let ago = Timestamp::now().duration_since(at);
            let ago = Duration::try_from(ago).unwrap_or(Duration::ZERO);
            // `None` when it is older than this machine's clock goes back:
            // before a reboot, long enough ago.
            std::time::Instant::now().checked_sub(ago)
        });
    // Idle: wait before looking again. After a delivery, look at once: a
    // backlog drains at the receiver's pace, not one row per POLL.
    let mut idle = true;
    loop {
        if idle && shared.shutdown.wait(POLL) || shared.shutdown.is_set() {
            return;
        }
        idle = true;
        if !leads(shared) {
            continue;
        }
        let rules = shared.rules();
        // Removed by a reload: the dispatcher fails what is left.
        let Some(notifier) = rules.notifiers.iter().find(|n| n.name == name) else {
            return;
        };
        if last_sent.is_some_and(|t| t.elapsed() < notifier.digest) {
            continue;
        }
        let queue = shared
            .readers
            .get()
            .and_then(|conn| outbox::unsent(&conn, name, MAX_FOLD));
        let mut rows = match queue {
            Ok(rows) if !rows.is_empty() => rows,
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(notifier = name, error = %e, "cannot read the outbox");
                continue;
            }
        };
        let now = Timestamp::now();
        if rows[0].next_at.is_some_and(|t| t > now) {
            continue;
        }
        let head = rows.remove(0);
        if deliver(shared, &sender, notifier, &head, &rows) {
            last_sent = Some(std::time::Instant::now());
            idle = notifier.digest > Duration::ZERO;
        }
    }
}

/// Sends `head` with `folded` summed up in it; true when it went out.
fn deliver(
    shared: &Shared,
    sender: &Sender,
    notifier: &Notifier,
    head: &Pending,
    folded: &[Pending],
) -> bool {
    let name = notifier.name.clone();
    let row = head;
    let notice: Notice = match serde_json::from_str(&row.notice) {
        Ok(n) => n,
        Err(e) => {
            let error = format!("unreadable notice in the journal: {e}");
            give_up(shared, &name, vec![row.id], error);
            return false;
        }
    };
    let more: Vec<Notice> = folded
        .iter()
        .map(|r| {
            serde_json::from_str(&r.notice).unwrap_or_else(|_| Notice {
                remediation: "(unreadable)".into(),
                on: "unknown".into(),
                ..notice.clone()
            })
        })
        .collect();
    let resolved = resolve(shared, notifier);
    let (url, headers, routing_key) = match resolved {
        Ok(r) => r,
        // A secret that went missing may come back (a rotated file).
        Err(e) => {
            retry_later(shared, &name, row, e, None);
            return false;
        }
    };
    let ends = notice.on().is_some_and(|o| o.ends_event());
    let annotation = match (&notice.event, notifier.preset) {
        (Some(event), NotifyPreset::GrafanaAnnotations) if ends => shared
            .readers
            .get()
            .and_then(|c| outbox::annotation_of(&c, &name, event))
            .ok()
            .flatten(),
        _ => None,
    };
    let request = render::request(
        Target {
            preset: notifier.preset,
            url: &url,
            routing_key: routing_key.as_deref(),
            annotation,
            template: notifier.template.as_ref(),
        },
        &Message {
            notice,
            more: crate::notifier::tally(&more),
        },
    );
    let key = format!("resgate-{}-n{}", shared.instance, row.id);
    let now = Timestamp::now();
    match sender.deliver(&request, &headers, &key, notifier.timeout, now) {
        Delivery::Sent { answer, .. } => {
            let opened = (notifier.preset == NotifyPreset::GrafanaAnnotations
                && request.method == "POST"
                && !ends)
                .then(|| grafana_annotation_id(&answer))
                .flatten();
            let at = Timestamp::now();
            let head_id = row.id;
            let folded: Vec<i64> = folded.iter().map(|r| r.id).collect();
            let n = folded.len() as u64 + 1;
            // One transaction; only the head opened the Grafana region.
            let marked = shared.leader_write(move |db| {
                outbox::mark_sent(db, &[head_id], at, opened)?;
                outbox::mark_sent(db, &folded, at, None)
            });
            match marked {
                Ok(()) => shared.metrics.notifications(&name, "sent", n),
                // Sent but not marked: sent again later, with the same key.
                Err(e) => {
                    tracing::warn!(notifier = %name, error = %e, "cannot mark a notification sent");
                }
            }
            true
        }
        Delivery::Retry { reason, after } => {
            retry_later(shared, &name, row, reason, after);
            false
        }
        Delivery::Refused { reason } => {
            give_up(shared, &name, vec![row.id], reason);
            false
        }
    }
}

type Resolved = (String, Vec<(String, String)>, Option<String>);

fn resolve(shared: &Shared, n: &Notifier) -> Result<Resolved, String> {
    let s = &shared.secrets;
    let env = |k: &str| s.env(k);
    let file = |p: &str| s.read_file(p);
    let url = n.url.resolve(env, file)?;
    let mut headers = Vec::with_capacity(n.headers.len());
    for (k, v) in &n.headers {
        headers.push((k.clone(), v.resolve(env, file)?));
    }
    let key = match &n.routing_key {
        Some(k) => Some(k.resolve(env, file)?),
        None => None,
    };
    Ok((url, headers, key))
}

/// The wait before try `attempts + 1`: `initial × 2^attempts`, capped, or
/// the receiver's `Retry-After` when longer.
pub fn backoff(initial: Duration, attempts: u32, retry_after: Option<Duration>) -> Duration {
    let doubled = initial.saturating_mul(1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX));
    doubled
        .min(MAX_BACKOFF)
        .max(retry_after.unwrap_or_default())
}

fn retry_later(
    shared: &Shared,
    name: &str,
    row: &Pending,
    reason: String,
    after: Option<Duration>,
) {
    let tries = row.attempts.saturating_add(1);
    if tries >= shared.options.notify_attempts.max(1) {
        let error = format!("gave up after {tries} tries: {reason}");
        give_up(shared, name, vec![row.id], error);
        return;
    }
    let wait = backoff(shared.options.notify_backoff, row.attempts, after);
    let next = Timestamp::now()
        .checked_add(jiff::SignedDuration::try_from(wait).unwrap_or(jiff::SignedDuration::ZERO))
        .unwrap_or_else(|_| Timestamp::now());
    tracing::warn!(notifier = name, tries, error = %reason, "notification not delivered; trying again");
    let ids = vec![row.id];
    if shared
        .leader_write(move |db| outbox::mark_retry(db, &ids, next, &reason))
        .is_ok()
    {
        shared.metrics.notifications(name, "retried", 1);
    }
}

fn give_up(shared: &Shared, name: &str, ids: Vec<i64>, error: String) {
    tracing::error!(notifier = name, error = %error, "notification failed");
    let n = ids.len() as u64;
    let at = Timestamp::now();
    if shared
        .leader_write(move |db| outbox::mark_failed(db, &ids, at, &error))
        .is_ok()
    {
        shared.metrics.notifications(name, "failed", n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_yields_to_retry_after() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 0, None), s);
        assert_eq!(backoff(s, 3, None), Duration::from_secs(8));
        assert_eq!(backoff(s, 40, None), MAX_BACKOFF);
        assert_eq!(
            backoff(s, 0, Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
    }
}
