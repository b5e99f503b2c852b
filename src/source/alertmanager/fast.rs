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
    #[serde(borrow)]
    labels: Option<Pairs<'a>>,
    #[serde(borrow)]
    annotations: Option<Pairs<'a>>,
    #[serde(borrow, rename = "startsAt")]
    starts_at: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "endsAt")]
    ends_at: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "generatorURL")]
    generator_url: Option<Cow<'a, str>>,
    #[serde(borrow)]
    fingerprint: Option<Cow<'a, str>>,
}

/// A label or annotation map as the body spells it, in body order, its
/// strings borrowed from the body where they hold no escape. Made into the
/// alert's `BTreeMap` only when the alert is taken ([`Read::into_alerts`]): a
/// map of `String`s is ~1.5 KB in ~13 allocations per alert, this ~300 bytes in one.
struct Pairs<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

/// A JSON string, borrowed when it holds no escape.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(Visitor).map(Text)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Pairs<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visitor<'a> {
            type Value = Pairs<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of strings")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut m: M,
            ) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(m.size_hint().unwrap_or(0).min(64));
                while let Some((Text(k), Text(v))) = m.next_entry::<Text<'a>, Text<'a>>()? {
                    pairs.push((k, v));
                }
                // Kept until the alert is taken: without the slack of growing
                // (a third of the pairs' memory for five labels).
                pairs.shrink_to_fit();
                Ok(Pairs(pairs))
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

impl Pairs<'_> {
    /// The map a `BTreeMap` deserialized from the same JSON holds, built the
    /// same way (inserted in body order: a name given twice keeps its last value).
    fn into_map(self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for (k, v) in self.0 {
            map.insert(k.into_owned(), v.into_owned());
        }
        map
    }
}

/// A body this path fully accepts, checked and read, its alerts not made yet:
/// each becomes an [`Alert`] only when [`Read::into_alerts`] hands it out, so
/// a caller that consumes them one at a time (`simulate` feeding the engine)
/// never holds 100k alerts' label maps at once.
pub struct Read<'a> {
    source: &'a str,
    group_key: Option<Cow<'a, str>>,
    alerts: Vec<Checked<'a>>,
}

/// One alert of a [`Read`], checked: what remains is building it.
struct Checked<'a> {
    status: AlertStatus,
    /// Not empty.
    labels: Pairs<'a>,
    annotations: Option<Pairs<'a>>,
    starts_at: Option<Timestamp>,
    ends_at: Option<Timestamp>,
    generator_url: Option<Cow<'a, str>>,
    fingerprint: Option<Cow<'a, str>>,
}

impl<'a> Read<'a> {
    /// How many alerts the body holds.
    pub fn len(&self) -> usize {
        self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty()
    }

    /// Each alert's own `startsAt`, in payload order (`None`: the body gives none).
    pub fn starts(&self) -> impl Iterator<Item = Option<Timestamp>> + '_ {
        self.alerts.iter().map(|a| a.starts_at)
    }

    /// The alerts, made one at a time as they are taken, in payload order;
    /// `received_at` stands in for a missing `startsAt`.
    pub fn into_alerts(self, received_at: Timestamp) -> impl ExactSizeIterator<Item = Alert> + 'a {
        let Read {
            source,
            group_key,
            alerts,
        } = self;
        alerts.into_iter().map(move |a| {
            let labels = a.labels.into_map();
            let fingerprint = match a.fingerprint {
                Some(given) => given.into_owned(),
                None => fingerprint(&labels),
            };
            Alert {
                source: source.to_owned(),
                fingerprint,
                status: a.status,
                annotations: a.annotations.map(Pairs::into_map).unwrap_or_default(),
                starts_at: a.starts_at.unwrap_or(received_at),
                ends_at: a.ends_at,
                group_key: group_key.as_deref().map(str::to_owned),
                generator_url: a.generator_url.map(Cow::into_owned),
                labels,
            }
        })
    }
}

/// Reads a body; `None` when this path does not fully accept it (see the module doc).
pub(super) fn read<'a>(dialect: Dialect, source: &'a str, body: &'a [u8]) -> Option<Read<'a>> {
    let body: Body<'a> = serde_json::from_slice(body).ok()?;
    if body.version.as_deref() != Some(dialect.version) {
        return None;
    }
    if let Some(word) = &body.status {
        AlertStatus::from_word(word)?;
    }
    let group_key = body.group_key.filter(|k| !k.is_empty());
    let alerts = body
        .alerts?
        .into_iter()
        .map(|a| {
            let status = AlertStatus::from_word(a.status.as_deref()?)?;
            let labels = a.labels?;
            if labels.0.is_empty() {
                return None;
            }
            let parse = |t: Option<Cow<'_, str>>| -> Option<Option<Timestamp>> {
                match t {
                    None => Some(None),
                    Some(text) => time::parse(&text).ok().map(Some),
                }
            };
            Some(Checked {
                status,
                labels,
                annotations: a.annotations,
                starts_at: parse(a.starts_at)?,
                ends_at: parse(a.ends_at)?.and_then(time::unless_zero),
                generator_url: a.generator_url.filter(|u| !u.is_empty()),
                fingerprint: a.fingerprint.filter(|f| !f.is_empty()),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Read {
        source,
        group_key,
        alerts,
    })
}

/// The alerts of a body this path fully accepts; `None` sends it to the checked path.
pub(super) fn map(
    dialect: Dialect,
    source: &str,
    body: &[u8],
    received_at: Timestamp,
) -> Option<Vec<Alert>> {
    Some(
        read(dialect, source, body)?
            .into_alerts(received_at)
            .collect(),
    )
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
