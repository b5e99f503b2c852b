//! Deferred decisions, indexed so that a change re-decides only what it may free.
//!
//! Every deferred (alert, remediation) is kept with its reason and the version of
//! what the remediation's guards read when it was decided. Guard deferrals are
//! also grouped by remediation: when alerts come or go, a group whose guard
//! inputs did not change is skipped whole, instead of looking at every deferred
//! alert on every ingest (a storm defers thousands). Resolving an alert is a
//! range query, not a scan.
//!
//! This module only keeps the books; which deferrals to re-decide and what the
//! new verdict is stays with the engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use hashbrown::hash_map::EntryRef;
use rustc_hash::FxBuildHasher;

/// Defer reasons that are not guards: only events, timers and pauses end them.
pub(super) const NOT_GUARDS: &[&str] =
    &["warming_up", "paused", "concurrency", "awaiting_approval"];

/// A version no guard input can have: the next re-evaluation decides it again
/// (deferrals restored from a snapshot).
pub(super) const STALE: u64 = u64::MAX;

/// Why an (alert, remediation) waits, and the version of what its guards read
/// when that was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Deferral {
    pub reason: Arc<str>,
    pub version: u64,
}

/// The guard-deferred alerts of one remediation.
#[derive(Debug, Clone, Default)]
struct GuardGroup {
    alerts: FxStrings,
    /// The version every alert of the group was decided at, or `None` when they
    /// differ (then each is compared on its own).
    common: Option<u64>,
}

/// One deferral to decide again: (alert fingerprint, remediation index, reason).
pub(super) type Pending = (Arc<str>, usize, Arc<str>);

#[derive(Debug, Clone, Default)]
pub(super) struct Deferrals {
    /// Alert → its deferrals by remediation index, ascending. Keyed by the
    /// alert alone so that lookups take a `&str` (no key to allocate on each
    /// decision) and an alert's deferrals sit together; hashed, because
    /// fingerprints often share long prefixes and a tree compares them all
    /// the way down.
    all: ByAlert,
    /// Remediation index → its guard deferrals.
    guards: BTreeMap<usize, GuardGroup>,
    /// Every reason recorded so far, each kept once: the few guard names and
    /// fixed reasons, shared by every deferral (a storm defers 100k alerts
    /// for the same two or three reasons; a string each was an allocation
    /// per deferral and per re-decision listed).
    reasons: Vec<Arc<str>>,
}

fn is_guard(reason: &str) -> bool {
    !NOT_GUARDS.contains(&reason)
}

// hashbrown's maps rather than std's (the same tables): their `entry_ref` and
// `get_or_insert_with` find or add a `&str` key with one hash and probe, and
// allocate the key only when it is new (a storm defers every alert). An
// alert's key is one shared string for both maps.
type ByAlert = hashbrown::HashMap<Arc<str>, Vec<(usize, Deferral)>, FxBuildHasher>;
type FxStrings = hashbrown::HashSet<Arc<str>, FxBuildHasher>;

fn get<'a>(all: &'a ByAlert, fp: &str, r: usize) -> Option<&'a Deferral> {
    let list = all.get(fp)?;
    let i = list.binary_search_by_key(&r, |(r, _)| *r).ok()?;
    list.get(i).map(|(_, d)| d)
}

impl Deferrals {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.all.values().map(Vec::len).sum()
    }

    /// Room for `additional` more deferred alerts without a rehash. The map
    /// of every deferred alert rehashes each key as it doubles, and a key is
    /// a fingerprint behind a pointer: growing one alert at a time through a
    /// storm's tens of thousands of deferrals cost ~2.6 % of `simulate`'s
    /// CPU time (perf, 100k alerts). Hash tables size by powers of two, so
    /// room for a whole batch usually ends at the size growth would reach.
    pub fn reserve(&mut self, additional: usize) {
        self.all.reserve(additional);
    }

    /// `reason`, shared.
    fn reason(&mut self, reason: &str) -> Arc<str> {
        if let Some(known) = self.reasons.iter().find(|r| &***r == reason) {
            return known.clone();
        }
        let new: Arc<str> = reason.into();
        self.reasons.push(new.clone());
        new
    }

    /// Records (or replaces) the deferral of `fp` by remediation `r`.
    pub fn insert(&mut self, fp: &str, r: usize, reason: &str, version: u64) {
        let shared = self.reason(reason);
        let deferral = Deferral {
            reason: shared,
            version,
        };
        let key = match self.all.entry_ref(fp) {
            EntryRef::Vacant(v) => {
                let key: Arc<str> = fp.into();
                v.insert_with_key(key.clone(), vec![(r, deferral)]);
                key
            }
            EntryRef::Occupied(o) => {
                let key = o.key().clone();
                let list = o.into_mut();
                match list.binary_search_by_key(&r, |(r, _)| *r) {
                    Err(i) => list.insert(i, (r, deferral)),
                    Ok(i) => {
                        let Some((_, old)) = list.get_mut(i) else {
                            return;
                        };
                        if &*old.reason == reason && old.version == version {
                            return;
                        }
                        let was_guard = is_guard(&old.reason);
                        *old = deferral;
                        if was_guard && !is_guard(reason) {
                            self.leave_group(fp, r);
                            return;
                        }
                    }
                }
                key
            }
        };
        if is_guard(reason) {
            let group = self.guards.entry(r).or_default();
            if group.alerts.is_empty() {
                group.common = Some(version);
            } else if group.common != Some(version) {
                group.common = None;
            }
            group.alerts.get_or_insert_with(fp, |_| key);
        }
    }

    /// Forgets the deferral of `fp` by `r`, if any.
    pub fn remove(&mut self, fp: &str, r: usize) {
        let Some(list) = self.all.get_mut(fp) else {
            return;
        };
        let Ok(i) = list.binary_search_by_key(&r, |(r, _)| *r) else {
            return;
        };
        let (_, old) = list.remove(i);
        if list.is_empty() {
            self.all.remove(fp);
        }
        if is_guard(&old.reason) {
            self.leave_group(fp, r);
        }
    }

    /// Forgets every deferral of the alert `fp` (it resolved).
    pub fn remove_alert(&mut self, fp: &str) {
        for (r, old) in self.all.remove(fp).unwrap_or_default() {
            if is_guard(&old.reason) {
                self.leave_group(fp, r);
            }
        }
    }

    fn leave_group(&mut self, fp: &str, r: usize) {
        if let Some(group) = self.guards.get_mut(&r) {
            group.alerts.remove(fp);
            if group.alerts.is_empty() {
                self.guards.remove(&r);
            }
        }
    }

    /// Every deferral, in (alert, remediation) order.
    pub fn pending_all(&self) -> Vec<Pending> {
        self.sorted()
            .into_iter()
            .map(|(fp, r, d)| (fp.clone(), r, d.reason.clone()))
            .collect()
    }

    /// The guard deferrals whose guard inputs changed since they were decided,
    /// in (alert, remediation) order. `current(r)` is the version of what
    /// remediation `r`'s guards read now; `None` (an unknown remediation) means
    /// decide again.
    pub fn pending_guards(&mut self, current: impl Fn(usize) -> Option<u64>) -> Vec<Pending> {
        let mut out = Vec::new();
        for (&r, group) in &mut self.guards {
            let now = current(r);
            if now.is_some() && group.common == now {
                continue;
            }
            // The one version every alert was decided at, if they agree
            // (no set of versions: a storm's group holds every alert).
            let mut seen: Option<Option<u64>> = None;
            for fp in &group.alerts {
                let Some(d) = get(&self.all, fp, r) else {
                    continue;
                };
                seen = match seen {
                    None => Some(Some(d.version)),
                    Some(v) if v == Some(d.version) => Some(v),
                    Some(_) => Some(None),
                };
                if now.is_none_or(|v| v != d.version) {
                    out.push((fp.clone(), r, d.reason.clone()));
                }
            }
            // Having looked at each, the group may turn out uniform again.
            group.common = seen.flatten();
        }
        out.sort_unstable_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    }

    /// Every deferral: (alert, remediation index, deferral), in that order.
    /// Sorted here, not kept sorted: the maps are hashed because every
    /// decision probes them, while a full listing is rare (a state change
    /// that re-decides everything, a snapshot) and costs far more anyway.
    pub fn sorted(&self) -> Vec<(&Arc<str>, usize, &Deferral)> {
        let mut alerts: Vec<_> = self.all.iter().collect();
        alerts.sort_unstable_by(|a, b| a.0.cmp(b.0));
        alerts
            .into_iter()
            .flat_map(|(fp, list)| list.iter().map(move |(r, d)| (fp, *r, d)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(p: &[Pending]) -> Vec<(&str, usize)> {
        p.iter().map(|(fp, r, _)| (&**fp, *r)).collect()
    }

    #[test]
    fn guard_groups_unchanged_inputs_are_skipped() {
        let mut d = Deferrals::default();
        d.insert("a", 0, "deploying", 5);
        d.insert("b", 0, "deploying", 5);
        d.insert("c", 1, "upstream", 7);
        assert!(d.pending_guards(|r| Some([5, 7][r])).is_empty());
        let p = d.pending_guards(|r| Some([6, 7][r]));
        assert_eq!(names(&p), [("a", 0), ("b", 0)]);
        assert_eq!(&*p[0].2, "deploying");
    }

    #[test]
    fn non_guard_reasons_wait_for_pending_all() {
        let mut d = Deferrals::default();
        for reason in NOT_GUARDS {
            d.insert(reason, 0, reason, 1);
        }
        assert!(d.pending_guards(|_| Some(2)).is_empty());
        assert_eq!(d.pending_all().len(), NOT_GUARDS.len());
    }

    #[test]
    fn mixed_versions_compare_each_alert() {
        let mut d = Deferrals::default();
        d.insert("a", 0, "g", 1);
        d.insert("b", 0, "g", 2);
        assert_eq!(names(&d.pending_guards(|_| Some(2))), [("a", 0)]);
        // "a" decided again at 2: the group is uniform and skipped at 2.
        d.insert("a", 0, "g", 2);
        assert!(d.pending_guards(|_| Some(2)).is_empty());
        assert_eq!(d.guards.get(&0).and_then(|g| g.common), Some(2));
    }

    #[test]
    fn stale_and_unknown_remediations_are_always_pending() {
        let mut d = Deferrals::default();
        d.insert("a", 0, "g", STALE);
        d.insert("b", 3, "g", 4);
        assert_eq!(
            names(&d.pending_guards(|r| (r == 0).then_some(5))),
            [("a", 0), ("b", 3)]
        );
    }

    #[test]
    fn remove_alert_takes_every_remediation_and_only_that_alert() {
        let mut d = Deferrals::default();
        d.insert("a", 0, "g", 1);
        d.insert("a", 2, "paused", 1);
        d.insert("ab", 0, "g", 1);
        d.insert("b", 1, "g", 1);
        d.remove_alert("a");
        assert_eq!(names(&d.pending_all()), [("ab", 0), ("b", 1)]);
        assert_eq!(names(&d.pending_guards(|_| Some(9))), [("ab", 0), ("b", 1)]);
        d.remove_alert("ab");
        d.remove("b", 1);
        assert_eq!(d.len(), 0);
        assert!(d.guards.is_empty());
    }

    #[test]
    fn reason_changes_move_between_guard_and_other() {
        let mut d = Deferrals::default();
        d.insert("a", 0, "g", 1);
        d.insert("a", 0, "concurrency", 1);
        assert!(d.pending_guards(|_| Some(2)).is_empty());
        assert_eq!(&*d.pending_all()[0].2, "concurrency");
        d.insert("a", 0, "g2", 1);
        assert_eq!(&*d.pending_guards(|_| Some(2))[0].2, "g2");
    }

    #[test]
    fn pending_is_in_alert_then_remediation_order() {
        let mut d = Deferrals::default();
        d.insert("b", 0, "g", 1);
        d.insert("a", 1, "g", 1);
        d.insert("a", 0, "g", 1);
        assert_eq!(
            names(&d.pending_guards(|_| Some(2))),
            [("a", 0), ("a", 1), ("b", 0)]
        );
        assert_eq!(names(&d.pending_all()), [("a", 0), ("a", 1), ("b", 0)]);
    }
}
