//! The engine's state as Datalog facts: the built-in relations of DESIGN.md §2.
//!
//! The database is kept in step with [`State`] incrementally: an alert arriving
//! inserts its facts, an event starting or ending flips `in_flight`. Derived
//! predicates (`deploying`, `upstream_down`, ...) depend only on state, so they
//! are derived once per change and every decision after that is a few index
//! lookups (see ANCHORS.md: this is what makes a decision cheaper than re-running
//! a whole Datalog program per alert).
//!
//! Time-dependent relations (`age`, `warming`, `succeeded`, `failed`,
//! `attempts`) are rebuilt when the clock has moved, and only if some rule or
//! guard reads them.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::datalog::{Database, Derivation, Origin, Value};
use crate::rules::{Guard, RuleSet};
use crate::source::{Alert, AlertStatus};

use super::decision::{FactProof, Proof};
use super::state::{EventState, State};

/// How many levels of derivation a decision's proof shows: enough to name the
/// alert and label behind `deploying("api")`, not a 50-hop dependency chain.
const PROOF_DEPTH: usize = 3;

const TIMED: &[&str] = &["age", "warming", "succeeded", "failed", "attempts"];

/// Cached proofs of kept facts at most; the cache is emptied when full. A storm
/// defers thousands of alerts on the same few facts (`deploying("api")`), so
/// a small cache catches nearly every repeat.
const MAX_KEPT_PROOFS: usize = 4096;

pub(super) struct Facts {
    db: Database,
    /// Facts changed since the last evaluation.
    dirty: bool,
    /// When the time-dependent relations were last rebuilt; `None`: stale.
    timed_at: Option<Timestamp>,
    /// Which time-dependent relations anyone reads.
    timed_used: Vec<&'static str>,
    /// Proofs of facts already explained, valid while the database's epoch is
    /// `proofs_epoch` (no removal or recomputation can have invalidated them).
    proofs: FxHashMap<(Arc<str>, Vec<Value>), FactProof>,
    proofs_epoch: u64,
    reads: AlertReads,
    reach: Reach,
    /// The alerts whose facts are stored (see [`Reach`]).
    reached: FxHashSet<Value>,
    /// Per query, whether it reads `$alert` (its parameter 0): the others are
    /// run without interning the alert's fingerprint.
    reads_alert: Vec<bool>,
    /// Fact relations (DESIGN.md §8) → the time of the refresh their rows
    /// came from: a proof names it next to each row it used.
    fact_times: FxHashMap<String, Timestamp>,
}

/// Which alerts' facts any rule or guard can read (see
/// [`Compiled::entity_reach`](crate::datalog::Compiled::entity_reach)). The
/// others store none at all: in a storm of alerts no rule is about (the
/// background noise of a big Alertmanager), each would otherwise cost its
/// fingerprint interned forever plus a `firing` row and a row per label read,
/// with their index entries, for nothing.
#[derive(Debug, Clone)]
struct Reach {
    all: bool,
    /// Label key → the values that pin an alert (`label(A, "alertname", "ApiDown")`).
    labels: Vec<(String, FxHashSet<String>)>,
    /// A guard reads `$alert`'s facts: alerts some remediation matches need theirs.
    matched: bool,
}

impl Reach {
    fn new(compiled: &crate::datalog::Compiled) -> Self {
        let found = compiled.entity_reach(ALERT_RELATIONS, "label");
        let text = |v: Value| compiled.interner().resolve(v.as_sym()?).map(str::to_owned);
        let mut labels: Vec<(String, FxHashSet<String>)> = Vec::new();
        let mut all = found.all;
        for (k, v) in found.labels {
            let (Some(k), Some(v)) = (text(k), text(v)) else {
                // An integer label value: no alert has it, but keep it simple.
                all = true;
                continue;
            };
            match labels.iter_mut().find(|(key, _)| *key == k) {
                Some((_, values)) => {
                    values.insert(v);
                }
                None => labels.push((k, [v].into_iter().collect())),
            }
        }
        // Guard parameters are `$alert` (0) and label values: a label value
        // used as an alert ID could be any alert.
        all |= found.params.iter().any(|&p| p != 0);
        Reach {
            all,
            labels,
            matched: found.params.contains(&0),
        }
    }
}

/// The relations keyed by alert ID (column 0).
const ALERT_RELATIONS: &[&str] = &[
    "alert",
    "firing",
    "resolved",
    "label",
    "annotation",
    "source",
    "age",
];

/// Which of an alert's facts any rule or guard can read. The others are not
/// stored: a storm of alerts with a dozen labels each, of which rules name two,
/// would otherwise spend most of an ingest filling indexes nobody probes.
#[derive(Debug, Clone)]
struct AlertReads {
    alert: bool,
    firing: bool,
    resolved: bool,
    source: bool,
    /// The label keys read; `None`: any key may be (`label(A, K, V)`).
    label: Option<FxHashSet<Value>>,
    annotation: Option<FxHashSet<Value>>,
}

impl AlertReads {
    fn new(compiled: &crate::datalog::Compiled) -> Self {
        let read = |pred| compiled.column_reads(pred, 0).is_none_or(|v| !v.is_empty());
        AlertReads {
            alert: read("alert"),
            firing: read("firing"),
            resolved: read("resolved"),
            source: read("source"),
            label: compiled.column_reads("label", 1),
            annotation: compiled.column_reads("annotation", 1),
        }
    }
}

fn put(db: &mut Database, dirty: &mut bool, pred: &str, tuple: &[Value], add: bool) {
    // The relation names and arities here are the built-ins the compiled
    // program always declares, so this cannot fail on input.
    let changed = if add {
        db.insert(pred, tuple)
    } else {
        db.remove(pred, tuple)
    };
    if changed.unwrap_or(false) {
        *dirty = true;
    }
}

/// The symbol of a key, if `keys` (`None`: all) may read it.
fn read_key(db: &mut Database, keys: Option<&FxHashSet<Value>>, key: &str) -> Option<Value> {
    match keys {
        None => Some(db.intern(key)),
        Some(keys) => db.lookup(key).filter(|k| keys.contains(k)),
    }
}

impl Facts {
    pub fn new(rules: &RuleSet) -> Self {
        Facts {
            db: Database::new(rules.program.clone()),
            dirty: true,
            timed_at: None,
            timed_used: TIMED
                .iter()
                .copied()
                .filter(|p| rules.referenced.contains(*p))
                .collect(),
            proofs: FxHashMap::default(),
            proofs_epoch: 0,
            reads: AlertReads::new(&rules.program),
            reach: Reach::new(&rules.program),
            reached: FxHashSet::default(),
            reads_alert: rules
                .remediations
                .iter()
                .flat_map(|r| r.when.iter().chain(&r.unless))
                .fold(Vec::new(), |mut v, g| {
                    let i = g.query.0;
                    if v.len() <= i {
                        v.resize(i + 1, false);
                    }
                    v[i] = rules.program.query_reads_param(g.query, 0);
                    v
                }),
            fact_times: FxHashMap::default(),
        }
    }

    /// Replaces a fact relation's rows with `rows` (checked by the caller:
    /// right arity, no NaN), inserting and removing only the difference.
    /// Returns whether the rows changed.
    pub fn replace_relation(
        &mut self,
        name: &str,
        rows: &[super::relations::FactRow],
        at: Timestamp,
    ) -> bool {
        use super::relations::FactValue;
        let new: FxHashSet<Vec<Value>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| match c {
                        FactValue::Text(s) => self.db.intern(s),
                        // NaN was refused before; a zero never stands in for it.
                        FactValue::Number(x) => Value::number(*x).unwrap_or(Value::Int(0)),
                    })
                    .collect()
            })
            .collect();
        let old: Vec<Vec<Value>> = self
            .db
            .facts(name)
            .filter(|t| !new.contains(*t))
            .map(<[Value]>::to_vec)
            .collect();
        let mut changed = false;
        for t in &old {
            changed |= self.db.remove(name, t).unwrap_or(false);
        }
        for t in &new {
            changed |= self.db.insert(name, t).unwrap_or(false);
        }
        self.dirty |= changed;
        // Proofs name the refresh time: cached ones would name the old one.
        self.proofs.clear();
        self.fact_times.insert(name.to_owned(), at);
        changed
    }

    /// `queue_depth("mailer", 1204) @ 2026-12-07T10:03:30Z` for a row of a
    /// fact relation; other facts as `fact_to_string`.
    fn fact_text(&self, pred: &str, tuple: &[Value]) -> String {
        let text = self.db.fact_to_string(pred, tuple);
        match self.fact_times.get(pred) {
            Some(at) => format!("{text} @ {}", at.round(jiff::Unit::Second).unwrap_or(*at)),
            None => text,
        }
    }

    /// Whether any rule or guard can read this alert's facts; `matched` says
    /// whether some remediation's `match` holds for it (asked only if needed).
    pub fn reaches(&self, alert: &Alert, matched: impl FnOnce() -> bool) -> bool {
        let r = &self.reach;
        r.all
            || r.labels.iter().any(|(k, values)| {
                alert
                    .labels
                    .get(k)
                    .is_some_and(|v| values.contains(v.as_str()))
            })
            || (r.matched && matched())
    }

    fn insert(&mut self, pred: &str, tuple: &[Value]) {
        // The relation names and arities here are the built-ins the compiled
        // program always declares, so this cannot fail on input.
        if self.db.insert(pred, tuple).unwrap_or(false) {
            self.dirty = true;
        }
    }

    fn remove(&mut self, pred: &str, tuple: &[Value]) {
        if self.db.remove(pred, tuple).unwrap_or(false) {
            self.dirty = true;
        }
    }

    /// Adds (or removes) the facts of an alert that anyone reads.
    fn alert_facts(&mut self, a: Value, alert: &Alert, add: bool) {
        let (db, dirty, reads) = (&mut self.db, &mut self.dirty, &self.reads);
        if reads.alert {
            put(db, dirty, "alert", &[a], add);
        }
        match alert.status {
            AlertStatus::Firing if reads.firing => put(db, dirty, "firing", &[a], add),
            AlertStatus::Resolved if reads.resolved => put(db, dirty, "resolved", &[a], add),
            AlertStatus::Firing | AlertStatus::Resolved => {}
        }
        if reads.source {
            let s = db.intern(&alert.source);
            put(db, dirty, "source", &[a, s], add);
        }
        for (k, v) in &alert.labels {
            if let Some(k) = read_key(db, reads.label.as_ref(), k) {
                let v = db.intern(v);
                put(db, dirty, "label", &[a, k, v], add);
            }
        }
        for (k, v) in &alert.annotations {
            if let Some(k) = read_key(db, reads.annotation.as_ref(), k) {
                let v = db.intern(v);
                put(db, dirty, "annotation", &[a, k, v], add);
            }
        }
    }

    /// Stores the facts of an alert if `reached` (see [`Facts::reaches`]).
    pub fn add_alert(&mut self, alert: &Alert, reached: bool) {
        if !reached {
            return;
        }
        let a = self.db.intern(&alert.fingerprint);
        self.reached.insert(a);
        self.alert_facts(a, alert, true);
        self.timed_at = None;
    }

    /// Removes the facts of an alert, if it has any; `alert` gives the alert as
    /// they were added (asked only then: it is made from the packed state).
    pub fn remove_alert(&mut self, fingerprint: &str, alert: impl FnOnce() -> Option<Alert>) {
        let Some(a) = self.db.lookup(fingerprint) else {
            return;
        };
        if self.reached.remove(&a) {
            if let Some(alert) = alert() {
                self.alert_facts(a, &alert, false);
            }
            self.timed_at = None;
        }
    }

    pub fn set_in_flight(&mut self, remediation: &str, target: &str, on: bool) {
        let tuple = [self.db.intern(remediation), self.db.intern(target)];
        if on {
            self.insert("in_flight", &tuple);
        } else {
            self.remove("in_flight", &tuple);
        }
    }

    /// Events changed: the time-dependent relations must be rebuilt.
    pub fn time_changed(&mut self) {
        self.timed_at = None;
    }

    /// Brings every relation up to `now` and re-derives what changed.
    pub fn refresh(&mut self, now: Timestamp, state: &State, rules: &RuleSet) {
        if !self.timed_used.is_empty() && self.timed_at != Some(now) {
            self.rebuild_timed(now, state, rules);
            self.timed_at = Some(now);
        }
        if self.dirty {
            self.db.evaluate();
            self.dirty = false;
        }
    }

    fn rebuild_timed(&mut self, now: Timestamp, state: &State, rules: &RuleSet) {
        for pred in self.timed_used.clone() {
            if self.db.clear(pred).is_ok() {
                self.dirty = true;
            }
        }
        let secs = |since: Timestamp| Value::Int(now.duration_since(since).as_secs().max(0));
        let used = |p: &str| self.timed_used.contains(&p);
        let mut facts: Vec<(&str, Vec<Value>)> = Vec::new();
        if used("age") {
            for (fp, times) in state.alerts.iter_times() {
                if times.resolved_at.is_some() {
                    continue;
                }
                let Some(a) = self.db.lookup(fp) else {
                    continue;
                };
                if self.reached.contains(&a) {
                    facts.push(("age", vec![a, secs(times.starts_at)]));
                }
            }
        }
        let (warming, succeeded, failed) = (used("warming"), used("succeeded"), used("failed"));
        for e in state
            .events
            .iter()
            .filter(|_| warming || succeeded || failed)
        {
            let warm =
                warming && e.state == EventState::Warming && e.warm_until.is_some_and(|u| now < u);
            let success = e.succeeded_at.filter(|_| succeeded);
            let failure = failed
                && matches!(
                    e.state,
                    EventState::Failed | EventState::TimedOut | EventState::Refused
                );
            // Most events of a long run are none of these: intern nothing for them.
            if !warm && success.is_none() && !failure {
                continue;
            }
            let (r, t) = (self.db.intern(&e.remediation), self.db.intern(&e.target));
            if warm {
                facts.push(("warming", vec![r, t]));
            }
            if let Some(at) = success {
                facts.push(("succeeded", vec![r, t, secs(at)]));
            }
            if failure {
                let ended = e.history.last().map_or(e.fired_at, |(at, _)| *at);
                facts.push(("failed", vec![r, t, secs(ended)]));
            }
        }
        if used("attempts") {
            let mut counts: std::collections::BTreeMap<(&str, &str), i64> = Default::default();
            for e in &state.events {
                let within = rules
                    .remediation(&e.remediation)
                    .and_then(|r| SignedDuration::try_from(r.budget.within).ok())
                    .unwrap_or(SignedDuration::ZERO);
                if now.duration_since(e.fired_at) < within {
                    *counts.entry((&e.remediation, &e.target)).or_default() += 1;
                }
            }
            for ((r, t), n) in counts {
                let tuple = vec![self.db.intern(r), self.db.intern(t), Value::Int(n)];
                facts.push(("attempts", tuple));
            }
        }
        for (pred, tuple) in facts {
            self.insert(pred, &tuple);
        }
    }

    /// Runs a guard for an alert: `Some(proof)` when it holds. A guard naming a
    /// label the alert lacks is false.
    /// With `expand`, each fact of the proof carries its derivation tree; without,
    /// only the facts themselves (cheap: for decisions nobody will see).
    pub fn guard(
        &mut self,
        guard: &Guard,
        alert: &Alert,
        rules: &RuleSet,
        expand: bool,
    ) -> Option<Proof> {
        let mut params = Vec::with_capacity(guard.params.len());
        // A guard that never reads `$alert` gets a value nothing matches, and
        // the fingerprint is not interned (the interner keeps every string).
        let alert_id = if self.reads_alert.get(guard.query.0).copied().unwrap_or(true) {
            self.db.intern(&alert.fingerprint)
        } else {
            Value::Sym(crate::datalog::Sym(u32::MAX))
        };
        params.push(alert_id);
        for label in guard.params.iter().skip(1) {
            let value = alert.labels.get(label)?;
            params.push(self.db.intern(value));
        }
        let solution = self.db.query(guard.query, &params)?;
        let bindings = solution
            .bindings
            .iter()
            .map(|(name, v)| (name.to_string(), self.db.resolve(*v).to_string()))
            .collect();
        if expand && self.proofs_epoch != self.db.epoch() {
            self.proofs.clear();
            self.proofs_epoch = self.db.epoch();
        }
        let facts = solution
            .facts
            .into_iter()
            .map(|f| {
                if expand {
                    self.kept_proof(f.pred, f.tuple, rules)
                } else {
                    FactProof {
                        fact: self.fact_text(&f.pred, &f.tuple).into(),
                        rule: None,
                        from: Arc::default(),
                    }
                }
            })
            .collect();
        Some(Proof::Guard {
            guard: guard.name.clone(),
            body: guard.text.clone(),
            bindings,
            facts,
        })
    }

    /// A number that changes whenever any of `predicates` changes.
    pub fn version_of(&self, predicates: &[String]) -> u64 {
        predicates
            .iter()
            .map(|p| self.db.version(p))
            .fold(0u64, u64::wrapping_add)
    }

    /// A number that changes whenever anything a remediation's guards read
    /// changes (as of the last refresh).
    pub fn guards_version(&self, remediation: &crate::rules::Remediation) -> u64 {
        remediation
            .when
            .iter()
            .chain(&remediation.unless)
            .flat_map(|g| &g.reads)
            .map(|p| self.db.version(p))
            .fold(0u64, u64::wrapping_add)
    }

    /// The proof of a fact, from the cache when this epoch already built it.
    fn kept_proof(&mut self, pred: Arc<str>, tuple: Vec<Value>, rules: &RuleSet) -> FactProof {
        let key = (pred, tuple);
        if let Some(proof) = self.proofs.get(&key) {
            return proof.clone();
        }
        let proof = self.fact_proof(&key.0, &key.1, rules);
        if self.proofs.len() >= MAX_KEPT_PROOFS {
            self.proofs.clear();
        }
        self.proofs.insert(key, proof.clone());
        proof
    }

    fn fact_proof(&self, pred: &str, tuple: &[Value], rules: &RuleSet) -> FactProof {
        match self.db.explain_to_depth(pred, tuple, PROOF_DEPTH) {
            Some(d) => self.derivation_proof(&d, rules),
            None => FactProof {
                fact: self.fact_text(pred, tuple).into(),
                rule: None,
                from: Arc::default(),
            },
        }
    }

    fn derivation_proof(&self, d: &Derivation, rules: &RuleSet) -> FactProof {
        let fact = self.fact_text(&d.pred, &d.tuple).into();
        let rule = match &d.origin {
            Origin::Rule { clause, .. } => {
                rules.clauses.get(*clause).map(|c| Arc::from(c.as_str()))
            }
            Origin::Given | Origin::ProgramFact { .. } | Origin::Truncated => None,
        };
        let from = d
            .children
            .iter()
            .map(|c| self.derivation_proof(c, rules))
            .collect();
        FactProof { fact, rule, from }
    }
}
