//! An alert storm's journal writes land at the end of each table, not all
//! over it (issue 22; migrations/sqlite/007-local-writes.sql).
//!
//! Real fingerprints are hashes of the label set (Alertmanager prints a 64-bit
//! FNV-1a hash of the labels as 16 hex digits: prometheus/common
//! model/signature.go; resgate's own `source::fingerprint` likewise), so a
//! storm's new alerts have keys spread over the whole key space. A B-tree
//! keyed by them takes each insert on a different page once it is large, and
//! SQLite writes every page a commit changes to the WAL whole. Counted in WAL
//! frames (pages), not timed: the property is "pages in proportion to the
//! bytes written, not one or more per alert".

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use resgate::engine::Engine;
use resgate::journal::{self, Db, StepRecord};
use resgate::rules::{self, RuleSet};
use resgate::source::{Alert, AlertStatus};

fn rules() -> Arc<RuleSet> {
    Arc::new(
        rules::load_path(Path::new("rules"))
            .rules
            .expect("shipped rules load"),
    )
}

/// An alert no shipped remediation matches (a storm is mostly these).
fn storm_alert(n: u64, starts_at: Timestamp) -> Alert {
    let labels: BTreeMap<String, String> = [
        ("alertname", "StormTest".to_owned()),
        ("service", "storm".to_owned()),
        ("instance", format!("node-{n}:9100")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Alert {
        source: "alertmanager".to_owned(),
        fingerprint: resgate::source::fingerprint(&labels),
        status: AlertStatus::Firing,
        labels,
        annotations: BTreeMap::new(),
        starts_at,
        ends_at: None,
        group_key: None,
        generator_url: None,
    }
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_795_000_000 + secs).expect("a valid time")
}

/// The WAL's size in frames (one per page written since it was last reset).
fn wal_frames(db_path: &Path, page_size: u64) -> u64 {
    let wal = db_path.with_extension("db-wal");
    let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    // A 32-byte header, then a 24-byte header per frame (sqlite.org/fileformat2.html §4.1).
    len.saturating_sub(32) / (page_size + 24)
}

/// Journals one decided step in its own transaction, as the writer does.
fn record(db: &Db, instance: &str, step: &StepRecord) {
    let prepared = step.prepare().expect("prepare");
    db.begin().expect("begin");
    journal::record_step(db, instance, step, &prepared).expect("record the step");
    db.batch("COMMIT").expect("commit");
}

/// Journals `alerts` as webhooks of 50, decided as one step (what the
/// decision thread does with a burst), and returns the WAL frames the
/// step's commit wrote.
fn decide_as_one_step(
    db: &Db,
    path: &Path,
    engine: &mut Engine,
    instance: &str,
    alerts: Vec<Alert>,
    now: Timestamp,
) -> u64 {
    let mut ids = Vec::new();
    for hook in alerts.chunks(50) {
        let json = serde_json::to_string(hook).expect("encode");
        // The body as Alertmanager sends it is about as large as its alerts' JSON.
        let id = journal::insert_inbound(db, now, "alertmanager", json.as_bytes(), &json)
            .expect("journal a webhook");
        ids.push((id, hook.to_vec()));
    }
    let page_size = db
        .query_one("PRAGMA page_size", &[], |r| r.int(0))
        .expect("page size") as u64;
    db.batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint");
    assert_eq!(wal_frames(path, page_size), 0, "the WAL starts empty");
    let mut step = StepRecord {
        now: Some(now),
        ..StepRecord::default()
    };
    for (id, hook) in ids {
        step.inbound.push(id);
        let fingerprints: Vec<String> = hook.iter().map(|a| a.fingerprint.clone()).collect();
        let out = engine.ingest_owned(hook, now);
        step.add_alerts(engine, fingerprints.iter().map(String::as_str));
        step.add_output_from(engine, out, Some(id));
    }
    record(db, instance, &step);
    wal_frames(path, page_size)
}

#[test]
fn a_storm_step_writes_pages_for_its_bytes_not_one_per_alert() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(journal::FILE_NAME);
    let db = journal::open_writer(&path).expect("open the journal");
    let instance = journal::instance_id(&db).expect("instance");
    let mut engine = Engine::new(rules(), at(0));
    // A journal that already holds many alerts and their decisions, as it
    // does some minutes into a storm: 60 steps of 1,000.
    let mut n = 0;
    for step in 0..60 {
        let now = at(step);
        let alerts: Vec<Alert> = (0..1000)
            .map(|_| {
                n += 1;
                storm_alert(n, now)
            })
            .collect();
        decide_as_one_step(&db, &path, &mut engine, &instance, alerts, now);
    }
    // The next step: 1,000 more new alerts.
    let now = at(60) + SignedDuration::from_millis(250);
    let alerts: Vec<Alert> = (0..1000)
        .map(|_| {
            n += 1;
            storm_alert(n, now)
        })
        .collect();
    let frames = decide_as_one_step(&db, &path, &mut engine, &instance, alerts, now);
    // Its rows: 1,000 alerts of ~300 bytes and 1,000 decisions of ~200, and 20
    // webhooks marked decided, about 130 pages of 4 KiB, plus the right edge
    // of a few indexes: 185 frames (2026-12-07). Keyed by fingerprint, the
    // alerts' and decisions' indexes changed a page per alert or so each (61k
    // keys: hundreds of leaf pages, most of them touched), and marking a
    // webhook decided rewrote its body and alerts: 1,058 frames with schema 6.
    assert!(
        frames <= 400,
        "a step of 1,000 new alerts wrote {frames} pages to the WAL; expected a few hundred at most"
    );
    let decided = journal::undecided(&db).expect("count undecided").0;
    assert_eq!(decided, 0, "every webhook of every step is decided");
}

/// A journal written by resgate before schema 7 keeps what it holds: its
/// undecided webhooks are still undecided, its alerts restore, an alert it
/// holds is updated in place (one row per fingerprint), and pruning keeps
/// what is undecided.
#[test]
fn a_schema_6_journal_migrates_with_its_undecided_webhooks_and_alerts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(journal::FILE_NAME);
    let first_seen = at(0);
    let old = storm_alert(1, first_seen);
    let other = storm_alert(2, first_seen);
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .expect("wal");
        for (version, (_, sql)) in journal::MIGRATIONS.iter().take(6).enumerate() {
            conn.execute_batch(&format!(
                "BEGIN; {sql}\nPRAGMA user_version = {}; COMMIT;",
                version + 1
            ))
            .expect("an old migration");
        }
        let ts = |t: Timestamp| format!("{t:.6}");
        for (alert, done) in [(&old, Some(at(1))), (&other, None)] {
            let json = serde_json::to_string(&[alert]).expect("encode");
            conn.execute(
                "INSERT INTO inbound (received_at, source, body, alerts, done_at)
                 VALUES (?1, 'alertmanager', ?2, ?2, ?3)",
                rusqlite::params![ts(first_seen), json, done.map(ts)],
            )
            .expect("an inbound row");
        }
        conn.execute(
            "INSERT INTO alerts (fingerprint, alert, first_seen, last_seen, resolved_at)
             VALUES (?1, ?2, ?3, ?3, NULL)",
            rusqlite::params![
                old.fingerprint,
                serde_json::to_string(&old).expect("encode"),
                ts(first_seen)
            ],
        )
        .expect("an alert row");
    }
    let db = journal::open_writer(&path).expect("migrate to the current schema");
    let pending = journal::pending_inbound(&db).expect("undecided rows");
    assert_eq!(
        pending.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![2],
        "the undecided webhook is still undecided, the decided one is not"
    );
    let snapshot = journal::load_snapshot(&db).expect("restore");
    assert_eq!(snapshot.alerts.len(), 1);
    assert_eq!(snapshot.alerts[0].first_seen, first_seen);

    // The restored engine repeats the alert: the journal updates its row.
    let instance = journal::instance_id(&db).expect("instance");
    let now = at(120);
    let (mut engine, _) = Engine::restore(rules(), snapshot, at(1));
    let mut step = StepRecord {
        now: Some(now),
        inbound: vec![2],
        ..StepRecord::default()
    };
    let out = engine.ingest_owned(vec![old.clone(), other.clone()], now);
    step.add_alerts(
        &engine,
        [old.fingerprint.as_str(), other.fingerprint.as_str()].into_iter(),
    );
    step.add_output_from(&engine, out, Some(2));
    record(&db, &instance, &step);
    let rows = db
        .query(
            "SELECT fingerprint, first_seen, last_seen FROM alerts ORDER BY fingerprint",
            &[],
            |r| {
                Ok((
                    r.str(0)?.to_owned(),
                    r.str(1)?.to_owned(),
                    r.str(2)?.to_owned(),
                ))
            },
        )
        .expect("alert rows");
    let mut expected = vec![
        (
            old.fingerprint.clone(),
            format!("{first_seen:.6}"),
            format!("{now:.6}"),
        ),
        (
            other.fingerprint.clone(),
            format!("{now:.6}"),
            format!("{now:.6}"),
        ),
    ];
    expected.sort();
    assert_eq!(rows, expected, "one row per alert, the old one updated");
    assert!(journal::pending_inbound(&db).expect("undecided").is_empty());

    // Pruning drops decided webhooks only.
    let third =
        journal::insert_inbound(&db, at(130), "alertmanager", b"{}", "[]").expect("a new webhook");
    journal::prune(&db, at(1_000)).expect("prune");
    let left: Vec<i64> = db
        .query("SELECT id FROM inbound ORDER BY id", &[], |r| r.int(0))
        .expect("rows");
    assert_eq!(left, vec![third], "decided rows pruned, the undecided kept");
}

/// The decision thread forgets resolved alerts at the start of a step and
/// then decides the step's webhooks, so an alert can be forgotten and fire
/// again in one step. Its new row must survive the step: deleting the
/// forgotten alert by fingerprint alone deleted the row just written for it,
/// and a restart then did not know the alert was firing.
#[test]
fn an_alert_forgotten_and_firing_again_in_one_step_keeps_its_new_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = journal::open_writer(&dir.path().join(journal::FILE_NAME)).expect("open");
    let instance = journal::instance_id(&db).expect("instance");
    let mut engine = Engine::new(rules(), at(0));
    let firing = storm_alert(7, at(0));
    let mut resolved = firing.clone();
    resolved.status = AlertStatus::Resolved;
    resolved.ends_at = Some(at(60));
    for (id, (alert, now)) in [(firing.clone(), at(0)), (resolved, at(60))]
        .into_iter()
        .enumerate()
    {
        let id = i64::try_from(id).expect("small") + 1;
        let mut step = StepRecord {
            now: Some(now),
            inbound: vec![id],
            ..StepRecord::default()
        };
        journal::insert_inbound(&db, now, "alertmanager", b"{}", "[]").expect("inbound");
        let out = engine.ingest_owned(vec![alert.clone()], now);
        step.add_alerts(&engine, [alert.fingerprint.as_str()].into_iter());
        step.add_output_from(&engine, out, Some(id));
        record(&db, &instance, &step);
    }
    // Two hours later, as the decision thread does: forget, then decide.
    let now = at(2 * 3600);
    let mut step = StepRecord {
        now: Some(now),
        inbound: vec![3],
        ..StepRecord::default()
    };
    step.alerts_forgotten = engine.forget_resolved(now - SignedDuration::from_hours(1));
    assert_eq!(
        step.alerts_forgotten.len(),
        1,
        "the resolved alert is forgotten"
    );
    journal::insert_inbound(&db, now, "alertmanager", b"{}", "[]").expect("inbound");
    let again = storm_alert(7, now);
    let out = engine.ingest_owned(vec![again.clone()], now);
    step.add_alerts(&engine, [again.fingerprint.as_str()].into_iter());
    step.add_output_from(&engine, out, Some(3));
    record(&db, &instance, &step);

    let snapshot = journal::load_snapshot(&db).expect("restore");
    let kept: Vec<_> = snapshot
        .alerts
        .iter()
        .map(|e| (e.alert.fingerprint.clone(), e.first_seen, e.resolved_at))
        .collect();
    assert_eq!(
        kept,
        vec![(again.fingerprint.clone(), now, None)],
        "the alert is journaled as firing again, first seen now"
    );
}
