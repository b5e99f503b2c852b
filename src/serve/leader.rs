//! Who decides: with a SQLite journal, the one daemon; with a shared
//! PostgreSQL journal, the instance holding the lease (`journal::lease`).
//!
//! Every instance takes webhooks and commits them. The leader alone runs the
//! decision thread and the trackers, and its every journal write is fenced by
//! the lease token. A standby tries to take the lease every second; once the
//! lease has expired (the leader died, or lost the database), it restores the
//! engine from the journal and leads, resuming the open calls. A leader that
//! cannot renew its lease before it expires, or finds it taken, exits with
//! status 75 (EX_TEMPFAIL): its service manager starts it again, as a standby.
//! Exiting is the simple way to stop every thread that might act on stale
//! authority; nothing is lost by it, because everything acknowledged is
//! already in the journal.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Shared;
use crate::journal::lease::{self, Held};
use crate::journal::{Db, Result};

/// How a deposed leader exits: EX_TEMPFAIL, "try again later".
pub const DEPOSED_EXIT: i32 = 75;

pub struct Leadership {
    /// The journal is shared (PostgreSQL): leadership is by lease. Otherwise
    /// this instance always leads.
    pub shared: bool,
    /// How long a lease lasts without renewal (`--lease`).
    pub period: Duration,
    /// This instance's name in the lease row.
    pub holder: String,
    held: Mutex<Option<Held>>,
    /// Unix milliseconds of the last successful take or renewal (0: never).
    renewed_at: AtomicI64,
}

impl Leadership {
    pub fn solo() -> Leadership {
        Leadership {
            shared: false,
            period: Duration::ZERO,
            holder: String::new(),
            held: Mutex::new(None),
            renewed_at: AtomicI64::new(0),
        }
    }

    pub fn by_lease(period: Duration) -> Leadership {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".into());
        let nonce = jiff::Timestamp::now().as_nanosecond() % 1_000_000;
        Leadership {
            shared: true,
            period,
            holder: format!("{host}:{}:{nonce:06}", std::process::id()),
            held: Mutex::new(None),
            renewed_at: AtomicI64::new(0),
        }
    }

    pub fn held(&self) -> Option<Held> {
        match self.held.lock() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_held(&self, held: Option<Held>) {
        match self.held.lock() {
            Ok(mut h) => *h = held,
            Err(poisoned) => *poisoned.into_inner() = held,
        }
    }

    pub fn is_leader(&self) -> bool {
        !self.shared || self.held().is_some()
    }

    pub fn role(&self) -> &'static str {
        if self.is_leader() {
            "leader"
        } else {
            "standby"
        }
    }

    /// Seconds since the lease was last taken or renewed by this instance;
    /// `None` when it never held it (or the journal is not shared).
    pub fn lease_age(&self) -> Option<f64> {
        let at = self.renewed_at.load(Ordering::Relaxed);
        (self.shared && at > 0)
            .then(|| (jiff::Timestamp::now().as_millisecond() - at).max(0) as f64 / 1000.0)
    }

    fn renewed(&self) {
        self.renewed_at
            .store(jiff::Timestamp::now().as_millisecond(), Ordering::Relaxed);
    }
}

/// How often a standby asks for the lease.
const TRY_EVERY: Duration = Duration::from_secs(1);

/// The lease thread of a shared journal: waits for the lease, then calls
/// `lead` (which restores the engine and starts the decision thread), then
/// renews until shutdown, and gives the lease up on the way out.
pub fn run(shared: &Shared, lead: impl FnOnce() -> Result<JoinHandle<()>> + Send + 'static) {
    let leadership = &shared.leadership;
    let mut db: Option<Db> = None;
    let held = loop {
        if shared.shutdown.is_set() {
            return;
        }
        match with_connection(shared, &mut db, |db| {
            lease::acquire(db, &leadership.holder, leadership.period)
        }) {
            Ok(Some(held)) => break held,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot ask for the lease"),
        }
        if shared.shutdown.wait(TRY_EVERY) {
            return;
        }
    };
    let mut renewed = Instant::now();
    leadership.renewed();
    leadership.set_held(Some(held.clone()));
    tracing::info!(holder = %held.holder, token = held.token, "took the lease: this instance leads");
    // The restore (reading the journal, deciding the backlog) runs beside the
    // renewals: it can take longer than a lease period with a large journal,
    // and a leader that stopped renewing meanwhile would be deposed, and its
    // successor would restore just as long: nobody would ever lead.
    let (restored, restore) = std::sync::mpsc::channel();
    let restorer = std::thread::Builder::new()
        .name("restore".into())
        .spawn(move || {
            let _ = restored.send(lead());
        });
    if let Err(e) = restorer {
        tracing::error!(error = %e, "cannot start the restore thread; exiting");
        std::process::exit(DEPOSED_EXIT);
    }
    let mut decider = None;
    let renew_every = leadership.period / 4;
    while !shared.shutdown.wait(renew_every) {
        if decider.is_none() {
            match restore.try_recv() {
                Ok(Ok(handle)) => decider = Some(handle),
                Ok(Err(e)) => {
                    // The journal refused the restore: let another instance try.
                    tracing::error!(error = %e, "cannot restore the engine to lead; exiting");
                    std::process::exit(DEPOSED_EXIT);
                }
                Err(_) => {}
            }
        }
        match with_connection(shared, &mut db, |db| {
            lease::renew(db, &held, leadership.period)
        }) {
            Ok(true) => {
                renewed = Instant::now();
                leadership.renewed();
            }
            Ok(false) => {
                tracing::error!(
                    "another instance took the lease; exiting so that this instance restarts as a standby"
                );
                std::process::exit(DEPOSED_EXIT);
            }
            Err(e) if renewed.elapsed() + renew_every >= leadership.period => {
                tracing::error!(error = %e, "lost the lease; exiting so that this instance restarts as a standby");
                std::process::exit(DEPOSED_EXIT);
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew the lease; trying again"),
        }
    }
    // Shutting down: the decision thread ends once it has drained (the restore
    // may still be running, and ends by itself at its next commit).
    let decider = decider.or_else(|| restore.recv().ok().and_then(Result::ok));
    if let Some(decider) = decider {
        let _ = decider.join();
    }
    if let Some(db) = &db
        && let Err(e) = lease::release(db, &held)
    {
        tracing::warn!(error = %e, "cannot give the lease up; it expires by itself");
    }
    leadership.set_held(None);
}

fn with_connection<T>(
    shared: &Shared,
    db: &mut Option<Db>,
    f: impl FnOnce(&Db) -> Result<T>,
) -> Result<T> {
    let conn = match db.take() {
        Some(conn) if !conn.is_closed() => conn,
        _ => shared.readers.location().open_reader()?,
    };
    let result = f(&conn);
    *db = Some(conn);
    result
}
