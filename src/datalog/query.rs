//! Running compiled queries: the `when`/`unless` bodies of remediations.
//!
//! A query reads the database as of the last `evaluate`. Its answer carries the
//! proof the decision journal keeps: the variable bindings and the positive
//! body facts that made it true, in body order.

use std::ops::ControlFlow;
use std::sync::Arc;

use rustc_hash::FxHashSet;

use super::compile::{Query, QueryId};
use super::eval::Database;
use super::exec::{Exec, Trail};
use super::value::Value;

/// A fact used by a proof: `pred(tuple...)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fact {
    pub pred: Arc<str>,
    pub tuple: Vec<Value>,
}

/// One way a query holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// The query's named variables, in order of first mention.
    pub bindings: Vec<(Arc<str>, Value)>,
    /// The positive body facts used, in body order. Negated atoms and
    /// comparisons held too, but contribute no fact.
    pub facts: Vec<Fact>,
}

impl Solution {
    pub fn get(&self, var: &str) -> Option<Value> {
        self.bindings
            .iter()
            .find(|(name, _)| &**name == var)
            .map(|(_, v)| *v)
    }
}

impl Database {
    /// The first solution of `query` with `params` bound (in the order given to
    /// `compile_query`); `None` if it does not hold, if `params` has the wrong
    /// length, or if `query` belongs to another `Compiled`.
    pub fn query(&self, query: QueryId, params: &[Value]) -> Option<Solution> {
        self.solve(query, params, Some(1)).into_iter().next()
    }

    /// Every distinct binding of the query's variables, each with the first
    /// proof found for it.
    pub fn query_all(&self, query: QueryId, params: &[Value]) -> Vec<Solution> {
        self.solve(query, params, None)
    }

    fn solve(&self, query: QueryId, params: &[Value], limit: Option<usize>) -> Vec<Solution> {
        let Some(q) = self.compiled.queries.get(query.0) else {
            return Vec::new();
        };
        if params.len() != q.n_params {
            return Vec::new();
        }
        let mut slots = vec![Value::Int(0); q.n_slots];
        for (slot, value) in slots.iter_mut().zip(params) {
            *slot = *value;
        }
        let exec = Exec {
            rels: &self.rels,
            regexes: &self.compiled.regexes,
            interner: &self.interner,
            delta: &[],
            before_round: None,
        };
        let mut seen: FxHashSet<Vec<Value>> = FxHashSet::default();
        let mut out = Vec::new();
        let _ = exec.run(
            &q.plan.steps,
            &mut slots,
            &mut Trail::new(),
            &mut |slots, trail| {
                let values: Vec<Value> = q
                    .vars
                    .iter()
                    .map(|(_, s)| slots.get(*s).copied().unwrap_or(Value::Int(0)))
                    .collect();
                if seen.insert(values.clone()) {
                    out.push(self.solution(q, values, trail));
                }
                if limit.is_some_and(|l| out.len() >= l) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        );
        out
    }

    fn solution(&self, q: &Query, values: Vec<Value>, trail: &Trail) -> Solution {
        let mut used = trail.clone();
        used.sort_by_key(|(lit, _, _)| *lit);
        let facts = used
            .into_iter()
            .filter_map(|(_, rel, row)| {
                Some(Fact {
                    pred: Arc::clone(&self.compiled.preds.get(rel)?.name),
                    tuple: self.rels.get(rel)?.row(row).to_vec(),
                })
            })
            .collect();
        Solution {
            bindings: q
                .vars
                .iter()
                .map(|(name, _)| Arc::clone(name))
                .zip(values)
                .collect(),
            facts,
        }
    }
}
