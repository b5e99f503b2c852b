//! The journal: the inbound queue, the engine's state, every decision with its
//! proof, and every event's progress. One SQLite file (`DATA/resgate.db`) by
//! default, or a PostgreSQL database shared by several instances (`--journal
//! postgres://…`). Schema and its rationale: `migrations/sqlite/001-journal.sql`.
//!
//! Functions here take a [`Db`] and do one thing each; the writer thread
//! groups them into transactions, readers open their own connections.

pub mod db;
pub mod history;
pub mod lease;
pub mod outbox;
pub mod postgres;
pub mod readers;
pub mod story;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::engine::{AlertEntry, Decision, Engine, Event, EventState, Output, Pause, Snapshot};
use crate::source::Alert;
pub use db::{Db, Dialect, Row};
use db::{Param, ToParam, params};

/// The SQLite migrations, in order. A test checks this list against
/// `migrations/sqlite/`; `migrations/postgres/` holds the same in PostgreSQL's words.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001-journal.sql",
        include_str!("../../migrations/sqlite/001-journal.sql"),
    ),
    (
        "002-escalation-delivery.sql",
        include_str!("../../migrations/sqlite/002-escalation-delivery.sql"),
    ),
    (
        "003-time-indexes.sql",
        include_str!("../../migrations/sqlite/003-time-indexes.sql"),
    ),
    (
        "004-leadership.sql",
        include_str!("../../migrations/sqlite/004-leadership.sql"),
    ),
    (
        "005-facts.sql",
        include_str!("../../migrations/sqlite/005-facts.sql"),
    ),
    (
        "006-outbox.sql",
        include_str!("../../migrations/sqlite/006-outbox.sql"),
    ),
    (
        "007-local-writes.sql",
        include_str!("../../migrations/sqlite/007-local-writes.sql"),
    ),
];

pub const FILE_NAME: &str = "resgate.db";

/// The journal file for `--journal PATH`: a serve data directory, or the
/// database file itself (a copy or a backup).
pub fn file_in(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Where a journal lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    File(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user@host:port/db`).
    Postgres(String),
}

impl Location {
    /// `--journal VALUE`: a PostgreSQL URL, a data directory or a file.
    pub fn parse(value: &str) -> Location {
        if postgres::is_url(value) {
            Location::Postgres(value.to_owned())
        } else {
            Location::File(file_in(Path::new(value)))
        }
    }

    /// For messages: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Location::File(path) => path.display().to_string(),
            Location::Postgres(url) => redact_password(url),
        }
    }

    /// Opens the journal for writing, creating it or bringing its schema up
    /// to date.
    pub fn open_writer(&self) -> Result<Db> {
        match self {
            Location::File(path) => open_writer(path),
            Location::Postgres(url) => {
                let pg = postgres::Postgres::connect(url)?;
                pg.migrate()?;
                let db = Db::Postgres(Box::new(pg));
                ensure_instance(&db)?;
                Ok(db)
            }
        }
    }

    /// A connection for reading. It never writes (SQLite opens read-only).
    pub fn open_reader(&self) -> Result<Db> {
        match self {
            Location::File(path) => open_reader(path),
            Location::Postgres(url) => {
                Ok(Db::Postgres(Box::new(postgres::Postgres::connect(url)?)))
            }
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("journal: {message}")]
pub struct JournalError {
    pub message: String,
}

impl From<rusqlite::Error> for JournalError {
    fn from(e: rusqlite::Error) -> Self {
        JournalError {
            message: e.to_string(),
        }
    }
}

impl From<serde_json::Error> for JournalError {
    fn from(e: serde_json::Error) -> Self {
        JournalError {
            message: e.to_string(),
        }
    }
}

pub type Result<T> = std::result::Result<T, JournalError>;

/// Opens (creating if needed) a SQLite journal for writing and brings its
/// schema up to date.
pub fn open_writer(path: &Path) -> Result<Db> {
    let conn = rusqlite::Connection::open(path)?;
    // Locked by another process: wait a little, then fail so the sender retries.
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(JournalError {
            message: format!("cannot switch {} to WAL (got {mode})", path.display()),
        });
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // 32 MiB of page cache for the one writer (SQLite's default is 2 MiB): an
    // alert storm upserts alerts by fingerprint, all over the alerts table's
    // key; with 2 MiB most of those pages were read back from the OS on every
    // step, which was much of the writer's time (benches/README.md, issue 22).
    conn.execute_batch("PRAGMA cache_size = -32768;")?;
    // A step's multi-row statements come in a few sizes (a full chunk, and
    // what is left): room for them next to the ingest statements.
    conn.set_prepared_statement_cache_capacity(64);
    // The writer runs each piece in a savepoint, and SQLite keeps the pages a
    // savepoint changes in a sub-journal, spilled to a temporary file past
    // 64 KiB: a decision step of a storm changes megabytes, and writing them
    // there was a quarter of the writer's time. In memory, it costs at most
    // the pages one piece changes, freed at its release.
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    // Checkpoint the WAL into the database every 16 MiB of it, not every 4
    // MiB (SQLite's 1,000 pages): a storm's step writes several MiB, so the
    // default checkpointed at almost every commit, copying (and syncing) the
    // pages every step rewrites (index nodes, the decisions' last page) again
    // and again.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 4096;")?;
    migrate(&conn)?;
    let db = Db::Sqlite(conn);
    ensure_instance(&db)?;
    Ok(db)
}

/// Caps a SQLite file at `max_bytes` (rounded down to whole pages, never
/// below what it holds now): past it every write fails as a full disk would,
/// and ingest answers 503. Pages freed by pruning are reused first.
pub fn cap_size(db: &Db, max_bytes: u64) -> Result<()> {
    let Db::Sqlite(conn) = db else {
        return Err(JournalError {
            message: "--journal-max-size applies to a SQLite journal only; cap a PostgreSQL database with its own quotas".into(),
        });
    };
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let page_size = u64::try_from(page_size).unwrap_or(4096).max(1);
    let pages = (max_bytes / page_size).clamp(1, i64::MAX as u64);
    // SQLite keeps the cap at least the current page count by itself.
    let _: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
        r.get(0)
    })?;
    Ok(())
}

/// Bytes of a SQLite journal in use: its pages less those on the free list
/// (pruning frees pages, which are reused before the file grows). `None`
/// for PostgreSQL, whose size is its server's business.
pub fn used_bytes(db: &Db) -> Option<u64> {
    let Db::Sqlite(conn) = db else {
        return None;
    };
    let pragma = |name: &str| -> Option<u64> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, i64>(0))
            .ok()
            .and_then(|v| u64::try_from(v).ok())
    };
    let pages = pragma("page_count")?.saturating_sub(pragma("freelist_count")?);
    Some(pages.saturating_mul(pragma("page_size")?))
}

/// A read-only connection to a SQLite journal (the API, `resgate events`).
pub fn open_reader(path: &Path) -> Result<Db> {
    if !path.exists() {
        return Err(JournalError {
            message: format!("no journal at {}", path.display()),
        });
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    Ok(Db::Sqlite(conn))
}

fn migrate(conn: &rusqlite::Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    refuse_newer_schema(current, MIGRATIONS.len())?;
    for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}\nPRAGMA user_version = {version}; COMMIT;"
        ))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    }
    Ok(())
}

/// A journal migrated by a newer resgate is not this one's to write.
fn refuse_newer_schema(current: i64, known: usize) -> Result<()> {
    if current > known as i64 {
        return Err(JournalError {
            message: format!(
                "the journal has schema {current}, newer than this resgate knows ({known}); use a newer resgate"
            ),
        });
    }
    Ok(())
}

/// Gives a new journal its instance ID (kept for its whole life).
fn ensure_instance(db: &Db) -> Result<()> {
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('instance', ?1) ON CONFLICT (key) DO NOTHING",
        params![new_instance_id()],
    )?;
    Ok(())
}

/// Random enough to tell two journals apart: Idempotency-Keys must not repeat
/// when a data directory is wiped and event numbers start again at 1.
fn new_instance_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

fn meta(db: &Db, key: &str) -> Result<Option<String>> {
    db.query_opt("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
        r.string(0)
    })
}

/// The engine's clock at the last recorded step: a restart resumes there, so
/// that what was accepted before the crash is decided at the time it arrived.
pub fn clock(db: &Db) -> Result<Option<Timestamp>> {
    parse_opt_ts(meta(db, "clock")?)
}

pub fn instance_id(db: &Db) -> Result<String> {
    meta(db, "instance")?.ok_or_else(|| JournalError {
        message: "the journal has no instance ID".into(),
    })
}

/// Fixed width (microseconds, `Z`) so that text order is time order in SQL.
fn ts(t: Timestamp) -> String {
    format!("{t:.6}")
}

fn parse_ts(s: &str) -> Result<Timestamp> {
    s.parse().map_err(|e| JournalError {
        message: format!("bad timestamp {s:?} in the journal: {e}"),
    })
}

fn parse_opt_ts(s: Option<String>) -> Result<Option<Timestamp>> {
    s.as_deref().map(parse_ts).transpose()
}

// ---------------------------------------------------------------- writing

/// Puts one accepted webhook body on the inbound queue; returns its ID.
pub fn insert_inbound(
    conn: &Db,
    received_at: Timestamp,
    source: &str,
    body: &[u8],
    alerts_json: &str,
) -> Result<i64> {
    conn.query_one(
        "INSERT INTO inbound (received_at, source, body, alerts) VALUES (?1, ?2, ?3, ?4)
         RETURNING id",
        params![ts(received_at), source, body, alerts_json],
        |r| r.int(0),
    )
}

/// An accepted webhook body, ready for the inbound queue.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub received_at: Timestamp,
    pub source: String,
    pub body: Vec<u8>,
    /// The alerts it brings, as JSON.
    pub alerts: String,
}

impl NewInbound {
    pub fn insert(&self, conn: &Db) -> Result<i64> {
        insert_inbound(
            conn,
            self.received_at,
            &self.source,
            &self.body,
            &self.alerts,
        )
    }
}

/// Puts many accepted webhook bodies on the inbound queue in one statement
/// (one round trip to a PostgreSQL server instead of one per body); their IDs,
/// in the order of `rows`.
pub fn insert_inbound_many(conn: &Db, rows: &[&NewInbound]) -> Result<Vec<i64>> {
    if conn.dialect() == Dialect::Sqlite {
        // In-process: one statement per row costs no round trip.
        return rows.iter().map(|row| row.insert(conn)).collect();
    }
    // The IDs are drawn first and written explicitly, so that each row's ID
    // is the one returned for it by construction. `INSERT … VALUES … RETURNING
    // id` would need the sequence to be drawn, and RETURNING to list, in the
    // order of the VALUES list: what PostgreSQL does, not what it documents.
    // One more round trip per commit group, not per webhook.
    let count = i64::try_from(rows.len()).map_err(|_| JournalError {
        message: format!("{} inbound rows in one statement", rows.len()),
    })?;
    let mut ids = conn.query(
        "SELECT nextval(pg_get_serial_sequence('inbound', 'id')) FROM generate_series(1, ?1)",
        params![count],
        |r| r.int(0),
    )?;
    if ids.len() != rows.len() {
        return Err(JournalError {
            message: format!(
                "the journal drew {} IDs for {} inbound rows",
                ids.len(),
                rows.len()
            ),
        });
    }
    // Ascending, as one INSERT at a time would have drawn them: the decision
    // thread reads undecided rows in ID order.
    ids.sort_unstable();
    let mut sql =
        String::from("INSERT INTO inbound (id, received_at, source, body, alerts) VALUES ");
    let times: Vec<String> = rows.iter().map(|r| ts(r.received_at)).collect();
    let mut params = Vec::with_capacity(rows.len() * 5);
    for (i, ((row, at), id)) in rows.iter().zip(&times).zip(&ids).enumerate() {
        let n = i * 5;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(?{}, ?{}, ?{}, ?{}, ?{})",
            n + 1,
            n + 2,
            n + 3,
            n + 4,
            n + 5
        ));
        params.extend([
            id.to_param(),
            at.to_param(),
            row.source.to_param(),
            row.body.as_slice().to_param(),
            row.alerts.to_param(),
        ]);
    }
    conn.execute(&sql, &params)?;
    Ok(ids)
}

/// What the decision thread records after one engine step, before acting on
/// it. Owned copies, so that the writer thread can record them while the
/// engine moves on.
#[derive(Debug, Clone, Default)]
pub struct StepRecord {
    /// The inbound rows this step consumed.
    pub inbound: Vec<i64>,
    pub decisions: Vec<Decision>,
    /// The inbound row each decision came from (same order as `decisions`).
    pub decided_from: Vec<Option<i64>>,
    pub transitions: Vec<crate::engine::Transition>,
    /// Every event the step created or touched, as it is now.
    pub events: BTreeMap<String, Event>,
    /// Every alert the step may have changed, as it is now.
    pub alerts: BTreeMap<String, AlertEntry>,
    /// As `alerts`, for alerts whose JSON came with them (the webhook's
    /// thread encoded them for the inbound row): not read back from the
    /// engine and encoded again. A fingerprint is in one of the two maps.
    pub alerts_encoded: BTreeMap<String, EncodedAlert>,
    pub pauses_set: Vec<Pause>,
    pub pauses_deleted: Vec<(String, Option<String>)>,
    /// Resolved alerts the engine forgot.
    pub alerts_forgotten: Vec<crate::engine::Forgotten>,
    /// Fact relations a refresh changed (DESIGN.md §8).
    pub fact_changes: Vec<FactChange>,
    pub now: Option<Timestamp>,
    /// Notifications the step's decisions and transitions cause, by
    /// notifier name: journaled in the same transaction (DESIGN.md §9).
    pub outbox: Vec<(String, crate::notifier::Notice)>,
}

/// An alert of a step as the engine holds it, already encoded as JSON.
#[derive(Debug, Clone)]
pub struct EncodedAlert {
    pub json: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

/// The rows one refresh of a fact relation added and removed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FactChange {
    pub at: Timestamp,
    pub relation: String,
    pub added: Vec<crate::engine::FactRow>,
    pub removed: Vec<crate::engine::FactRow>,
}

impl StepRecord {
    pub fn is_empty(&self) -> bool {
        self.inbound.is_empty()
            && self.decisions.is_empty()
            && self.transitions.is_empty()
            && self.pauses_set.is_empty()
            && self.pauses_deleted.is_empty()
            && self.alerts_forgotten.is_empty()
            && self.fact_changes.is_empty()
    }

    /// Gathers the events and alerts `output` touched from the engine.
    pub fn add_output(&mut self, engine: &Engine, output: Output) {
        self.add_output_from(engine, output, None);
    }

    /// As `add_output`, for the decisions of inbound row `inbound`.
    pub fn add_output_from(&mut self, engine: &Engine, output: Output, inbound: Option<i64>) {
        let state = engine.state();
        let mut ids: Vec<&str> = output
            .decisions
            .iter()
            .filter_map(|d| d.event.as_deref())
            .chain(output.transitions.iter().map(|t| t.event.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            if let Some(e) = state.event(id) {
                self.events.insert(e.id.clone(), e.clone());
            }
        }
        self.decided_from
            .extend(std::iter::repeat_n(inbound, output.decisions.len()));
        self.decisions.extend(output.decisions);
        self.transitions.extend(output.transitions);
    }

    pub fn add_alerts<'a>(&mut self, engine: &Engine, fingerprints: impl Iterator<Item = &'a str>) {
        for fp in fingerprints {
            if let Some(entry) = engine.state().alerts.get(fp) {
                self.alerts_encoded.remove(fp);
                self.alerts.insert(fp.to_owned(), entry);
            }
        }
    }

    /// As [`StepRecord::add_alerts`] after [`Engine::ingest_owned_kept`]:
    /// `fingerprints`, `kept` and `encoded` are per alert of the payload, in
    /// its order; an alert the engine kept exactly as given is recorded with
    /// its `encoded` JSON (`serde_json::to_string` of that alert), the others
    /// are read back from the engine. `encoded` may be empty (not known).
    pub fn add_alerts_encoded(
        &mut self,
        engine: &Engine,
        fingerprints: Vec<String>,
        kept: &[bool],
        encoded: Vec<String>,
    ) {
        let known = encoded.len() == fingerprints.len() && kept.len() == fingerprints.len();
        let mut encoded = encoded.into_iter();
        let alerts = &engine.state().alerts;
        // In payload order, each later alert of a fingerprint replacing the
        // earlier: the state after the payload, as `add_alerts` records it.
        for (i, fp) in fingerprints.into_iter().enumerate() {
            let json = encoded.next();
            if let (true, true, Some(json), Some(times)) = (known, kept[i], json, alerts.times(&fp))
            {
                self.alerts.remove(&fp);
                self.alerts_encoded.insert(
                    fp,
                    EncodedAlert {
                        json,
                        first_seen: times.first_seen,
                        last_seen: times.last_seen,
                        resolved_at: times.resolved_at,
                    },
                );
            } else if let Some(entry) = alerts.get(&fp) {
                self.alerts_encoded.remove(&fp);
                self.alerts.insert(fp, entry);
            }
        }
    }
}

/// The JSON a step's rows carry, made on the decision thread so that the one
/// writer thread only runs SQL.
#[derive(Debug, Default)]
pub struct Prepared {
    alerts: Vec<String>,
    proofs: Vec<String>,
    /// The whole decision, for escalations (what a re-sent page says).
    escalations: Vec<Option<String>>,
    /// (alerts, history) per event.
    events: Vec<(String, String)>,
    /// The notice of each outbox row, as JSON.
    outbox: Vec<String>,
}

impl StepRecord {
    pub fn prepare(&self) -> Result<Prepared> {
        let mut p = Prepared::default();
        for entry in self.alerts.values() {
            p.alerts.push(serde_json::to_string(&*entry.alert)?);
        }
        for d in &self.decisions {
            p.proofs.push(serde_json::to_string(&d.proof)?);
            p.escalations
                .push(if d.verdict == crate::engine::Verdict::Escalate {
                    Some(serde_json::to_string(d)?)
                } else {
                    None
                });
        }
        for (_, notice) in &self.outbox {
            p.outbox.push(serde_json::to_string(notice)?);
        }
        for e in self.events.values() {
            p.events.push((
                serde_json::to_string(&e.alerts)?,
                serde_json::to_string(&e.history)?,
            ));
        }
        Ok(p)
    }
}

/// Records a step of the engine: its decisions, the events they created or
/// touched, the alerts' state, pauses, and marks the inbound rows done.
pub fn record_step(
    conn: &Db,
    instance: &str,
    step: &StepRecord,
    prepared: &Prepared,
) -> Result<()> {
    let now = step.now.unwrap_or_else(Timestamp::now);
    // The rows a storm writes most (alerts, decisions, inbound rows marked
    // done) go in multi-row statements: on PostgreSQL one round trip per
    // chunk instead of one per row; on SQLite one statement run per chunk
    // instead of a bind, step and reset per row. The same rows, in the same
    // order (both run a VALUES list in its order, so decisions keep theirs).
    let entries = alert_rows(step, prepared);
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        upsert_alerts(conn, chunk)?;
    }
    for row in &entries {
        if row.resolved_at.is_some() {
            conn.execute(
                "DELETE FROM deferrals WHERE alert = ?1",
                params![row.fingerprint],
            )?;
        }
    }
    let rows: Vec<_> = step
        .decisions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let proof = prepared.proofs.get(i).map_or("null", String::as_str);
            (step.decided_from.get(i).copied().flatten(), d, proof)
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        insert_decisions(conn, chunk)?;
    }
    for (i, d) in step.decisions.iter().enumerate() {
        let Some(r) = &d.remediation else { continue };
        if d.verdict == crate::engine::Verdict::Defer {
            conn.execute(
                "INSERT INTO deferrals (alert, remediation, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT (alert, remediation) DO UPDATE SET reason = excluded.reason",
                params![d.alert, r, d.reason.as_deref().unwrap_or("")],
            )?;
        } else {
            conn.execute(
                "DELETE FROM deferrals WHERE alert = ?1 AND remediation = ?2",
                params![d.alert, r],
            )?;
        }
        if d.verdict == crate::engine::Verdict::Escalate {
            conn.execute(
                "INSERT INTO escalations (remediation, target, at, decision, sent)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT (remediation, target) DO UPDATE SET at = excluded.at,
                   decision = excluded.decision, sent = NULL",
                params![
                    r,
                    d.target.as_deref().unwrap_or(""),
                    ts(d.at),
                    prepared.escalations.get(i).cloned().flatten()
                ],
            )?;
        }
    }
    // In this transaction: a crash never keeps a decision and loses what
    // people are to be told of it, nor the reverse.
    for ((notifier, notice), json) in step.outbox.iter().zip(&prepared.outbox) {
        outbox::insert(
            conn,
            notifier,
            &notice.key,
            notice.event.as_deref(),
            notice.at,
            json,
        )?;
    }
    for t in &step.transitions {
        conn.execute(
            "INSERT INTO event_changes (event, at, from_state, to_state) VALUES (?1, ?2, ?3, ?4)",
            params![
                t.event,
                ts(t.at),
                t.from.map(EventState::as_str),
                t.to.as_str()
            ],
        )?;
    }
    for (i, e) in step.events.values().enumerate() {
        let (alerts, history) = prepared.events.get(i).ok_or_else(|| JournalError {
            message: "a step's event was not prepared".into(),
        })?;
        upsert_event(conn, e, instance, now, alerts, history)?;
    }
    for p in &step.pauses_set {
        upsert_pause(conn, p, now)?;
    }
    for (r, t) in &step.pauses_deleted {
        delete_pause(conn, r, t.as_deref())?;
    }
    // The engine drops pauses when they expire; so does the journal.
    conn.execute(
        "DELETE FROM pauses WHERE until IS NOT NULL AND until <= ?1",
        params![ts(now)],
    )?;
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('clock', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![ts(now)],
    )?;
    for gone in &step.alerts_forgotten {
        conn.execute(
            "DELETE FROM alerts WHERE first_seen = ?1 AND fingerprint = ?2",
            params![ts(gone.first_seen), gone.fingerprint],
        )?;
    }
    for c in &step.fact_changes {
        let json = |rows: &[crate::engine::FactRow]| {
            serde_json::to_string(rows).unwrap_or_else(|_| "[]".to_owned())
        };
        conn.execute(
            "INSERT INTO fact_changes (at, relation, added, removed) VALUES (?1, ?2, ?3, ?4)",
            params![ts(c.at), c.relation, json(&c.added), json(&c.removed)],
        )?;
    }
    // Decided: no longer listed as undecided (migrations/sqlite/007-local-writes.sql).
    for chunk in step.inbound.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "DELETE FROM inbound_undecided WHERE id IN ({})",
            numbered(chunk.len())
        );
        let params: Vec<Param> = chunk.iter().map(|id| id.to_param()).collect();
        conn.execute(&sql, &params)?;
    }
    Ok(())
}

/// Rows per multi-row statement: few distinct statements to prepare, well
/// under PostgreSQL's 65,535 parameters and SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 200;

/// The times of many rows as text, each distinct time written once: a
/// step's rows mostly share a few (its `now`, when its alerts were first
/// seen), so most of the formatting per column per row was the same work
/// again.
#[derive(Default)]
struct TimeTexts {
    texts: Vec<String>,
    seen: std::collections::HashMap<Timestamp, usize>,
}

impl TimeTexts {
    /// Where `t`'s text ([`ts`]) is in `texts`.
    fn index(&mut self, t: Timestamp) -> usize {
        *self.seen.entry(t).or_insert_with(|| {
            self.texts.push(ts(t));
            self.texts.len() - 1
        })
    }
}

/// `?1, ?2, …, ?count`: the list of an `IN (…)`.
fn numbered(count: usize) -> String {
    (1..=count)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(?1, ?2, ?3), (?4, ?5, ?6)`: `rows` tuples of `width` placeholders.
fn placeholders(rows: usize, width: usize) -> String {
    let mut out = String::new();
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..width {
            if c > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("?{}", r * width + c + 1));
        }
        out.push(')');
    }
    out
}

/// One row of the alerts table as a step writes it.
struct AlertRow<'a> {
    fingerprint: &'a str,
    json: &'a str,
    first_seen: Timestamp,
    last_seen: Timestamp,
    resolved_at: Option<Timestamp>,
}

/// The step's alerts, read back or already encoded, in fingerprint order
/// (the order one map of them would give).
fn alert_rows<'a>(step: &'a StepRecord, prepared: &'a Prepared) -> Vec<AlertRow<'a>> {
    let mut read = step
        .alerts
        .iter()
        .zip(&prepared.alerts)
        .map(|((fp, e), json)| AlertRow {
            fingerprint: fp,
            json,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            resolved_at: e.resolved_at,
        })
        .peekable();
    let mut encoded = step
        .alerts_encoded
        .iter()
        .map(|(fp, e)| AlertRow {
            fingerprint: fp,
            json: &e.json,
            first_seen: e.first_seen,
            last_seen: e.last_seen,
            resolved_at: e.resolved_at,
        })
        .peekable();
    let mut rows = Vec::with_capacity(step.alerts.len() + step.alerts_encoded.len());
    loop {
        let next = match (read.peek(), encoded.peek()) {
            (Some(a), Some(b)) if a.fingerprint <= b.fingerprint => read.next(),
            (Some(_), Some(_)) | (None, Some(_)) => encoded.next(),
            (Some(_), None) => read.next(),
            (None, None) => break,
        };
        rows.extend(next);
    }
    rows
}

/// Inserts or updates many alerts in one statement (distinct fingerprints:
/// a step's alerts are keyed by them).
fn upsert_alerts(conn: &Db, rows: &[AlertRow<'_>]) -> Result<()> {
    let mut texts = TimeTexts::default();
    let times: Vec<(usize, usize, Option<usize>)> = rows
        .iter()
        .map(|r| {
            let first = texts.index(r.first_seen);
            let last = texts.index(r.last_seen);
            (first, last, r.resolved_at.map(|t| texts.index(t)))
        })
        .collect();
    let texts = texts.texts;
    let mut params = Vec::with_capacity(rows.len() * 5);
    for (row, (first, last, resolved)) in rows.iter().zip(&times) {
        params.extend([
            row.fingerprint.to_param(),
            row.json.to_param(),
            texts[*first].to_param(),
            texts[*last].to_param(),
            match resolved {
                Some(i) => texts[*i].to_param(),
                None => Param::Null,
            },
        ]);
    }
    let sql = |rows: usize| {
        format!(
            "INSERT INTO alerts (fingerprint, alert, first_seen, last_seen, resolved_at)
         VALUES {}
         ON CONFLICT (first_seen, fingerprint) DO UPDATE SET alert = excluded.alert,
           last_seen = excluded.last_seen, resolved_at = excluded.resolved_at",
            placeholders(rows, 5)
        )
    };
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    conn.execute(&statement_for(rows.len(), &FULL, sql), &params)?;
    Ok(())
}

/// The SQL of a multi-row statement of `rows` rows: a full chunk's is made
/// once (most of a storm's statements), any other size when needed.
fn statement_for(
    rows: usize,
    full: &'static std::sync::OnceLock<String>,
    make: impl Fn(usize) -> String,
) -> std::borrow::Cow<'static, str> {
    if rows == ROWS_PER_STATEMENT {
        std::borrow::Cow::Borrowed(full.get_or_init(|| make(ROWS_PER_STATEMENT)).as_str())
    } else {
        std::borrow::Cow::Owned(make(rows))
    }
}

/// Inserts many decisions in one statement, in their order.
fn insert_decisions(conn: &Db, rows: &[(Option<i64>, &Decision, &str)]) -> Result<()> {
    let mut texts = TimeTexts::default();
    let times: Vec<usize> = rows.iter().map(|(_, d, _)| texts.index(d.at)).collect();
    let texts = texts.texts;
    let mut params = Vec::with_capacity(rows.len() * 9);
    for ((inbound, d, proof), at) in rows.iter().zip(&times) {
        params.extend([
            inbound.to_param(),
            texts[*at].to_param(),
            d.alert.to_param(),
            d.remediation.to_param(),
            d.target.to_param(),
            d.verdict.as_str().to_param(),
            d.reason.to_param(),
            d.event.to_param(),
            proof.to_param(),
        ]);
    }
    let sql = |rows: usize| {
        format!(
            "INSERT INTO decisions (inbound_id, at, alert, remediation, target, verdict, reason, event, proof)
         VALUES {}",
            placeholders(rows, 9)
        )
    };
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    conn.execute(&statement_for(rows.len(), &FULL, sql), &params)?;
    Ok(())
}

/// The key a remediator sees for the call of `event`: the same on every retry
/// of that call, different for every other call, across restarts and journals.
pub fn idempotency_key(instance: &str, event: &str) -> String {
    format!("resgate-{instance}-{event}")
}

fn event_seq(id: &str) -> i64 {
    id.strip_prefix("ev-")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn upsert_event(
    conn: &Db,
    e: &Event,
    instance: &str,
    now: Timestamp,
    alerts: &str,
    history: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO events (id, seq, remediation, target, alert, alerts, state, remote_id,
            fired_at, succeeded_at, warm_until, updated_at, history, call, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'queued', ?14)
         ON CONFLICT (id) DO UPDATE SET alerts = excluded.alerts, state = excluded.state,
           remote_id = excluded.remote_id, succeeded_at = excluded.succeeded_at,
           warm_until = excluded.warm_until, updated_at = excluded.updated_at,
           history = excluded.history",
        params![
            e.id,
            event_seq(&e.id),
            e.remediation,
            e.target,
            e.alert,
            alerts,
            e.state.as_str(),
            e.remote_id,
            ts(e.fired_at),
            e.succeeded_at.map(ts),
            e.warm_until.map(ts),
            ts(now),
            history,
            idempotency_key(instance, &e.id),
        ],
    )?;
    Ok(())
}

/// Where an event's call stands (see the `call` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// Decided; nothing sent yet. A restart sends it.
    Queued,
    /// May have reached the remediator. A restart never sends it again.
    Sending,
    /// The remediator answered 2xx (the remote ID, if any, is in `remote_id`).
    Accepted,
    /// The remediator certainly did not take it.
    Refused,
}

impl CallPhase {
    fn as_str(self) -> &'static str {
        match self {
            CallPhase::Queued => "queued",
            CallPhase::Sending => "sending",
            CallPhase::Accepted => "accepted",
            CallPhase::Refused => "refused",
        }
    }

    fn parse(s: &str) -> CallPhase {
        match s {
            "queued" => CallPhase::Queued,
            "accepted" => CallPhase::Accepted,
            "refused" => CallPhase::Refused,
            // Unknown words are treated as the phase that never re-sends.
            _ => CallPhase::Sending,
        }
    }
}

pub fn set_call(
    conn: &Db,
    event: &str,
    phase: CallPhase,
    status_url: Option<&str>,
    remote_id: Option<&str>,
) -> Result<()> {
    conn.execute(
        "UPDATE events SET call = ?2, status_url = coalesce(?3, status_url),
           remote_id = coalesce(?4, remote_id) WHERE id = ?1",
        params![event, phase.as_str(), status_url, remote_id],
    )?;
    Ok(())
}

/// A note in an event's story: a call's answer, a status poll, an error.
pub fn note_event(conn: &Db, event: &str, at: Timestamp, detail: &Value) -> Result<()> {
    conn.execute(
        "INSERT INTO event_changes (event, at, detail) VALUES (?1, ?2, ?3)",
        params![event, ts(at), detail.to_string()],
    )?;
    Ok(())
}

/// Records how the escalation remediator answered.
pub fn escalation_sent(
    conn: &Db,
    remediation: &str,
    target: &str,
    at: Timestamp,
    outcome: &str,
) -> Result<()> {
    conn.execute(
        "UPDATE escalations SET sent = ?4 WHERE remediation = ?1 AND target = ?2 AND at = ?3",
        params![remediation, target, ts(at), outcome],
    )?;
    Ok(())
}

/// Escalations decided but never answered: a restart sends them again.
pub fn unsent_escalations(conn: &Db) -> Result<Vec<Decision>> {
    conn.query(
        "SELECT decision FROM escalations WHERE sent IS NULL AND decision IS NOT NULL",
        params![],
        |r| Ok(serde_json::from_str(r.str(0)?)?),
    )
}

pub fn upsert_pause(conn: &Db, p: &Pause, now: Timestamp) -> Result<()> {
    conn.execute(
        "INSERT INTO pauses (remediation, target, reason, until, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (remediation, target) DO UPDATE SET reason = excluded.reason,
           until = excluded.until, created_at = excluded.created_at",
        params![
        p.remediation,
        p.target.as_deref().unwrap_or(""),
        p.reason,
        p.until.map(ts),
        ts(now)
    ],
    )?;
    Ok(())
}

pub fn delete_pause(conn: &Db, remediation: &str, target: Option<&str>) -> Result<usize> {
    conn.execute(
        "DELETE FROM pauses WHERE remediation = ?1 AND target = ?2",
        params![remediation, target.unwrap_or("")],
    )
}

/// Drops what the retention period no longer needs: decided inbound bodies
/// received before `before` (an undecided one is kept, however old).
pub fn prune(conn: &Db, before: Timestamp) -> Result<usize> {
    conn.execute(
        "DELETE FROM inbound WHERE received_at < ?1
           AND id NOT IN (SELECT id FROM inbound_undecided)",
        params![ts(before)],
    )
}

// ---------------------------------------------------------------- reading

/// An inbound row the decision thread has not decided yet.
pub struct Pending {
    pub id: i64,
    pub received_at: Timestamp,
    pub alerts: Vec<Alert>,
}

pub fn pending_inbound(conn: &Db) -> Result<Vec<Pending>> {
    conn.query(
        "SELECT id, received_at, alerts FROM inbound
           WHERE id IN (SELECT id FROM inbound_undecided) ORDER BY id",
        params![],
        pending_row,
    )
}

/// The first `limit` undecided inbound rows, in ID order.
pub fn pending_inbound_first(conn: &Db, limit: u32) -> Result<Vec<Pending>> {
    // Two plain statements, not one: PostgreSQL chose the plan of the one
    // statement by its statistics of a queue that changes by thousands of
    // rows a second. As a join it walked inbound's whole key (40 ms at 200k
    // rows); as `IN (… LIMIT $1)`, after five runs of the prepared statement,
    // a generic plan hashed all of inbound; with the limit written in, the
    // decision thread's prepared read still took ~50 ms in some runs while
    // the same text typed into psql took 2.3 ms, and a leader fell 140k
    // single-alert webhooks behind (benches/README.md, 2026-12-07). Each of
    // these has one sensible plan: the first `limit` IDs of the queue's key,
    // then each row by inbound's key.
    let ids = conn.query(
        &format!("SELECT id FROM inbound_undecided ORDER BY id LIMIT {limit}"),
        params![],
        |r| r.int(0),
    )?;
    let Some(last) = ids.last().copied() else {
        return Ok(Vec::new());
    };
    // Always `limit` placeholders (the last ID repeated): one statement to prepare.
    let slots = usize::try_from(limit).unwrap_or(usize::MAX).max(ids.len());
    let placeholders = numbered(slots);
    let mut values: Vec<Param> = ids.iter().map(|id| id.to_param()).collect();
    values.resize(slots, last.to_param());
    conn.query(
        &format!(
            "SELECT id, received_at, alerts FROM inbound WHERE id IN ({placeholders}) ORDER BY id"
        ),
        &values,
        pending_row,
    )
}

fn pending_row(r: &Row) -> Result<Pending> {
    Ok(Pending {
        id: r.int(0)?,
        received_at: parse_ts(r.str(1)?)?,
        alerts: serde_json::from_str(r.str(2)?)?,
    })
}

/// Every inbound row still retained, in ID order (what a backtest replays).
pub fn all_inbound(conn: &Db) -> Result<Vec<Pending>> {
    conn.query(
        "SELECT id, received_at, alerts FROM inbound ORDER BY id",
        params![],
        pending_row,
    )
}

/// How many inbound rows are not decided yet, and when the oldest arrived.
pub fn undecided(conn: &Db) -> Result<(i64, Option<Timestamp>)> {
    let (count, oldest) = conn.query_one(
        // The oldest is the first one listed: IDs are drawn in the order rows
        // are journaled. As a join, PostgreSQL hashed the whole inbound table.
        "SELECT (SELECT count(*) FROM inbound_undecided),
           (SELECT received_at FROM inbound WHERE id = (SELECT min(id) FROM inbound_undecided))",
        params![],
        |r| Ok((r.int(0)?, r.opt_string(1)?)),
    )?;
    Ok((count, parse_opt_ts(oldest)?))
}

/// The engine's memory as the journal recorded it.
pub fn load_snapshot(conn: &Db) -> Result<Snapshot> {
    let mut snap = Snapshot {
        alerts: conn.query(
            "SELECT alert, first_seen, last_seen, resolved_at FROM alerts",
            params![],
            |r| {
                let alert: Alert = serde_json::from_str(r.str(0)?)?;
                Ok(AlertEntry {
                    alert: Arc::new(alert),
                    first_seen: parse_ts(r.str(1)?)?,
                    last_seen: parse_ts(r.str(2)?)?,
                    resolved_at: parse_opt_ts(r.opt_string(3)?)?,
                })
            },
        )?,
        ..Snapshot::default()
    };
    snap.events = conn.query(
        "SELECT id, remediation, target, alert, alerts, state, remote_id, fired_at,
                succeeded_at, warm_until, history FROM events ORDER BY seq",
        params![],
        |r| {
            let id = r.string(0)?;
            let state = r.str(5)?;
            let state = EventState::parse(state).ok_or_else(|| JournalError {
                message: format!("event {id} has an unknown state {state:?}"),
            })?;
            Ok(Event {
                remediation: r.string(1)?,
                target: r.string(2)?,
                alert: r.string(3)?,
                alerts: serde_json::from_str(r.str(4)?)?,
                state,
                remote_id: r.opt_string(6)?,
                fired_at: parse_ts(r.str(7)?)?,
                succeeded_at: parse_opt_ts(r.opt_string(8)?)?,
                warm_until: parse_opt_ts(r.opt_string(9)?)?,
                history: serde_json::from_str(r.str(10)?)?,
                id,
            })
        },
    )?;
    for e in &snap.events {
        snap.next_event = snap.next_event.max(event_seq(&e.id).max(0) as u64 + 1);
    }
    snap.pauses = conn.query(
        "SELECT remediation, target, reason, until FROM pauses",
        params![],
        |r| {
            let target = r.string(1)?;
            Ok(Pause {
                remediation: r.string(0)?,
                target: (!target.is_empty()).then_some(target),
                reason: r.string(2)?,
                until: parse_opt_ts(r.opt_string(3)?)?,
            })
        },
    )?;
    snap.escalated = conn.query(
        "SELECT remediation, target, at FROM escalations",
        params![],
        |r| Ok((r.string(0)?, r.string(1)?, parse_ts(r.str(2)?)?)),
    )?;
    snap.deferred = conn.query(
        "SELECT alert, remediation, reason FROM deferrals",
        params![],
        |r| Ok((r.string(0)?, r.string(1)?, r.string(2)?)),
    )?;
    snap.next_event = snap.next_event.max(1);
    Ok(snap)
}

/// An event whose call a restart must pick up.
#[derive(Debug, Clone)]
pub struct OpenCall {
    pub event: String,
    pub phase: CallPhase,
    pub status_url: Option<String>,
    pub remote_id: Option<String>,
}

pub fn open_calls(conn: &Db) -> Result<Vec<OpenCall>> {
    conn.query(
        "SELECT id, call, status_url, remote_id FROM events
         WHERE state IN ('pending', 'accepted', 'running') ORDER BY seq",
        params![],
        |r| {
            Ok(OpenCall {
                event: r.string(0)?,
                phase: CallPhase::parse(r.str(1)?),
                status_url: r.opt_string(2)?,
                remote_id: r.opt_string(3)?,
            })
        },
    )
}

/// The columns [`event_json`] reads, in its order.
const EVENT_COLUMNS: &str =
    "id, remediation, target, alert, alerts, state, remote_id, fired_at, updated_at, call, history";

fn event_json(r: &Row) -> Result<Value> {
    let history: Value = serde_json::from_str(r.str(10)?).unwrap_or(Value::Null);
    let history: Vec<Value> = history
        .as_array()
        .map(|h| {
            h.iter()
                .map(|step| json!({"at": step.get(0), "state": step.get(1)}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "id": r.str(0)?,
        "remediation": r.str(1)?,
        "target": r.str(2)?,
        "alert": r.str(3)?,
        "alerts": serde_json::from_str::<Value>(r.str(4)?).unwrap_or(Value::Null),
        "state": r.str(5)?,
        "remote_id": r.opt_str(6)?,
        "fired_at": r.str(7)?,
        "updated_at": r.str(8)?,
        "call": r.str(9)?,
        "history": history,
    }))
}

/// The newest events first.
pub fn list_events(conn: &Db, limit: u32) -> Result<Vec<Value>> {
    conn.query(
        &format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?1"),
        params![limit],
        event_json,
    )
}

/// One event with its decisions (and their proofs) and its story.
pub fn event_detail(conn: &Db, id: &str) -> Result<Option<Value>> {
    let Some(mut event) = conn.query_opt(
        &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?1"),
        params![id],
        event_json,
    )?
    else {
        return Ok(None);
    };
    let decisions = conn.query(
        &format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE event = ?1 ORDER BY seq"),
        params![id],
        decision_json,
    )?;
    let changes = conn.query(
        "SELECT at, from_state, to_state, detail FROM event_changes WHERE event = ?1 ORDER BY seq",
        params![id],
        |r| {
            Ok(json!({
                "at": r.str(0)?,
                "from": r.opt_str(1)?,
                "to": r.opt_str(2)?,
                "detail": r.opt_str(3)?.and_then(|d| serde_json::from_str::<Value>(d).ok()),
            }))
        },
    )?;
    if let Some(obj) = event.as_object_mut() {
        obj.insert("decisions".into(), Value::Array(decisions));
        obj.insert("changes".into(), Value::Array(changes));
    }
    Ok(Some(event))
}

/// The columns [`decision_json`] reads, in its order.
const DECISION_COLUMNS: &str = "seq, at, alert, remediation, target, verdict, reason, event, proof";

fn decision_json(r: &Row) -> Result<Value> {
    decision_json_from(r, 0)
}

/// As [`decision_json`], for [`DECISION_COLUMNS`] starting at column `at`.
fn decision_json_from(r: &Row, at: usize) -> Result<Value> {
    Ok(json!({
        "seq": r.int(at)?,
        "at": r.str(at + 1)?,
        "alert": r.str(at + 2)?,
        "remediation": r.opt_str(at + 3)?,
        "target": r.opt_str(at + 4)?,
        "verdict": r.str(at + 5)?,
        "reason": r.opt_str(at + 6)?,
        "event": r.opt_str(at + 7)?,
        "proof": serde_json::from_str::<Value>(r.str(at + 8)?).unwrap_or(Value::Null),
    }))
}

/// Decisions after sequence number `after`, oldest first.
pub fn decisions_after(conn: &Db, after: i64, limit: u32) -> Result<Vec<Value>> {
    conn.query(
        &format!("SELECT {DECISION_COLUMNS} FROM decisions WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
        params![after, limit],
        decision_json,
    )
}

/// Decisions at or after `since`, oldest first.
pub fn decisions_since(conn: &Db, since: Timestamp, limit: u32) -> Result<Vec<Value>> {
    // Ordered by `at` inside so that the database reads the window through
    // `decisions_at` (decision times never go back, so it is the same set).
    conn.query(
        &format!(
            "SELECT {DECISION_COLUMNS} FROM (SELECT * FROM decisions WHERE at >= ?1
               ORDER BY at, seq LIMIT ?2) AS w
             ORDER BY seq"
        ),
        params![ts(since), limit],
        decision_json,
    )
}

/// Pauses in force at `now` (expired ones may not be deleted yet).
pub fn list_pauses(conn: &Db, now: Timestamp) -> Result<Vec<Value>> {
    conn.query(
        "SELECT remediation, target, reason, until, created_at FROM pauses
         WHERE until IS NULL OR until > ?1 ORDER BY remediation, target",
        params![ts(now)],
        |r| {
            let target = r.str(1)?;
            Ok(json!({
                "remediation": r.str(0)?,
                "target": (!target.is_empty()).then_some(target),
                "reason": r.str(2)?,
                "until": r.opt_str(3)?,
                "created_at": r.str(4)?,
            }))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_registered_in_order() {
        for (dialect, migrations) in [("sqlite", MIGRATIONS), ("postgres", postgres::MIGRATIONS)] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut files: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".sql"))
                .collect();
            files.sort();
            let registered: Vec<&str> = migrations.iter().map(|(n, _)| *n).collect();
            assert_eq!(files, registered, "migrations/{dialect}");
        }
    }

    #[test]
    fn both_dialects_have_the_same_migrations() {
        let sqlite: Vec<&str> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        let postgres: Vec<&str> = postgres::MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(sqlite, postgres);
    }

    #[test]
    fn passwords_are_not_shown() {
        let at = Location::parse("postgres://resgate:s3cret@db.internal:5432/resgate");
        assert_eq!(
            at.describe(),
            "postgres://resgate:***@db.internal:5432/resgate"
        );
        let at = Location::parse("postgresql://resgate@db/resgate");
        assert_eq!(at.describe(), "postgresql://resgate@db/resgate");
    }

    #[test]
    fn timestamps_sort_as_text_in_time_order() {
        let a: Timestamp = "2026-11-25T10:00:00Z".parse().unwrap();
        let b: Timestamp = "2026-11-25T10:00:00.5Z".parse().unwrap();
        let c: Timestamp = "2026-11-25T10:00:01Z".parse().unwrap();
        let (ta, tb, tc) = (ts(a), ts(b), ts(c));
        assert_eq!(ta, "2026-11-25T10:00:00.000000Z");
        assert!(ta < tb && tb < tc);
        assert_eq!(parse_ts(&tb).unwrap(), b);
    }

    #[test]
    fn a_new_journal_migrates_and_reopens_without_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let conn = open_writer(&path).unwrap();
        let instance = instance_id(&conn).unwrap();
        drop(conn);
        let conn = open_writer(&path).unwrap();
        assert_eq!(
            instance_id(&conn).unwrap(),
            instance,
            "the instance ID is kept"
        );
        let version = conn
            .query_one("PRAGMA user_version", params![], |r| r.int(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        conn.batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len() + 1))
            .unwrap();
        drop(conn);
        let err = open_writer(&path).unwrap_err();
        assert!(
            err.message.contains("newer than this resgate knows"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_journal_restores_an_empty_engine() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join(FILE_NAME)).unwrap();
        let snap = load_snapshot(&conn).unwrap();
        assert!(snap.events.is_empty() && snap.alerts.is_empty());
        assert_eq!(snap.next_event, 1);
        assert!(pending_inbound(&conn).unwrap().is_empty());
    }
}
