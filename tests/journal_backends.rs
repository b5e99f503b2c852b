//! The journal's suite, run against both implementations: a SQLite file and a
//! real PostgreSQL server (tests/common/postgres.rs). The same engine steps
//! are recorded in each; every read the daemon and the CLI make must give the
//! same answer from both, and the answers are checked for what they say.
//! Then the lease that elects the leader of a shared journal.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use resgate::engine::{Engine, Outcome, Pause};
use resgate::journal::{self, CallPhase, Db, Location, StepRecord, history, lease, story};
use resgate::rules::{self, RuleSet};
use resgate::source::{Alert, AlertStatus, fingerprint};
use serde_json::{Value, json};

use common::postgres::Postgres;

fn rules() -> Arc<RuleSet> {
    Arc::new(
        rules::load_path(Path::new("rules"))
            .rules
            .expect("shipped rules load"),
    )
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("a time")
}

fn alert(instance: &str, status: AlertStatus, starts_at: Timestamp) -> Alert {
    common::api_down(instance, status, starts_at)
}

/// Records one step the way the decision thread does: in a transaction.
fn record(db: &Db, instance: &str, step: &StepRecord) {
    let prepared = step.prepare().expect("prepare");
    db.begin().expect("begin");
    journal::record_step(db, instance, step, &prepared).expect("record the step");
    db.batch("COMMIT").expect("commit");
}

/// A webhook in, decided: what `serve` does for one body.
fn webhook(db: &Db, engine: &mut Engine, instance: &str, alerts: &[Alert], now: Timestamp) -> i64 {
    let body = serde_json::to_vec(&json!({"alerts": alerts.len()})).expect("body");
    let json = serde_json::to_string(alerts).expect("alerts");
    let id = journal::insert_inbound(db, now, "alertmanager", &body, &json).expect("insert");
    let out = engine.ingest(alerts, now);
    let mut step = StepRecord {
        now: Some(now),
        inbound: vec![id],
        ..StepRecord::default()
    };
    step.add_alerts(engine, alerts.iter().map(|a| a.fingerprint.as_str()));
    step.add_output_from(engine, out, Some(id));
    record(db, instance, &step);
    id
}

fn step_of(engine: &Engine, out: resgate::engine::Output, now: Timestamp) -> StepRecord {
    let mut step = StepRecord {
        now: Some(now),
        ..StepRecord::default()
    };
    step.add_output(engine, out);
    step
}

/// Plays one story into the journal at `location` and reads back everything
/// the daemon and the CLI read.
fn exercise(location: &Location) -> Value {
    let db = location.open_writer().expect("open the journal");
    let instance = journal::instance_id(&db).expect("instance");
    drop(db);
    let db = location.open_writer().expect("open again");
    assert_eq!(
        journal::instance_id(&db).expect("instance"),
        instance,
        "reopening keeps the instance ID (Idempotency-Keys depend on it)"
    );
    assert!(
        journal::load_snapshot(&db)
            .expect("snapshot")
            .events
            .is_empty()
    );

    let t0 = at("2026-11-25T10:00:00Z");
    let mut engine = Engine::new(rules(), t0);
    let down = alert("api-1:8080", AlertStatus::Firing, t0);

    // Taken, not decided yet: on the queue.
    let body = br#"{"receiver":"resgate"}"#;
    let queued = journal::insert_inbound(&db, t0, "alertmanager", body, "[]").expect("insert");
    let (undecided, oldest) = journal::undecided(&db).expect("undecided");
    assert_eq!((undecided, oldest), (1, Some(t0)));
    let pending = journal::pending_inbound(&db).expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, queued);
    let step = StepRecord {
        now: Some(t0),
        inbound: vec![queued],
        ..StepRecord::default()
    };
    record(&db, &instance, &step);
    assert_eq!(journal::undecided(&db).expect("undecided").0, 0);

    // Fires, then the repeat collapses into the running event.
    let first = webhook(&db, &mut engine, &instance, std::slice::from_ref(&down), t0);
    let t1 = at("2026-11-25T10:01:00Z");
    let second = webhook(&db, &mut engine, &instance, std::slice::from_ref(&down), t1);
    assert!(second > first, "inbound IDs grow");
    let calls = journal::open_calls(&db).expect("open calls");
    assert_eq!(calls.len(), 1, "one event in flight: {calls:?}");
    assert_eq!(calls[0].phase, CallPhase::Queued);
    let event = calls[0].event.clone();

    // The call: sending, accepted with the remote ID, a poll noted.
    journal::set_call(
        &db,
        &event,
        CallPhase::Sending,
        Some("http://rundeck/job/7"),
        None,
    )
    .expect("sending");
    journal::set_call(&db, &event, CallPhase::Accepted, None, Some("7")).expect("accepted");
    journal::note_event(&db, &event, t1, &json!({"poll": "running"})).expect("note");
    let calls = journal::open_calls(&db).expect("open calls");
    assert_eq!(calls[0].phase, CallPhase::Accepted);
    assert_eq!(calls[0].remote_id.as_deref(), Some("7"));
    assert_eq!(calls[0].status_url.as_deref(), Some("http://rundeck/job/7"));

    let t2 = at("2026-11-25T10:02:00Z");
    let out = engine.accepted(&event, Some("7".into()), t2);
    record(&db, &instance, &step_of(&engine, out, t2));
    let t3 = at("2026-11-25T10:05:00Z");
    let out = engine.finished(&event, Outcome::Succeeded, t3);
    record(&db, &instance, &step_of(&engine, out, t3));

    // An operator's pause, and the resolve.
    let t4 = at("2026-11-25T10:06:00Z");
    let pause = Pause {
        remediation: "restart-api".into(),
        target: Some("api-2:8080".into()),
        reason: "maintenance \"window\"; it's fine".into(),
        until: Some(at("2026-11-25T12:00:00Z")),
    };
    let out = engine.pause(pause.clone(), t4);
    let mut step = step_of(&engine, out, t4);
    step.pauses_set.push(pause);
    record(&db, &instance, &step);
    let resolved = Alert {
        status: AlertStatus::Resolved,
        ends_at: Some(t4),
        ..down.clone()
    };
    webhook(&db, &mut engine, &instance, &[resolved], t4);
    let t5 = at("2026-11-25T10:30:00Z");
    let out = engine.advance(t5);
    record(&db, &instance, &step_of(&engine, out, t5));

    // Everything the daemon and the CLI read.
    let snapshot = journal::load_snapshot(&db).expect("snapshot");
    assert_eq!(snapshot.events.len(), 1);
    assert_eq!(snapshot.pauses.len(), 1);
    assert_eq!(journal::clock(&db).expect("clock"), Some(t5));
    let reader = location.open_reader().expect("reader");
    let story = story::story(&reader, &event)
        .expect("story")
        .expect("known event");
    let recorded = history::recorded(&reader).expect("recorded");
    let window = history::window(&reader, t0, t5, 100).expect("window");
    let transcript = json!({
        "snapshot": {
            "events": snapshot.events,
            "alerts": snapshot.alerts.iter().map(|a| json!({
                "fingerprint": a.alert.fingerprint,
                "first_seen": a.first_seen.to_string(),
                "last_seen": a.last_seen.to_string(),
                "resolved_at": a.resolved_at.map(|t| t.to_string()),
            })).collect::<Vec<_>>(),
            "pauses": snapshot.pauses.iter().map(|p| json!([p.remediation, p.target, p.reason,
                p.until.map(|t| t.to_string())])).collect::<Vec<_>>(),
            "escalated": snapshot.escalated.len(),
            "deferred": snapshot.deferred,
            "next_event": snapshot.next_event,
        },
        "events": journal::list_events(&reader, 10).expect("events"),
        "event": journal::event_detail(&reader, &event).expect("detail"),
        "decisions_after": journal::decisions_after(&reader, 0, 100).expect("after"),
        "decisions_since": journal::decisions_since(&reader, t1, 100).expect("since"),
        "pauses": journal::list_pauses(&reader, t4).expect("pauses"),
        "open_events": history::open_events(&reader).expect("open"),
        "latest": history::latest_decisions(&reader, 3).expect("latest"),
        "story": story,
        "recorded": {
            "inbound": recorded.inbound.iter().map(|p| p.id).collect::<Vec<_>>(),
            "decisions": recorded.decisions.len(),
            "events": recorded.events.iter().map(|e| json!([e.id, e.ended.map(|(t, s)| (t.to_string(), s.as_str()))])).collect::<Vec<_>>(),
        },
        "window": {
            "decisions": window.trace.decisions.len(),
            "transitions": window.trace.transitions.len(),
            "notifications": window.trace.notifications.len(),
        },
        "unsent_escalations": journal::unsent_escalations(&reader).expect("unsent").len(),
        "is_event": [story::is_event(&reader, &event).expect("is"), story::is_event(&reader, "ev-999").expect("is")],
    });

    // What the transcript must say, whichever database holds it.
    let detail = &transcript["event"];
    assert_eq!(detail["state"], "rescued", "{detail:#}");
    assert_eq!(detail["remote_id"], "7");
    assert_eq!(detail["call"], "accepted");
    let verdicts: Vec<&str> = detail["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .filter_map(|d| d["verdict"].as_str())
        .collect();
    assert_eq!(verdicts, ["fire", "collapse"], "{detail:#}");
    assert!(
        detail["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .any(|c| c["detail"]["poll"] == "running"),
        "the poll note is in the event's story"
    );
    assert_eq!(
        transcript["pauses"][0]["reason"],
        "maintenance \"window\"; it's fine"
    );
    assert_eq!(transcript["is_event"], json!([true, false]));
    assert!(
        transcript["open_events"]
            .as_array()
            .expect("open")
            .is_empty()
    );

    // The retention period passes: decided bodies go, nothing else.
    let pruned = journal::prune(&db, at("2026-11-26T00:00:00Z")).expect("prune");
    assert_eq!(pruned, 4, "every decided webhook body");
    assert!(journal::all_inbound(&db).expect("inbound").is_empty());
    assert_eq!(journal::list_events(&db, 10).expect("events").len(), 1);
    transcript
}

#[test]
fn sqlite_and_postgresql_journals_record_and_read_the_same() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = exercise(&Location::File(dir.path().join("resgate.db")));
    let Some(pg) = Postgres::start() else {
        return;
    };
    let url = pg.database("contract");
    let postgres = exercise(&Location::Postgres(url));
    assert_eq!(
        sqlite,
        postgres,
        "the two journals disagree; PostgreSQL log:\n{}",
        pg.log()
    );
}

/// The webhooks an event's story lists, for an event that collapsed a
/// second alert: every webhook carrying either of its alerts, and only
/// those; each listed with only the event's alerts it carried.
fn collapsed_story(location: &Location) -> Vec<(i64, Vec<String>)> {
    let db = location.open_writer().expect("open the journal");
    let instance = journal::instance_id(&db).expect("instance");
    let t0 = at("2026-11-25T10:00:00Z");
    let mut engine = Engine::new(rules(), t0);
    let first = alert("api-1:8080", AlertStatus::Firing, t0);
    // The same target with one more label: another fingerprint, collapsed
    // into the running event.
    let mut second = first.clone();
    second.labels.insert("replica".into(), "b".into());
    second.fingerprint = fingerprint(&second.labels);
    let elsewhere = alert("api-9:8080", AlertStatus::Firing, t0);
    let w1 = webhook(
        &db,
        &mut engine,
        &instance,
        std::slice::from_ref(&first),
        t0,
    );
    let w2 = webhook(
        &db,
        &mut engine,
        &instance,
        std::slice::from_ref(&second),
        at("2026-11-25T10:01:00Z"),
    );
    let _other = webhook(
        &db,
        &mut engine,
        &instance,
        std::slice::from_ref(&elsewhere),
        at("2026-11-25T10:02:00Z"),
    );
    let w4 = webhook(
        &db,
        &mut engine,
        &instance,
        &[second.clone(), elsewhere.clone()],
        at("2026-11-25T10:03:00Z"),
    );
    let reader = location.open_reader().expect("reader");
    let events = journal::list_events(&reader, 10).expect("events");
    let event = events
        .iter()
        .find(|e| e["target"] == "api/api-1:8080")
        .and_then(|e| e["id"].as_str())
        .unwrap_or_else(|| panic!("the event of api-1: {events:#?}"))
        .to_owned();
    let story = story::story(&reader, &event)
        .expect("story")
        .expect("known event");
    let received: Vec<(i64, Vec<String>)> = story
        .steps
        .iter()
        .filter_map(|s| match s {
            story::Step::Received {
                inbound, alerts, ..
            } => Some((
                *inbound,
                alerts.iter().map(|a| a.fingerprint.clone()).collect(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        received,
        [
            (w1, vec![first.fingerprint.clone()]),
            (w2, vec![second.fingerprint.clone()]),
            (w4, vec![second.fingerprint.clone()]),
        ],
        "the webhooks carrying either alert, not the one carrying only api-9's"
    );
    received
}

/// One scan of the webhooks for all of a story's fingerprints (it was one
/// scan per fingerprint: an event that collapsed k alerts read the table k
/// times), in each dialect's JSON functions.
#[test]
fn an_events_story_lists_the_webhooks_of_every_alert_it_collapsed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = collapsed_story(&Location::File(dir.path().join("resgate.db")));
    let Some(pg) = Postgres::start() else {
        return;
    };
    let postgres = collapsed_story(&Location::Postgres(pg.database("collapsed")));
    assert_eq!(sqlite, postgres, "PostgreSQL log:\n{}", pg.log());
}

#[test]
fn the_lease_elects_one_leader_and_fences_a_deposed_one() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let at = Location::Postgres(pg.database("lease"));
    let db = at.open_writer().expect("open");
    let other = at.open_reader().expect("second connection");
    let long = Duration::from_secs(60);

    let a = lease::acquire(&db, "a", long)
        .expect("acquire")
        .expect("free lease");
    assert_eq!(a.token, 1);
    assert_eq!(
        lease::acquire(&other, "b", long).expect("acquire"),
        None,
        "held by a"
    );
    assert!(
        lease::renew(&db, &a, long).expect("renew"),
        "a renews, same token"
    );
    lease::fence(&db, &a).expect("a may write");
    let (holder, token, left_ms) = lease::current(&other).expect("current");
    assert_eq!((holder.as_deref(), token), (Some("a"), 1));
    assert!(left_ms > 50_000, "{left_ms} ms left");

    // a stops renewing: once the lease has expired, b takes it with a new token.
    assert!(lease::renew(&db, &a, Duration::ZERO).expect("renew"));
    std::thread::sleep(Duration::from_millis(20));
    let b = lease::acquire(&other, "b", long)
        .expect("acquire")
        .expect("expired lease");
    assert_eq!(b.token, 2);
    let refused = lease::fence(&db, &a).expect_err("a is fenced off");
    assert!(
        refused.message.contains("no longer holds the lease"),
        "{refused}"
    );
    assert!(
        !lease::renew(&db, &a, long).expect("renew"),
        "a learns it was deposed"
    );
    assert_eq!(lease::acquire(&db, "a", long).expect("acquire"), None);

    // A clean hand-over: b gives it up, a takes it at once.
    lease::release(&other, &b).expect("release");
    let a2 = lease::acquire(&db, "a", long)
        .expect("acquire")
        .expect("released lease");
    assert_eq!(a2.token, 3);
    lease::fence(&other, &b).expect_err("b is fenced off after releasing");
}

#[test]
fn a_fenced_write_holds_off_a_takeover_until_it_commits() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let at = Location::Postgres(pg.database("fencing"));
    let leader = at.open_writer().expect("open");
    let standby = at.open_reader().expect("open");
    let a = lease::acquire(&leader, "a", Duration::ZERO)
        .expect("acquire")
        .expect("free");
    // The leader is mid-write, its lease already expired: the standby's
    // takeover must wait for that write's transaction, then win.
    leader.begin().expect("begin");
    lease::fence(&leader, &a).expect("still ours: nobody took it");
    let (asking, asked) = std::sync::mpsc::channel();
    let takeover = std::thread::spawn(move || {
        let _ = asking.send(());
        lease::acquire(&standby, "b", Duration::from_secs(60)).expect("acquire")
    });
    asked.recv().expect("the standby asks");
    // Not a timing assertion: however slow the machine, the takeover cannot
    // finish before the commit below; this only gives it time to try.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !takeover.is_finished(),
        "the takeover waits for the fenced write"
    );
    leader.batch("COMMIT").expect("commit");
    let b = takeover.join().expect("takeover thread");
    assert_eq!(b.map(|h| h.token), Some(2));
    lease::fence(&leader, &a).expect_err("after the takeover the old leader is fenced");
}

#[test]
fn a_postgresql_journal_over_tls_verifies_the_server_certificate() {
    let Some(pg) = Postgres::start_tls() else {
        return;
    };
    let url = pg.database("tls");
    let cert = pg.certificate();
    let encrypted = |db: &Db| {
        db.query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
            |r| r.bool(0),
        )
        .expect("pg_stat_ssl")
    };

    // Verified against the server's own certificate: encrypted.
    let verified = Location::Postgres(format!(
        "{url}?sslmode=require&sslrootcert={}",
        cert.display()
    ));
    let db = verified.open_writer().expect("a verified TLS connection");
    assert!(encrypted(&db));
    assert!(journal::instance_id(&db).is_ok());

    // The default (prefer) takes TLS when offered, and verifies it too.
    let unknown = Location::Postgres(url.clone()).open_writer();
    let refused = unknown.expect_err("a certificate no known CA signed is refused");
    assert!(
        refused.message.contains("certificate"),
        "the error says why: {refused}"
    );
    let required = Location::Postgres(format!("{url}?sslmode=require")).open_writer();
    assert!(required.is_err(), "require without the CA is refused too");

    // Only when asked: no TLS at all.
    let plain = Location::Postgres(format!("{url}?sslmode=disable"))
        .open_writer()
        .expect("plain TCP when asked");
    assert!(!encrypted(&plain));
}
