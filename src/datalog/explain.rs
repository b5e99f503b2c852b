//! `explain`: the derivation tree of a fact.
//!
//! Evaluation records the round that first derived each row. A derived fact of
//! round `r` was produced from facts that existed before `r`, so searching its
//! rules for an instantiation whose positive body facts all have rounds below
//! `r` always succeeds and always terminates: rounds strictly decrease along
//! every branch, so the tree has no cycles. Negated atoms and comparisons are
//! checked against the current state; they hold there because strata are
//! complete before anything reads them.

use std::ops::ControlFlow;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::ast::Span;
use super::compile::PredKind;
use super::eval::Database;
use super::exec::{Exec, Trail};
use super::plan::{Operand, PredId};
use super::value::Value;

/// Deeper trees are cut (marked [`Origin::Truncated`]) rather than risk the stack.
const MAX_DEPTH: usize = 1000;

/// Where a fact in a derivation comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Inserted by the caller (built-in relations, facts of the engine's state).
    Given,
    /// Listed in the program as `pred(...).`
    ProgramFact { clause: usize, span: Span },
    /// Derived by the rule at `clause` (index in `Program::clauses`).
    Rule { clause: usize, span: Span },
    /// Not expanded: the tree is too deep (or, through a bug, no proof was found).
    Truncated,
}

/// A fact and how it was derived; `children` are the positive body facts of the
/// rule, in body order. Leaves are given or program facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    pub pred: Arc<str>,
    pub tuple: Vec<Value>,
    pub origin: Origin,
    pub children: Vec<Derivation>,
}

impl Derivation {
    /// The number of facts in the tree.
    pub fn size(&self) -> usize {
        1 + self.children.iter().map(Derivation::size).sum::<usize>()
    }
}

impl Database {
    /// How `pred(tuple)` holds, or `None` if it does not (as of the last `evaluate`).
    pub fn explain(&self, pred: &str, tuple: &[Value]) -> Option<Derivation> {
        self.explain_to_depth(pred, tuple, MAX_DEPTH)
    }

    /// Like [`Database::explain`], with derived facts below `max_depth` left
    /// unexpanded ([`Origin::Truncated`]). A decision's proof wants the first
    /// few levels; the whole tree of a long recursive chain costs far more than
    /// the decision itself.
    pub fn explain_to_depth(
        &self,
        pred: &str,
        tuple: &[Value],
        max_depth: usize,
    ) -> Option<Derivation> {
        let id = *self.compiled.pred_ids.get(pred)?;
        let row = self.rels.get(id)?.find(tuple)?;
        Some(self.derive(
            id,
            row,
            0,
            max_depth.min(MAX_DEPTH),
            &mut FxHashMap::default(),
        ))
    }

    fn derive(
        &self,
        rel: PredId,
        row: usize,
        depth: usize,
        max_depth: usize,
        memo: &mut FxHashMap<(PredId, usize), Derivation>,
    ) -> Derivation {
        if let Some(d) = memo.get(&(rel, row)) {
            return d.clone();
        }
        let (name, kind) = match self.compiled.preds.get(rel) {
            Some(p) => (Arc::clone(&p.name), p.kind),
            None => (Arc::from("?"), PredKind::Facts),
        };
        let (tuple, round) = match self.rels.get(rel) {
            Some(r) => (r.row(row).to_vec(), r.round(row)),
            None => (Vec::new(), 0),
        };
        let mut node = Derivation {
            pred: name,
            tuple,
            origin: Origin::Given,
            children: Vec::new(),
        };
        if kind == PredKind::Builtin {
            // Built-in relations are given by the caller; no program fact names them.
        } else if kind != PredKind::Rules || round == 0 {
            if let Some(f) = self
                .compiled
                .facts
                .iter()
                .find(|f| f.pred == rel && f.tuple == node.tuple)
            {
                node.origin = Origin::ProgramFact {
                    clause: f.clause,
                    span: f.span,
                };
            }
        } else if depth >= max_depth {
            node.origin = Origin::Truncated;
        } else {
            match self.find_rule(rel, &node.tuple, round) {
                Some((clause, span, trail)) => {
                    node.origin = Origin::Rule { clause, span };
                    node.children = trail
                        .into_iter()
                        .map(|(_, r, row)| self.derive(r, row, depth + 1, max_depth, memo))
                        .collect();
                }
                None => node.origin = Origin::Truncated,
            }
        }
        memo.insert((rel, row), node.clone());
        node
    }

    /// A rule instantiation deriving `tuple` from facts older than `round`.
    fn find_rule(&self, rel: PredId, tuple: &[Value], round: u64) -> Option<(usize, Span, Trail)> {
        let exec = Exec {
            rels: &self.rels,
            regexes: &self.compiled.regexes,
            interner: &self.interner,
            delta: &[],
            before_round: Some(round),
        };
        for &r in self.compiled.rules_by_head.get(rel)? {
            let Some(rule) = self.compiled.rules.get(r) else {
                continue;
            };
            let Some(mut slots) = unify(&rule.head_terms, tuple, rule.n_slots) else {
                continue;
            };
            let mut found = None;
            let _ = exec.run(
                &rule.explain.steps,
                &mut slots,
                &mut Trail::new(),
                &mut |_, trail| {
                    found = Some(trail.clone());
                    ControlFlow::Break(())
                },
            );
            if let Some(mut trail) = found {
                trail.sort_by_key(|(lit, _, _)| *lit);
                return Some((rule.clause, rule.span, trail));
            }
        }
        None
    }
}

/// Slots with the head's variables bound to `tuple`, if the head matches it.
fn unify(head: &[Operand], tuple: &[Value], n_slots: usize) -> Option<Vec<Value>> {
    if head.len() != tuple.len() {
        return None;
    }
    let mut slots = vec![Value::Int(0); n_slots];
    let mut set = vec![false; n_slots];
    for (term, value) in head.iter().zip(tuple) {
        match term {
            Operand::Const(c) if c != value => return None,
            Operand::Const(_) => {}
            Operand::Slot(s) => {
                let (slot, done) = (slots.get_mut(*s)?, set.get_mut(*s)?);
                if *done && *slot != *value {
                    return None;
                }
                *slot = *value;
                *done = true;
            }
        }
    }
    Some(slots)
}
