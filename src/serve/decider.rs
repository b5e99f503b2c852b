//! The decision thread: the one owner of the engine.
//!
//! It takes messages in order (alerts committed to the inbound queue, what
//! trackers learned from remediators, pauses, reloads), runs the engine with
//! the wall clock, journals everything the engine answered, and only then acts:
//! starts a tracker for each fire, sends each escalation. Everything queued at
//! once is decided as one step and journaled in one piece, so a burst costs one
//! commit, not one per alert.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::Shared;
use super::tracker;
use crate::engine::{ApproveError, Engine, EventState, Outcome, Pause, Verdict};
use crate::journal::{self, CallPhase, StepRecord};
use crate::rules::RuleSet;
use crate::rules::schema::Mode;
use crate::source::Alert;

/// At most this many messages per step. A step is journaled as one piece in
/// the writer's next group, so every webhook committed in that group waits for
/// it: 1,024 single-alert webhooks per step put the ingest p99 at 64
/// connections at 7–17 ms (median 10.7 of 3 runs); 256 at 7.2–10.4 ms (median
/// 8.2 of 6), with the same throughput (`benches/README.md`, 2026-11-29).
const MAX_STEP: usize = 256;
/// And at most about this many alerts: a step holds every alert it decides as
/// it is journaled (the alert, its decisions, their JSON), and hundreds of
/// webhooks of 50 alerts would make that hundreds of megabytes, which the
/// allocator keeps once freed; a smaller step is also a shorter wait for the
/// webhooks committed with it. Past this, the next message waits for the next step.
/// 2,048 left a storm of 50-alert webhooks ~3,800 webhooks behind after 10 s
/// (gone in 6 s), 4,096 about 1,100 (1.6 s), 8,192 about 200, with a longer p99 for
/// the webhooks committed with a step (benches/README.md, issue 22). Likely
/// why: a step's alerts land on scattered pages of the journal's indexes by
/// fingerprint, each written whole at every commit; a larger step shares more
/// of them.
const MAX_STEP_ALERTS: usize = 4096;
/// Indexes into `metrics::DECIDER_STAGES`.
const DECIDE: usize = 0;
const ENCODE: usize = 1;
const JOURNAL_WAIT: usize = 2;
const ACT: usize = 3;
/// Wake at least this often, to run timers and notice shutdown.
const IDLE_WAKE: Duration = Duration::from_millis(500);
/// Resolved alerts are forgotten this long after they resolved.
const FORGET_RESOLVED_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);
/// How often the decision thread looks for alerts to forget.
const FORGET_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

pub enum Msg {
    Inbound {
        id: i64,
        alerts: Vec<Alert>,
        /// Each alert as JSON (`serde_json::to_string`), when the sender
        /// already made it (the webhook's thread, for the inbound row); else
        /// empty, and the decision thread encodes what it records.
        encoded: Vec<String>,
        /// Journal room the webhook's thread kept for its decisions
        /// ([`Limits::owe`](super::limits::Limits::owe)), given back once
        /// they are committed; 0 for webhooks read from the journal, which
        /// no one kept room for.
        owed: u64,
    },
    Accepted {
        event: String,
        remote_id: Option<String>,
    },
    Running {
        event: String,
    },
    /// `reason`: why it did not succeed, for the log line of the transition.
    Finished {
        event: String,
        outcome: Outcome,
        reason: Option<String>,
    },
    Refused {
        event: String,
        reason: String,
    },
    Pause {
        pause: Pause,
        reply: SyncSender<journal::Result<()>>,
    },
    Unpause {
        remediation: String,
        target: Option<String>,
        reply: SyncSender<journal::Result<()>>,
    },
    Reload(Arc<RuleSet>),
    /// New webhooks are in the shared journal (any instance may have taken
    /// them): read the undecided ones.
    Wake,
    /// An operator approves a `mode: approve` event; answered once journaled.
    Approve {
        event: String,
        reply: SyncSender<Result<(), ApprovalRefused>>,
    },
    /// A fact source was read (or could not be).
    Facts(super::facts::Refresh),
}

impl Msg {
    /// How many alerts the message brings.
    fn alerts(&self) -> usize {
        match self {
            Msg::Inbound { alerts, .. } => alerts.len(),
            _ => 0,
        }
    }
}

/// Why an approval did not go through.
#[derive(Debug, Clone)]
pub enum ApprovalRefused {
    /// No such event, or it is not waiting for approval.
    Engine(ApproveError),
    /// The approval could not be journaled (the caller may retry).
    Journal(String),
}

/// Whom to tell once a step is journaled.
enum Reply {
    Journal(SyncSender<journal::Result<()>>),
    Approval(SyncSender<Result<(), ApprovalRefused>>),
}

/// A step handed to the writer, not yet known to be committed.
struct InFlight {
    step: Arc<StepRecord>,
    prepared: Arc<journal::Prepared>,
    answer: Receiver<journal::Result<()>>,
    replies: Vec<Reply>,
    /// Why events of this step were refused or did not succeed (for its log lines).
    reasons: HashMap<String, String>,
    /// Journal room kept for this step's webhooks, given back once it is committed.
    owed: u64,
}

impl InFlight {
    /// True when acting on the step only logs and counts: no call, no
    /// escalation, no approved event, nobody waiting for its answer. Such a
    /// step may be acted on after the engine has decided the next one.
    fn starts_nothing(&self) -> bool {
        self.replies.is_empty()
            && self
                .step
                .decisions
                .iter()
                .all(|d| !matches!(d.verdict, Verdict::Fire | Verdict::Escalate))
            && self
                .step
                .transitions
                .iter()
                .all(|t| t.from != Some(EventState::AwaitingApproval))
    }
}

/// Tells each waiter how its step's commit went.
fn answer_all(replies: Vec<Reply>, committed: &journal::Result<()>) {
    for reply in replies {
        match reply {
            Reply::Journal(r) => {
                let _ = r.send(committed.clone());
            }
            Reply::Approval(r) => {
                let answer = committed
                    .clone()
                    .map_err(|e| ApprovalRefused::Journal(e.to_string()));
                let _ = r.send(answer);
            }
        }
    }
}

pub struct Decider {
    engine: Engine,
    shared: Arc<Shared>,
    /// Events by state, kept as transitions happen (for `/metrics`).
    by_state: BTreeMap<String, u64>,
    last_forget: Timestamp,
    /// Events with a tracker thread: never two trackers (two calls) for one.
    tracked: HashSet<String>,
    /// Why an event was refused or did not succeed, told by its tracker in
    /// the step being decided: handed to that step, logged with the
    /// transition, then dropped.
    reasons: HashMap<String, String>,
    /// The `owed` of the webhooks applied since the last submit.
    owed: u64,
}

impl Decider {
    /// Restores the engine from the journal as it was at the last recorded
    /// step, resumes the calls that were open, and decides what was accepted
    /// but not decided, each at the time it arrived. Then the caller runs it.
    pub fn restore(
        shared: Arc<Shared>,
        rules: Arc<RuleSet>,
        conn: &journal::Db,
    ) -> journal::Result<Decider> {
        // Read everything first: acting on the restore may start new calls,
        // which must not be mistaken for calls to resume.
        let snapshot = journal::load_snapshot(conn)?;
        let calls = journal::open_calls(conn)?;
        let unsent = journal::unsent_escalations(conn)?;
        let pending = journal::pending_inbound(conn)?;
        let now = Timestamp::now();
        let at = journal::clock(conn)?.unwrap_or(now).min(now);
        if !calls.is_empty() || !pending.is_empty() {
            tracing::info!(
                open_calls = calls.len(),
                undecided = pending.len(),
                since = %at,
                "resuming from the journal"
            );
        }
        let mut by_state = BTreeMap::new();
        for e in &snapshot.events {
            *by_state.entry(e.state.as_str().to_owned()).or_default() += 1;
        }
        let (mut engine, output) = Engine::restore(rules, snapshot, at);
        let held: Vec<_> = engine.state().alerts.entries().collect();
        shared.limits.hold(held.iter().map(|e| e.alert.as_ref()));
        if let Ok(window) = jiff::SignedDuration::try_from(shared.options.dedupe_window) {
            engine.set_dedupe_window(window);
        }
        let mut decider = Decider {
            engine,
            shared,
            by_state,
            last_forget: now,
            tracked: HashSet::new(),
            reasons: HashMap::new(),
            owed: 0,
        };
        for call in calls {
            decider.start_tracker(&call.event, call.phase, call.status_url, call.remote_id);
        }
        for d in &unsent {
            decider.escalate(d);
        }
        let mut step = StepRecord {
            now: Some(at),
            ..StepRecord::default()
        };
        step.add_output(&decider.engine, output);
        decider.commit_and_act(step)?;
        for p in pending {
            let at = p.received_at.max(decider.engine.now()).min(now);
            let mut step = StepRecord {
                now: Some(at),
                ..StepRecord::default()
            };
            decider.apply(
                Msg::Inbound {
                    id: p.id,
                    alerts: p.alerts,
                    encoded: Vec::new(),
                    owed: 0,
                },
                &mut step,
                at,
            );
            decider.commit_and_act(step)?;
        }
        Ok(decider)
    }

    /// Serves messages until shutdown, then decides what is still queued.
    ///
    /// A step that starts nothing (no call, no escalation, nobody waiting for
    /// its answer: the discards and deferrals of an alert storm) stays in
    /// flight while the next step is decided: the writer journals one while
    /// the engine decides the other, on two cores. The next step is handed to
    /// the writer only once the previous one is committed, so the journal
    /// keeps the steps' order, and a step that failed is retried before it.
    /// A step that starts something is waited for before anything else is
    /// decided, as every step was before: a call is made only from the state
    /// that was journaled with its decision.
    pub fn run(mut self, inbox: Receiver<Msg>) {
        let mut in_flight: Option<InFlight> = None;
        let rules = self.engine.rules_arc();
        let generation = self.shared.metrics.facts.reset(&rules);
        super::facts::spawn_refreshers(&self.shared, &rules, generation);
        loop {
            self.shared.beat();
            let stopping = self.shared.shutdown.is_set();
            let now = Timestamp::now();
            let wait = self
                .engine
                .next_timer()
                .map(|t| Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO))
                .unwrap_or(IDLE_WAKE)
                .min(IDLE_WAKE);
            let mut batch = Vec::new();
            if !stopping && in_flight.is_none() {
                match inbox.recv_timeout(wait) {
                    Ok(msg) => batch.push(msg),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            let mut alerts: usize = batch.iter().map(Msg::alerts).sum();
            while batch.len() < MAX_STEP && alerts < MAX_STEP_ALERTS {
                match inbox.try_recv() {
                    Ok(msg) => {
                        alerts += msg.alerts();
                        batch.push(msg);
                    }
                    Err(_) => break,
                }
            }
            if batch.is_empty()
                && let Some(previous) = in_flight.take()
            {
                // Nothing else to decide: wait for the step in flight. It fails
                // only once shutdown began: then nothing after it may be journaled.
                if self.land(previous).is_err() {
                    break;
                }
                continue;
            }
            let drained = stopping && batch.is_empty();
            let started = Instant::now();
            let now = Timestamp::now();
            let mut step = StepRecord {
                now: Some(now),
                ..StepRecord::default()
            };
            let timers = self.engine.advance(now);
            step.add_output(&self.engine, timers);
            if now.duration_since(self.last_forget) >= FORGET_EVERY {
                self.last_forget = now;
                if let Ok(before) = now.checked_sub(FORGET_RESOLVED_AFTER) {
                    step.alerts_forgotten = self.engine.forget_resolved(before);
                    self.shared
                        .limits
                        .forget(step.alerts_forgotten.iter().map(|f| f.fingerprint.as_str()));
                }
            }
            if self.shared.leadership.shared {
                batch.extend(self.undecided_in_journal());
            }
            let mut replies = Vec::new();
            for msg in batch {
                if let Some(reply) = self.apply(msg, &mut step, now) {
                    replies.push(reply);
                }
            }
            let metrics = &self.shared.metrics;
            metrics.decider_time(DECIDE, started.elapsed());
            // Its JSON is made here, while the step in flight is being written.
            let started = Instant::now();
            self.plan_notifications(&mut step);
            let prepared = step.prepare();
            metrics.decider_time(ENCODE, started.elapsed());
            // The step in flight is committed before this one is handed over.
            if let Some(previous) = in_flight.take()
                && self.land(previous).is_err()
            {
                answer_all(replies, &Err(super::writer::stopped_error()));
                break;
            }
            let next = match prepared {
                Ok(prepared) => self.submit(step, prepared, replies),
                Err(e) => {
                    answer_all(replies, &Err(e));
                    continue;
                }
            };
            let Some(next) = next else {
                if drained {
                    break;
                }
                continue;
            };
            // Reading undecided rows from a shared journal before each step
            // relies on the previous step being committed: no overlap there.
            if next.starts_nothing() && !self.shared.leadership.shared && !drained {
                in_flight = Some(next);
                continue;
            }
            let committed = self.land(next);
            if drained || (stopping && committed.is_err()) {
                break;
            }
        }
        if let Some(previous) = in_flight.take() {
            let _ = self.land(previous);
        }
    }

    /// Hands a decided step to the writer; `None` for an empty step (whose
    /// waiters are answered at once).
    fn submit(
        &mut self,
        step: StepRecord,
        prepared: journal::Prepared,
        replies: Vec<Reply>,
    ) -> Option<InFlight> {
        let owed = std::mem::take(&mut self.owed);
        if step.is_empty() {
            self.shared.limits.paid(owed);
            answer_all(replies, &Ok(()));
            return None;
        }
        let reasons = std::mem::take(&mut self.reasons);
        let step = Arc::new(step);
        let prepared = Arc::new(prepared);
        let answer = self.send_step(&step, &prepared);
        Some(InFlight {
            step,
            prepared,
            answer,
            replies,
            reasons,
            owed,
        })
    }

    /// Queues one attempt at journaling `step`; its answer comes on the channel.
    fn send_step(
        &self,
        step: &Arc<StepRecord>,
        prepared: &Arc<journal::Prepared>,
    ) -> Receiver<journal::Result<()>> {
        // Shared, not cloned, between attempts: a step can hold thousands of alerts.
        let record = step.clone();
        let json = prepared.clone();
        let instance = self.shared.instance.clone();
        match self
            .shared
            .leader_send(move |conn| journal::record_step(conn, &instance, &record, &json))
        {
            Ok(answer) => answer,
            Err(e) => {
                let (tx, rx) = std::sync::mpsc::sync_channel(1);
                let _ = tx.send(Err(e));
                rx
            }
        }
    }

    /// Waits until the step is journaled (retrying while the journal is
    /// down: nothing is acted on before it is recorded), then starts what it
    /// decided and answers whoever waits for it.
    fn land(&mut self, flight: InFlight) -> journal::Result<()> {
        let InFlight {
            step,
            prepared,
            mut answer,
            replies,
            reasons,
            owed,
        } = flight;
        let mut backoff = Duration::from_millis(50);
        let started = Instant::now();
        let committed = loop {
            let result = answer
                .recv()
                .unwrap_or_else(|_| Err(super::writer::stopped_error()));
            match result {
                Ok(()) => break Ok(()),
                Err(e) => {
                    tracing::error!(error = %e, "cannot journal decisions; retrying before acting on them");
                    if self.shared.shutdown.wait(backoff) {
                        break Err(e);
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    answer = self.send_step(&step, &prepared);
                }
            }
        };
        self.shared
            .metrics
            .decider_time(JOURNAL_WAIT, started.elapsed());
        if committed.is_ok() {
            // The journal's used bytes were read after this commit, before
            // its answer: the room kept for it is now in them.
            self.shared.limits.paid(owed);
            let started = Instant::now();
            self.act(&step, reasons);
            self.shared.metrics.decider_time(ACT, started.elapsed());
        }
        answer_all(replies, &committed);
        committed
    }

    /// With a shared journal, webhooks arrive through the journal, not the
    /// inbox: every instance takes them, and only this one decides. A row is
    /// marked decided in the same commit as its decisions, so reading the
    /// undecided rows before each step never yields one twice.
    fn undecided_in_journal(&self) -> Vec<Msg> {
        let read = self
            .shared
            .readers
            .get()
            .and_then(|db| journal::pending_inbound_first(&db, MAX_STEP as u32));
        match read {
            Ok(rows) => rows
                .into_iter()
                .map(|p| Msg::Inbound {
                    id: p.id,
                    alerts: p.alerts,
                    encoded: Vec::new(),
                    owed: 0,
                })
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read undecided webhooks; trying again");
                Vec::new()
            }
        }
    }

    /// Feeds one message to the engine; returns the reply channel of a request
    /// that waits for the step to be journaled.
    fn apply(&mut self, msg: Msg, step: &mut StepRecord, now: Timestamp) -> Option<Reply> {
        let e = &mut self.engine;
        let output = match msg {
            Msg::Inbound {
                id,
                alerts,
                encoded,
                owed,
            } => {
                step.inbound.push(id);
                self.owed = self.owed.saturating_add(owed);
                // Held now, whoever admitted them (another instance, with a
                // shared journal; or before a restart).
                self.shared.limits.hold(&alerts);
                // The engine keeps the alerts themselves, not a copy (copying
                // their label maps was a tenth of this thread's time in a storm).
                let fingerprints: Vec<String> =
                    alerts.iter().map(|a| a.fingerprint.clone()).collect();
                let mut kept = Vec::with_capacity(alerts.len());
                let out = e.ingest_owned_kept(alerts, now, &mut kept);
                // An alert stored as it came is journaled with the JSON its
                // webhook's thread made: reading it back from the engine,
                // encoding it again and freeing the copy was over a third of
                // this thread's samples in a storm (benches/README.md, issue 22).
                step.add_alerts_encoded(e, fingerprints, &kept, encoded);
                step.add_output_from(e, out, Some(id));
                return None;
            }
            Msg::Accepted { event, remote_id } => e.accepted(&event, remote_id, now),
            Msg::Running { event } => e.running(&event, now),
            Msg::Finished {
                event,
                outcome,
                reason,
            } => {
                if let Some(reason) = reason {
                    self.reasons.insert(event.clone(), reason);
                }
                e.finished(&event, outcome, now)
            }
            Msg::Refused { event, reason } => {
                self.reasons.insert(event.clone(), reason);
                e.refused(&event, now)
            }
            Msg::Pause { pause, reply } => {
                step.pauses_set.push(pause.clone());
                let out = e.pause(pause, now);
                step.add_output(e, out);
                return Some(Reply::Journal(reply));
            }
            Msg::Unpause {
                remediation,
                target,
                reply,
            } => {
                let out = e.unpause(&remediation, target.as_deref(), now);
                step.pauses_deleted.push((remediation, target));
                step.add_output(e, out);
                return Some(Reply::Journal(reply));
            }
            Msg::Approve { event, reply } => match e.approve(&event, now) {
                Ok(out) => {
                    step.add_output(e, out);
                    return Some(Reply::Approval(reply));
                }
                Err(refused) => {
                    let _ = reply.send(Err(ApprovalRefused::Engine(refused)));
                    return None;
                }
            },
            Msg::Reload(rules) => {
                let generation = self.shared.metrics.facts.reset(&rules);
                super::facts::spawn_refreshers(&self.shared, &rules, generation);
                e.reload(rules, now)
            }
            Msg::Wake => return None,
            Msg::Facts(refresh) => {
                self.apply_facts(refresh, step, now);
                return None;
            }
        };
        step.add_output(e, output);
        None
    }

    /// A fact source's refresh: its rows replace the relation (journaled if
    /// they changed), or its error keeps the last rows until they are stale.
    /// Health changes are logged once each, not at every refresh.
    fn apply_facts(
        &mut self,
        refresh: super::facts::Refresh,
        step: &mut StepRecord,
        now: Timestamp,
    ) {
        let board = &self.shared.metrics.facts;
        if refresh.generation != board.generation() {
            return; // read for rules that were replaced since
        }
        let relation = refresh.relation;
        let old: Vec<crate::engine::FactRow> = self
            .engine
            .fact_rows(&relation)
            .map(|(rows, _)| rows.to_vec())
            .unwrap_or_default();
        let applied = refresh.result.and_then(|rows| {
            let n = rows.len();
            let (added, removed) = crate::engine::fact_diff(&old, &rows);
            self.engine
                .set_facts(&relation, rows, now, crate::engine::Freshness::Refreshed)
                .map(|out| (out, n, added, removed))
                .map_err(|e| e.to_string())
        });
        match applied {
            Ok((out, n, added, removed)) => {
                if !added.is_empty() || !removed.is_empty() {
                    step.fact_changes.push(journal::FactChange {
                        at: now,
                        relation: relation.clone(),
                        added,
                        removed,
                    });
                }
                step.add_output(&self.engine, out);
                if board.refreshed(&relation, n, refresh.took, now) == super::facts::Change::Up {
                    tracing::info!(relation = relation.as_str(), rows = n, "fact source is up");
                }
            }
            Err(error) => {
                if board.failed(&relation, refresh.took) == super::facts::Change::Down {
                    tracing::warn!(
                        relation = relation.as_str(),
                        error = error.as_str(),
                        "fact source failed; its relation keeps its last rows until stale_after, then decisions reading it defer"
                    );
                }
            }
        }
    }

    /// Journals the step (retrying while the journal is down: nothing is acted
    /// on before it is recorded), then starts what the step decided.
    fn commit_and_act(&mut self, mut step: StepRecord) -> journal::Result<()> {
        if step.is_empty() {
            return Ok(());
        }
        self.plan_notifications(&mut step);
        // Its JSON is made here, not on the one writer thread every request waits on.
        let prepared = step.prepare()?;
        match self.submit(step, prepared, Vec::new()) {
            Some(flight) => self.land(flight),
            None => Ok(()),
        }
    }

    /// Puts the notifications this step causes into it, so that they are
    /// journaled in its transaction (DESIGN.md §9); the outbox thread sends
    /// them. Pure planning, no I/O: a receiver never delays a decision.
    fn plan_notifications(&self, step: &mut StepRecord) {
        let rules = self.engine.rules();
        if rules.notifiers.is_empty() {
            return;
        }
        let events = &step.events;
        let found = crate::notifier::plan::notices(
            rules,
            &step.decisions,
            &step.transitions,
            self.shared.options.external_url.as_deref(),
            &|id| events.get(id).map(|e| e.fired_at),
        );
        step.outbox = found
            .into_iter()
            .filter_map(|(i, n)| rules.notifiers.get(i).map(|x| (x.name.clone(), n)))
            .collect();
    }

    fn act(&mut self, step: &StepRecord, mut reasons: HashMap<String, String>) {
        let shared = self.shared.clone();
        let metrics = &shared.metrics;
        let mut unmatched = 0usize;
        for d in &step.decisions {
            metrics.decision(d.verdict.as_str(), d.remediation.as_deref());
            if let (Verdict::Fire, Some("shadow"), Some(r)) =
                (d.verdict, d.reason.as_deref(), d.remediation.as_deref())
            {
                metrics.shadow_fire(r);
            }
            // An alert no remediation matches is most of a storm and asks
            // nothing of anyone: its line is at debug level, and a step says
            // how many there were on one line (below). Writing one line each
            // was a fifth of this thread's time in a storm of 50-alert webhooks
            // (docs/decisions.md, "Decider throughput").
            if d.verdict == Verdict::Discard && d.reason.as_deref() == Some("no_match") {
                unmatched += 1;
                tracing::debug!(
                    alert = d.alert.as_str(),
                    verdict = %d.verdict,
                    reason = "no_match",
                    "decision"
                );
                continue;
            }
            // Alert IDs and targets come from senders: as `&str` fields they are
            // written quoted and escaped, so a newline in a label or an
            // Alertmanager fingerprint cannot forge a log line.
            tracing::info!(
                alert = d.alert.as_str(),
                remediation = d.remediation.as_deref().unwrap_or(""),
                target = d.target.as_deref().unwrap_or(""),
                verdict = %d.verdict,
                reason = d.reason.as_deref().unwrap_or(""),
                event = d.event.as_deref().unwrap_or(""),
                "decision"
            );
            match d.verdict {
                // Waiting for approval: called once approved (below).
                Verdict::Fire if d.reason.as_deref() == Some("awaiting_approval") => {
                    *self.by_state.entry("awaiting_approval".into()).or_default() += 1;
                }
                Verdict::Fire => {
                    if let Some(event) = &d.event {
                        *self.by_state.entry("pending".into()).or_default() += 1;
                        self.start_tracker(event, CallPhase::Queued, None, None);
                    }
                }
                Verdict::Escalate => self.escalate(d),
                _ => {}
            }
        }
        if unmatched > 0 {
            tracing::info!(
                alerts = unmatched,
                verdict = %Verdict::Discard,
                reason = "no_match",
                "decisions: alerts that match no remediation, discarded"
            );
        }
        for t in &step.transitions {
            metrics.transition(t.to.as_str());
            // A refused, failed or timed-out event says why on its own line:
            // an operator reading the log should not need `resgate events ID`.
            let reason = reasons.remove(t.event.as_str());
            tracing::info!(
                event = %t.event,
                remediation = %t.remediation,
                target = t.target.as_str(),
                from = t.from.map(|s| s.as_str()).unwrap_or(""),
                to = %t.to,
                reason = reason.as_deref().unwrap_or(""),
                "event"
            );
            if let Some(from) = t.from
                && let Some(n) = self.by_state.get_mut(from.as_str())
            {
                *n = n.saturating_sub(1);
            }
            *self.by_state.entry(t.to.as_str().to_owned()).or_default() += 1;
            if !t.to.in_flight() {
                self.tracked.remove(&t.event);
            }
            if t.from == Some(EventState::AwaitingApproval) && t.to == EventState::Pending {
                self.start_tracker(&t.event, CallPhase::Queued, None, None);
            }
        }
        metrics.set_events(self.by_state.clone());
    }

    fn start_tracker(
        &mut self,
        event: &str,
        phase: CallPhase,
        status_url: Option<String>,
        remote_id: Option<String>,
    ) {
        if !self.tracked.insert(event.to_owned()) {
            return;
        }
        let state = self.engine.state();
        let Some(ev) = state.event(event).cloned() else {
            return;
        };
        let alert = state.alerts.get(&ev.alert).map(|a| a.alert.clone());
        let rules = self.engine.rules_arc();
        let shared = self.shared.clone();
        let job = tracker::Job {
            event: ev,
            alert,
            phase,
            status_url,
            remote_id,
        };
        let spawned = std::thread::Builder::new()
            .name(format!("track-{event}"))
            .spawn(move || tracker::track(&shared, &rules, job));
        if let Err(e) = spawned {
            self.tracked.remove(event);
            tracing::error!(event, error = %e, "cannot start a tracker thread");
        }
    }

    fn escalate(&self, d: &crate::engine::Decision) {
        let rules = self.engine.rules_arc();
        let Some(alert) = self
            .engine
            .state()
            .alerts
            .get(&d.alert)
            .map(|a| a.alert.clone())
        else {
            return;
        };
        let Some(remediation) = d.remediation.as_deref().and_then(|r| rules.remediation(r)) else {
            return;
        };
        if remediation.escalate.is_none() || remediation.mode == Mode::Shadow {
            return;
        }
        let shared = self.shared.clone();
        let decision = d.clone();
        let spawned = std::thread::Builder::new()
            .name("escalate".into())
            .spawn(move || tracker::escalate(&shared, &rules, &alert, &decision));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start an escalation thread");
        }
    }
}
