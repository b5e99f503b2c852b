//! Reading request bodies without letting slow clients pin the workers.
//!
//! tiny_http gives no access to the socket, so a read cannot be given a
//! timeout, and a timeout on the listening socket would make its accept loop
//! give up (it treats the accept timeout as fatal). So a body is read on a
//! separate reader thread while the worker waits at most `body_timeout`; a
//! worker that gives up goes back to serving others, and the reader answers
//! 408 itself whenever the slow client's body finally ends.
//!
//! Readers are pooled: a job goes to an idle reader when there is one, else a
//! new reader is started, so the pool grows to the number of bodies being read
//! at once (about the number of workers, plus stalled clients) and the fast
//! path spawns no thread. At most `MAX_READERS` readers exist; when all are
//! busy, the job waits in the queue and the worker gives up after its timeout.
//! (Bodies of up to 1 KiB never reach this: tiny_http reads them on its
//! connection thread before handing the request over.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{
    Receiver, RecvTimeoutError, SendError, Sender, SyncSender, channel, sync_channel,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tiny_http::{Request, Response};

const MAX_READERS: usize = 1024;
/// Readers beyond the first few end after this long without work.
const IDLE_EXIT: Duration = Duration::from_secs(60);
const KEEP_IDLE: usize = 8;

pub enum BodyError {
    TooLarge,
    Timeout,
    /// Too many slow bodies are being read already.
    Busy,
    Io(std::io::Error),
}

struct Job {
    request: Request,
    max: usize,
    /// Whether the sender took an idle reader off the count for it.
    claimed: bool,
    reply: SyncSender<(Request, Result<Vec<u8>, BodyError>)>,
}

pub struct Readers {
    jobs: Sender<Job>,
    queue: Arc<Mutex<Receiver<Job>>>,
    /// Readers alive, and of those, waiting for a job.
    readers: Arc<AtomicUsize>,
    idle: Arc<AtomicUsize>,
}

impl Readers {
    pub fn new() -> Readers {
        let (jobs, queue) = channel();
        Readers {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            readers: Arc::new(AtomicUsize::new(0)),
            idle: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Reads `request`'s body (at most `max` bytes) within `deadline`.
    /// `Err((None, _))`: the worker gave up; the reader will answer the client.
    // Both arms carry the request by value (it must go back to be answered);
    // boxing the error would only add an allocation.
    #[allow(clippy::result_large_err)]
    pub fn read(
        &self,
        request: Request,
        max: usize,
        deadline: Duration,
    ) -> Result<(Request, Vec<u8>), (Option<Request>, BodyError)> {
        if request.body_length().is_some_and(|n| n > max) {
            return Err((Some(request), BodyError::TooLarge));
        }
        if request.body_length() == Some(0) {
            return Ok((request, Vec::new()));
        }
        let (reply, answer) = sync_channel(1);
        let claimed = self
            .idle
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let job = Job {
            request,
            max,
            claimed,
            reply,
        };
        if claimed || self.readers.load(Ordering::SeqCst) >= MAX_READERS {
            if let Err(SendError(job)) = self.jobs.send(job) {
                return Err((Some(job.request), BodyError::Busy));
            }
        } else {
            self.spawn(job);
        }
        match answer.recv_timeout(deadline) {
            Ok((request, Ok(body))) => Ok((request, body)),
            Ok((request, Err(e))) => Err((Some(request), e)),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                Err((None, BodyError::Timeout))
            }
        }
    }

    fn spawn(&self, first: Job) {
        let queue = self.queue.clone();
        let readers = self.readers.clone();
        let idle = self.idle.clone();
        readers.fetch_add(1, Ordering::SeqCst);
        let spawned = std::thread::Builder::new()
            .name("body-reader".into())
            .stack_size(128 * 1024)
            .spawn(move || {
                serve_job(first);
                let mut counted = false;
                loop {
                    // Counted idle before waiting, so a worker that claims this
                    // reader finds its job picked up.
                    if !counted {
                        idle.fetch_add(1, Ordering::SeqCst);
                    }
                    counted = false;
                    let next = match queue.lock() {
                        Ok(q) => q.recv_timeout(IDLE_EXIT),
                        Err(_) => break,
                    };
                    match next {
                        Ok(job) => {
                            if !job.claimed {
                                // Queued while every reader was busy: this
                                // reader is no longer idle.
                                let _ =
                                    idle.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                        n.checked_sub(1)
                                    });
                            }
                            serve_job(job);
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            let released = idle
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok();
                            if !released {
                                // A worker claimed this reader as it timed out:
                                // its job is on the way, and it is already off the count.
                                counted = true;
                                continue;
                            }
                            if readers.load(Ordering::SeqCst) > KEEP_IDLE {
                                break;
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                readers.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            self.readers.fetch_sub(1, Ordering::SeqCst);
            tracing::error!(error = %e, "cannot start a body reader");
        }
    }
}

fn serve_job(job: Job) {
    let Job {
        mut request,
        max,
        reply,
        ..
    } = job;
    let result = read_all(&mut request, max);
    if let Err(std::sync::mpsc::SendError((request, _))) = reply.send((request, result)) {
        // The worker gave up waiting: the body came too late.
        let response =
            Response::from_string(r#"{"status":"error","error":"body not received in time"}"#)
                .with_status_code(408);
        let _ = request.respond(response);
    }
}

fn read_all(request: &mut Request, max: usize) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(4096).min(max));
    let mut chunk = [0u8; 16 * 1024];
    let reader = request.as_reader();
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(body),
            Ok(n) => {
                if body.len() + n > max {
                    return Err(BodyError::TooLarge);
                }
                body.extend_from_slice(&chunk[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(BodyError::Io(e)),
        }
    }
}
