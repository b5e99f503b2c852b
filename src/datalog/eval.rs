//! The [`Database`]: facts of one [`Compiled`] program, and bottom-up evaluation
//! of its rules.
//!
//! Evaluation is semi-naive, stratum by stratum (a stratum is one group of
//! mutually recursive predicates, in dependency order). It is incremental across
//! calls to [`Database::evaluate`]:
//!
//! - a stratum none of whose inputs changed is left alone;
//! - if its inputs only grew (insertions) and it reads none of the grown ones
//!   under `not`, evaluation continues from the new rows as the first delta;
//! - otherwise (a removal, a recomputed input, or growth of a negated input)
//!   its derived relations are cleared back to their given facts and recomputed,
//!   which in turn makes every stratum that reads them recompute.
//!
//! Each derived row remembers the round that first derived it, so
//! [`Database::explain`](super::explain) can rebuild a well-founded proof.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::compile::{Compiled, PredKind, Rule, Stratum};
use super::error::DbError;
use super::exec::{Exec, Trail};
use super::intern::Interner;
use super::plan::{Operand, PredId};
use super::storage::Relation;
use super::value::{Resolved, Value, resolve};

/// Facts for one compiled program, and everything derived from them.
#[derive(Debug, Clone)]
pub struct Database {
    pub(crate) compiled: Arc<Compiled>,
    pub(crate) interner: Interner,
    pub(crate) rels: Vec<Relation>,
    /// The last evaluation round used; rounds only grow.
    round: u64,
    /// False until the first `evaluate`: then every stratum is computed.
    evaluated: bool,
    /// Bumped by every change that can invalidate a derivation (see [`Database::epoch`]).
    epoch: u64,
}

impl Database {
    /// An empty database holding the program's facts, not yet evaluated.
    pub fn new(compiled: Arc<Compiled>) -> Database {
        let rels = compiled
            .preds
            .iter()
            .enumerate()
            .map(|(id, p)| {
                Relation::new(
                    p.arity,
                    compiled.indexes.get(id).map_or(&[][..], Vec::as_slice),
                )
            })
            .collect();
        let mut db = Database {
            interner: compiled.interner.clone(),
            rels,
            round: 0,
            evaluated: false,
            epoch: 0,
            compiled,
        };
        let compiled = Arc::clone(&db.compiled);
        for fact in &compiled.facts {
            db.insert_base(fact.pred, &fact.tuple);
        }
        db
    }

    /// A number that changes whenever a derivation found by
    /// [`explain`](Self::explain) may stop being valid: a fact removed or
    /// cleared, a stratum recomputed, a derived fact becoming a given one.
    /// Insertions that only add rows (and incremental evaluation, which only
    /// adds derived rows with later rounds) keep every existing derivation
    /// valid, so callers may cache proofs for as long as it stays the same.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.compiled
    }

    /// The value of a string, interning it if new.
    pub fn intern(&mut self, s: &str) -> Value {
        Value::Sym(self.interner.intern(s))
    }

    /// The value of a string if any fact or constant uses it. A string never
    /// interned cannot be in any relation.
    pub fn lookup(&self, s: &str) -> Option<Value> {
        self.interner.lookup(s).map(Value::Sym)
    }

    /// A value for display: an integer or the string itself.
    pub fn resolve(&self, value: Value) -> Resolved<'_> {
        resolve(value, &self.interner)
    }

    pub fn interner(&self) -> &Interner {
        &self.interner
    }

    /// `pred("a", 1)`, strings quoted, for proofs and messages.
    pub fn fact_to_string(&self, pred: &str, tuple: &[Value]) -> String {
        let args: Vec<String> = tuple
            .iter()
            .map(|v| match self.resolve(*v) {
                Resolved::Str(s) => format!("{s:?}"),
                other => other.to_string(),
            })
            .collect();
        format!("{pred}({})", args.join(", "))
    }

    fn insertable(&self, pred: &str, arity: usize) -> Result<PredId, DbError> {
        let Some(&id) = self.compiled.pred_ids.get(pred) else {
            return Err(DbError::UnknownPredicate {
                name: pred.to_owned(),
            });
        };
        let info = self
            .compiled
            .preds
            .get(id)
            .ok_or_else(|| DbError::UnknownPredicate {
                name: pred.to_owned(),
            })?;
        if !info.insertable() {
            return Err(DbError::Derived {
                name: pred.to_owned(),
            });
        }
        if info.arity != arity {
            return Err(DbError::ArityMismatch {
                name: pred.to_owned(),
                expected: info.arity,
                got: arity,
            });
        }
        Ok(id)
    }

    fn insert_base(&mut self, id: PredId, tuple: &[Value]) -> bool {
        let derived = self
            .compiled
            .preds
            .get(id)
            .is_some_and(|p| p.kind == PredKind::Rules);
        let Some(rel) = self.rels.get_mut(id) else {
            return false;
        };
        if derived {
            if !rel.base.insert(tuple.into()) {
                return false;
            }
            // Already derived: it is a given fact from now on.
            if let Some(row) = rel.find(tuple) {
                rel.set_round(row, 0);
                self.epoch += 1;
                return true;
            }
        }
        rel.insert(tuple, 0)
    }

    /// Adds a fact to a built-in relation or a predicate that has facts; true if
    /// it was new. Derived relations are stale until [`evaluate`](Self::evaluate).
    pub fn insert(&mut self, pred: &str, tuple: &[Value]) -> Result<bool, DbError> {
        let id = self.insertable(pred, tuple.len())?;
        Ok(self.insert_base(id, tuple))
    }

    /// Removes a given fact; true if it was present. A fact of a predicate that
    /// also has rules stays if the rules still derive it (after `evaluate`).
    pub fn remove(&mut self, pred: &str, tuple: &[Value]) -> Result<bool, DbError> {
        let id = self.insertable(pred, tuple.len())?;
        let derived = self
            .compiled
            .preds
            .get(id)
            .is_some_and(|p| p.kind == PredKind::Rules);
        let Some(rel) = self.rels.get_mut(id) else {
            return Ok(false);
        };
        if derived {
            let was = rel.base.remove(tuple);
            if was {
                // The row may still be derivable; recomputation will tell.
                rel.non_monotonic = true;
                self.epoch += 1;
            }
            Ok(was)
        } else {
            let was = rel.remove(tuple);
            if was {
                self.epoch += 1;
            }
            Ok(was)
        }
    }

    /// Removes every given fact of `pred`.
    pub fn clear(&mut self, pred: &str) -> Result<(), DbError> {
        let arity = self.compiled.predicate(pred).map_or(0, |p| p.arity);
        let id = self.insertable(pred, arity)?;
        let derived = self
            .compiled
            .preds
            .get(id)
            .is_some_and(|p| p.kind == PredKind::Rules);
        if let Some(rel) = self.rels.get_mut(id) {
            if !derived {
                if rel.len() > 0 {
                    self.epoch += 1;
                }
                rel.clear();
            } else if !rel.base.is_empty() {
                rel.base.clear();
                rel.non_monotonic = true;
                self.epoch += 1;
            }
        }
        Ok(())
    }

    /// Whether `pred` holds for `tuple` now (derived facts as of the last
    /// `evaluate`). False for unknown predicates.
    /// A number that changes whenever `pred`'s facts change (0 for an unknown
    /// predicate). Derived relations change only in [`Database::evaluate`].
    pub fn version(&self, pred: &str) -> u64 {
        self.compiled
            .pred_ids
            .get(pred)
            .and_then(|&id| self.rels.get(id))
            .map_or(0, Relation::version)
    }

    pub fn contains(&self, pred: &str, tuple: &[Value]) -> bool {
        self.rel(pred).is_some_and(|r| r.contains(tuple))
    }

    /// Every tuple of `pred`, in storage order (insertion order until a removal);
    /// empty for unknown predicates.
    pub fn facts(&self, pred: &str) -> impl Iterator<Item = &[Value]> + '_ {
        let rel = self.rel(pred);
        (0..rel.map_or(0, Relation::len)).filter_map(move |i| rel.map(|r| r.row(i)))
    }

    pub(crate) fn rel(&self, pred: &str) -> Option<&Relation> {
        self.compiled
            .pred_ids
            .get(pred)
            .and_then(|&id| self.rels.get(id))
    }

    /// Brings every derived relation up to date with the facts.
    pub fn evaluate(&mut self) {
        let compiled = Arc::clone(&self.compiled);
        let mut delta = vec![(0, 0); self.rels.len()];
        for stratum in &compiled.strata {
            let len = |p: &PredId| self.rels.get(*p).map_or(0, Relation::len);
            let grown = |p: &PredId| self.rels.get(*p).is_some_and(|r| r.len() > r.evaluated_len);
            let reset = |p: &PredId| self.rels.get(*p).is_some_and(|r| r.non_monotonic);
            let recompute = !self.evaluated
                || stratum.reads_pos.iter().any(reset)
                || stratum.reads_neg.iter().any(|p| reset(p) || grown(p))
                || stratum.preds.iter().any(reset);
            if recompute {
                self.epoch += 1;
                for &p in &stratum.preds {
                    if let Some(rel) = self.rels.get_mut(p) {
                        rel.reset_to_base();
                    }
                }
                self.run_stratum(&compiled, stratum, false, &mut delta);
            } else if stratum.reads_pos.iter().any(grown) {
                for d in delta.iter_mut() {
                    *d = (0, 0);
                }
                for &p in &stratum.reads_pos {
                    if let (Some(d), Some(rel)) = (delta.get_mut(p), self.rels.get(p)) {
                        *d = (rel.evaluated_len.min(len(&p)), len(&p));
                    }
                }
                self.run_stratum(&compiled, stratum, true, &mut delta);
            }
        }
        for rel in &mut self.rels {
            rel.evaluated_len = rel.len();
            rel.non_monotonic = false;
        }
        self.evaluated = true;
    }

    /// Runs one stratum to its fixpoint. The first round uses the full plans
    /// (not `incremental`) or the delta plans over the deltas already in
    /// `delta`; later rounds use the delta plans over the rows the previous
    /// round added to the stratum's own relations.
    fn run_stratum(
        &mut self,
        compiled: &Compiled,
        stratum: &Stratum,
        incremental: bool,
        delta: &mut [(usize, usize)],
    ) {
        let rules: Vec<&Rule> = stratum
            .rules
            .iter()
            .filter_map(|&r| compiled.rules.get(r))
            .collect();
        // Without a rule reading its own stratum, one round reaches the fixpoint.
        let recursive = stratum.reads_pos.iter().any(|p| stratum.preds.contains(p));
        let n_slots = rules.iter().map(|r| r.n_slots).max().unwrap_or(0);
        let mut slots = vec![Value::Int(0); n_slots];
        let mut trail = Trail::new();
        // Head tuples of one round, flat, and which rule (head, count) made them.
        let mut out: Vec<Value> = Vec::new();
        let mut batches: Vec<(PredId, usize)> = Vec::new();
        let mut first = true;
        loop {
            out.clear();
            batches.clear();
            {
                let exec = Exec {
                    rels: &self.rels,
                    regexes: &compiled.regexes,
                    interner: &self.interner,
                    delta,
                    before_round: None,
                };
                for rule in &rules {
                    let mut count = 0usize;
                    // Duplicates (of known rows or within the round) are
                    // dropped on insert, which checks anyway.
                    let mut emit = |slots: &[Value], _: &Trail| {
                        out.extend(rule.head_terms.iter().map(|t| match t {
                            Operand::Slot(s) => slots.get(*s).copied().unwrap_or(Value::Int(0)),
                            Operand::Const(v) => *v,
                        }));
                        count += 1;
                        ControlFlow::Continue(())
                    };
                    if first && !incremental {
                        let _ = exec.run(&rule.full.steps, &mut slots, &mut trail, &mut emit);
                    } else {
                        for (rel, plan) in &rule.deltas {
                            if delta.get(*rel).is_some_and(|(lo, hi)| lo < hi) {
                                let _ = exec.run(&plan.steps, &mut slots, &mut trail, &mut emit);
                            }
                        }
                    }
                    if count > 0 {
                        batches.push((rule.head, count));
                    }
                }
            }
            // The rows the stratum's relations had before this round's additions.
            for d in delta.iter_mut() {
                *d = (0, 0);
            }
            self.round += 1;
            let mut any_new = false;
            for &p in &stratum.preds {
                let len = self.rels.get(p).map_or(0, Relation::len);
                if let Some(d) = delta.get_mut(p) {
                    *d = (len, len);
                }
            }
            let mut at = 0;
            for &(head, count) in &batches {
                let Some(rel) = self.rels.get_mut(head) else {
                    return; // unreachable: heads are relations
                };
                let arity = rel.arity();
                if arity == 0 {
                    any_new |= rel.insert(&[], self.round);
                    continue;
                }
                let end = at + count * arity;
                for tuple in out.get(at..end).unwrap_or(&[]).chunks_exact(arity) {
                    any_new |= rel.insert(tuple, self.round);
                }
                at = end;
            }
            if !any_new || !recursive {
                return;
            }
            for &p in &stratum.preds {
                let len = self.rels.get(p).map_or(0, Relation::len);
                if let Some(d) = delta.get_mut(p) {
                    d.1 = len;
                }
            }
            first = false;
        }
    }
}
