//! Running a plan: nested-loop joins over the relations, depth first.
//!
//! The executor is shared by rule evaluation, queries and `explain`; they differ
//! only in what they do with each solution (the `emit` callback) and in which
//! rows a scan may see (a delta range, or rows derived before a given round).
//! Nothing here can panic on data: every slot and row access is checked, and a
//! bad index (a bug) reads as "no match".

use std::ops::ControlFlow;

use super::intern::Interner;
use super::plan::{Access, Col, Operand, PredId, RegexSet, Step};
use super::storage::{Relation, key_hash};
use super::value::{Value, compare};

/// The positive facts a solution used: (body literal, relation, row).
pub(crate) type Trail = Vec<(usize, PredId, usize)>;

pub(crate) struct Exec<'a> {
    pub rels: &'a [Relation],
    pub regexes: &'a RegexSet,
    pub interner: &'a Interner,
    /// Per relation, the row range a delta scan reads.
    pub delta: &'a [(usize, usize)],
    /// When set, scans see only rows first derived before this round (`explain`).
    pub before_round: Option<u64>,
}

/// Room for a key on the stack; longer keys (rare) go to the heap.
const INLINE_KEY: usize = 8;

#[inline]
fn slot(slots: &[Value], s: usize) -> Value {
    slots.get(s).copied().unwrap_or(Value::Int(0))
}

#[inline]
fn value(op: &Operand, slots: &[Value]) -> Value {
    match op {
        Operand::Slot(s) => slot(slots, *s),
        Operand::Const(v) => *v,
    }
}

impl Exec<'_> {
    pub fn run(
        &self,
        steps: &[Step],
        slots: &mut [Value],
        trail: &mut Trail,
        emit: &mut dyn FnMut(&[Value], &Trail) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        let Some((step, rest)) = steps.split_first() else {
            return emit(slots, trail);
        };
        match step {
            Step::Scan {
                lit,
                rel,
                cols,
                access,
                delta,
            } => {
                let Some(r) = self.rels.get(*rel) else {
                    return ControlFlow::Continue(());
                };
                let (lo, hi) = if *delta {
                    self.delta.get(*rel).copied().unwrap_or((0, 0))
                } else {
                    (0, r.len())
                };
                let mut visit = |row: usize, slots: &mut [Value], trail: &mut Trail| {
                    if row < lo || row >= hi || !self.visible(r, row) {
                        return ControlFlow::Continue(());
                    }
                    if !bind_row(cols, r.row(row), slots) {
                        return ControlFlow::Continue(());
                    }
                    trail.push((*lit, *rel, row));
                    let flow = self.run(rest, slots, trail, emit);
                    trail.pop();
                    flow
                };
                match access {
                    Access::Exact => {
                        if let Some(row) = with_key(cols, slots, |key| r.find(key)) {
                            visit(row, slots, trail)?;
                        }
                    }
                    Access::Index(ix) if !*delta => {
                        let hash = key_hash(key_values(cols, slots));
                        for row in r.bucket(*ix, hash) {
                            visit(row, slots, trail)?;
                        }
                    }
                    _ => {
                        for row in lo..hi.min(r.len()) {
                            visit(row, slots, trail)?;
                        }
                    }
                }
                ControlFlow::Continue(())
            }
            filter => {
                if self.holds(filter, slots) {
                    self.run(rest, slots, trail, emit)
                } else {
                    ControlFlow::Continue(())
                }
            }
        }
    }

    /// Whether a non-scan step holds (an assignment always does). Kept out of
    /// line so the recursive scan path in `run` stays small.
    #[inline(never)]
    fn holds(&self, step: &Step, slots: &mut [Value]) -> bool {
        match step {
            Step::Scan { .. } => false,
            Step::Absent { rel, cols, access } => {
                let Some(r) = self.rels.get(*rel) else {
                    return true;
                };
                let matches = |row: usize| keys_match(cols, r.row(row), slots);
                let found = match access {
                    Access::Exact => with_key(cols, slots, |key| r.contains(key)),
                    Access::Index(ix) => r
                        .bucket(*ix, key_hash(key_values(cols, slots)))
                        .any(matches),
                    Access::Scan => (0..r.len()).any(matches),
                };
                !found
            }
            Step::Cmp { op, lhs, rhs } => {
                compare(*op, value(lhs, slots), value(rhs, slots), self.interner)
            }
            Step::Assign { slot, value: v } => {
                let v = value(v, slots);
                if let Some(s) = slots.get_mut(*slot) {
                    *s = v;
                }
                true
            }
            Step::Regex { operand, regex } => {
                let Some(re) = self.regexes.get(*regex) else {
                    return false;
                };
                match value(operand, slots) {
                    Value::Sym(s) => self.interner.resolve(s).is_some_and(|s| re.is_match(s)),
                    // Numbers match by their decimal text, e.g. `N =~ "[0-9]+"`.
                    Value::Int(i) => re.is_match(&i.to_string()),
                    Value::Frac(x) => re.is_match(&x.to_string()),
                }
            }
        }
    }

    fn visible(&self, r: &Relation, row: usize) -> bool {
        self.before_round.is_none_or(|limit| r.round(row) < limit)
    }
}

/// Checks a candidate row against the scan's columns, binding new variables.
#[inline]
fn bind_row(cols: &[Col], row: &[Value], slots: &mut [Value]) -> bool {
    if row.len() != cols.len() {
        return false;
    }
    for (col, v) in cols.iter().zip(row) {
        match col {
            Col::Key(op) => {
                if value(op, slots) != *v {
                    return false;
                }
            }
            Col::Bind(s) => {
                if let Some(slot) = slots.get_mut(*s) {
                    *slot = *v;
                }
            }
            Col::Same(s) => {
                if slot(slots, *s) != *v {
                    return false;
                }
            }
            Col::Any => {}
        }
    }
    true
}

#[inline]
fn keys_match(cols: &[Col], row: &[Value], slots: &[Value]) -> bool {
    row.len() == cols.len()
        && cols.iter().zip(row).all(|(col, v)| match col {
            Col::Key(op) => value(op, slots) == *v,
            _ => true,
        })
}

/// The values of the key columns an index covers (the first 64), in column
/// order, as [`Relation`] hashes them.
#[inline]
fn key_values<'a>(cols: &'a [Col], slots: &'a [Value]) -> impl Iterator<Item = Value> + 'a {
    cols.iter().take(64).filter_map(move |c| match c {
        Col::Key(op) => Some(value(op, slots)),
        _ => None,
    })
}

/// Calls `f` with the full tuple of an all-key scan.
fn with_key<T>(cols: &[Col], slots: &[Value], f: impl FnOnce(&[Value]) -> T) -> T {
    let values = cols.iter().map(|c| match c {
        Col::Key(op) => value(op, slots),
        // Exact access only happens when every column is a key.
        _ => Value::Int(0),
    });
    if cols.len() <= INLINE_KEY {
        let mut buf = [Value::Int(0); INLINE_KEY];
        for (b, v) in buf.iter_mut().zip(values) {
            *b = v;
        }
        f(buf.get(..cols.len()).unwrap_or(&[]))
    } else {
        let key: Vec<Value> = values.collect();
        f(&key)
    }
}
