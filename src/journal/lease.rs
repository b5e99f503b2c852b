//! Leadership over a shared (PostgreSQL) journal: the lease row of
//! `migrations/postgres/004-leadership.sql`.
//!
//! Every instance takes webhooks; only the lease holder decides, calls and
//! polls. The holder renews the lease well before it expires; a standby takes
//! it once it has expired. Times are the database's (`now()`), so the
//! instances' clocks do not matter. The token goes up at every change of
//! holder, and every write of the leader checks it in its own transaction
//! ([`fence`]): a leader deposed while it was paused (GC, swap, a stopped VM)
//! cannot write anything once it wakes up.

use std::time::Duration;

use super::db::params;
use super::{Db, JournalError, Result};

/// A lease held: who holds it and its fencing token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub holder: String,
    pub token: i64,
}

/// Takes the lease for `holder` if it is free or expired, or renews it if
/// `holder` has it; `None` when another instance holds it. The token changes
/// only when the holder does.
pub fn acquire(db: &Db, holder: &str, period: Duration) -> Result<Option<Held>> {
    let millis = i64::try_from(period.as_millis()).unwrap_or(i64::MAX);
    let token = db.query_opt(
        "UPDATE lease SET
           token = CASE WHEN holder = ?1 THEN token ELSE token + 1 END,
           holder = ?1,
           expires_at = now() + ?2::bigint * interval '1 millisecond'
         WHERE id = 1 AND (holder = ?1 OR holder IS NULL OR expires_at < now())
         RETURNING token",
        params![holder, millis],
        |r| r.int(0),
    )?;
    Ok(token.map(|token| Held {
        holder: holder.to_owned(),
        token,
    }))
}

/// Renews a held lease; false when it is no longer ours (taken over after
/// it expired), so the caller stops acting as the leader.
pub fn renew(db: &Db, held: &Held, period: Duration) -> Result<bool> {
    Ok(matches!(acquire(db, &held.holder, period)?, Some(now) if now.token == held.token))
}

/// Gives the lease up (a clean shutdown): a standby takes over at once
/// instead of waiting for it to expire.
pub fn release(db: &Db, held: &Held) -> Result<()> {
    db.execute(
        "UPDATE lease SET holder = NULL, expires_at = now()
         WHERE id = 1 AND holder = ?1 AND token = ?2",
        params![&held.holder, held.token],
    )?;
    Ok(())
}

/// Fails unless `held` is still the lease, and keeps it so until the
/// enclosing transaction ends: a takeover waits for this write, and this
/// write fails after a takeover.
pub fn fence(db: &Db, held: &Held) -> Result<()> {
    let ours = db.query_opt(
        "SELECT token FROM lease WHERE id = 1 AND holder = ?1 AND token = ?2 FOR SHARE",
        params![&held.holder, held.token],
        |r| r.int(0),
    )?;
    match ours {
        Some(_) => Ok(()),
        None => Err(deposed()),
    }
}

/// Who holds the lease, its token, and for how many more milliseconds
/// (negative: expired).
pub fn current(db: &Db) -> Result<(Option<String>, i64, i64)> {
    db.query_one(
        "SELECT holder, token,
           CAST(EXTRACT(EPOCH FROM (expires_at - now())) * 1000 AS BIGINT)
         FROM lease WHERE id = 1 AND expires_at > '-infinity'
         UNION ALL SELECT holder, token, -1 FROM lease WHERE id = 1 AND expires_at = '-infinity'",
        params![],
        |r| Ok((r.opt_string(0)?, r.int(1)?, r.int(2)?)),
    )
}

fn deposed() -> JournalError {
    JournalError {
        message: "this instance no longer holds the lease (another instance leads now)".into(),
    }
}
