//! Webhook bodies put on the inbound queue together (issue 22): the journal
//! writer sends the inbound rows of one group to a PostgreSQL journal as one
//! multi-row INSERT, and pairs the IDs it gets back with the webhooks. The
//! pairing must be exact (the decision thread learns of each webhook by its
//! ID), and one row the database refuses must not be mistaken for a success
//! of its neighbours. Run against both journals: a SQLite file and a real
//! PostgreSQL server (tests/common/postgres.rs).

mod common;

use jiff::Timestamp;
use resgate::journal::{self, Location, NewInbound};

use common::postgres::Postgres;

fn row(i: usize, source: &str) -> NewInbound {
    let at: Timestamp = "2026-12-07T10:00:00Z".parse().expect("a time");
    NewInbound {
        received_at: at
            .checked_add(jiff::SignedDuration::from_secs(i as i64))
            .expect("a later time"),
        source: source.to_owned(),
        body: format!("body {i}").into_bytes(),
        alerts: "[]".to_owned(),
    }
}

/// Inserts one row alone, then 40 together; every ID must name its own row.
fn ids_pair_with_rows(location: &Location) {
    let db = location.open_writer().expect("open the journal");
    let alone = row(0, "am").insert(&db).expect("insert one row");
    let rows: Vec<NewInbound> = (1..=40).map(|i| row(i, "am")).collect();
    let refs: Vec<&NewInbound> = rows.iter().collect();
    db.begin().expect("begin");
    let ids = journal::insert_inbound_many(&db, &refs).expect("insert together");
    db.batch("COMMIT").expect("commit");
    assert_eq!(ids.len(), rows.len());
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > alone,
        "IDs must follow the order the webhooks were accepted in: {ids:?} after {alone}"
    );
    // The queue read back: each ID's row is the one it was given for
    // (told apart by its arrival time, one second apart).
    let queued = journal::all_inbound(&db).expect("read the queue");
    assert_eq!(queued.len(), 41);
    for (id, r) in ids.iter().zip(&rows) {
        let got = queued
            .iter()
            .find(|p| p.id == *id)
            .unwrap_or_else(|| panic!("ID {id} is not in the queue"));
        assert_eq!(
            got.received_at, r.received_at,
            "ID {id} names another webhook's row"
        );
    }
}

#[test]
fn rows_inserted_together_get_ids_in_their_order_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    ids_pair_with_rows(&Location::File(dir.path().join("resgate.db")));
}

#[test]
fn rows_inserted_together_get_ids_in_their_order_postgresql() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    ids_pair_with_rows(&Location::Postgres(pg.database("batch_order")));
}

/// PostgreSQL refuses a NUL character in text (its documented limit: "the
/// character with code zero cannot be stored", docs/datatype-character.html).
/// One such row fails the whole statement, so no ID comes back for any row:
/// the writer then inserts the rows one by one, and only that one is refused.
#[test]
fn a_row_postgresql_refuses_fails_the_statement_not_silently_its_neighbours() {
    let Some(pg) = Postgres::start() else {
        return;
    };
    let db = Location::Postgres(pg.database("batch_refused"))
        .open_writer()
        .expect("open the journal");
    let rows = [row(1, "am"), row(2, "a\0m"), row(3, "am")];
    let refs: Vec<&NewInbound> = rows.iter().collect();
    db.begin().expect("begin");
    db.batch("SAVEPOINT piece").expect("savepoint");
    let together = journal::insert_inbound_many(&db, &refs);
    assert!(
        together.is_err(),
        "a NUL in text must be refused: {together:?}"
    );
    db.batch("ROLLBACK TO SAVEPOINT piece")
        .expect("back to the savepoint");
    let alone: Vec<bool> = rows
        .iter()
        .map(|r| {
            db.batch("SAVEPOINT one").expect("savepoint");
            let ok = r.insert(&db).is_ok();
            db.batch(if ok {
                "RELEASE SAVEPOINT one"
            } else {
                "ROLLBACK TO SAVEPOINT one"
            })
            .expect("end the savepoint");
            ok
        })
        .collect();
    db.batch("COMMIT").expect("commit");
    assert_eq!(alone, [true, false, true]);
    assert_eq!(journal::all_inbound(&db).expect("read the queue").len(), 2);
}
