//! The variables a remediation's templates see (target, vars, body, URLs).

use minijinja::Value;

use crate::source::Alert;

/// Labels at the top level (`{{ service }}`), plus `labels`, `annotations`,
/// `remediation` and `fingerprint` (see `rules::CONTEXT_NAMES`).
pub fn alert_context(alert: &Alert, remediation: &str) -> Vec<(String, Value)> {
    let mut ctx: Vec<(String, Value)> = alert
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    ctx.push(("labels".to_owned(), map(&alert.labels)));
    ctx.push(("annotations".to_owned(), map(&alert.annotations)));
    ctx.push(("remediation".to_owned(), Value::from(remediation)));
    ctx.push((
        "fingerprint".to_owned(),
        Value::from(alert.fingerprint.as_str()),
    ));
    ctx
}

pub fn to_value(ctx: &[(String, Value)]) -> Value {
    let map: std::collections::BTreeMap<String, Value> = ctx.iter().cloned().collect();
    Value::from(map)
}

/// A MiniJinja map. Not `.collect()`: MiniJinja collects an iterator into a
/// sequence, so `labels` was a list of pairs (`tojson` printed `[["job","api"]]`
/// and `labels['a.b']` was undefined outside the plain-template fast path).
fn map(m: &std::collections::BTreeMap<String, String>) -> Value {
    Value::from_pairs(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}
