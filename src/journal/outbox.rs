//! The notification outbox (DESIGN.md §9; schema and why:
//! `migrations/sqlite/006-outbox.sql`). Rows are inserted by
//! [`record_step`](super::record_step) in the transaction of the step that
//! causes them; the sender reads the oldest unsent row per notifier and marks
//! what became of it.

use jiff::Timestamp;

use super::db::params;
use super::{Db, Result, parse_opt_ts, parse_ts, ts};

/// An unsent notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub id: i64,
    pub notifier: String,
    pub key: String,
    pub event: Option<String>,
    pub created_at: Timestamp,
    /// JSON of a `notifier::Notice`.
    pub notice: String,
    pub attempts: u32,
    pub next_at: Option<Timestamp>,
}

const PENDING_COLUMNS: &str = "id, notifier, key, event, created_at, notice, attempts, next_at";

fn pending_from(r: &super::Row) -> Result<Pending> {
    Ok(Pending {
        id: r.int(0)?,
        notifier: r.string(1)?,
        key: r.string(2)?,
        event: r.opt_string(3)?,
        created_at: parse_ts(r.str(4)?)?,
        notice: r.string(5)?,
        attempts: u32::try_from(r.int(6)?).unwrap_or(u32::MAX),
        next_at: parse_opt_ts(r.opt_string(7)?)?,
    })
}

pub(super) fn insert(
    conn: &Db,
    notifier: &str,
    key: &str,
    event: Option<&str>,
    at: Timestamp,
    notice: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO outbox (notifier, key, event, created_at, notice) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![notifier, key, event, ts(at), notice],
    )?;
    Ok(())
}

/// The oldest unsent notifications of `notifier`, oldest first: a notifier's
/// messages go out in the order they happened (a fire before its rescue).
pub fn unsent(conn: &Db, notifier: &str, limit: u32) -> Result<Vec<Pending>> {
    conn.query(
        &format!(
            "SELECT {PENDING_COLUMNS} FROM outbox
             WHERE notifier = ?1 AND sent_at IS NULL AND failed_at IS NULL
             ORDER BY id LIMIT ?2"
        ),
        params![notifier, i64::from(limit)],
        pending_from,
    )
}

/// Every notifier that has unsent notifications.
pub fn notifiers_with_unsent(conn: &Db) -> Result<Vec<String>> {
    conn.query(
        "SELECT DISTINCT notifier FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL",
        params![],
        |r| r.string(0),
    )
}

/// When `notifier`'s last message went out, if one did: its `digest`
/// window runs from there, across a restart. A notifier sends its oldest
/// unsent rows first, so the highest ID sent went out last.
pub fn last_sent(conn: &Db, notifier: &str) -> Result<Option<Timestamp>> {
    let at = conn.query(
        "SELECT sent_at FROM outbox WHERE notifier = ?1 AND sent_at IS NOT NULL
         ORDER BY id DESC LIMIT 1",
        params![notifier],
        |r| r.string(0),
    )?;
    at.first().map(|s| parse_ts(s)).transpose()
}

/// Delivered (`ids` share one message); `annotation`: the Grafana region it opened.
pub fn mark_sent(conn: &Db, ids: &[i64], at: Timestamp, annotation: Option<u64>) -> Result<()> {
    let annotation = annotation.and_then(|a| i64::try_from(a).ok());
    for id in ids {
        conn.execute(
            "UPDATE outbox SET sent_at = ?2, attempts = attempts + 1, annotation = ?3, error = NULL
             WHERE id = ?1",
            params![id, ts(at), annotation],
        )?;
    }
    Ok(())
}

/// Not delivered; try again at `next_at`.
pub fn mark_retry(conn: &Db, ids: &[i64], next_at: Timestamp, error: &str) -> Result<()> {
    for id in ids {
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_at = ?2, error = ?3 WHERE id = ?1",
            params![id, ts(next_at), error],
        )?;
    }
    Ok(())
}

/// Given up: refused, or out of tries.
pub fn mark_failed(conn: &Db, ids: &[i64], at: Timestamp, error: &str) -> Result<()> {
    for id in ids {
        conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, failed_at = ?2, error = ?3 WHERE id = ?1",
            params![id, ts(at), error],
        )?;
    }
    Ok(())
}

/// The Grafana region an earlier notification of `event` opened.
pub fn annotation_of(conn: &Db, notifier: &str, event: &str) -> Result<Option<u64>> {
    let id = conn.query_opt(
        "SELECT annotation FROM outbox
         WHERE notifier = ?1 AND event = ?2 AND annotation IS NOT NULL
         ORDER BY id LIMIT 1",
        params![notifier, event],
        |r| r.int(0),
    )?;
    Ok(id.and_then(|i| u64::try_from(i).ok()))
}

/// Per notifier: sent, failed, queued, and the oldest queued one's time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: u64,
    pub failed: u64,
    pub queued: u64,
    pub oldest_queued: Option<Timestamp>,
    /// The last failure's reason, for the status page.
    pub last_error: Option<String>,
}

pub fn counts(conn: &Db) -> Result<Vec<(String, Counts)>> {
    let rows = conn.query(
        "SELECT notifier,
                SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END),
                SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END),
                SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN 1 ELSE 0 END),
                MIN(CASE WHEN sent_at IS NULL AND failed_at IS NULL THEN created_at END)
         FROM outbox GROUP BY notifier ORDER BY notifier",
        params![],
        |r| {
            let n = |i| r.int(i).map(|v| u64::try_from(v).unwrap_or(0));
            Ok((
                r.string(0)?,
                Counts {
                    sent: n(1)?,
                    failed: n(2)?,
                    queued: n(3)?,
                    oldest_queued: parse_opt_ts(r.opt_string(4)?)?,
                    last_error: None,
                },
            ))
        },
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for (name, mut c) in rows {
        if c.failed > 0 {
            c.last_error = conn
                .query_opt(
                    "SELECT error FROM outbox WHERE notifier = ?1 AND failed_at IS NOT NULL
                     ORDER BY id DESC LIMIT 1",
                    params![name],
                    |r| r.opt_string(0),
                )?
                .flatten();
        }
        out.push((name, c));
    }
    Ok(out)
}

/// Deletes notifications sent or failed before `before` (`--retention`,
/// like decided webhook bodies): the outbox must not grow for as long as
/// serve runs. Unsent rows are never pruned.
pub fn prune(conn: &Db, before: Timestamp) -> Result<usize> {
    conn.execute(
        "DELETE FROM outbox WHERE (sent_at IS NOT NULL AND sent_at < ?1)
            OR (failed_at IS NOT NULL AND failed_at < ?1)",
        params![ts(before)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts_(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn prune_drops_old_sent_and_failed_rows_and_never_unsent_ones() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let conn =
            super::super::open_writer(&dir.path().join("j.db")).unwrap_or_else(|e| panic!("{e}"));
        let old = ts_("2026-12-01T00:00:00Z");
        for key in ["sent", "failed", "unsent", "recent"] {
            insert(&conn, "ops", key, None, old, "{}").unwrap_or_else(|e| panic!("{e}"));
        }
        mark_sent(&conn, &[1], old, Some(7)).unwrap_or_else(|e| panic!("{e}"));
        mark_failed(&conn, &[2], old, "gave up").unwrap_or_else(|e| panic!("{e}"));
        mark_sent(&conn, &[4], ts_("2026-12-07T00:00:00Z"), None).unwrap_or_else(|e| panic!("{e}"));
        let pruned = prune(&conn, ts_("2026-12-06T00:00:00Z")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pruned, 2);
        let left = unsent(&conn, "ops", 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            left.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["unsent"]
        );
        let counts = counts(&conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(counts[0].1.sent, 1, "the recent one stays");
    }
}
