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
use crate::journal::{Db, JournalError, Result};

/// One submitted piece of work and the way back to its submitter.
trait Piece: Send {
    fn run(&mut self, conn: &Db) -> Result<()>;
    /// Answers the submitter: the commit's result, or the piece's own error.
    fn finish(self: Box<Self>, result: Result<()>);
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
        let (reply, answer) = sync_channel::<Result<T>>(1);
        let piece = Typed {
            work: Some(work),
            value: None,
            reply,
            on_commit,
        };
        self.queue.send(Box::new(piece)).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
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
        for (i, mut piece) in group.into_iter().enumerate() {
            if let Some(e) = &lost {
                piece.finish(Err(e.clone()));
                continue;
            }
            let failed = match piece.run(&conn) {
                Ok(()) => {
                    ran.push(piece);
                    let next = i + 1 < count;
                    match next.then(|| conn.batch("RELEASE SAVEPOINT piece; SAVEPOINT piece")) {
                        Some(Err(e)) => Some((e, None)),
                        _ => None,
                    }
                }
                Err(e) => match conn.batch("ROLLBACK TO SAVEPOINT piece") {
                    Ok(()) => {
                        tracing::warn!(error = %e, "journal write refused");
                        piece.finish(Err(e));
                        None
                    }
                    Err(_) => Some((e, Some(piece))),
                },
            };
            if let Some((e, piece)) = failed {
                // The database rolled the whole transaction back (disk full,
                // I/O error, connection lost): nothing of this group is durable.
                let _ = conn.batch("ROLLBACK");
                tracing::error!(error = %e, "journal transaction lost");
                metrics.journal_error();
                for p in piece.into_iter().chain(ran.drain(..)) {
                    p.finish(Err(e.clone()));
                }
                lost = Some(e);
            }
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
