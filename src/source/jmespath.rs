//! `kind: jmespath` sources: any JSON sender, mapped with the expressions of
//! its [`JmesMapping`] (compiled once when the rules load).
//!
//! `alerts` runs on the body and must yield an array; every other expression
//! runs on one element of it. An expression the mapping gives must yield a
//! usable value for every alert: a `null` status or start time is an error, not
//! a silent default, because a typo in a path yields `null` for every alert and
//! would otherwise quietly make every alert "firing, started just now". Authors
//! who want a default say so: `state || 'firing'`.
//!
//! Only in label and annotation maps is `null` dropped, since `{svc: tags.svc}`
//! on an alert without tags should simply lack that label; an annotations
//! expression yielding `null` as a whole means no annotations.

use std::collections::BTreeMap;

use ::jmespath::{ErrorReason, Expression, JmespathError, Rcvar, ToJmespath, Variable};
use jiff::Timestamp;

use super::alert::{Alert, AlertStatus, fingerprint};
use super::error::{At, Field, MapError, shorten};
use super::json;
use super::time;
use crate::rules::JmesMapping;

/// Maps a body with `mapping`. `received_at` is each alert's start time when
/// the mapping has no `starts_at`.
pub fn map(
    source: &str,
    mapping: &JmesMapping,
    body: &[u8],
    received_at: Timestamp,
) -> Result<Vec<Alert>, MapError> {
    let at = At::source(source);
    let value = json::parse(at, body)?;
    let root = eval(at, "alerts", &mapping.alerts, &value)?;
    let Variable::Array(items) = &*root else {
        return Err(at.yielded(Field::named("alerts"), describe(&root), "an array"));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| map_alert(at.alert(i), mapping, item, received_at))
        .collect()
}

fn map_alert(
    at: At<'_>,
    mapping: &JmesMapping,
    item: &Rcvar,
    received_at: Timestamp,
) -> Result<Alert, MapError> {
    let labels = match &*eval(at, "labels", &mapping.labels, item)? {
        Variable::Object(map) => strings(at, "labels", map)?,
        other => return Err(at.yielded(Field::named("labels"), describe(other), "an object")),
    };
    if labels.is_empty() {
        return Err(at.no_labels());
    }
    let annotations = match &mapping.annotations {
        None => BTreeMap::new(),
        Some(expr) => match &*eval(at, "annotations", expr, item)? {
            Variable::Null => BTreeMap::new(),
            Variable::Object(map) => strings(at, "annotations", map)?,
            other => {
                return Err(at.yielded(
                    Field::named("annotations"),
                    describe(other),
                    "an object or null",
                ));
            }
        },
    };
    let status = match &mapping.status {
        None => AlertStatus::Firing,
        Some(expr) => {
            let word = eval(at, "status", expr, item)?;
            match word.as_string().and_then(|w| AlertStatus::from_word(w)) {
                Some(status) => status,
                None => {
                    return Err(at.yielded(
                        Field::named("status"),
                        describe(&word),
                        "\"firing\" or \"resolved\"",
                    ));
                }
            }
        }
    };
    let starts_at = match &mapping.starts_at {
        None => received_at,
        Some(expr) => timestamp(at, &*eval(at, "starts_at", expr, item)?)?,
    };
    let fingerprint = match &mapping.fingerprint {
        None => fingerprint(&labels),
        Some(expr) => identity(at, &*eval(at, "fingerprint", expr, item)?)?,
    };
    Ok(Alert {
        source: at.source.to_owned(),
        fingerprint,
        status,
        labels,
        annotations,
        starts_at,
        // The payload says when it resolved only through `status`: that was
        // no later than now.
        ends_at: (status == AlertStatus::Resolved).then_some(received_at),
        group_key: None,
        generator_url: None,
    })
}

/// Runs one expression; `field` is the mapping key it came from, for messages.
fn eval(
    at: At<'_>,
    field: &str,
    expr: &Expression<'_>,
    data: impl ToJmespath,
) -> Result<Rcvar, MapError> {
    expr.search(data).map_err(|e| MapError::Eval {
        at: at.place(),
        field: Field::named(field),
        reason: reason(&e),
    })
}

/// The cause of an evaluation error without jmespath's multi-line rendering of
/// the expression and a caret, which the rules file already shows.
fn reason(e: &JmespathError) -> String {
    let text = match &e.reason {
        ErrorReason::Runtime(r) => r.to_string(),
        ErrorReason::Parse(p) => p.clone(),
    };
    // jmespath capitalises its messages; ours are lowercase sentences.
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

/// A label or annotation map: strings as they are, numbers and booleans as
/// their JSON text, `null` dropped, anything nested refused.
fn strings(
    at: At<'_>,
    field: &str,
    map: &BTreeMap<String, Rcvar>,
) -> Result<BTreeMap<String, String>, MapError> {
    let mut out = BTreeMap::new();
    for (key, value) in map {
        let text = match &**value {
            Variable::Null => continue,
            Variable::String(s) => s.clone(),
            Variable::Number(n) => n.to_string(),
            Variable::Bool(b) => b.to_string(),
            other => {
                return Err(at.yielded(
                    Field::key(field, key),
                    describe(other),
                    "a string, number, bool or null",
                ));
            }
        };
        out.insert(key.clone(), text);
    }
    Ok(out)
}

fn timestamp(at: At<'_>, value: &Variable) -> Result<Timestamp, MapError> {
    let Some(text) = value.as_string() else {
        return Err(at.yielded(
            Field::named("starts_at"),
            describe(value),
            "an RFC 3339 timestamp string",
        ));
    };
    time::parse(text).map_err(|reason| MapError::Timestamp {
        at: at.place(),
        field: Field::named("starts_at"),
        value: describe(value),
        reason,
    })
}

fn identity(at: At<'_>, value: &Variable) -> Result<String, MapError> {
    match value {
        Variable::String(s) if !s.is_empty() => Ok(s.clone()),
        Variable::Number(n) => Ok(n.to_string()),
        other => Err(at.yielded(
            Field::named("fingerprint"),
            describe(other),
            "a non-empty string or a number",
        )),
    }
}

/// Like [`json::describe`], for what an expression yielded.
fn describe(value: &Variable) -> String {
    match value {
        Variable::Array(_) => "an array".to_owned(),
        Variable::Object(_) => "an object".to_owned(),
        Variable::Expref(_) => "an expression reference".to_owned(),
        scalar => shorten(&scalar.to_string()),
    }
}
