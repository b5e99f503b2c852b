//! Which remediations can apply to an alert, without scanning them all.
//!
//! Most `match` blocks pin `alertname` (or another label) to one value. Indexing
//! remediations by such an equality lets a decision look at a handful of
//! candidates instead of every remediation; the matchers are still checked.

use rustc_hash::FxHashMap;

use crate::rules::Remediation;
use crate::source::Alert;

#[derive(Debug, Default)]
pub struct RemediationIndex {
    /// label name → label value → remediation indexes, in rule order.
    by_label: Vec<(String, FxHashMap<String, Vec<usize>>)>,
    /// Remediations with no equality matcher: always candidates.
    always: Vec<usize>,
}

impl RemediationIndex {
    pub fn new(remediations: &[Remediation]) -> Self {
        let mut index = RemediationIndex::default();
        for (i, r) in remediations.iter().enumerate() {
            // Prefer `alertname`: it is the most selective label in practice.
            let key = r
                .matchers
                .iter()
                .filter_map(|m| m.exact_value().map(|v| (m.label.as_str(), v)))
                .min_by_key(|(label, _)| (*label != "alertname", *label));
            match key {
                Some((label, value)) => {
                    let pos = match index.by_label.iter().position(|(l, _)| l == label) {
                        Some(p) => p,
                        None => {
                            index
                                .by_label
                                .push((label.to_owned(), FxHashMap::default()));
                            index.by_label.len() - 1
                        }
                    };
                    index.by_label[pos]
                        .1
                        .entry(value.to_owned())
                        .or_default()
                        .push(i);
                }
                None => index.always.push(i),
            }
        }
        index
    }

    /// Remediation indexes that may match `alert`, ascending (rule order).
    pub fn candidates(&self, alert: &Alert) -> Vec<usize> {
        let mut out = self.always.clone();
        for (label, values) in &self.by_label {
            if let Some(found) = alert.labels.get(label).and_then(|v| values.get(v)) {
                out.extend_from_slice(found);
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}
