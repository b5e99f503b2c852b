//! Runs a timeline through the engine on a virtual clock, with scripted fake
//! remediators standing in for Rundeck & co. Nothing sleeps: time is data.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::engine::{
    Decision, Engine, EventState, Freshness, Outcome, Output, Pause, Transition, Verdict,
};
use crate::rules::RuleSet;
use crate::source::Alert;

use super::input::Resolver;
use super::schema::{FakeOutcome, StateDef};

/// A scripted remediator: accepts at once, works for `takes`, then ends `then`.
#[derive(Debug, Clone, Copy)]
pub struct Fake {
    pub takes: SignedDuration,
    pub then: FakeOutcome,
}

impl Default for Fake {
    /// An unscripted remediator succeeds after a minute.
    fn default() -> Self {
        Fake {
            takes: SignedDuration::from_mins(1),
            then: FakeOutcome::Succeeded,
        }
    }
}

/// What happens at one moment of a timeline.
#[derive(Debug, Clone)]
pub enum Action {
    Alerts(Vec<Alert>),
    Pause(Pause),
    Unpause {
        remediation: String,
        target: Option<String>,
    },
    /// An operator approves a `mode: approve` event.
    Approve(String),
    /// A fact relation's rows are replaced (checked against the rules by
    /// [`super::input::fact_rows`]).
    Facts(String, Vec<crate::engine::FactRow>),
    /// A fact relation's source stops answering.
    Stale(String),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub at: SignedDuration,
    pub action: Action,
}

/// Everything that happened, in order.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub decisions: Vec<Decision>,
    pub transitions: Vec<Transition>,
    /// Every alert delivered to the engine (state first, then the timeline's
    /// payloads), with the moment it arrived: what the sender said, before
    /// dedupe. Timeline pictures draw firing spans and notification ticks from it.
    pub notifications: Vec<Notification>,
    /// Where the virtual clock stopped; `None` until a timeline has run.
    pub end: Option<Timestamp>,
    /// Decisions and transitions interleaved as they happened (for printing).
    pub log: Vec<Entry>,
}

/// One alert as delivered at one moment (firing or resolved).
#[derive(Debug, Clone)]
pub struct Notification {
    pub at: Timestamp,
    pub alert: Alert,
}

#[derive(Debug, Clone)]
pub enum Entry {
    Decision(Decision),
    Transition(Transition),
}

/// Picks the fake for one fire from its remediation, target and moment
/// (backtests play each fire as the journal recorded it).
pub type Script = Box<dyn Fn(&str, &str, Timestamp) -> Fake>;

pub struct Runner {
    engine: Engine,
    fakes: BTreeMap<String, Fake>,
    /// When set, decides every fire's fake instead of `fakes`.
    script: Option<Script>,
    /// Told after each step how many steps are done (a progress bar).
    progress: Option<Box<dyn FnMut(usize)>>,
    /// (when, sequence) → (event, outcome): sequence keeps same-time order
    /// stable. A map, not a list sorted at every step: a payload of 100k
    /// fires schedules 100k ends.
    scheduled: BTreeMap<(Timestamp, u64), (String, Outcome)>,
    seq: u64,
    trace: Trace,
}

impl Runner {
    pub fn new(rules: Arc<RuleSet>, start: Timestamp, fakes: BTreeMap<String, Fake>) -> Self {
        Runner {
            engine: Engine::new(rules, start),
            fakes,
            script: None,
            progress: None,
            scheduled: BTreeMap::new(),
            seq: 0,
            trace: Trace::default(),
        }
    }

    /// Sets up the state a test starts from: alerts already firing, pauses.
    pub fn with_state(
        mut self,
        resolver: &Resolver<'_>,
        state: &StateDef,
        start: Timestamp,
    ) -> Result<Self, String> {
        // Facts first: the alerts already firing are decided with them.
        for (name, rows) in &state.facts {
            super::input::fact_rows(resolver.rules, name, rows)?;
            let out = self
                .engine
                .set_facts(name, rows.clone(), start, Freshness::Scripted)
                .map_err(|e| e.to_string())?;
            self.handle(out);
        }
        for r in &state.alerts {
            let alerts = resolver.alert_ref(r, start)?;
            self.notified(&alerts, start);
            let out = self.engine.ingest_owned(alerts, start);
            self.handle(out);
        }
        for p in &state.pauses {
            let out = self.engine.pause(super::input::pause(p, start)?, start);
            self.handle(out);
        }
        Ok(self)
    }

    /// Plays every fire with the fake `script` picks.
    pub fn with_script(mut self, script: Script) -> Self {
        self.script = Some(script);
        self
    }

    /// Calls `progress` after each step with the number of steps done.
    pub fn with_progress(mut self, progress: Box<dyn FnMut(usize)>) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Runs `steps` (in `at` order) from `start`, then lets time run to `until`.
    pub fn run(mut self, start: Timestamp, steps: Vec<Step>, until: SignedDuration) -> Trace {
        self.play(start, steps, until);
        self.trace
    }

    /// [`Runner::run`] without ending: the runner can be asked more afterwards.
    pub fn play(&mut self, start: Timestamp, mut steps: Vec<Step>, until: SignedDuration) {
        steps.sort_by_key(|s| s.at);
        for (done, step) in steps.into_iter().enumerate() {
            if let Some(progress) = &mut self.progress {
                progress(done);
            }
            let now = start.saturating_add(step.at).unwrap_or(start);
            self.run_until(now);
            let out = match step.action {
                Action::Alerts(alerts) => {
                    self.notified(&alerts, now);
                    self.engine.ingest_owned(alerts, now)
                }
                Action::Pause(p) => self.engine.pause(p, now),
                Action::Unpause {
                    remediation,
                    target,
                } => self.engine.unpause(&remediation, target.as_deref(), now),
                // Approving what does not await approval changes nothing, as
                // the API answers 409 and nothing happens.
                Action::Approve(event) => self.engine.approve(&event, now).unwrap_or_default(),
                // Checked against the rules when the steps were read.
                Action::Facts(name, rows) => self
                    .engine
                    .set_facts(&name, rows, now, Freshness::Scripted)
                    .unwrap_or_default(),
                Action::Stale(name) => self.engine.mark_stale(&name, now).unwrap_or_default(),
            };
            self.handle(out);
        }
        let end = start.saturating_add(until).unwrap_or(start);
        self.run_until(end);
        let out = self.engine.advance(end);
        self.handle(out);
        self.trace.end = Some(end);
    }

    /// What has happened so far.
    pub fn into_trace(self) -> Trace {
        self.trace
    }

    /// Delivers `alerts` at `at` (after letting time run to it) and returns the
    /// decisions that made, with those of anything it set off.
    pub fn deliver(&mut self, alerts: &[Alert], at: Timestamp) -> Vec<Decision> {
        self.run_until(at);
        let before = self.trace.decisions.len();
        self.notified(alerts, at);
        let out = self.engine.ingest(alerts, at);
        self.handle(out);
        self.trace.decisions[before..].to_vec()
    }

    fn notified(&mut self, alerts: &[Alert], at: Timestamp) {
        self.trace
            .notifications
            .extend(alerts.iter().map(|a| Notification {
                at,
                alert: a.clone(),
            }));
    }

    /// Lets time run to `now`: the fake remediators' results and the engine's own
    /// timers (warm-ups ending, pauses expiring) happen in time order, so a fire
    /// made by a timer is answered by its fake at the moment it was made.
    fn run_until(&mut self, now: Timestamp) {
        loop {
            let fake = self
                .scheduled
                .first_key_value()
                .map(|((t, _), _)| *t)
                .filter(|t| *t <= now);
            let timer = self.engine.next_timer().filter(|t| *t <= now);
            match (fake, timer) {
                // Work that ends at the same moment as a timer ends first.
                (Some(f), t) if t.is_none_or(|t| f <= t) => {
                    if let Some(((at, _), (event, outcome))) = self.scheduled.pop_first() {
                        let out = self.engine.finished(&event, outcome, at);
                        self.handle(out);
                    }
                }
                (_, Some(t)) => {
                    let out = self.engine.advance(t);
                    self.handle(out);
                }
                _ => break,
            }
        }
    }

    /// Records an engine output and plays the fake remediators for its fires.
    fn handle(&mut self, out: Output) {
        let mut queue = vec![out];
        while let Some(out) = queue.pop() {
            // Calls the remediators get: every fire, except one waiting for its
            // approval, which is called when approved.
            let mut calls: Vec<(String, String, Option<String>, Timestamp)> = Vec::new();
            // Transitions happened before the decisions they triggered were made.
            for t in out.transitions {
                if t.from == Some(EventState::AwaitingApproval) && t.to == EventState::Pending {
                    calls.push((
                        t.event.clone(),
                        t.remediation.clone(),
                        Some(t.target.clone()),
                        t.at,
                    ));
                }
                self.trace.transitions.push(t.clone());
                self.trace.log.push(Entry::Transition(t));
            }
            for d in out.decisions {
                self.trace.decisions.push(d.clone());
                self.trace.log.push(Entry::Decision(d.clone()));
                if let (Verdict::Fire, Some(event), Some(remediation)) =
                    (d.verdict, &d.event, &d.remediation)
                    && d.reason.as_deref() != Some("awaiting_approval")
                {
                    calls.push((event.clone(), remediation.clone(), d.target.clone(), d.at));
                }
            }
            for (event, remediation, target, now) in calls {
                queue.push(self.call(&event, &remediation, target.as_deref(), now));
            }
        }
    }

    /// The fake remediator takes the call: accepts (or refuses) at once and
    /// schedules the end of the work. Returns what that changed at once.
    fn call(
        &mut self,
        event: &str,
        remediation: &str,
        target: Option<&str>,
        now: Timestamp,
    ) -> Output {
        let fake = match &self.script {
            Some(script) => script(remediation, target.unwrap_or(""), now),
            None => self.fake_for(remediation),
        };
        if fake.then == FakeOutcome::NeverAccepts {
            return self.engine.refused(event, now);
        }
        if fake.then == FakeOutcome::NoAnswer {
            // As serve does with an unknown outcome: nothing is reported until
            // the event's deadline (the call + `poll.timeout`, or the untracked
            // hold; an approved event is called at its approval), whatever
            // `takes` says; then it has timed out.
            let called = self
                .engine
                .state()
                .event(event)
                .map_or(now, |e| e.called_at());
            let due = called
                .saturating_add(self.no_answer_hold(remediation))
                .unwrap_or(called)
                .max(now);
            self.seq += 1;
            self.scheduled
                .insert((due, self.seq), (event.to_owned(), Outcome::TimedOut));
            return Output::default();
        }
        let mut accepted = self
            .engine
            .accepted(event, Some(format!("fake-{}", self.seq)), now);
        accepted.append(self.engine.running(event, now));
        let outcome = match fake.then {
            FakeOutcome::Failed => Outcome::Failed,
            FakeOutcome::TimedOut => Outcome::TimedOut,
            FakeOutcome::Succeeded | FakeOutcome::NeverAccepts | FakeOutcome::NoAnswer => {
                Outcome::Succeeded
            }
        };
        let due = now.saturating_add(fake.takes).unwrap_or(now);
        self.seq += 1;
        self.scheduled
            .insert((due, self.seq), (event.to_owned(), outcome));
        accepted
    }

    /// How long `serve` waits on a call with no answer before the event times
    /// out: the remediator's `poll.timeout`, or the hold of an untracked one.
    fn no_answer_hold(&self, remediation: &str) -> SignedDuration {
        let rules = self.engine.rules();
        let hold = rules
            .remediation(remediation)
            .and_then(|r| rules.remediators.get(r.remediator))
            .and_then(|r| r.tracking.as_ref())
            .map_or(crate::remediate::UNTRACKED_HOLD, |t| t.poll_timeout);
        SignedDuration::try_from(hold).unwrap_or(SignedDuration::MAX)
    }

    fn fake_for(&self, remediation: &str) -> Fake {
        let rules = self.engine.rules();
        rules
            .remediation(remediation)
            .and_then(|r| rules.remediators.get(r.remediator))
            .and_then(|r| self.fakes.get(&r.name))
            .copied()
            .unwrap_or_default()
    }
}
