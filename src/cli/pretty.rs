//! `simulate --format json`'s encoder: the bytes of `serde_json`'s pretty
//! printer (two-space indent, `": "`, `[]` and `{}` when empty), written
//! directly for the shapes a payload's output is made of.
//!
//! Encoding through serde was a quarter of the command's CPU time on 100k
//! alerts, most of it escaping the same strings again and again: a storm's
//! guard deferrals carry the same few derivation trees (the engine shares
//! one `Arc` tree per fact), each ~20 lines of JSON. Here a fact tree is
//! encoded once per place it sits at and copied after, strings that need no
//! escape are copied whole, and the decision time (one per batch) is
//! formatted once. Proofs other than the frequent three go through
//! `serde_json` itself, re-indented, so every byte stays serde's.

use std::sync::Arc;

use jiff::Timestamp;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::engine::{Decision, FactProof, Proof};

/// A fact tree's identity: the addresses of its shared parts (alive, and so
/// not reused, while the decisions holding them are) and its indentation.
type TreeKey = (usize, usize, usize, usize);

/// What one encoder thread keeps between the entries it encodes.
#[derive(Default)]
pub struct Encoder {
    /// Encoded fact trees, as they read at their indentation.
    trees: FxHashMap<TreeKey, Box<[u8]>>,
    /// The bytes held in `trees`.
    cached: usize,
    /// The last timestamp encoded, quoted.
    time: Option<(Timestamp, String)>,
}

/// Cached trees stop being added past this many bytes per encoder thread:
/// a run whose trees are not shared (each decision its own) would only fill
/// memory, while a storm's shared trees are a few per fact (~1 KB each).
const TREE_CACHE_BYTES: usize = 8 << 20;

const SPACES: &[u8; 64] = b"                                                                ";

fn indent(out: &mut Vec<u8>, level: usize) {
    let mut n = level.saturating_mul(2);
    while n > 0 {
        let k = n.min(SPACES.len());
        out.extend_from_slice(&SPACES[..k]);
        n -= k;
    }
}

/// A JSON string, escaped as serde_json escapes it.
pub fn string(out: &mut Vec<u8>, s: &str) {
    if plain(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Rare (a label with a quote or a control character): serde's own
        // escaping, which cannot fail into a Vec.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Whether no byte needs an escape (a control character, `"` or `\`): eight
/// bytes at a time, as almost every string of the output is plain.
fn plain(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // The word tests "has a zero byte" and "has a byte below 0x20"
    // (Bit Twiddling Hacks, "Determine if a word has a byte less than n"):
    // exact as to whether any byte is one, which is all that is asked.
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = |x: u64| x.wrapping_sub(ONES.wrapping_mul(0x20)) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for c in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let x = u64::from_ne_bytes(word);
        if (control(x)
            | zero(x ^ ONES.wrapping_mul(u64::from(b'"')))
            | zero(x ^ ONES.wrapping_mul(u64::from(b'\\'))))
            != 0
        {
            return false;
        }
    }
    chunks
        .remainder()
        .iter()
        .all(|&b| b >= 0x20 && b != b'"' && b != b'\\')
}

fn opt_string(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Any value as `serde_json::to_writer_pretty` writes it at `level`: its own
/// pretty form with every line after the first indented by the level (a
/// newline inside a string is escaped, so each raw newline is a line break).
pub fn serde_value(out: &mut Vec<u8>, level: usize, value: &impl Serialize) {
    let Ok(bytes) = serde_json::to_vec_pretty(value) else {
        out.extend_from_slice(b"null");
        return;
    };
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(line);
        if line.ends_with(b"\n") {
            indent(out, level);
        }
    }
}

/// An object or array being written; its members sit one level deeper.
pub struct Open<'o> {
    out: &'o mut Vec<u8>,
    level: usize,
    first: bool,
    close: u8,
}

impl<'o> Open<'o> {
    /// Opens an object whose closing brace sits at `level`.
    pub fn object(out: &'o mut Vec<u8>, level: usize) -> Self {
        out.push(b'{');
        Open {
            out,
            level,
            first: true,
            close: b'}',
        }
    }

    pub fn array(out: &'o mut Vec<u8>, level: usize) -> Self {
        out.push(b'[');
        Open {
            out,
            level,
            first: true,
            close: b']',
        }
    }

    fn next(&mut self) {
        let sep: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.out.extend_from_slice(sep);
        indent(self.out, self.level + 1);
        self.first = false;
    }

    /// Starts an object member: its value is written next, at [`Open::inner`].
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        self.next();
        string(self.out, key);
        self.out.extend_from_slice(b": ");
        self.out
    }

    /// Starts an array element.
    pub fn element(&mut self) -> &mut Vec<u8> {
        self.next();
        self.out
    }

    /// The level of a member's value.
    pub fn inner(&self) -> usize {
        self.level + 1
    }

    pub fn string(&mut self, key: &str, value: &str) {
        string(self.key(key), value);
    }

    pub fn strings<'s>(&mut self, key: &str, values: impl IntoIterator<Item = &'s str>) {
        let level = self.inner();
        let mut list = Open::array(self.key(key), level);
        for v in values {
            string(list.element(), v);
        }
        list.end();
    }

    /// `[[name, value], ...]`: a list of string pairs as serde writes tuples.
    pub fn pairs(&mut self, key: &str, pairs: &[(String, String)]) {
        let level = self.inner();
        let mut list = Open::array(self.key(key), level);
        for (k, v) in pairs {
            let level = list.inner();
            let mut pair = Open::array(list.element(), level);
            string(pair.element(), k);
            string(pair.element(), v);
            pair.end();
        }
        list.end();
    }

    pub fn end(self) {
        if !self.first {
            self.out.push(b'\n');
            indent(self.out, self.level);
        }
        self.out.push(self.close);
    }
}

impl Encoder {
    /// A timestamp as serde writes it (its RFC 3339 `Display`, quoted).
    fn time(&mut self, out: &mut Vec<u8>, t: Timestamp) {
        match &self.time {
            Some((last, quoted)) if *last == t => out.extend_from_slice(quoted.as_bytes()),
            _ => {
                let mut quoted = Vec::new();
                serde_value(&mut quoted, 0, &t);
                out.extend_from_slice(&quoted);
                self.time = Some((t, String::from_utf8_lossy(&quoted).into_owned()));
            }
        }
    }

    /// One decision (the derived `Serialize` of [`Decision`], field by field).
    pub fn decision(&mut self, out: &mut Vec<u8>, level: usize, d: &Decision) {
        let mut o = Open::object(out, level);
        self.time(o.key("at"), d.at);
        o.string("alert", &d.alert);
        opt_string(o.key("remediation"), d.remediation.as_deref());
        opt_string(o.key("target"), d.target.as_deref());
        o.string("verdict", d.verdict.as_str());
        opt_string(o.key("reason"), d.reason.as_deref());
        opt_string(o.key("event"), d.event.as_deref());
        let inner = o.inner();
        self.proof(o.key("proof"), inner, &d.proof);
        o.end();
    }

    /// A proof: `{"kind": ..., fields}` as serde's internally tagged enum.
    fn proof(&mut self, out: &mut Vec<u8>, level: usize, proof: &Proof) {
        match proof {
            Proof::NoMatch { labels } => {
                let mut o = Open::object(out, level);
                o.string("kind", "no_match");
                o.pairs("labels", labels);
                o.end();
            }
            Proof::Fire {
                matched,
                guards_checked,
            } => {
                let mut o = Open::object(out, level);
                o.string("kind", "fire");
                o.strings("matched", matched.iter().map(String::as_str));
                o.strings("guards_checked", guards_checked.iter().map(String::as_str));
                o.end();
            }
            Proof::Guard {
                guard,
                body,
                bindings,
                facts,
            } => {
                let mut o = Open::object(out, level);
                o.string("kind", "guard");
                o.string("guard", guard);
                o.string("body", body);
                o.pairs("bindings", bindings);
                let inner = o.inner();
                let mut list = Open::array(o.key("facts"), inner);
                for f in facts {
                    let level = list.inner();
                    self.fact_tree(list.element(), level, f);
                }
                list.end();
                o.end();
            }
            other => serde_value(out, level, other),
        }
    }

    /// A fact tree, from the cache when it was encoded at this level before.
    fn fact_tree(&mut self, out: &mut Vec<u8>, level: usize, f: &FactProof) {
        let key = (
            Arc::as_ptr(&f.fact).cast::<u8>().addr(),
            f.rule
                .as_ref()
                .map_or(0, |r| Arc::as_ptr(r).cast::<u8>().addr()),
            Arc::as_ptr(&f.from).cast::<u8>().addr(),
            level,
        );
        if let Some(bytes) = self.trees.get(&key) {
            out.extend_from_slice(bytes);
            return;
        }
        let from = out.len();
        fact(out, level, f);
        if self.cached < TREE_CACHE_BYTES
            && let Some(bytes) = out.get(from..)
        {
            self.cached += bytes.len();
            self.trees.insert(key, bytes.into());
        }
    }
}

/// `{"fact": ..., "rule": ..., "from": [...]}`, the last two left out when
/// empty (as `FactProof`'s `skip_serializing_if` says).
fn fact(out: &mut Vec<u8>, level: usize, f: &FactProof) {
    let mut o = Open::object(out, level);
    o.string("fact", &f.fact);
    if let Some(rule) = &f.rule {
        o.string("rule", rule);
    }
    if !f.from.is_empty() {
        let inner = o.inner();
        let mut list = Open::array(o.key("from"), inner);
        for g in f.from.iter() {
            let level = list.inner();
            fact(list.element(), level, g);
        }
        list.end();
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{StaleSource, Verdict};

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    /// A decision of each proof kind, with strings serde escapes (quotes,
    /// backslashes, control and bidi characters, non-ASCII) and one fact
    /// tree shared by two decisions at two depths of nesting.
    fn decisions() -> Vec<Decision> {
        let leaf = |s: &str| FactProof {
            fact: s.into(),
            rule: None,
            from: Arc::from(Vec::new()),
        };
        let tree = FactProof {
            fact: "deploying(\"api\")".into(),
            rule: Some("deploying(S) :- label(A, \"service\", S).".into()),
            from: Arc::from(vec![
                leaf("label(\"f1\", \"service\", \"api\")"),
                FactProof {
                    fact: "depends(\"a\", \"b\")".into(),
                    rule: Some("depends(X, Y) :- depends_on(X, Y).".into()),
                    from: Arc::from(vec![leaf("depends_on(\"a\", \"b\")")]),
                },
            ]),
        };
        let at = t("2026-11-18T10:16:39.999Z");
        let base = |proof: Proof| Decision {
            at,
            alert: "0000000000000001".into(),
            remediation: Some("restart".into()),
            target: Some("api \"eu\"\n\u{202e}é".into()),
            verdict: Verdict::Defer,
            reason: Some("deploying".into()),
            event: None,
            proof,
        };
        let guard = |facts: Vec<FactProof>| Proof::Guard {
            guard: "deploying".into(),
            body: "deploying($service)".into(),
            bindings: vec![("service".into(), "a\\b\t".into())],
            facts,
        };
        vec![
            Decision {
                remediation: None,
                target: None,
                verdict: Verdict::Discard,
                reason: Some("no_match".into()),
                ..base(Proof::NoMatch {
                    labels: vec![
                        ("alertname".into(), "X\u{1}".into()),
                        ("b".into(), String::new()),
                    ],
                })
            },
            base(Proof::NoMatch { labels: vec![] }),
            Decision {
                verdict: Verdict::Fire,
                reason: None,
                event: Some("ev-1".into()),
                ..base(Proof::Fire {
                    matched: strings(&["alertname=\"X\"", "severity=~\"a|b\""]),
                    guards_checked: vec![],
                })
            },
            base(guard(vec![tree.clone(), leaf("firing(\"f1\")")])),
            base(guard(vec![tree.clone()])),
            base(guard(vec![])),
            base(Proof::InFlight {
                event: "ev-2".into(),
                state: "running".into(),
                since: at,
            }),
            base(Proof::WarmingUp {
                event: "ev-3".into(),
                succeeded_at: at,
                until: t("2026-11-18T10:20:00Z"),
            }),
            base(Proof::Budget {
                attempts: 3,
                within_secs: 3600,
                events: strings(&["ev-1", "ev-2"]),
                already_escalated: true,
            }),
            base(Proof::Paused {
                scope: "restart on api".into(),
                reason: "maintenance \"window\"".into(),
                until: None,
            }),
            base(Proof::Concurrency {
                limit: 2,
                events: vec![],
            }),
            base(Proof::StaleFacts {
                guard: "when".into(),
                sources: vec![StaleSource {
                    relation: "queue_depth".into(),
                    last_refresh: Some(at),
                    stale_after_secs: 60,
                }],
            }),
            base(Proof::Error {
                message: "undefined value `x`".into(),
            }),
        ]
    }

    /// The decisions inside `levels` nested arrays, as `serde_json` writes
    /// them and as the encoder does (one encoder for all, so the second
    /// use of a shared tree at a level comes from its cache).
    fn both(levels: usize) -> (String, String) {
        let decisions = decisions();
        // Typed nesting (a `serde_json::Value` would sort the keys).
        let expected = match levels {
            1 => serde_json::to_string_pretty(&decisions),
            2 => serde_json::to_string_pretty(&[&decisions]),
            _ => serde_json::to_string_pretty(&[[&decisions]]),
        }
        .unwrap();
        let mut out = Vec::new();
        let mut opened = Vec::new();
        for level in 0..levels {
            if level > 0 {
                out.extend_from_slice(b"\n");
                indent(&mut out, level);
            }
            out.push(b'[');
            opened.push(level);
        }
        let mut encoder = Encoder::default();
        for (i, d) in decisions.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
            indent(&mut out, levels);
            encoder.decision(&mut out, levels, d);
        }
        for level in opened.into_iter().rev() {
            out.push(b'\n');
            indent(&mut out, level);
            out.push(b']');
        }
        (String::from_utf8(out).unwrap(), expected)
    }

    #[test]
    fn decisions_encode_as_serde_json_pretty_writes_them() {
        for levels in 1..=3 {
            let (ours, serde) = both(levels);
            assert_eq!(ours, serde, "at {levels} level(s) of nesting");
        }
    }

    #[test]
    fn a_shared_fact_tree_is_encoded_once_per_level() {
        let decisions = decisions();
        let mut encoder = Encoder::default();
        for level in [1, 1, 2] {
            for d in &decisions {
                encoder.decision(&mut Vec::new(), level, d);
            }
        }
        // The shared tree and the leaf beside it, at each of the two levels.
        assert_eq!(encoder.trees.len(), 4);
    }

    #[test]
    fn every_byte_that_needs_an_escape_is_found_at_every_place() {
        for b in 0u8..0x80 {
            for at in 0..17 {
                let mut bytes = "éaaaaaaaaaaaaaaaaa".as_bytes().to_vec();
                bytes[at + 2] = b;
                let needs = b < 0x20 || b == b'"' || b == b'\\';
                assert_eq!(plain(&bytes), !needs, "byte {b:#x} at {at}");
            }
        }
        assert!(plain("ü€😀 plain text, long enough for words".as_bytes()));
    }

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let all: String = (0u8..=0x7f).map(char::from).collect::<String>() + "é\u{202e}\u{7f}";
        for s in ["", "plain", "a\"b", "a\\b", "\n", &all] {
            let mut out = Vec::new();
            string(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
