//! The one thread that writes the journal, with group commit.
//!
//! Every writer of the journal (HTTP workers putting bodies on the inbound
//! queue, the decision thread recording decisions, trackers recording calls)
//! submits a piece of work and blocks until it is durable. The writer takes
//! everything queued at that moment, runs each piece in its own savepoint inside
//! one transaction and commits once: one fsync for many requests, which is what
//! lets `synchronous=FULL` keep up with many connections. A piece that fails
//! rolls back alone; a failed commit fails them all (and the senders get 503).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::Instant;

use super::metrics::Metrics;
use crate::journal::{self, Db, Dialect, JournalError, NewInbound, Result};

/// One submitted piece of work and the way back to its submitter.
trait Piece: Send {
    fn run(&mut self, conn: &Db) -> Result<()>;
    /// Answers the submitter: the commit's result, or the piece's own error.
    fn finish(self: Box<Self>, result: Result<()>);
    /// An inbound row the writer may insert in one statement with the rows
    /// of the pieces next to it, and where its ID then goes.
    fn inbound(&self) -> Option<&NewInbound> {
        None
    }
    /// The ID the batch gave the row of an [`Piece::inbound`] piece.
    fn inserted(&mut self, _id: i64) {}
}

/// A webhook body for the inbound queue: a piece the writer can batch.
struct Inbound {
    row: NewInbound,
    id: Option<i64>,
    reply: SyncSender<Result<i64>>,
    on_commit: Option<OnCommit<i64>>,
}

impl Piece for Inbound {
    fn run(&mut self, conn: &Db) -> Result<()> {
        self.id = Some(self.row.insert(conn)?);
        Ok(())
    }

    fn finish(self: Box<Self>, result: Result<()>) {
        let answer = result.and_then(|()| self.id.ok_or_else(stopped));
        if let (Ok(v), Some(hook)) = (&answer, self.on_commit) {
            hook(v);
        }
        let _ = self.reply.send(answer);
    }

    fn inbound(&self) -> Option<&NewInbound> {
        Some(&self.row)
    }

    fn inserted(&mut self, id: i64) {
        self.id = Some(id);
    }
}

type OnCommit<T> = Box<dyn FnOnce(&T) + Send>;

struct Typed<T, F> {
    work: Option<F>,
    value: Option<T>,
    reply: SyncSender<Result<T>>,
    on_commit: Option<OnCommit<T>>,
}

impl<T: Send, F: FnOnce(&Db) -> Result<T> + Send> Piece for Typed<T, F> {
    fn run(&mut self, conn: &Db) -> Result<()> {
        let work = self.work.take().ok_or_else(stopped)?;
        self.value = Some(work(conn)?);
        Ok(())
    }

    fn finish(self: Box<Self>, result: Result<()>) {
        let Typed {
            value,
            reply,
            on_commit,
            ..
        } = *self;
        let answer = result.and_then(|()| value.ok_or_else(stopped));
        if let (Ok(v), Some(hook)) = (&answer, on_commit) {
            hook(v);
        }
        let _ = reply.send(answer);
    }
}

type Work = Box<dyn Piece>;

/// Opens a new connection to the journal.
pub type Reopen = Box<dyn Fn() -> Result<Db> + Send>;

/// At most this many pieces in one transaction: bounds the latency of the first.
const MAX_GROUP: usize = 512;

#[derive(Clone)]
pub struct Writer {
    queue: SyncSender<Work>,
}

impl Writer {
    /// Starts the writer thread on `conn`. It ends when every `Writer` is dropped.
    /// `reopen` makes a new connection when the server closed this one (a
    /// PostgreSQL restart or failover); until it succeeds, writes fail (503).
    pub fn start(conn: Db, reopen: Reopen, metrics: Arc<Metrics>) -> (Writer, JoinHandle<()>) {
        let (queue, work) = sync_channel::<Work>(4096);
        let handle = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(conn, &reopen, work, &metrics))
            .unwrap_or_else(|e| panic!("cannot start the journal writer thread: {e}"));
        (Writer { queue }, handle)
    }

    /// Runs `work` in the next group and waits until it is committed.
    pub fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Db) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.submit_then(work, None)
    }

    /// As [`Writer::submit`], and once committed runs `on_commit` on the writer
    /// thread, in commit order: the decision thread learns of inbound rows in
    /// the order of their IDs, whatever order the workers wake up in.
    pub fn submit_then<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Db) -> Result<T> + Send + 'static,
        on_commit: Option<OnCommit<T>>,
    ) -> Result<T> {
        let answer = self.send(work, on_commit)?;
        answer.recv().map_err(|_| stopped())?
    }

    /// Puts a webhook body on the inbound queue and waits until it is
    /// committed; its ID. `on_commit` as in [`Writer::submit_then`].
    pub fn submit_inbound(&self, row: NewInbound, on_commit: Option<OnCommit<i64>>) -> Result<i64> {
        let (reply, answer) = sync_channel::<Result<i64>>(1);
        let piece = Inbound {
            row,
            id: None,
            reply,
            on_commit,
        };
        self.queue.send(Box::new(piece)).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }

    /// Queues `work` for the next group without waiting: the answer comes on
    /// the returned channel once it is committed (or failed). Pieces are run
    /// and committed in the order they were sent.
    pub fn send<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Db) -> Result<T> + Send + 'static,
        on_commit: Option<OnCommit<T>>,
    ) -> Result<Receiver<Result<T>>> {
        let (reply, answer) = sync_channel::<Result<T>>(1);
        let piece = Typed {
            work: Some(work),
            value: None,
            reply,
            on_commit,
        };
        self.queue.send(Box::new(piece)).map_err(|_| stopped())?;
        Ok(answer)
    }
}

/// The error a stopped writer answers with.
pub fn stopped_error() -> JournalError {
    stopped()
}

fn stopped() -> JournalError {
    JournalError {
        message: "the journal writer has stopped".into(),
    }
}

fn run(mut conn: Db, reopen: &Reopen, work: Receiver<Work>, metrics: &Metrics) {
    while let Ok(first) = work.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match work.try_recv() {
                Ok(w) => group.push(w),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        if conn.is_closed() {
            match reopen() {
                Ok(db) => {
                    tracing::info!("reconnected to the journal");
                    conn = db;
                }
                Err(e) => {
                    metrics.journal_error();
                    for piece in group {
                        piece.finish(Err(e.clone()));
                    }
                    continue;
                }
            }
        }
        // Each piece runs inside the savepoint `piece`, renewed between
        // pieces in one statement batch: one round trip per piece besides its
        // own SQL, which is what a PostgreSQL journal pays for most.
        if let Err(e) = conn.begin().and_then(|()| conn.batch("SAVEPOINT piece")) {
            let _ = conn.batch("ROLLBACK");
            metrics.journal_error();
            for piece in group {
                piece.finish(Err(e.clone()));
            }
            continue;
        }
        let count = group.len();
        let mut ran: Vec<Work> = Vec::with_capacity(count);
        let mut lost: Option<JournalError> = None;
        let mut pending: std::collections::VecDeque<Work> = group.into();
        // After a batch was refused: how many pieces still run one by one.
        let mut singly = 0usize;
        while let Some(piece) = pending.pop_front() {
            if let Some(e) = &lost {
                piece.finish(Err(e.clone()));
                continue;
            }
            // Consecutive inbound rows go to a PostgreSQL journal in one
            // INSERT: one round trip for them all, where one per row (and one
            // more per savepoint renewal) was most of a group's time.
            let run = if singly > 0 {
                singly -= 1;
                0
            } else if conn.dialect() == Dialect::Postgres && piece.inbound().is_some() {
                pending.iter().take_while(|p| p.inbound().is_some()).count()
            } else {
                0
            };
            if run > 0 {
                let mut rows: Vec<Work> =
                    std::iter::once(piece).chain(pending.drain(..run)).collect();
                match insert_together(&conn, &mut rows) {
                    Ok(()) => {
                        ran.extend(rows);
                        if let Some(Err(e)) = (!pending.is_empty())
                            .then(|| conn.batch("RELEASE SAVEPOINT piece; SAVEPOINT piece"))
                        {
                            lost = Some(lose(&conn, e, None, &mut ran, metrics));
                        }
                    }
                    // One bad row must not refuse its neighbours: back to the
                    // savepoint, and each row alone, as any other piece.
                    Err(e) => match conn.batch("ROLLBACK TO SAVEPOINT piece") {
                        Ok(()) => {
                            tracing::debug!(error = %e, "inbound rows refused together; one at a time");
                            singly = rows.len();
                            for row in rows.into_iter().rev() {
                                pending.push_front(row);
                            }
                        }
                        Err(_) => {
                            ran.extend(rows);
                            lost = Some(lose(&conn, e, None, &mut ran, metrics));
                        }
                    },
                }
                continue;
            }
            let next = !pending.is_empty();
            lost = run_one(&conn, piece, next, &mut ran, metrics);
        }
        if lost.is_some() {
            continue;
        }
        let result = conn.batch("COMMIT");
        if result.is_err() {
            let _ = conn.batch("ROLLBACK");
            metrics.journal_error();
        }
        metrics.commit_latency(started.elapsed());
        // Read after each commit (three header reads): what the webhook
        // routes compare with --journal-max-size before journaling.
        metrics.set_journal_used(crate::journal::used_bytes(&conn));
        for piece in ran {
            piece.finish(result.clone());
        }
    }
}

/// Runs one piece in the savepoint `piece`, renewed for the next one if
/// `next`; the error that lost the whole transaction, if one did.
fn run_one(
    conn: &Db,
    mut piece: Work,
    next: bool,
    ran: &mut Vec<Work>,
    metrics: &Metrics,
) -> Option<JournalError> {
    match piece.run(conn) {
        Ok(()) => {
            ran.push(piece);
            match next.then(|| conn.batch("RELEASE SAVEPOINT piece; SAVEPOINT piece")) {
                Some(Err(e)) => Some(lose(conn, e, None, ran, metrics)),
                _ => None,
            }
        }
        Err(e) => match conn.batch("ROLLBACK TO SAVEPOINT piece") {
            Ok(()) => {
                tracing::warn!(error = %e, "journal write refused");
                piece.finish(Err(e));
                None
            }
            Err(_) => Some(lose(conn, e, Some(piece), ran, metrics)),
        },
    }
}

/// The database rolled the whole transaction back (disk full, I/O error,
/// connection lost): nothing of this group is durable. Tells every piece
/// that ran; the error, for the pieces still to come.
fn lose(
    conn: &Db,
    e: JournalError,
    piece: Option<Work>,
    ran: &mut Vec<Work>,
    metrics: &Metrics,
) -> JournalError {
    let _ = conn.batch("ROLLBACK");
    tracing::error!(error = %e, "journal transaction lost");
    metrics.journal_error();
    for p in piece.into_iter().chain(ran.drain(..)) {
        p.finish(Err(e.clone()));
    }
    e
}

/// Inserts the rows of consecutive inbound pieces in one statement.
fn insert_together(conn: &Db, pieces: &mut [Work]) -> Result<()> {
    let ids = {
        let rows: Vec<&NewInbound> = pieces.iter().filter_map(|p| p.inbound()).collect();
        journal::insert_inbound_many(conn, &rows)?
    };
    for (piece, id) in pieces.iter_mut().zip(ids) {
        piece.inserted(id);
    }
    Ok(())
}
