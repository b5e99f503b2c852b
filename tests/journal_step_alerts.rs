//! The decision thread journals an alert the engine stored exactly as it came
//! with the JSON its webhook's thread made, instead of reading the alert back
//! from the engine and encoding it again (issue 22, "Decisions keep up with
//! ingest"). That shortcut must not change a byte of the journal: the same
//! payloads, decided by two engines and recorded one way and the other, leave
//! the same alert rows and the same decisions, whatever the payloads do to an
//! alert (new, repeated, restarted earlier or later, re-annotated, resolved,
//! re-fired, twice in one payload, repeated inside the dedupe window).

mod common;

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

fn alert(instance: &str, status: AlertStatus, starts_at: Timestamp, note: &str) -> Alert {
    let mut alert = common::api_down(instance, status, starts_at);
    if !note.is_empty() {
        alert
            .annotations
            .insert("summary".to_owned(), note.to_owned());
    }
    alert.ends_at = (status == AlertStatus::Resolved).then_some(starts_at);
    alert.generator_url = Some(format!("http://prometheus/graph?{instance}\n\"quoted\""));
    alert
}

/// Decides `payloads` (one step each, as the decision thread does) and
/// records them in a new journal, the alerts read back from the engine or,
/// with `encoded`, taken from their JSON as the webhook's thread made it.
fn journal_of(dir: &Path, payloads: &[(Timestamp, Vec<Alert>)], encoded: bool) -> Db {
    let db = journal::open_writer(&dir.join(if encoded { "enc.db" } else { "read.db" }))
        .expect("open the journal");
    let instance = journal::instance_id(&db).expect("instance");
    let mut engine = Engine::new(rules(), payloads[0].0);
    for (id, (now, alerts)) in payloads.iter().enumerate() {
        let id = i64::try_from(id).expect("few payloads") + 1;
        let mut step = StepRecord {
            now: Some(*now),
            inbound: vec![id],
            ..StepRecord::default()
        };
        let fingerprints: Vec<String> = alerts.iter().map(|a| a.fingerprint.clone()).collect();
        let out = if encoded {
            let json: Vec<String> = alerts
                .iter()
                .map(|a| serde_json::to_string(a).expect("encode"))
                .collect();
            let mut kept = Vec::new();
            let out = engine.ingest_owned_kept(alerts.clone(), *now, &mut kept);
            assert_eq!(kept.len(), alerts.len(), "one answer per alert");
            step.add_alerts_encoded(&engine, fingerprints, &kept, json);
            out
        } else {
            let out = engine.ingest_owned(alerts.clone(), *now);
            step.add_alerts(&engine, fingerprints.iter().map(String::as_str));
            out
        };
        step.add_output_from(&engine, out, Some(id));
        let prepared = step.prepare().expect("prepare");
        db.begin().expect("begin");
        journal::record_step(&db, &instance, &step, &prepared).expect("record the step");
        db.batch("COMMIT").expect("commit");
    }
    db
}

fn rows(db: &Db, sql: &str, width: usize) -> Vec<Vec<Option<String>>> {
    db.query(sql, &[], |r| {
        (0..width)
            .map(|i| {
                r.opt_str(i)
                    .map(|s| s.map(str::to_owned))
                    .or_else(|_| r.int(i).map(|n| Some(n.to_string())))
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .expect("read the journal")
}

#[test]
fn alerts_journaled_from_their_webhook_json_are_the_alerts_the_engine_holds() {
    let t0: Timestamp = "2026-12-07T10:00:00Z".parse().expect("a time");
    let t = |s: i64| t0 + SignedDuration::from_secs(s);
    use AlertStatus::{Firing, Resolved};
    let payloads = vec![
        // New alerts, one of them twice in the payload (the second, later
        // start, is a repeat: the state keeps the first start).
        (
            t(0),
            vec![
                alert("a", Firing, t(0), ""),
                alert("b", Firing, t(0), "disk"),
                alert("a", Firing, t(5), ""),
            ],
        ),
        // Inside the dedupe window: the same notification again, skipped.
        (t(1), vec![alert("b", Firing, t(0), "disk")]),
        // A repeat with an earlier start (the state takes it), one with a
        // later start (the state keeps its own), new annotations (replace).
        (
            t(120),
            vec![
                alert("a", Firing, t(-30), ""),
                alert("b", Firing, t(90), "disk"),
                alert("c", Firing, t(100), "first"),
            ],
        ),
        (t(200), vec![alert("c", Firing, t(100), "second")]),
        // Resolved, then fired again; resolved for an alert never seen.
        (
            t(300),
            vec![
                alert("a", Resolved, t(300), ""),
                alert("d", Resolved, t(300), ""),
            ],
        ),
        (
            t(400),
            vec![
                alert("a", Firing, t(400), ""),
                alert("a", Firing, t(400), "x"),
            ],
        ),
        // A later identical repeat, outside the dedupe window.
        (t(500), vec![alert("c", Firing, t(100), "second")]),
    ];
    // The webhook's thread encodes the alerts one by one and joins them for
    // the inbound row: the same bytes as encoding the list (src/serve/http.rs).
    for (_, alerts) in &payloads {
        let each: Vec<String> = alerts
            .iter()
            .map(|a| serde_json::to_string(a).expect("encode"))
            .collect();
        let list = serde_json::to_string(alerts).expect("encode");
        assert_eq!(format!("[{}]", each.join(",")), list);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let read = journal_of(dir.path(), &payloads, false);
    let encoded = journal_of(dir.path(), &payloads, true);
    let alerts = "SELECT fingerprint, alert, first_seen, last_seen, resolved_at FROM alerts ORDER BY fingerprint";
    let decisions = "SELECT seq, inbound_id, at, alert, remediation, target, verdict, reason, event, proof FROM decisions ORDER BY seq";
    let (a, b) = (rows(&read, alerts, 5), rows(&encoded, alerts, 5));
    assert_eq!(a.len(), 4, "alerts a, b, c and d are journaled: {a:?}");
    assert_eq!(a, b, "the alert rows differ");
    let (a, b) = (rows(&read, decisions, 10), rows(&encoded, decisions, 10));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the decisions differ");
    // And what the journal says is what the engine holds.
    let mut engine = Engine::new(rules(), t0);
    for (now, alerts) in &payloads {
        engine.ingest(alerts, *now);
    }
    for row in rows(&encoded, alerts, 5) {
        let fp = row[0].clone().expect("a fingerprint");
        let held = engine.state().alerts.alert(&fp).expect("held");
        let journaled: Alert =
            serde_json::from_str(row[1].as_deref().expect("json")).expect("an alert");
        assert_eq!(journaled, held, "alert {fp}");
    }
}
