//! The fast path for well-formed Alertmanager-shaped bodies: typed
//! deserialization straight into what [`super::map_alert`] would build,
//! without a `serde_json::Value` tree in between (that tree was about half of
//! `simulate`'s time per alert).
//!
//! It only ever says "here are the alerts" or "not sure": any body it does not
//! fully accept (a wrong type anywhere, a duplicate key, a bad timestamp or
//! status, another version, missing labels) returns `None`, and the caller
//! reads it again on the checked path, which finds the precise error. So for
//! every body this path accepts, the result equals the checked path's (a
//! differential test holds it to that).

use std::borrow::Cow;
use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use super::Dialect;
use crate::source::alert::{Alert, AlertStatus, fingerprint};
use crate::source::time;

/// Checked like the slow path checks them, even where `map` keeps nothing of them.
type Strings<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "groupKey")]
    group_key: Option<Cow<'a, str>>,
    #[serde(rename = "truncatedAlerts")]
    #[allow(dead_code)]
    truncated_alerts: Option<u64>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    #[allow(dead_code)]
    receiver: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "groupLabels")]
    #[allow(dead_code)]
    group_labels: Option<Strings<'a>>,
    #[serde(borrow, rename = "commonLabels")]
    #[allow(dead_code)]
    common_labels: Option<Strings<'a>>,
    #[serde(borrow, rename = "commonAnnotations")]
    #[allow(dead_code)]
    common_annotations: Option<Strings<'a>>,
    #[serde(borrow, rename = "externalURL")]
    #[allow(dead_code)]
    external_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    alerts: Option<Vec<AlertIn<'a>>>,
}

#[derive(Deserialize)]
struct AlertIn<'a> {
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    labels: Option<BTreeMap<String, String>>,
    annotations: Option<BTreeMap<String, String>>,
    #[serde(borrow, rename = "startsAt")]
    starts_at: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "endsAt")]
    ends_at: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "generatorURL")]
    generator_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fingerprint: Option<Cow<'a, str>>,
}

/// The alerts of a body this path fully accepts; `None` sends it to the checked path.
pub(super) fn map(
    dialect: Dialect,
    source: &str,
    body: &[u8],
    received_at: Timestamp,
) -> Option<Vec<Alert>> {
    let body: Body<'_> = serde_json::from_slice(body).ok()?;
    if body.version.as_deref() != Some(dialect.version) {
        return None;
    }
    if let Some(word) = &body.status {
        AlertStatus::from_word(word)?;
    }
    let group_key = body.group_key.filter(|k| !k.is_empty());
    body.alerts?
        .into_iter()
        .map(|a| {
            let status = AlertStatus::from_word(a.status.as_deref()?)?;
            let labels = a.labels?;
            if labels.is_empty() {
                return None;
            }
            let fingerprint = match a.fingerprint {
                Some(given) if !given.is_empty() => given.into_owned(),
                _ => fingerprint(&labels),
            };
            let parse = |t: Option<Cow<'_, str>>| -> Option<Option<Timestamp>> {
                match t {
                    None => Some(None),
                    Some(text) => time::parse(&text).ok().map(Some),
                }
            };
            Some(Alert {
                source: source.to_owned(),
                fingerprint,
                status,
                annotations: a.annotations.unwrap_or_default(),
                starts_at: parse(a.starts_at)?.unwrap_or(received_at),
                ends_at: parse(a.ends_at)?.and_then(time::unless_zero),
                group_key: group_key.as_deref().map(str::to_owned),
                generator_url: a
                    .generator_url
                    .filter(|u| !u.is_empty())
                    .map(Cow::into_owned),
                labels,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Differential: on every shipped Alertmanager and Grafana fixture, and on
    //! every variant of them with one value replaced, removed or duplicated,
    //! the fast path either declines or gives exactly the checked path's alerts.

    use super::*;
    use crate::source::alertmanager::{ALERTMANAGER, parse_as};
    use serde_json::{Value, json};

    const GRAFANA: Dialect = Dialect {
        version: "1",
        expected_version: "\"1\"",
    };

    fn at() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// Returns whether the fast path accepted the body.
    fn agree(dialect: Dialect, body: &[u8]) -> bool {
        let fast = map(dialect, "am", body, at());
        let slow = parse_as(dialect, "am", body, at()).map(|n| n.alerts);
        if let Some(alerts) = &fast {
            assert_eq!(
                slow.as_ref().ok(),
                Some(alerts),
                "the fast path accepted what the checked path reads differently: {}",
                String::from_utf8_lossy(body)
            );
        }
        fast.is_some()
    }

    /// Every place in a JSON tree, as a path of object keys / array indexes.
    fn paths(v: &Value, here: Vec<Value>, out: &mut Vec<Vec<Value>>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let mut p = here.clone();
                    p.push(json!(k));
                    out.push(p.clone());
                    paths(child, p, out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate().take(2) {
                    let mut p = here.clone();
                    p.push(json!(i));
                    out.push(p.clone());
                    paths(child, p, out);
                }
            }
            _ => {}
        }
    }

    fn at_path<'v>(v: &'v mut Value, path: &[Value]) -> Option<&'v mut Value> {
        path.iter().try_fold(v, |node, step| match step {
            Value::String(k) => node.get_mut(k.as_str()),
            Value::Number(i) => node.get_mut(i.as_u64()? as usize),
            _ => None,
        })
    }

    #[test]
    fn fast_and_checked_paths_agree_on_fixtures_and_their_variants() {
        let replacements = [
            json!(null),
            json!(0),
            json!(-1),
            json!(1.5),
            json!(""),
            json!("x"),
            json!("firing"),
            json!("resolved"),
            json!("4"),
            json!("1"),
            json!("0001-01-01T00:00:00Z"),
            json!("2026-01-01T00:00:00+02:00"),
            json!("2026-01-01T00:00:00"),
            json!({}),
            json!([]),
            json!({"a": "b"}),
            json!({"a": 1}),
            json!(true),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut fixtures = Vec::new();
        for (sub, dialect) in [("alertmanager", ALERTMANAGER), ("grafana", GRAFANA)] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                if let Ok(text) = std::fs::read_to_string(e.path()) {
                    fixtures.push((dialect, text));
                }
            }
        }
        assert!(fixtures.len() >= 10, "fixtures found: {}", fixtures.len());
        let (mut accepted, mut declined) = (0, 0);
        let mut count = |ok: bool| {
            if ok {
                accepted += 1;
            } else {
                declined += 1;
            }
        };
        for (dialect, text) in &fixtures {
            assert!(
                agree(*dialect, text.as_bytes()),
                "a fixture takes the fast path"
            );
            let Ok(original) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            let mut places = Vec::new();
            paths(&original, Vec::new(), &mut places);
            for path in &places {
                for r in &replacements {
                    let mut v = original.clone();
                    if let Some(node) = at_path(&mut v, path) {
                        *node = r.clone();
                    }
                    count(agree(*dialect, v.to_string().as_bytes()));
                }
                // Removed.
                let mut v = original.clone();
                if let (Some((last, parent)), Some(Value::String(k))) =
                    (path.split_last(), path.last())
                    && let Some(Value::Object(map)) = at_path(&mut v, parent)
                {
                    let _ = last;
                    map.remove(k.as_str());
                    count(agree(*dialect, v.to_string().as_bytes()));
                }
            }
            // A duplicated key: serde_json's tree keeps the last one.
            let dup = text.replacen("\"alerts\"", "\"alerts\": [], \"alerts\"", 1);
            count(agree(*dialect, dup.as_bytes()));
            let dup = text.replacen("\"status\"", "\"status\": \"bogus\", \"status\"", 1);
            count(agree(*dialect, dup.as_bytes()));
        }
        assert!(
            accepted > 100 && declined > 100,
            "accepted {accepted}, declined {declined}"
        );
    }
}
