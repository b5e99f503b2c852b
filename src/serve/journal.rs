//! The journal: one SQLite file (`DATA/resgate.db`) holding the inbound queue,
//! the engine's state, every decision with its proof, and every event's progress.
//! Schema and its rationale: `migrations/001-journal.sql`.
//!
//! Functions here take a `&Connection` and do one thing each; the writer thread
//! groups them into transactions, readers open their own connections.

pub mod history;
pub mod story;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use crate::engine::{AlertEntry, Decision, Engine, Event, EventState, Output, Pause, Snapshot};
use crate::source::Alert;

/// The migrations, in order. A test checks this list against `migrations/`.
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001-journal.sql",
        include_str!("../../migrations/001-journal.sql"),
    ),
    (
        "002-escalation-delivery.sql",
        include_str!("../../migrations/002-escalation-delivery.sql"),
    ),
    (
        "003-time-indexes.sql",
        include_str!("../../migrations/003-time-indexes.sql"),
    ),
];

pub const FILE_NAME: &str = "resgate.db";

/// The journal file for `--journal PATH`: a serve data directory, or the
/// database file itself (a copy or a backup).
pub fn file_in(path: &Path) -> std::path::PathBuf {
    if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
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

/// Opens (creating if needed) the journal for writing and brings its schema up
/// to date.
pub fn open_writer(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // Locked by another process: wait a little, then fail so the sender retries.
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(JournalError {
            message: format!("cannot switch {} to WAL (got {mode})", path.display()),
        });
    }
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    migrate(&conn)?;
    Ok(conn)
}

/// Caps the file at `max_bytes` (rounded down to whole pages, never below
/// what it holds now): past it every write fails as a full disk would, and
/// ingest answers 503. Pages freed by pruning are reused first.
pub fn cap_size(conn: &Connection, max_bytes: u64) -> Result<()> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    let page_size = u64::try_from(page_size).unwrap_or(4096).max(1);
    let pages = (max_bytes / page_size).clamp(1, i64::MAX as u64);
    // SQLite keeps the cap at least the current page count by itself.
    let _: i64 = conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
        r.get(0)
    })?;
    Ok(())
}

/// A connection for reading (the API, `resgate events`): it never writes.
pub fn open_reader(path: &Path) -> Result<Connection> {
    if !path.exists() {
        return Err(JournalError {
            message: format!("no journal at {}", path.display()),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(2))?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > MIGRATIONS.len() as i64 {
        return Err(JournalError {
            message: format!(
                "the journal has schema {current}, newer than this resgate knows ({}); use a newer resgate",
                MIGRATIONS.len()
            ),
        });
    }
    for (i, (_name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}\nPRAGMA user_version = {version}; COMMIT;"
        ))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    }
    let has_instance: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
            r.get(0)
        })
        .optional()?;
    if has_instance.is_none() {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('instance', ?1)",
            [new_instance_id()],
        )?;
    }
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

/// The engine's clock at the last recorded step: a restart resumes there, so
/// that what was accepted before the crash is decided at the time it arrived.
pub fn clock(conn: &Connection) -> Result<Option<Timestamp>> {
    let value: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = 'clock'", [], |r| {
            r.get(0)
        })
        .optional()?;
    parse_opt_ts(value)
}

pub fn instance_id(conn: &Connection) -> Result<String> {
    Ok(
        conn.query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| {
            r.get(0)
        })?,
    )
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
    conn: &Connection,
    received_at: Timestamp,
    source: &str,
    body: &[u8],
    alerts_json: &str,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO inbound (received_at, source, body, alerts) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![ts(received_at), source, body, alerts_json])?;
    Ok(conn.last_insert_rowid())
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
    pub pauses_set: Vec<Pause>,
    pub pauses_deleted: Vec<(String, Option<String>)>,
    /// Resolved alerts the engine forgot.
    pub alerts_forgotten: Vec<String>,
    pub now: Option<Timestamp>,
}

impl StepRecord {
    pub fn is_empty(&self) -> bool {
        self.inbound.is_empty()
            && self.decisions.is_empty()
            && self.transitions.is_empty()
            && self.pauses_set.is_empty()
            && self.pauses_deleted.is_empty()
            && self.alerts_forgotten.is_empty()
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
                self.alerts.insert(fp.to_owned(), entry.clone());
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
    conn: &Connection,
    instance: &str,
    step: &StepRecord,
    prepared: &Prepared,
) -> Result<()> {
    let now = step.now.unwrap_or_else(Timestamp::now);
    for (entry, json) in step.alerts.values().zip(&prepared.alerts) {
        upsert_alert(conn, entry, json)?;
        if entry.resolved_at.is_some() {
            conn.prepare_cached("DELETE FROM deferrals WHERE alert = ?1")?
                .execute([&entry.alert.fingerprint])?;
        }
    }
    for (i, d) in step.decisions.iter().enumerate() {
        let proof = prepared.proofs.get(i).map_or("null", String::as_str);
        insert_decision(conn, step.decided_from.get(i).copied().flatten(), d, proof)?;
        let Some(r) = &d.remediation else { continue };
        if d.verdict == crate::engine::Verdict::Defer {
            conn.prepare_cached(
                "INSERT INTO deferrals (alert, remediation, reason) VALUES (?1, ?2, ?3)
                 ON CONFLICT (alert, remediation) DO UPDATE SET reason = excluded.reason",
            )?
            .execute(params![d.alert, r, d.reason.as_deref().unwrap_or("")])?;
        } else {
            conn.prepare_cached("DELETE FROM deferrals WHERE alert = ?1 AND remediation = ?2")?
                .execute(params![d.alert, r])?;
        }
        if d.verdict == crate::engine::Verdict::Escalate {
            conn.prepare_cached(
                "INSERT INTO escalations (remediation, target, at, decision, sent)
                 VALUES (?1, ?2, ?3, ?4, NULL)
                 ON CONFLICT (remediation, target) DO UPDATE SET at = excluded.at,
                   decision = excluded.decision, sent = NULL",
            )?
            .execute(params![
                r,
                d.target.as_deref().unwrap_or(""),
                ts(d.at),
                prepared.escalations.get(i).cloned().flatten()
            ])?;
        }
    }
    for t in &step.transitions {
        conn.prepare_cached(
            "INSERT INTO event_changes (event, at, from_state, to_state) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            t.event,
            ts(t.at),
            t.from.map(EventState::as_str),
            t.to.as_str()
        ])?;
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
    conn.prepare_cached("DELETE FROM pauses WHERE until IS NOT NULL AND until <= ?1")?
        .execute([ts(now)])?;
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES ('clock', ?1)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute([ts(now)])?;
    for fp in &step.alerts_forgotten {
        conn.prepare_cached("DELETE FROM alerts WHERE fingerprint = ?1")?
            .execute([fp])?;
    }
    for id in &step.inbound {
        conn.prepare_cached("UPDATE inbound SET done_at = ?2 WHERE id = ?1")?
            .execute(params![id, ts(now)])?;
    }
    Ok(())
}

fn upsert_alert(conn: &Connection, entry: &AlertEntry, json: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO alerts (fingerprint, alert, first_seen, last_seen, resolved_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (fingerprint) DO UPDATE SET alert = excluded.alert,
           last_seen = excluded.last_seen, resolved_at = excluded.resolved_at",
    )?
    .execute(params![
        entry.alert.fingerprint,
        json,
        ts(entry.first_seen),
        ts(entry.last_seen),
        entry.resolved_at.map(ts)
    ])?;
    Ok(())
}

fn insert_decision(
    conn: &Connection,
    inbound: Option<i64>,
    d: &Decision,
    proof: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO decisions (inbound_id, at, alert, remediation, target, verdict, reason, event, proof)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        inbound,
        ts(d.at),
        d.alert,
        d.remediation,
        d.target,
        d.verdict.as_str(),
        d.reason,
        d.event,
        proof
    ])?;
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
    conn: &Connection,
    e: &Event,
    instance: &str,
    now: Timestamp,
    alerts: &str,
    history: &str,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (id, seq, remediation, target, alert, alerts, state, remote_id,
            fired_at, succeeded_at, warm_until, updated_at, history, call, idempotency_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 'queued', ?14)
         ON CONFLICT (id) DO UPDATE SET alerts = excluded.alerts, state = excluded.state,
           remote_id = excluded.remote_id, succeeded_at = excluded.succeeded_at,
           warm_until = excluded.warm_until, updated_at = excluded.updated_at,
           history = excluded.history",
    )?
    .execute(params![
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
    ])?;
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
    conn: &Connection,
    event: &str,
    phase: CallPhase,
    status_url: Option<&str>,
    remote_id: Option<&str>,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE events SET call = ?2, status_url = coalesce(?3, status_url),
           remote_id = coalesce(?4, remote_id) WHERE id = ?1",
    )?
    .execute(params![event, phase.as_str(), status_url, remote_id])?;
    Ok(())
}

/// A note in an event's story: a call's answer, a status poll, an error.
pub fn note_event(conn: &Connection, event: &str, at: Timestamp, detail: &Value) -> Result<()> {
    conn.prepare_cached("INSERT INTO event_changes (event, at, detail) VALUES (?1, ?2, ?3)")?
        .execute(params![event, ts(at), detail.to_string()])?;
    Ok(())
}

/// Records how the escalation remediator answered.
pub fn escalation_sent(
    conn: &Connection,
    remediation: &str,
    target: &str,
    at: Timestamp,
    outcome: &str,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE escalations SET sent = ?4 WHERE remediation = ?1 AND target = ?2 AND at = ?3",
    )?
    .execute(params![remediation, target, ts(at), outcome])?;
    Ok(())
}

/// Escalations decided but never answered: a restart sends them again.
pub fn unsent_escalations(conn: &Connection) -> Result<Vec<Decision>> {
    let mut stmt = conn
        .prepare("SELECT decision FROM escalations WHERE sent IS NULL AND decision IS NOT NULL")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(serde_json::from_str(&row?)?);
    }
    Ok(out)
}

pub fn upsert_pause(conn: &Connection, p: &Pause, now: Timestamp) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO pauses (remediation, target, reason, until, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (remediation, target) DO UPDATE SET reason = excluded.reason,
           until = excluded.until, created_at = excluded.created_at",
    )?
    .execute(params![
        p.remediation,
        p.target.as_deref().unwrap_or(""),
        p.reason,
        p.until.map(ts),
        ts(now)
    ])?;
    Ok(())
}

pub fn delete_pause(conn: &Connection, remediation: &str, target: Option<&str>) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM pauses WHERE remediation = ?1 AND target = ?2")?
        .execute(params![remediation, target.unwrap_or("")])?)
}

/// Drops what the retention period no longer needs: decided inbound bodies.
pub fn prune(conn: &Connection, before: Timestamp) -> Result<usize> {
    Ok(conn
        .prepare_cached("DELETE FROM inbound WHERE done_at IS NOT NULL AND done_at < ?1")?
        .execute([ts(before)])?)
}

// ---------------------------------------------------------------- reading

/// An inbound row the decision thread has not decided yet.
pub struct Pending {
    pub id: i64,
    pub received_at: Timestamp,
    pub alerts: Vec<Alert>,
}

pub fn pending_inbound(conn: &Connection) -> Result<Vec<Pending>> {
    inbound_rows(conn, "WHERE done_at IS NULL")
}

/// Inbound rows (`filter`: a fixed SQL `WHERE` clause, or empty) in ID order.
fn inbound_rows(conn: &Connection, filter: &str) -> Result<Vec<Pending>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, received_at, alerts FROM inbound {filter} ORDER BY id"
    ))?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, at, alerts) = row?;
        out.push(Pending {
            id,
            received_at: parse_ts(&at)?,
            alerts: serde_json::from_str(&alerts)?,
        });
    }
    Ok(out)
}

/// How many inbound rows are not decided yet, and when the oldest arrived.
pub fn undecided(conn: &Connection) -> Result<(i64, Option<Timestamp>)> {
    let (count, oldest): (i64, Option<String>) = conn.query_row(
        "SELECT count(*), min(received_at) FROM inbound WHERE done_at IS NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok((count, parse_opt_ts(oldest)?))
}

/// The engine's memory as the journal recorded it.
pub fn load_snapshot(conn: &Connection) -> Result<Snapshot> {
    let mut snap = Snapshot::default();
    let mut stmt = conn.prepare("SELECT alert, first_seen, last_seen, resolved_at FROM alerts")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    for row in rows {
        let (alert, first, last, resolved) = row?;
        let alert: Alert = serde_json::from_str(&alert)?;
        snap.alerts.push(AlertEntry {
            alert: Arc::new(alert),
            first_seen: parse_ts(&first)?,
            last_seen: parse_ts(&last)?,
            resolved_at: parse_opt_ts(resolved)?,
        });
    }
    let mut stmt = conn.prepare(
        "SELECT id, remediation, target, alert, alerts, state, remote_id, fired_at,
                succeeded_at, warm_until, history FROM events ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            [
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ],
            r.get::<_, Option<String>>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, Option<String>>(8)?,
            r.get::<_, Option<String>>(9)?,
            r.get::<_, String>(10)?,
        ))
    })?;
    for row in rows {
        let ([id, remediation, target, alert, alerts, state], remote_id, fired, succ, warm, hist) =
            row?;
        let state = EventState::parse(&state).ok_or_else(|| JournalError {
            message: format!("event {id} has an unknown state {state:?}"),
        })?;
        snap.next_event = snap.next_event.max(event_seq(&id).max(0) as u64 + 1);
        snap.events.push(Event {
            id,
            remediation,
            target,
            alert,
            alerts: serde_json::from_str(&alerts)?,
            state,
            remote_id,
            fired_at: parse_ts(&fired)?,
            succeeded_at: parse_opt_ts(succ)?,
            warm_until: parse_opt_ts(warm)?,
            history: serde_json::from_str(&hist)?,
        });
    }
    let mut stmt = conn.prepare("SELECT remediation, target, reason, until FROM pauses")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    for row in rows {
        let (remediation, target, reason, until) = row?;
        snap.pauses.push(Pause {
            remediation,
            target: (!target.is_empty()).then_some(target),
            reason,
            until: parse_opt_ts(until)?,
        });
    }
    let mut stmt = conn.prepare("SELECT remediation, target, at FROM escalations")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (r, t, at) = row?;
        snap.escalated.push((r, t, parse_ts(&at)?));
    }
    let mut stmt = conn.prepare("SELECT alert, remediation, reason FROM deferrals")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        snap.deferred.push(row?);
    }
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

pub fn open_calls(conn: &Connection) -> Result<Vec<OpenCall>> {
    let mut stmt = conn.prepare(
        "SELECT id, call, status_url, remote_id FROM events
         WHERE state IN ('pending', 'accepted', 'running') ORDER BY seq",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OpenCall {
            event: r.get(0)?,
            phase: CallPhase::parse(&r.get::<_, String>(1)?),
            status_url: r.get(2)?,
            remote_id: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn event_json(r: &rusqlite::Row) -> rusqlite::Result<Value> {
    let history: String = r.get("history")?;
    let alerts: String = r.get("alerts")?;
    let history: Value = serde_json::from_str(&history).unwrap_or(Value::Null);
    let history: Vec<Value> = history
        .as_array()
        .map(|h| {
            h.iter()
                .map(|step| json!({"at": step.get(0), "state": step.get(1)}))
                .collect()
        })
        .unwrap_or_default();
    Ok(json!({
        "id": r.get::<_, String>("id")?,
        "remediation": r.get::<_, String>("remediation")?,
        "target": r.get::<_, String>("target")?,
        "alert": r.get::<_, String>("alert")?,
        "alerts": serde_json::from_str::<Value>(&alerts).unwrap_or(Value::Null),
        "state": r.get::<_, String>("state")?,
        "remote_id": r.get::<_, Option<String>>("remote_id")?,
        "fired_at": r.get::<_, String>("fired_at")?,
        "updated_at": r.get::<_, String>("updated_at")?,
        "call": r.get::<_, String>("call")?,
        "history": history,
    }))
}

/// The newest events first.
pub fn list_events(conn: &Connection, limit: u32) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare("SELECT * FROM events ORDER BY seq DESC LIMIT ?1")?;
    let rows = stmt.query_map([limit], event_json)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One event with its decisions (and their proofs) and its story.
pub fn event_detail(conn: &Connection, id: &str) -> Result<Option<Value>> {
    let Some(mut event) = conn
        .query_row("SELECT * FROM events WHERE id = ?1", [id], event_json)
        .optional()?
    else {
        return Ok(None);
    };
    let mut stmt = conn.prepare("SELECT * FROM decisions WHERE event = ?1 ORDER BY seq")?;
    let decisions: Vec<Value> = stmt
        .query_map([id], decision_json)?
        .collect::<rusqlite::Result<_>>()?;
    let mut stmt = conn.prepare(
        "SELECT at, from_state, to_state, detail FROM event_changes WHERE event = ?1 ORDER BY seq",
    )?;
    let changes: Vec<Value> = stmt
        .query_map([id], |r| {
            let detail: Option<String> = r.get(3)?;
            Ok(json!({
                "at": r.get::<_, String>(0)?,
                "from": r.get::<_, Option<String>>(1)?,
                "to": r.get::<_, Option<String>>(2)?,
                "detail": detail.and_then(|d| serde_json::from_str::<Value>(&d).ok()),
            }))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if let Some(obj) = event.as_object_mut() {
        obj.insert("decisions".into(), Value::Array(decisions));
        obj.insert("changes".into(), Value::Array(changes));
    }
    Ok(Some(event))
}

fn decision_json(r: &rusqlite::Row) -> rusqlite::Result<Value> {
    let proof: String = r.get("proof")?;
    Ok(json!({
        "seq": r.get::<_, i64>("seq")?,
        "at": r.get::<_, String>("at")?,
        "alert": r.get::<_, String>("alert")?,
        "remediation": r.get::<_, Option<String>>("remediation")?,
        "target": r.get::<_, Option<String>>("target")?,
        "verdict": r.get::<_, String>("verdict")?,
        "reason": r.get::<_, Option<String>>("reason")?,
        "event": r.get::<_, Option<String>>("event")?,
        "proof": serde_json::from_str::<Value>(&proof).unwrap_or(Value::Null),
    }))
}

/// Decisions after sequence number `after`, oldest first.
pub fn decisions_after(conn: &Connection, after: i64, limit: u32) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare("SELECT * FROM decisions WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map(params![after, limit], decision_json)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Decisions at or after `since`, oldest first.
pub fn decisions_since(conn: &Connection, since: Timestamp, limit: u32) -> Result<Vec<Value>> {
    // Ordered by `at` inside so that SQLite reads the window through
    // `decisions_at` (decision times never go back, so it is the same set).
    let mut stmt = conn.prepare(
        "SELECT * FROM (SELECT * FROM decisions WHERE at >= ?1 ORDER BY at, seq LIMIT ?2)
         ORDER BY seq",
    )?;
    let rows = stmt.query_map(params![ts(since), limit], decision_json)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Pauses in force at `now` (expired ones may not be deleted yet).
pub fn list_pauses(conn: &Connection, now: Timestamp) -> Result<Vec<Value>> {
    let mut stmt = conn.prepare(
        "SELECT remediation, target, reason, until, created_at FROM pauses
         WHERE until IS NULL OR until > ?1 ORDER BY remediation, target",
    )?;
    let rows = stmt.query_map([ts(now)], |r| {
        let target: String = r.get(1)?;
        Ok(json!({
            "remediation": r.get::<_, String>(0)?,
            "target": (!target.is_empty()).then_some(target),
            "reason": r.get::<_, String>(2)?,
            "until": r.get::<_, Option<String>>(3)?,
            "created_at": r.get::<_, String>(4)?,
        }))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_file_is_registered_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let registered: Vec<&str> = MIGRATIONS.iter().map(|(n, _)| *n).collect();
        assert_eq!(files, registered);
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
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        conn.execute_batch(&format!("PRAGMA user_version = {}", MIGRATIONS.len() + 1))
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
