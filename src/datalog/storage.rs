//! Storage of one relation: rows in insertion order, a hash set for dedupe, and
//! the hash indexes the join plans asked for.
//!
//! Rows are append-only between removals, which is what makes semi-naive
//! evaluation cheap: a relation's delta is just a range of row numbers. An index
//! maps the hash of a row's key columns to its row numbers (in no particular order);
//! probes re-check the columns, so hash collisions cost time, never correctness.
//! A removal moves the last row into the hole, so it costs O(1) plus the
//! touched index buckets.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashMap, FxHashSet, FxHasher};

use super::value::Value;

#[derive(Debug, Clone)]
pub(crate) struct Index {
    mask: u64,
    buckets: FxHashMap<u64, Vec<usize>>,
}

#[derive(Debug, Clone)]
pub(crate) struct Relation {
    arity: usize,
    /// Row `i` is `data[i * arity..(i + 1) * arity]`.
    data: Vec<Value>,
    /// The evaluation round that first derived each row; 0 for given facts.
    rounds: Vec<u64>,
    rows: FxHashMap<Box<[Value]>, usize>,
    indexes: Vec<Index>,
    /// For predicates with both rules and given facts: the given ones, which
    /// survive when the derived ones are cleared for recomputation.
    pub base: FxHashSet<Box<[Value]>>,
    /// The row count at the end of the last `evaluate`.
    pub evaluated_len: usize,
    /// Rows were removed, or the relation was recomputed, since the last
    /// `evaluate` ended: readers cannot continue from a delta.
    pub non_monotonic: bool,
}

/// The hash of the columns of `mask`, in column order. Inserts and probes must
/// agree on this exactly.
pub(crate) fn key_hash(values: impl Iterator<Item = Value>) -> u64 {
    let mut h = FxHasher::default();
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

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
            rows: FxHashMap::default(),
            indexes: masks
                .iter()
                .map(|&mask| Index {
                    mask,
                    buckets: FxHashMap::default(),
                })
                .collect(),
            base: FxHashSet::default(),
            evaluated_len: 0,
            non_monotonic: false,
        }
    }

    pub fn arity(&self) -> usize {
        self.arity
    }

    pub fn len(&self) -> usize {
        self.rounds.len()
    }

    pub fn row(&self, i: usize) -> &[Value] {
        self.data
            .get(i * self.arity..(i + 1) * self.arity)
            .unwrap_or(&[])
    }

    pub fn round(&self, i: usize) -> u64 {
        self.rounds.get(i).copied().unwrap_or(0)
    }

    pub fn set_round(&mut self, i: usize, round: u64) {
        if let Some(r) = self.rounds.get_mut(i) {
            *r = round;
        }
    }

    pub fn find(&self, tuple: &[Value]) -> Option<usize> {
        self.rows.get(tuple).copied()
    }

    pub fn contains(&self, tuple: &[Value]) -> bool {
        self.rows.contains_key(tuple)
    }

    /// Row numbers whose key columns hash to `hash` in index `index`, in no particular order.
    pub fn bucket(&self, index: usize, hash: u64) -> &[usize] {
        self.indexes
            .get(index)
            .and_then(|ix| ix.buckets.get(&hash))
            .map_or(&[], Vec::as_slice)
    }

    /// Adds `tuple` (of the right arity) unless present; true if it was new.
    pub fn insert(&mut self, tuple: &[Value], round: u64) -> bool {
        if tuple.len() != self.arity || self.rows.contains_key(tuple) {
            return false;
        }
        let row = self.len();
        self.data.extend_from_slice(tuple);
        self.rounds.push(round);
        self.rows.insert(tuple.into(), row);
        for ix in &mut self.indexes {
            ix.buckets
                .entry(key_hash(masked(tuple, ix.mask)))
                .or_default()
                .push(row);
        }
        true
    }

    /// Removes `tuple`; true if it was present. The last row moves into its
    /// place (O(1) plus the touched index buckets): row order only matters for
    /// deltas, and a relation with a removal is never read through a delta.
    pub fn remove(&mut self, tuple: &[Value]) -> bool {
        let Some(row) = self.rows.remove(tuple) else {
            return false;
        };
        let last = self.len().saturating_sub(1);
        let removed: Vec<Value> = tuple.to_vec();
        let moved: Vec<Value> = self.row(last).to_vec();
        for ix in &mut self.indexes {
            let hash = key_hash(masked(&removed, ix.mask));
            if let Some(bucket) = ix.buckets.get_mut(&hash) {
                if let Some(at) = bucket.iter().position(|&r| r == row) {
                    bucket.swap_remove(at);
                }
                if bucket.is_empty() {
                    ix.buckets.remove(&hash);
                }
            }
            if row != last
                && let Some(bucket) = ix.buckets.get_mut(&key_hash(masked(&moved, ix.mask)))
                && let Some(at) = bucket.iter().position(|&r| r == last)
            {
                bucket[at] = row;
            }
        }
        if row != last {
            if let Some(slot) = self.rows.get_mut(moved.as_slice()) {
                *slot = row;
            }
            let (dst, src) = (row * self.arity, last * self.arity);
            self.data.copy_within(src..src + self.arity, dst);
        }
        self.data.truncate(last * self.arity);
        if row < self.rounds.len() {
            self.rounds.swap_remove(row);
        }
        self.non_monotonic = true;
        true
    }

    /// Removes every row (the base facts too).
    pub fn clear(&mut self) {
        if self.len() > 0 {
            self.non_monotonic = true;
        }
        self.data.clear();
        self.rounds.clear();
        self.rows.clear();
        for ix in &mut self.indexes {
            ix.buckets.clear();
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
        assert_eq!(r.bucket(0, h1), &[0, 1]);
        assert!(r.remove(&t(1, 2)));
        assert!(!r.remove(&t(1, 2)));
        // The last row moved into the hole.
        assert_eq!(r.bucket(0, h1), &[1]);
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
                    proptest::prop_assert!(r.bucket(i, hash).contains(&row));
                    let size: usize = model.iter().filter(|&&(x, y)| key_hash(masked(&t(x, y), mask)) == hash).count();
                    proptest::prop_assert_eq!(r.bucket(i, hash).len(), size);
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
