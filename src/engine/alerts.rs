//! The alerts in state, packed: a little over a hundred bytes for a typical
//! Alertmanager alert instead of ~1.7 KB.
//!
//! As [`Alert`] values, with two `BTreeMap<String, String>`s (a B-tree node of
//! ~540 bytes each, however few labels) and a dozen small `String`s, 100k alerts
//! nobody remediates took ~170 MB (issue 6). Here each alert is one byte string:
//! its fingerprint, its times, then its strings, each either a reference into a
//! pool the alerts share (label names and most values, source, group key,
//! generator URL, annotations: the same few strings across thousands of alerts)
//! or, for values that are rarely shared (an `instance` per alert), the bytes
//! themselves. Pooled strings are counted and freed with their last alert.
//!
//! Whole [`Alert`]s are made back only where one is needed: deciding an alert
//! again, journaling it, a remediator call. This module does not interpret
//! alerts; the engine decides on `Alert`s and keeps the Datalog facts.

use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::HashTable;
use jiff::Timestamp;
use rustc_hash::FxBuildHasher;

use crate::source::{Alert, AlertStatus};

use super::state::AlertEntry;

/// The alerts the engine remembers, by fingerprint (iterated in its order).
#[derive(Clone, Default)]
pub struct Alerts {
    /// Packed alert → when it was last notified (the one field that changes on
    /// every repeat; keys cannot be changed in place).
    map: BTreeMap<Packed, Timestamp>,
    pool: Pool,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts")
            .field("len", &self.map.len())
            .field("pooled", &self.pool.len())
            .finish()
    }
}

/// The times of an alert in state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Times {
    pub status: AlertStatus,
    pub starts_at: Timestamp,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub resolved_at: Option<Timestamp>,
}

impl Alerts {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn contains(&self, fingerprint: &str) -> bool {
        self.map.contains_key(fingerprint.as_bytes())
    }

    /// The alert with its times, made whole.
    pub fn get(&self, fingerprint: &str) -> Option<AlertEntry> {
        let (packed, last_seen) = self.map.get_key_value(fingerprint.as_bytes())?;
        Some(self.entry(packed, *last_seen))
    }

    /// The alert as it was last notified (with the earliest start seen).
    pub fn alert(&self, fingerprint: &str) -> Option<Alert> {
        let (packed, _) = self.map.get_key_value(fingerprint.as_bytes())?;
        Some(self.unpack(packed))
    }

    /// The alert, if it is firing (not resolved).
    pub fn firing(&self, fingerprint: &str) -> Option<Alert> {
        let (packed, _) = self.map.get_key_value(fingerprint.as_bytes())?;
        (packed.header().resolved_at.is_none()).then(|| self.unpack(packed))
    }

    pub fn times(&self, fingerprint: &str) -> Option<Times> {
        let (packed, last_seen) = self.map.get_key_value(fingerprint.as_bytes())?;
        let h = packed.header();
        Some(Times {
            status: h.status,
            starts_at: h.starts_at,
            first_seen: h.first_seen,
            last_seen: *last_seen,
            resolved_at: h.resolved_at,
        })
    }

    /// Whether the alert is in state and not resolved.
    pub fn is_firing(&self, fingerprint: &str) -> bool {
        self.map
            .get_key_value(fingerprint.as_bytes())
            .is_some_and(|(p, _)| p.header().resolved_at.is_none())
    }

    /// Whether the stored alert is exactly `alert` (every field, times aside
    /// from `startsAt`, which must be equal too): then deciding it needs no copy.
    pub fn same(&self, alert: &Alert) -> bool {
        let Some((packed, _)) = self.map.get_key_value(alert.fingerprint.as_bytes()) else {
            return false;
        };
        let h = packed.header();
        h.status == alert.status
            && h.starts_at == alert.starts_at
            && h.ends_at == alert.ends_at
            && self.strings_equal(packed, alert)
    }

    /// Whether the stored alert's annotations are `annotations`.
    pub fn annotations_equal(
        &self,
        fingerprint: &str,
        annotations: &BTreeMap<String, String>,
    ) -> bool {
        let Some((packed, _)) = self.map.get_key_value(fingerprint.as_bytes()) else {
            return false;
        };
        let mut r = packed.reader();
        r.skip_to_annotations(&packed.header());
        pairs_equal(&mut r, &self.pool, annotations)
    }

    /// Stores `alert` with these times, replacing any alert of its fingerprint.
    pub fn insert(
        &mut self,
        alert: &Alert,
        first_seen: Timestamp,
        last_seen: Timestamp,
        resolved_at: Option<Timestamp>,
    ) {
        let packed = self.pool.pack(alert, first_seen, resolved_at);
        if let Some((old, _)) = self.map.remove_entry(alert.fingerprint.as_bytes()) {
            self.pool.release_all(&old);
        }
        self.map.insert(packed, last_seen);
    }

    /// Stores `alert`, first seen `now`, if no alert of its fingerprint is in
    /// state, with one search of the map (the alert is packed first, so the
    /// search can hand back the place to insert); `false`, and nothing stored,
    /// when one is. Most alerts of a large payload are new: this halves their
    /// searches of a map of every alert; a repeat pays a pack it gives back.
    pub fn insert_if_new(&mut self, alert: &Alert, now: Timestamp) -> bool {
        let packed = self.pool.pack(alert, now, None);
        match self.map.entry(packed) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(now);
                true
            }
            std::collections::btree_map::Entry::Occupied(_) => {
                // The map kept its own key and dropped ours: give back the
                // strings our copy counted in the pool, read from the buffer
                // `pack` built it in (still holding those bytes).
                let unused = Packed(self.pool.scratch.as_slice().into());
                self.pool.release_all(&unused);
                false
            }
        }
    }

    /// A repeat notification: only `last_seen` moves.
    pub fn touch(&mut self, fingerprint: &str, now: Timestamp) {
        if let Some(last_seen) = self.map.get_mut(fingerprint.as_bytes()) {
            *last_seen = now;
        }
    }

    /// Changes the times kept in the packed alert (start, status, resolve).
    pub fn set(&mut self, fingerprint: &str, change: impl FnOnce(&mut Header)) {
        let Some((packed, last_seen)) = self.map.remove_entry(fingerprint.as_bytes()) else {
            return;
        };
        let mut header = packed.header();
        change(&mut header);
        self.map.insert(packed.with_header(&header), last_seen);
    }

    /// Forgets an alert.
    pub fn remove(&mut self, fingerprint: &str) -> bool {
        match self.map.remove_entry(fingerprint.as_bytes()) {
            Some((packed, _)) => {
                self.pool.release_all(&packed);
                true
            }
            None => false,
        }
    }

    /// Every alert with its times, in fingerprint order, made whole.
    pub fn entries(&self) -> impl Iterator<Item = AlertEntry> + '_ {
        self.map.iter().map(|(p, seen)| self.entry(p, *seen))
    }

    /// (fingerprint, times) of every alert, in fingerprint order.
    pub fn iter_times(&self) -> impl Iterator<Item = (&str, Times)> + '_ {
        self.map.iter().map(|(p, last_seen)| {
            let h = p.header();
            let times = Times {
                status: h.status,
                starts_at: h.starts_at,
                first_seen: h.first_seen,
                last_seen: *last_seen,
                resolved_at: h.resolved_at,
            };
            (p.fingerprint(), times)
        })
    }

    fn entry(&self, packed: &Packed, last_seen: Timestamp) -> AlertEntry {
        let h = packed.header();
        AlertEntry {
            alert: Arc::new(self.unpack(packed)),
            first_seen: h.first_seen,
            last_seen,
            resolved_at: h.resolved_at,
        }
    }

    fn unpack(&self, packed: &Packed) -> Alert {
        let h = packed.header();
        let mut r = packed.reader();
        let pool = &self.pool;
        let source = r.text(pool).to_owned();
        let group_key = h.group_key.then(|| r.text(pool).to_owned());
        let generator_url = h.generator_url.then(|| r.text(pool).to_owned());
        let labels = r.pairs(pool);
        let annotations = r.pairs(pool);
        Alert {
            source,
            fingerprint: packed.fingerprint().to_owned(),
            status: h.status,
            labels,
            annotations,
            starts_at: h.starts_at,
            ends_at: h.ends_at,
            group_key,
            generator_url,
        }
    }

    fn strings_equal(&self, packed: &Packed, alert: &Alert) -> bool {
        let h = packed.header();
        let pool = &self.pool;
        let mut r = packed.reader();
        if r.text(pool) != alert.source {
            return false;
        }
        let optional = |r: &mut Reader<'_>, present: bool, given: &Option<String>| match given {
            Some(g) => present && r.text(pool) == g,
            None => !present,
        };
        optional(&mut r, h.group_key, &alert.group_key)
            && optional(&mut r, h.generator_url, &alert.generator_url)
            && pairs_equal(&mut r, pool, &alert.labels)
            && pairs_equal(&mut r, pool, &alert.annotations)
    }
}

fn pairs_equal(r: &mut Reader<'_>, pool: &Pool, map: &BTreeMap<String, String>) -> bool {
    let n = r.varint() as usize;
    n == map.len()
        && map
            .iter()
            .all(|(k, v)| r.text(pool) == k && r.text(pool) == v)
}

// ---------------------------------------------------------------- the packing

/// One alert as bytes:
///
/// ```text
/// varint len, fingerprint
/// status, flags, startsAt, first seen, [endsAt], [resolved at] (12 bytes each)
/// source, [group key], [generator URL]
/// varint n, n × (label name, value); varint n, n × (annotation name, value)
/// ```
///
/// Each string is a varint tag: `id << 1 | 1` for pooled string `id`, `len << 1`
/// followed by the bytes for one kept inline. Ordered (and looked up) by
/// fingerprint alone: a map holds one alert per fingerprint.
#[derive(Clone)]
struct Packed(Box<[u8]>);

/// A time: seconds (i64) and nanoseconds (i32), little-endian.
const TIME: usize = 12;
const ENDS: u8 = 1;
const RESOLVED: u8 = 2;
const GROUP: u8 = 4;
const URL: u8 = 8;

/// The times and flags of a packed alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub status: AlertStatus,
    pub starts_at: Timestamp,
    pub first_seen: Timestamp,
    pub ends_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    group_key: bool,
    generator_url: bool,
}

impl Header {
    fn flags(&self) -> u8 {
        (if self.ends_at.is_some() { ENDS } else { 0 })
            | (if self.resolved_at.is_some() {
                RESOLVED
            } else {
                0
            })
            | (if self.group_key { GROUP } else { 0 })
            | (if self.generator_url { URL } else { 0 })
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.status == AlertStatus::Resolved));
        out.push(self.flags());
        let times = [
            Some(self.starts_at),
            Some(self.first_seen),
            self.ends_at,
            self.resolved_at,
        ];
        for t in times.into_iter().flatten() {
            out.extend_from_slice(&t.as_second().to_le_bytes());
            out.extend_from_slice(&t.subsec_nanosecond().to_le_bytes());
        }
    }
}

/// How long a header with these flags is.
fn header_len(flags: u8) -> usize {
    2 + TIME * (2 + usize::from(flags & ENDS != 0) + usize::from(flags & RESOLVED != 0))
}

impl Packed {
    /// Where the fingerprint's bytes are.
    fn fingerprint_span(&self) -> (usize, usize) {
        let mut pos = 0;
        let len = varint(&self.0, &mut pos) as usize;
        (pos, (pos + len).min(self.0.len()))
    }

    fn fingerprint_bytes(&self) -> &[u8] {
        let (from, to) = self.fingerprint_span();
        self.0.get(from..to).unwrap_or_default()
    }

    fn fingerprint(&self) -> &str {
        std::str::from_utf8(self.fingerprint_bytes()).unwrap_or_default()
    }

    /// Where the header starts, and how long it is.
    fn header_span(&self) -> (usize, usize) {
        let (_, at) = self.fingerprint_span();
        let flags = self.0.get(at + 1).copied().unwrap_or_default();
        (at, header_len(flags))
    }

    fn header(&self) -> Header {
        let (at, _) = self.header_span();
        let byte = |i: usize| self.0.get(at + i).copied().unwrap_or_default();
        let flags = byte(1);
        let mut pos = at + 2;
        let mut time = |present: bool| {
            present.then(|| {
                let t = read_time(self.0.get(pos..pos + TIME).unwrap_or(&[0; TIME]));
                pos += TIME;
                t
            })
        };
        let starts_at = time(true).unwrap_or(Timestamp::UNIX_EPOCH);
        let first_seen = time(true).unwrap_or(Timestamp::UNIX_EPOCH);
        let ends_at = time(flags & ENDS != 0);
        let resolved_at = time(flags & RESOLVED != 0);
        Header {
            status: if byte(0) == 0 {
                AlertStatus::Firing
            } else {
                AlertStatus::Resolved
            },
            starts_at,
            first_seen,
            ends_at,
            resolved_at,
            group_key: flags & GROUP != 0,
            generator_url: flags & URL != 0,
        }
    }

    /// The same alert with other times (the strings, pooled ones included, are kept).
    fn with_header(self, h: &Header) -> Packed {
        let (at, len) = self.header_span();
        // Exactly the size it ends up with: no shrinking reallocation.
        let mut bytes =
            Vec::with_capacity(self.0.len().saturating_sub(len) + header_len(h.flags()));
        bytes.extend_from_slice(self.0.get(..at).unwrap_or_default());
        h.write(&mut bytes);
        bytes.extend_from_slice(self.0.get(at + len..).unwrap_or_default());
        Packed(bytes.into_boxed_slice())
    }

    fn reader(&self) -> Reader<'_> {
        let (at, len) = self.header_span();
        Reader {
            bytes: &self.0,
            pos: at + len,
        }
    }
}

/// Looked up by the fingerprint's bytes: their order is the string's, and
/// comparing them needs no UTF-8 check (a search compares a dozen keys).
impl Borrow<[u8]> for Packed {
    fn borrow(&self) -> &[u8] {
        self.fingerprint_bytes()
    }
}

impl PartialEq for Packed {
    fn eq(&self, other: &Self) -> bool {
        self.fingerprint_bytes() == other.fingerprint_bytes()
    }
}

impl Eq for Packed {}

impl PartialOrd for Packed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Packed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.fingerprint_bytes().cmp(other.fingerprint_bytes())
    }
}

fn read_time(b: &[u8]) -> Timestamp {
    let mut secs = [0u8; 8];
    let mut nanos = [0u8; 4];
    secs.copy_from_slice(&b[..8]);
    nanos.copy_from_slice(&b[8..TIME]);
    // Written from a valid Timestamp, so this cannot fail.
    Timestamp::new(i64::from_le_bytes(secs), i32::from_le_bytes(nanos))
        .unwrap_or(Timestamp::UNIX_EPOCH)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn varint(bytes: &[u8], pos: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    while let Some(&b) = bytes.get(*pos) {
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 || shift >= 63 {
            break;
        }
        shift += 7;
    }
    n
}

/// Reads a packed alert's strings in order.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> u64 {
        varint(self.bytes, &mut self.pos)
    }

    fn text<'s>(&mut self, pool: &'s Pool) -> &'s str
    where
        'a: 's,
    {
        let tag = self.varint();
        if tag & 1 == 1 {
            return pool.get((tag >> 1) as u32);
        }
        let len = (tag >> 1) as usize;
        let from = self.pos.min(self.bytes.len());
        let to = (from + len).min(self.bytes.len());
        self.pos = to;
        std::str::from_utf8(&self.bytes[from..to]).unwrap_or_default()
    }

    fn pairs(&mut self, pool: &Pool) -> BTreeMap<String, String> {
        let n = self.varint() as usize;
        (0..n)
            .map(|_| (self.text(pool).to_owned(), self.text(pool).to_owned()))
            .collect()
    }

    /// Past one string.
    fn skip(&mut self) {
        let tag = self.varint();
        if tag & 1 == 0 {
            self.pos = (self.pos + (tag >> 1) as usize).min(self.bytes.len());
        }
    }

    /// Past the source, group key, generator URL and labels.
    fn skip_to_annotations(&mut self, h: &Header) {
        self.skip();
        if h.group_key {
            self.skip();
        }
        if h.generator_url {
            self.skip();
        }
        let n = self.varint();
        for _ in 0..2 * n {
            self.skip();
        }
    }
}

// ------------------------------------------------------------------ the pool

/// Strings shared by the alerts, counted; a string goes with its last alert.
#[derive(Clone, Default)]
struct Pool {
    strings: Vec<Pooled>,
    /// Slots of `strings` free for reuse.
    free: Vec<u32>,
    /// Ids of `strings` by their text's hash.
    index: HashTable<u32>,
    /// Per label or annotation name: how often its values were found pooled
    /// (`hits`) or new (`misses`), to keep the values of names that are
    /// rarely shared (`instance`, a per-alert `description`) inline.
    names: rustc_hash::FxHashMap<u32, Sharing>,
    /// Where [`Pool::pack`] builds an alert.
    scratch: Vec<u8>,
}

#[derive(Clone, Default)]
struct Pooled {
    text: Box<str>,
    /// Alerts (and pooled names' statistics) holding it; 0: a free slot.
    refs: u32,
}

#[derive(Clone, Copy, Default)]
struct Sharing {
    hits: u32,
    misses: u32,
    seen: u32,
}

impl Sharing {
    /// Whether a new value of this name should be pooled: while its values
    /// tend to be shared, and one in 16 otherwise (so that a name whose values
    /// start repeating is noticed).
    fn pool_new(&self) -> bool {
        self.misses < 16 || self.hits >= self.misses / 4 || self.seen.is_multiple_of(16)
    }

    fn count(&mut self, hit: bool) {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        self.seen = self.seen.wrapping_add(1);
        // Recent behaviour counts more than old: halve both now and then.
        if self.hits + self.misses > 4096 {
            self.hits /= 2;
            self.misses /= 2;
        }
    }
}

fn hash(s: &str) -> u64 {
    FxBuildHasher.hash_one(s)
}

impl Pool {
    fn len(&self) -> usize {
        self.strings.len() - self.free.len()
    }

    fn get(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |p| &p.text)
    }

    fn find(&self, h: u64, s: &str) -> Option<u32> {
        let strings = &self.strings;
        self.index
            .find(h, |&id| {
                strings.get(id as usize).is_some_and(|p| *p.text == *s)
            })
            .copied()
    }

    /// The id of `s`, one more reference to it.
    fn acquire(&mut self, s: &str) -> u32 {
        let h = hash(s);
        match self.find(h, s) {
            Some(id) => {
                self.add_ref(id);
                id
            }
            None => self.add(h, s),
        }
    }

    fn add_ref(&mut self, id: u32) {
        if let Some(p) = self.strings.get_mut(id as usize) {
            p.refs += 1;
        }
    }

    /// Pools `s` (hash `h`), which is not pooled yet, with one reference.
    fn add(&mut self, h: u64, s: &str) -> u32 {
        let pooled = Pooled {
            text: s.into(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.strings.get_mut(id as usize) {
                    *slot = pooled;
                }
                id
            }
            None => {
                self.strings.push(pooled);
                (self.strings.len() - 1) as u32
            }
        };
        let strings = &self.strings;
        self.index.insert_unique(h, id, |&i| {
            hash(strings.get(i as usize).map_or("", |p| &p.text))
        });
        id
    }

    /// One reference less to `id`; the string goes with the last.
    fn release(&mut self, id: u32) {
        let Some(p) = self.strings.get_mut(id as usize) else {
            return;
        };
        p.refs = p.refs.saturating_sub(1);
        if p.refs > 0 {
            return;
        }
        let text = std::mem::take(&mut p.text);
        if let Ok(entry) = self.index.find_entry(hash(&text), |&i| i == id) {
            entry.remove();
        }
        self.names.remove(&id);
        self.free.push(id);
        if self.free.len() == self.strings.len() {
            // Nothing left: give back the tables too.
            *self = Pool::default();
        }
    }

    /// Appends `s` to `out`, pooled.
    fn put_pooled(&mut self, out: &mut Vec<u8>, s: &str) -> u32 {
        let id = self.acquire(s);
        put_varint(out, (u64::from(id) << 1) | 1);
        id
    }

    /// Appends a value of the label or annotation name `name`: pooled if it
    /// already is, or if the name's values tend to be shared; else inline.
    fn put_value(&mut self, out: &mut Vec<u8>, name: u32, s: &str) {
        let h = hash(s);
        let found = self.find(h, s);
        let sharing = self.names.entry(name).or_default();
        let pool = found.is_some() || sharing.pool_new();
        sharing.count(found.is_some());
        let id = match found {
            Some(id) => {
                self.add_ref(id);
                id
            }
            None if pool => self.add(h, s),
            None => {
                put_varint(out, (s.len() as u64) << 1);
                out.extend_from_slice(s.as_bytes());
                return;
            }
        };
        put_varint(out, (u64::from(id) << 1) | 1);
    }

    fn pack(&mut self, a: &Alert, first_seen: Timestamp, resolved_at: Option<Timestamp>) -> Packed {
        // Built in a buffer kept for the purpose, then copied into an
        // allocation of exactly its size: shrinking a larger one would leave a
        // small free chunk beside every alert, which the allocator rarely reuses.
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        put_varint(&mut out, a.fingerprint.len() as u64);
        out.extend_from_slice(a.fingerprint.as_bytes());
        let header = Header {
            status: a.status,
            starts_at: a.starts_at,
            first_seen,
            ends_at: a.ends_at,
            resolved_at,
            group_key: a.group_key.is_some(),
            generator_url: a.generator_url.is_some(),
        };
        header.write(&mut out);
        self.put_pooled(&mut out, &a.source);
        for s in a.group_key.iter().chain(&a.generator_url) {
            self.put_pooled(&mut out, s);
        }
        for map in [&a.labels, &a.annotations] {
            put_varint(&mut out, map.len() as u64);
            for (k, v) in map {
                let name = self.put_pooled(&mut out, k);
                self.put_value(&mut out, name, v);
            }
        }
        let packed = Packed(out.as_slice().into());
        self.scratch = out;
        packed
    }

    /// Releases every pooled string of a packed alert.
    fn release_all(&mut self, packed: &Packed) {
        let h = packed.header();
        let mut r = packed.reader();
        let mut ids = Vec::with_capacity(16);
        let mut tag = |r: &mut Reader<'_>| {
            let t = r.varint();
            if t & 1 == 1 {
                ids.push((t >> 1) as u32);
            } else {
                r.pos = (r.pos + (t >> 1) as usize).min(r.bytes.len());
            }
        };
        tag(&mut r);
        if h.group_key {
            tag(&mut r);
        }
        if h.generator_url {
            tag(&mut r);
        }
        for _ in 0..2 {
            let n = r.varint();
            for _ in 0..2 * n {
                tag(&mut r);
            }
        }
        for id in ids {
            self.release(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64, nanos: i32) -> Timestamp {
        Timestamp::new(secs, nanos).expect("valid time")
    }

    fn alert(fp: &str, labels: &[(&str, &str)]) -> Alert {
        Alert {
            source: "alertmanager".to_owned(),
            fingerprint: fp.to_owned(),
            status: AlertStatus::Firing,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            annotations: [("summary".to_owned(), "it broke".to_owned())].into(),
            starts_at: at(1_795_000_000, 123),
            ends_at: None,
            group_key: Some("{}:{alertname=\"X\"}".to_owned()),
            generator_url: Some("http://prometheus:9090/graph".to_owned()),
        }
    }

    /// `insert_if_new` packs before it searches: on a fingerprint already in
    /// state it must store nothing and give back every pooled string its
    /// unused copy counted (else strings only that copy held would stay).
    #[test]
    fn insert_if_new_keeps_the_stored_alert_and_the_pool_as_they_were() {
        let mut alerts = Alerts::default();
        let first = alert("fp1", &[("alertname", "X"), ("service", "api")]);
        assert!(alerts.insert_if_new(&first, at(10, 0)));
        let pooled = alerts.pool.len();
        let mut other = alert("fp1", &[("alertname", "Y"), ("team", "db")]);
        other.annotations = [("runbook".to_owned(), "new".to_owned())].into();
        assert!(!alerts.insert_if_new(&other, at(20, 0)));
        let e = alerts.get("fp1").expect("kept");
        assert_eq!(*e.alert, first);
        assert_eq!((e.first_seen, e.last_seen), (at(10, 0), at(10, 0)));
        assert_eq!(alerts.pool.len(), pooled);
        assert!(alerts.remove("fp1"));
        assert_eq!(alerts.pool.len(), 0);
    }

    #[test]
    fn an_alert_comes_back_whole_with_its_times() {
        let mut alerts = Alerts::default();
        let mut a = alert("fp1", &[("alertname", "X"), ("instance", "é 😀 \u{0}")]);
        a.ends_at = Some(at(-62_135_596_800, 0));
        a.labels.insert("long".to_owned(), "x".repeat(300));
        alerts.insert(&a, at(5, 6), at(7, 8), Some(at(9, 999_999_999)));
        let e = alerts.get("fp1").expect("kept");
        assert_eq!(*e.alert, a);
        assert_eq!(
            (e.first_seen, e.last_seen, e.resolved_at),
            (at(5, 6), at(7, 8), Some(at(9, 999_999_999)))
        );
        assert!(alerts.same(&a));
        assert!(alerts.annotations_equal("fp1", &a.annotations));
        assert!(!alerts.is_firing("fp1"));
        let mut b = a.clone();
        b.generator_url = None;
        assert!(!alerts.same(&b));
        b.annotations.clear();
        assert!(!alerts.annotations_equal("fp1", &b.annotations));
        alerts.set("fp1", |h| {
            h.resolved_at = None;
            h.starts_at = at(1, 2);
        });
        alerts.touch("fp1", at(10, 0));
        let t = alerts.times("fp1").expect("kept");
        assert_eq!(
            (t.starts_at, t.last_seen, t.resolved_at),
            (at(1, 2), at(10, 0), None)
        );
        assert!(alerts.is_firing("fp1"));
        assert_eq!(
            alerts.firing("fp1").map(|x| x.labels),
            Some(a.labels.clone())
        );
    }

    #[test]
    fn shared_strings_are_pooled_once_and_freed_with_the_last_alert() {
        let mut alerts = Alerts::default();
        for i in 0..1000 {
            let fp = format!("{i:016x}");
            let instance = format!("10.0.{}.{}:9100", i / 256, i % 256);
            let a = alert(
                &fp,
                &[
                    ("alertname", "LoadTest"),
                    ("service", ["a", "b", "c"][i % 3]),
                    ("instance", &instance),
                ],
            );
            alerts.insert(&a, a.starts_at, a.starts_at, None);
        }
        // Names, shared values, source, group, URL, annotation; unique
        // instances only while their name was still being sized up (16),
        // then one in 16.
        let pooled = alerts.pool.len();
        assert!((10..100).contains(&pooled), "{pooled} strings pooled");
        let ids: Vec<String> = alerts.iter_times().map(|(fp, _)| fp.to_owned()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "fingerprint order");
        for fp in &ids {
            assert!(alerts.remove(fp));
        }
        assert_eq!(alerts.pool.len(), 0);
        assert!(
            alerts.pool.strings.is_empty(),
            "the pool's tables are given back"
        );
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => prop::sample::select(vec!["a", "b", "api", "", "db"]).prop_map(str::to_owned),
            1 => ".{0,40}",
        ]
    }

    fn any_alert() -> impl Strategy<Value = Alert> {
        (
            (0u8..20).prop_map(|i| format!("fp{i}")),
            prop::collection::btree_map(text(), text(), 0..6),
            prop::collection::btree_map(text(), text(), 0..3),
            prop::option::of(text()),
            prop::option::of(text()),
            any::<bool>(),
            (0i64..2_000_000_000, 0i32..1_000_000_000),
            prop::option::of(0i64..2_000_000_000),
        )
            .prop_map(
                |(fp, labels, annotations, group_key, generator_url, resolved, (s, n), ends)| {
                    Alert {
                        source: if n % 2 == 0 { "am" } else { "grafana" }.to_owned(),
                        fingerprint: fp,
                        status: if resolved {
                            AlertStatus::Resolved
                        } else {
                            AlertStatus::Firing
                        },
                        labels,
                        annotations,
                        starts_at: at(s, n),
                        ends_at: ends.map(|e| at(e, 0)),
                        group_key,
                        generator_url,
                    }
                },
            )
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Box<Alert>, i64, Option<i64>),
        Remove(u8),
        Touch(u8, i64),
        Resolve(u8, i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any_alert(), 0i64..1000, prop::option::of(0i64..1000)).prop_map(|(a, s, r)| Op::Insert(Box::new(a), s, r)),
            1 => (0u8..20).prop_map(Op::Remove),
            1 => (0u8..20, 0i64..1000).prop_map(|(i, s)| Op::Touch(i, s)),
            1 => (0u8..20, 0i64..1000).prop_map(|(i, s)| Op::Resolve(i, s)),
        ]
    }

    proptest! {
        /// Against a plain map of whole alerts: every read agrees, and the
        /// pool holds exactly the strings the alerts still reference.
        #[test]
        fn packed_alerts_behave_like_a_map_of_alerts(ops in prop::collection::vec(op(), 1..80)) {
            let mut alerts = Alerts::default();
            let mut model: BTreeMap<String, AlertEntry> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(a, seen, resolved) => {
                        alerts.insert(&a, at(seen, 0), at(seen + 1, 0), resolved.map(|r| at(r, 0)));
                        model.insert(a.fingerprint.clone(), AlertEntry {
                            alert: Arc::new(*a),
                            first_seen: at(seen, 0),
                            last_seen: at(seen + 1, 0),
                            resolved_at: resolved.map(|r| at(r, 0)),
                        });
                    }
                    Op::Remove(i) => {
                        let fp = format!("fp{i}");
                        prop_assert_eq!(alerts.remove(&fp), model.remove(&fp).is_some());
                    }
                    Op::Touch(i, s) => {
                        let fp = format!("fp{i}");
                        alerts.touch(&fp, at(s, 0));
                        if let Some(e) = model.get_mut(&fp) {
                            e.last_seen = at(s, 0);
                        }
                    }
                    Op::Resolve(i, s) => {
                        let fp = format!("fp{i}");
                        alerts.set(&fp, |h| {
                            h.status = AlertStatus::Resolved;
                            h.resolved_at = Some(at(s, 0));
                        });
                        if let Some(e) = model.get_mut(&fp) {
                            Arc::make_mut(&mut e.alert).status = AlertStatus::Resolved;
                            e.resolved_at = Some(at(s, 0));
                        }
                    }
                }
                prop_assert_eq!(alerts.len(), model.len());
                for (fp, e) in &model {
                    let got = alerts.get(fp).expect("kept");
                    prop_assert_eq!(&got.alert, &e.alert);
                    prop_assert_eq!((got.first_seen, got.last_seen, got.resolved_at), (e.first_seen, e.last_seen, e.resolved_at));
                    prop_assert!(alerts.same(&e.alert));
                    prop_assert!(alerts.annotations_equal(fp, &e.alert.annotations));
                    prop_assert_eq!(alerts.is_firing(fp), e.resolved_at.is_none());
                }
                let fps: Vec<&str> = alerts.iter_times().map(|(fp, _)| fp).collect();
                let expected: Vec<&str> = model.keys().map(String::as_str).collect();
                prop_assert_eq!(fps, expected);
                // Every pooled string is referenced as often as it is counted.
                let mut refs: BTreeMap<u32, u32> = BTreeMap::new();
                for packed in alerts.map.keys() {
                    let h = packed.header();
                    let mut r = packed.reader();
                    let mut count = |r: &mut Reader<'_>| {
                        let t = r.varint();
                        if t & 1 == 1 {
                            *refs.entry((t >> 1) as u32).or_default() += 1;
                        } else {
                            r.pos += (t >> 1) as usize;
                        }
                    };
                    count(&mut r);
                    if h.group_key { count(&mut r); }
                    if h.generator_url { count(&mut r); }
                    for _ in 0..2 {
                        let n = r.varint();
                        for _ in 0..2 * n { count(&mut r); }
                    }
                }
                for (id, p) in alerts.pool.strings.iter().enumerate() {
                    prop_assert_eq!(p.refs, refs.get(&(id as u32)).copied().unwrap_or(0), "string {}", id);
                }
                prop_assert_eq!(alerts.pool.len(), refs.len());
            }
        }
    }
}
