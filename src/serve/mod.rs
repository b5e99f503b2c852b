//! `resgate serve`: the webhook daemon (DESIGN.md §5).
//!
//! Threads and who owns what:
//! - HTTP connection threads ([`httpd`], capped) authenticate, map and journal each
//!   webhook, answer 2xx only once it is committed, then hand it to…
//! - the decision thread ([`decider`]), the one owner of the engine, which
//!   journals every decision before acting on it, and starts…
//! - a tracker per fired event ([`tracker`]): the call, then status polls.
//! - the journal writer ([`writer`]) commits for all of them, in groups.
//! - the reload watcher ([`reload`]) swaps in rules that pass lint.

pub mod auth;
mod decider;
/// Public for `benches/memory.rs`, which measures its keys as serve keeps them.
#[doc(hidden)]
pub mod dedupe;
pub mod facts;
pub mod hosts;
mod http;
mod httpd;
mod outbox;

pub mod leader;
pub mod limits;
pub mod metrics;
mod reload;
pub mod status;
mod tracker;
mod writer;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Duration;

use crate::journal;
use crate::remediate::{Client, ProcessSecrets, RetryPolicy};
use crate::rules::RuleSet;

pub use httpd::{ReadRequest, Wire, read_request};
pub use writer::Writer;

#[derive(Debug, Clone)]
pub struct Options {
    pub rules: PathBuf,
    pub data: PathBuf,
    pub listen: String,
    /// Open connections at most (one thread each); beyond, 503 at once.
    pub max_connections: usize,
    /// Open connections from one client address at most; beyond, 503 at once.
    pub max_connections_per_ip: usize,
    /// A kept-alive connection idle this long is closed.
    pub idle_timeout: Duration,
    /// The request line and headers must arrive within this.
    pub head_timeout: Duration,
    /// Request bodies larger than this are refused with 413.
    pub max_body: usize,
    /// A whole request body must arrive within this.
    pub body_timeout: Duration,
    /// Decided inbound bodies are kept this long (for `explain`).
    pub retention: Duration,
    /// Window in which a repeated (groupKey, fingerprint, startsAt, status) is a duplicate.
    pub dedupe_window: Duration,
    /// Bearer token required by the API's write routes (pauses); none: open.
    pub api_token: Option<String>,
    /// Tries of a call that the remediator did not accept (connection refused, 5xx).
    pub call_attempts: u32,
    pub call_backoff: Duration,
    pub watch: bool,
    /// The journal's file may not grow beyond this (SQLite `max_page_count`).
    pub journal_max_bytes: Option<u64>,
    /// Alerts one webhook may carry; more: 413 ([`limits`]).
    pub max_alerts_per_request: usize,
    /// Alerts held at most; a webhook bringing new ones while full: 503.
    pub max_alerts: usize,
    /// Bytes of the held alerts' strings at most (`limits::weight`); likewise.
    pub max_alert_bytes: u64,
    /// A PostgreSQL journal shared with other instances (`--journal URL`);
    /// none: the SQLite file in `data`.
    pub journal: Option<String>,
    /// How long the leader's lease lasts without renewal (shared journal).
    pub lease: Duration,
    /// Names (besides the listen address, IP literals and `localhost`) that
    /// requests may carry in `Host`, and writes in `Origin`.
    pub allowed_hosts: Vec<String>,
    /// Listen beyond loopback without `RESGATE_API_TOKEN` all the same.
    pub insecure_no_api_token: bool,
    /// The public base URL of this server: notifications link to its event
    /// pages (`--external-url`); none: messages carry no link.
    pub external_url: Option<String>,
    /// Tries of one notification before it is counted failed.
    pub notify_attempts: u32,
    /// The first wait between those tries (doubling).
    pub notify_backoff: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The rules fail lint (exit 1, as `lint`).
    #[error("the rules in {0} do not pass lint; run `resgate lint {0}`")]
    Rules(String),
    /// The rules directory or a file in it cannot be read (exit 2, as `lint`).
    #[error("cannot read the rules in {0}; check --rules")]
    RulesUnreadable(String),
    /// The rules name secrets this process cannot resolve (exit 2: the
    /// environment, not the rules, is wrong).
    #[error("{what} in the rules cannot be resolved (listed above); set them before starting resgate serve", what = if *.0 == 1 { "1 secret reference".to_owned() } else { format!("{} secret references", .0) })]
    Secrets(usize),
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("another resgate serve is using {0}; one data directory serves one daemon")]
    Locked(String),
    #[error("cannot listen on {addr}: {message}")]
    Listen { addr: String, message: String },
    /// `--listen` beyond loopback, no `RESGATE_API_TOKEN`, no
    /// `--insecure-no-api-token`.
    #[error(
        "{0} is reachable beyond this host, and without RESGATE_API_TOKEN anyone who reaches it can pause or approve remediations\n  help: set RESGATE_API_TOKEN in the daemon's environment, listen on 127.0.0.1, or pass --insecure-no-api-token if a firewall or proxy already guards it"
    )]
    NoApiToken(String),
}

/// A flag with a wake-up: sleeping threads return as soon as shutdown starts.
#[derive(Default)]
pub struct Shutdown {
    set: Mutex<bool>,
    cv: Condvar,
    flag: AtomicBool,
}

impl Shutdown {
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        if let Ok(mut s) = self.set.lock() {
            *s = true;
        }
        self.cv.notify_all();
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`; true when shutdown started.
    pub fn wait(&self, d: Duration) -> bool {
        let Ok(guard) = self.set.lock() else {
            return true;
        };
        match self.cv.wait_timeout_while(guard, d, |set| !*set) {
            Ok((set, _)) => *set,
            Err(_) => true,
        }
    }
}

/// What the status page says about the rules.
#[derive(Debug, Clone)]
pub struct RulesRecord {
    /// [`RuleSet::version`] of the rules live now.
    pub version: String,
    /// When they went live.
    pub loaded_at: jiff::Timestamp,
    /// The last reload that lint refused, if any came after `loaded_at`.
    pub last_refused: Option<jiff::Timestamp>,
}

impl RulesRecord {
    fn new(rules: &RuleSet) -> RulesRecord {
        RulesRecord {
            version: rules.version.clone(),
            loaded_at: jiff::Timestamp::now(),
            last_refused: None,
        }
    }
}

/// What every thread shares.
pub struct Shared {
    pub writer: Writer,
    pub metrics: Arc<metrics::Metrics>,
    pub shutdown: Shutdown,
    /// This journal's random ID: part of every Idempotency-Key.
    pub instance: String,
    pub client: Client,
    pub secrets: ProcessSecrets,
    pub retry: RetryPolicy,
    pub decider: Sender<decider::Msg>,
    /// The rules live now; replaced whole by a reload.
    pub rules: RwLock<Arc<RuleSet>>,
    pub rules_record: Mutex<RulesRecord>,
    /// Connections for reading the journal.
    pub readers: journal::readers::Readers,
    pub leadership: leader::Leadership,
    pub options: Options,
    pub ready: AtomicBool,
    /// When the decision thread last went round its loop (Unix seconds):
    /// `/readyz` fails when it is stuck (e.g. the journal refuses its writes).
    decider_beat: std::sync::atomic::AtomicI64,
    dedupe: dedupe::Dedupe,
    /// The bounds on what webhooks can make the daemon hold.
    pub limits: limits::Limits,
    /// The status page, drawn at most once a second.
    status_cache: status::Cache,
}

impl Shared {
    /// Submits a write only the leader may make (decisions, calls, notes):
    /// fenced by the lease token when the journal is shared.
    pub fn leader_write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&journal::Db) -> journal::Result<T> + Send + 'static,
    ) -> journal::Result<T> {
        self.leader_send(work)?
            .recv()
            .map_err(|_| writer::stopped_error())?
    }

    /// As [`Shared::leader_write`] without waiting: the commit's answer comes
    /// on the returned channel.
    pub fn leader_send<T: Send + 'static>(
        &self,
        work: impl FnOnce(&journal::Db) -> journal::Result<T> + Send + 'static,
    ) -> journal::Result<std::sync::mpsc::Receiver<journal::Result<T>>> {
        let held = self.leadership.held();
        let shared = self.leadership.shared;
        self.writer.send(
            move |db| {
                if shared {
                    match &held {
                        Some(held) => journal::lease::fence(db, held)?,
                        None => {
                            return Err(journal::JournalError {
                                message:
                                    "this instance is a standby; only the leader writes decisions"
                                        .into(),
                            });
                        }
                    }
                }
                work(db)
            },
            None,
        )
    }

    fn beat(&self) {
        self.decider_beat
            .store(jiff::Timestamp::now().as_second(), Ordering::Relaxed);
    }

    /// Seconds since the decision thread last went round its loop.
    pub fn decider_stalled_for(&self) -> i64 {
        jiff::Timestamp::now().as_second() - self.decider_beat.load(Ordering::Relaxed)
    }

    pub fn rules_record(&self) -> RulesRecord {
        match self.rules_record.lock() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_rules_record(&self, change: impl FnOnce(&mut RulesRecord)) {
        match self.rules_record.lock() {
            Ok(mut r) => change(&mut r),
            Err(poisoned) => change(&mut poisoned.into_inner()),
        }
    }

    pub fn rules(&self) -> Arc<RuleSet> {
        match self.rules.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// Loads the rules, opens the journal, restores the engine, and serves until
/// SIGTERM/SIGINT. `on_listen` is told the bound address (the CLI prints it).
pub fn run(options: Options, on_listen: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    refuse_open_api_beyond_loopback(&options)?;
    let (rules, digest) = reload::load(&options.rules, &ProcessSecrets);
    let dir = || options.rules.display().to_string();
    let rules = rules.map_err(|refusal| match refusal {
        reload::Refusal::Unreadable => ServeError::RulesUnreadable(dir()),
        reload::Refusal::Lint => ServeError::Rules(dir()),
        reload::Refusal::Secrets(n) => ServeError::Secrets(n),
    })?;
    let location = match &options.journal {
        Some(url) => journal::Location::Postgres(url.clone()),
        None => journal::Location::File(options.data.join(journal::FILE_NAME)),
    };
    // One daemon per SQLite journal: two would both decide and fire, with
    // colliding event numbers. The lock is the OS's (flock), so a crash
    // releases it. A shared journal elects its leader with a lease instead.
    let lock = match &location {
        journal::Location::File(_) => Some(lock_data_dir(&options.data)?),
        journal::Location::Postgres(_) => None,
    };
    let conn = location.open_writer()?;
    if let Some(max) = options.journal_max_bytes {
        journal::cap_size(&conn, max)?;
        if let Some(used) = journal::used_bytes(&conn)
            && used >= limits::webhook_share(max)
        {
            tracing::error!(
                used,
                max,
                "the journal is already past 90% of --journal-max-size: webhooks are answered 503 until pruning frees room or the cap is raised"
            );
        }
    }
    let instance = journal::instance_id(&conn)?;
    let leadership = match &location {
        journal::Location::File(_) => leader::Leadership::solo(),
        journal::Location::Postgres(_) => leader::Leadership::by_lease(options.lease),
    };
    let metrics = Arc::new(metrics::Metrics::default());
    metrics.set_journal_used(journal::used_bytes(&conn));
    metrics.reload(true);
    let reopen: writer::Reopen = {
        let location = location.clone();
        Box::new(move || location.open_writer())
    };
    let (writer, writer_thread) = Writer::start(conn, reopen, metrics.clone());
    let (to_decider, inbox) = std::sync::mpsc::channel();
    let backoff = options.call_backoff;
    let shared = Arc::new(Shared {
        writer,
        metrics,
        shutdown: Shutdown::default(),
        instance,
        client: Client::new(),
        secrets: ProcessSecrets,
        retry: RetryPolicy {
            attempts: options.call_attempts.max(1),
            initial: backoff,
            sleep: Box::new(std::thread::sleep),
        },
        decider: to_decider,
        rules: RwLock::new(rules.clone()),
        rules_record: Mutex::new(RulesRecord::new(&rules)),
        readers: journal::readers::Readers::new(location),
        leadership,
        dedupe: dedupe::Dedupe::new(options.dedupe_window),
        limits: limits::Limits::new(
            options.max_alerts_per_request,
            options.max_alerts,
            options.max_alert_bytes,
            options.journal_max_bytes,
        ),
        status_cache: status::Cache::default(),
        options: options.clone(),
        ready: AtomicBool::new(false),
        decider_beat: std::sync::atomic::AtomicI64::new(jiff::Timestamp::now().as_second()),
    });

    // Restores the engine from the journal and starts the decision thread:
    // at once with a SQLite journal, once the lease is ours with a shared one.
    let lead = {
        let shared = shared.clone();
        move || -> journal::Result<std::thread::JoinHandle<()>> {
            let decider = {
                let conn = shared.readers.get()?;
                decider::Decider::restore(shared.clone(), shared.rules(), &conn)?
            };
            shared.beat();
            std::thread::Builder::new()
                .name("decider".into())
                .spawn(move || decider.run(inbox))
                .map_err(|e| journal::JournalError {
                    message: format!("cannot start the decision thread: {e}"),
                })
        }
    };
    let decider_thread = if shared.leadership.shared {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("lease".into())
            .spawn(move || leader::run(&shared, lead))
            .map_err(|e| ServeError::Listen {
                addr: options.listen.clone(),
                message: format!("cannot start the lease thread: {e}"),
            })?
    } else {
        lead()?
    };

    let server = httpd::Server::bind(&options.listen).map_err(|e| ServeError::Listen {
        addr: options.listen.clone(),
        message: e.to_string(),
    })?;
    let server = Arc::new(server);
    let addr = server.addr();

    {
        // Weak: the handler lives as long as the process and must not keep the
        // writer (owned through `Shared`) alive past shutdown.
        let shared = Arc::downgrade(&shared);
        let server = Arc::downgrade(&server);
        let handler = move || {
            tracing::info!("shutting down: no new requests; draining");
            if let Some(shared) = shared.upgrade() {
                shared.shutdown.trigger();
            }
            if let Some(server) = server.upgrade() {
                server.stop();
            }
        };
        if let Err(e) = ctrlc::set_handler(handler) {
            tracing::warn!(error = %e, "cannot install the SIGTERM/SIGINT handler");
        }
    }
    let watcher = if options.watch {
        reload::watch(shared.clone(), digest)
    } else {
        None
    };
    let outbox = outbox::spawn(shared.clone());
    let pruner = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("prune".into())
            .spawn(move || prune_loop(&shared))
            .ok()
    };

    shared.ready.store(true, Ordering::SeqCst);
    tracing::info!(%addr, max_connections = options.max_connections, "resgate listening");
    on_listen(addr);

    let limits = httpd::Limits {
        max_head: 16 * 1024,
        idle_timeout: options.idle_timeout,
        head_timeout: options.head_timeout,
        body_timeout: options.body_timeout,
        max_connections: options.max_connections,
        max_per_ip: options.max_connections_per_ip,
    };
    let hosts =
        hosts::AllowedHosts::new(addr, listen_host(&options.listen), &options.allowed_hosts);
    let handler: Arc<httpd::Handler> = {
        let shared = shared.clone();
        Arc::new(move |request: &mut httpd::Incoming| http::handle(request, &shared, &hosts))
    };
    // Returns once stopped and the requests in progress are answered.
    server.run(&limits, handler, &shared.metrics);
    // Workers have answered everything they took; nothing new is accepted.
    shared.shutdown.trigger();
    let _ = decider_thread.join();
    drop(watcher);
    if let Some(p) = pruner {
        let _ = p.join();
    }
    // Not joined: a worker may be waiting on a slow receiver (up to its
    // timeout). What it had not marked sent is sent again by the next start.
    drop(outbox);
    drop(server);
    // Trackers stop at their next wait; what they had not journaled is picked
    // up from the journal by the next start. The writer ends with the last
    // `Shared`, so do not wait for it beyond a short grace.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while Arc::strong_count(&shared) > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if Arc::strong_count(&shared) == 1 {
        drop(shared);
        let _ = writer_thread.join();
    }
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

/// The host part of `--listen` (`[::1]:9095` → `[::1]`, `localhost:0` → `localhost`).
fn listen_host(listen: &str) -> &str {
    listen.rsplit_once(':').map_or(listen, |(host, _)| host)
}

/// The operator API pauses and approves remediations: open to anyone only on
/// loopback (where the Host and Origin checks keep web pages out). Beyond it,
/// a token, or the operator's explicit word that something else guards it.
fn refuse_open_api_beyond_loopback(options: &Options) -> Result<(), ServeError> {
    use std::net::ToSocketAddrs;
    if options.api_token.is_some() || options.insecure_no_api_token {
        return Ok(());
    }
    // An address that does not resolve fails at bind, with its own message.
    let Ok(addrs) = options.listen.to_socket_addrs() else {
        return Ok(());
    };
    match addrs.into_iter().find(|a| !a.ip().is_loopback()) {
        Some(open) => Err(ServeError::NoApiToken(open.to_string())),
        None => Ok(()),
    }
}

fn lock_data_dir(data: &std::path::Path) -> Result<std::fs::File, ServeError> {
    std::fs::create_dir_all(data).map_err(|source| ServeError::DataDir {
        path: data.display().to_string(),
        source,
    })?;
    let lock_path = data.join("resgate.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|source| ServeError::DataDir {
        path: lock_path.display().to_string(),
        source,
    })?;
    if lock.try_lock().is_err() {
        return Err(ServeError::Locked(data.display().to_string()));
    }
    Ok(lock)
}

fn prune_loop(shared: &Shared) {
    while !shared.shutdown.wait(Duration::from_secs(60)) {
        let Ok(retention) = jiff::SignedDuration::try_from(shared.options.retention) else {
            continue;
        };
        let Ok(before) = jiff::Timestamp::now().checked_sub(retention) else {
            continue;
        };
        if !shared.leadership.is_leader() {
            continue;
        }
        match shared
            .writer
            .submit(move |conn| journal::prune(conn, before))
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned decided inbound bodies"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the journal"),
        }
        match shared
            .writer
            .submit(move |conn| journal::outbox::prune(conn, before))
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned delivered notifications"),
            Err(e) => tracing::warn!(error = %e, "cannot prune the outbox"),
        }
    }
}
