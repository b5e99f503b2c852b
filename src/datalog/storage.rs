//! Storage of one relation: rows in insertion order, a hash table for dedupe,
//! and the hash indexes the join plans asked for.
//!
//! Rows are append-only between removals, which is what makes semi-naive
//! evaluation cheap: a relation's delta is just a range of row numbers.
//!
//! Dedupe and indexes share one structure, [`Chains`]: a map from the hash of
//! some columns to the newest row with that hash, and per row the next older
//! row with the same hash. Probes re-check the columns, so hash collisions cost
//! time, never correctness, and no insert allocates per tuple (the evaluator
//! inserts thousands of derived rows per evaluation). A removal moves the last
//! row into the hole: O(1) plus the chains it touches.

use std::collections::hash_map::Entry;

use rustc_hash::{FxHashMap, FxHashSet};

use super::value::Value;

const NIL: usize = usize::MAX;

/// Rows grouped by a hash, as singly linked lists through `next`.
#[derive(Debug, Clone, Default)]
struct Chains {
    heads: FxHashMap<u64, usize>,
    /// Indexed by row: the next row with the same hash, or `NIL`.
    next: Vec<usize>,
}

impl Chains {
    /// Adds `row`, which must be the next row number (`next.len()`).
    fn push(&mut self, hash: u64, row: usize) {
        let older = self.heads.insert(hash, row).unwrap_or(NIL);
        self.next.push(older);
    }

    #[inline]
    fn iter(&self, hash: u64) -> ChainIter<'_> {
        ChainIter {
            cur: self.heads.get(&hash).copied().unwrap_or(NIL),
            next: &self.next,
        }
    }

    #[inline]
    fn next_of(&self, row: usize) -> usize {
        self.next.get(row).copied().unwrap_or(NIL)
    }

    /// Makes whatever pointed at `from` point at `to` instead.
    fn repoint(&mut self, hash: u64, from: usize, to: usize) {
        match self.heads.get_mut(&hash) {
            Some(head) if *head == from => {
                if to == NIL {
                    self.heads.remove(&hash);
                } else {
                    *head = to;
                }
            }
            Some(head) => {
                let mut cur = *head;
                while cur != NIL {
                    let next = self.next_of(cur);
                    if next == from {
                        if let Some(n) = self.next.get_mut(cur) {
                            *n = to;
                        }
                        return;
                    }
                    cur = next;
                }
            }
            None => {}
        }
    }

    /// Removes `row` (hash `hash`) and moves the last row `last` (hash
    /// `last_hash`) into its number.
    fn swap_remove(&mut self, hash: u64, row: usize, last_hash: u64, last: usize) {
        self.repoint(hash, row, self.next_of(row));
        if row != last {
            self.repoint(last_hash, last, row);
            let after_last = self.next_of(last);
            if let Some(n) = self.next.get_mut(row) {
                *n = after_last;
            }
        }
        self.next.pop();
    }

    fn clear(&mut self) {
        self.heads.clear();
        self.next.clear();
    }
}

pub(crate) struct ChainIter<'a> {
    cur: usize,
    next: &'a [usize],
}

impl Iterator for ChainIter<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let row = self.cur;
        if row == NIL {
            return None;
        }
        self.cur = self.next.get(row).copied().unwrap_or(NIL);
        Some(row)
    }
}

#[derive(Debug, Clone)]
struct Index {
    mask: u64,
    chains: Chains,
}

#[derive(Debug, Clone)]
pub(crate) struct Relation {
    arity: usize,
    /// Row `i` is `data[i * arity..(i + 1) * arity]`.
    data: Vec<Value>,
    /// The evaluation round that first derived each row; 0 for given facts.
    rounds: Vec<u64>,
    /// All columns: the dedupe table.
    rows: Chains,
    indexes: Vec<Index>,
    /// For predicates with both rules and given facts: the given ones, which
    /// survive when the derived ones are cleared for recomputation.
    pub base: FxHashSet<Box<[Value]>>,
    /// The row count at the end of the last `evaluate`.
    pub evaluated_len: usize,
    /// Rows were removed, or the relation was recomputed, since the last
    /// `evaluate` ended: readers cannot continue from a delta.
    pub non_monotonic: bool,
    version: u64,
}

/// The hash of some columns, in column order. Inserts and probes must agree on
/// this exactly. One Fx-style step per value (rotate, xor, multiply): an
/// integer and a symbol with the same bits may collide, which only costs a
/// re-check.
#[inline]
pub(crate) fn key_hash(values: impl Iterator<Item = Value>) -> u64 {
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    values.fold(0u64, |h, v| {
        let x = match v {
            Value::Int(i) => i as u64,
            Value::Frac(x) => x.get().to_bits() ^ 0x6a09_e667_f3bc_c909,
            Value::Sym(s) => u64::from(s.0) ^ 0x9e37_79b9_7f4a_7c15,
        };
        (h.rotate_left(26) ^ x).wrapping_mul(K)
    })
}

#[inline]
fn masked(row: &[Value], mask: u64) -> impl Iterator<Item = Value> + '_ {
    row.iter()
        .enumerate()
        .filter(move |(i, _)| *i < 64 && mask & (1 << i) != 0)
        .map(|(_, v)| *v)
}

impl Relation {
    pub fn new(arity: usize, masks: &[u64]) -> Self {
        Relation {
            arity,
            data: Vec::new(),
            rounds: Vec::new(),
            rows: Chains::default(),
            indexes: masks
                .iter()
                .map(|&mask| Index {
                    mask,
                    chains: Chains::default(),
                })
                .collect(),
            base: FxHashSet::default(),
            evaluated_len: 0,
            non_monotonic: false,
            version: 0,
        }
    }

    /// Bumped by every change of content: callers compare versions to learn
    /// cheaply whether anything they read may have changed.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn arity(&self) -> usize {
        self.arity
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.rounds.len()
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[Value] {
        self.data
            .get(i * self.arity..(i + 1) * self.arity)
            .unwrap_or(&[])
    }

    #[inline]
    pub fn round(&self, i: usize) -> u64 {
        self.rounds.get(i).copied().unwrap_or(0)
    }

    pub fn set_round(&mut self, i: usize, round: u64) {
        if let Some(r) = self.rounds.get_mut(i) {
            *r = round;
        }
    }

    #[inline]
    pub fn find(&self, tuple: &[Value]) -> Option<usize> {
        self.rows
            .iter(key_hash(tuple.iter().copied()))
            .find(|&row| self.row(row) == tuple)
    }

    #[inline]
    pub fn contains(&self, tuple: &[Value]) -> bool {
        self.find(tuple).is_some()
    }

    /// Rows whose key columns hash to `hash` in index `index` (a superset of
    /// the matching rows), in no particular order.
    #[inline]
    pub fn bucket(&self, index: usize, hash: u64) -> ChainIter<'_> {
        match self.indexes.get(index) {
            Some(ix) => ix.chains.iter(hash),
            None => ChainIter {
                cur: NIL,
                next: &[],
            },
        }
    }

    /// Adds `tuple` (of the right arity) unless present; true if it was new.
    pub fn insert(&mut self, tuple: &[Value], round: u64) -> bool {
        if tuple.len() != self.arity {
            return false;
        }
        let row = self.len();
        // One probe of the dedupe table finds the chain and claims the slot.
        match self.rows.heads.entry(key_hash(tuple.iter().copied())) {
            Entry::Occupied(mut head) => {
                let mut cur = *head.get();
                while cur != NIL {
                    let start = cur * self.arity;
                    if self.data.get(start..start + self.arity) == Some(tuple) {
                        return false;
                    }
                    cur = self.rows.next.get(cur).copied().unwrap_or(NIL);
                }
                self.rows.next.push(head.insert(row));
            }
            Entry::Vacant(slot) => {
                slot.insert(row);
                self.rows.next.push(NIL);
            }
        }
        self.data.extend_from_slice(tuple);
        self.rounds.push(round);
        self.version += 1;
        for ix in &mut self.indexes {
            ix.chains.push(key_hash(masked(tuple, ix.mask)), row);
        }
        true
    }

    /// Removes `tuple`; true if it was present. The last row moves into its
    /// place: row order only matters for deltas, and a relation with a removal
    /// is never read through a delta.
    pub fn remove(&mut self, tuple: &[Value]) -> bool {
        let Some(row) = self.find(tuple) else {
            return false;
        };
        let last = self.len().saturating_sub(1);
        let moved: Vec<Value> = self.row(last).to_vec();
        self.rows.swap_remove(
            key_hash(tuple.iter().copied()),
            row,
            key_hash(moved.iter().copied()),
            last,
        );
        for ix in &mut self.indexes {
            ix.chains.swap_remove(
                key_hash(masked(tuple, ix.mask)),
                row,
                key_hash(masked(&moved, ix.mask)),
                last,
            );
        }
        if row != last {
            let (dst, src) = (row * self.arity, last * self.arity);
            if src + self.arity <= self.data.len() {
                self.data.copy_within(src..src + self.arity, dst);
            }
        }
        self.data.truncate(last * self.arity);
        if row < self.rounds.len() {
            self.rounds.swap_remove(row);
        }
        self.non_monotonic = true;
        self.version += 1;
        true
    }

    /// Removes every row (the base facts too).
    pub fn clear(&mut self) {
        if self.len() > 0 {
            self.non_monotonic = true;
            self.version += 1;
        }
        self.data.clear();
        self.rounds.clear();
        self.rows.clear();
        for ix in &mut self.indexes {
            ix.chains.clear();
        }
        self.base.clear();
    }

    /// Drops every derived row, keeping the base facts, before a recomputation.
    pub fn reset_to_base(&mut self) {
        let base = std::mem::take(&mut self.base);
        self.clear();
        for tuple in &base {
            self.insert(tuple, 0);
        }
        self.base = base;
        self.non_monotonic = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(r: &Relation, index: usize, hash: u64) -> Vec<usize> {
        let mut rows: Vec<usize> = r.bucket(index, hash).collect();
        rows.sort_unstable();
        rows
    }

    fn t(a: i64, b: i64) -> [Value; 2] {
        [Value::Int(a), Value::Int(b)]
    }

    #[test]
    fn insert_dedupe_index_remove() {
        let mut r = Relation::new(2, &[0b01]);
        assert!(r.insert(&t(1, 2), 0));
        assert!(!r.insert(&t(1, 2), 5));
        assert!(r.insert(&t(1, 3), 1));
        assert!(r.insert(&t(2, 3), 1));
        assert!(!r.insert(&[Value::Int(1)], 1), "wrong arity is refused");
        let h1 = key_hash([Value::Int(1)].into_iter());
        assert_eq!(bucket(&r, 0, h1), [0, 1]);
        assert!(r.remove(&t(1, 2)));
        assert!(!r.remove(&t(1, 2)));
        // The last row moved into the hole.
        assert_eq!(bucket(&r, 0, h1), [1]);
        assert_eq!(r.row(0), &t(2, 3));
        assert_eq!(r.find(&t(2, 3)), Some(0));
        assert_eq!(r.find(&t(1, 3)), Some(1));
        assert_eq!(r.round(0), 1);
        assert!(r.non_monotonic);
        assert_eq!(r.row(7), &[] as &[Value]);
    }

    proptest::proptest! {
        /// After any inserts and removals, rows, the dedupe map and every index
        /// agree with a plain set.
        #[test]
        fn storage_matches_a_set(ops in proptest::collection::vec((proptest::bool::ANY, 0i64..4, 0i64..4), 0..60)) {
            let masks = [0b01, 0b10, 0b11];
            let mut r = Relation::new(2, &masks);
            let mut model = std::collections::BTreeSet::new();
            for (insert, a, b) in ops {
                if insert {
                    proptest::prop_assert_eq!(r.insert(&t(a, b), 0), model.insert((a, b)));
                } else {
                    proptest::prop_assert_eq!(r.remove(&t(a, b)), model.remove(&(a, b)));
                }
            }
            proptest::prop_assert_eq!(r.len(), model.len());
            for &(a, b) in &model {
                let row = r.find(&t(a, b)).unwrap();
                proptest::prop_assert_eq!(r.row(row), &t(a, b));
                for (i, &mask) in masks.iter().enumerate() {
                    let hash = key_hash(masked(&t(a, b), mask));
                    proptest::prop_assert!(r.bucket(i, hash).any(|x| x == row));
                    let size: usize = model.iter().filter(|&&(x, y)| key_hash(masked(&t(x, y), mask)) == hash).count();
                    proptest::prop_assert_eq!(r.bucket(i, hash).count(), size);
                }
            }
        }
    }

    #[test]
    fn zero_arity() {
        let mut r = Relation::new(0, &[]);
        assert!(!r.contains(&[]));
        assert!(r.insert(&[], 0));
        assert!(!r.insert(&[], 0));
        assert_eq!(r.len(), 1);
        assert!(r.remove(&[]));
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn reset_keeps_base() {
        let mut r = Relation::new(2, &[]);
        r.base.insert(t(1, 1).into());
        r.insert(&t(1, 1), 0);
        r.insert(&t(2, 2), 3);
        r.reset_to_base();
        assert_eq!(r.len(), 1);
        assert!(r.contains(&t(1, 1)));
    }
}
