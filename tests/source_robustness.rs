//! No body panics a mapping: arbitrary bytes, arbitrary JSON, and the fixtures
//! with one value anywhere in them replaced by arbitrary JSON. Each comes back
//! as alerts or a `MapError`.

use jiff::Timestamp;
use proptest::prelude::*;
use resgate::rules::{JmesMapping, Source, SourceKind};
use resgate::source::map_payload;
use serde_json::Value;

const FIXTURES: &[&str] = &[
    "alertmanager/api-down.json",
    "alertmanager/captured-0.25-resolved.json",
    "alertmanager/storm.json",
    "grafana/firing.json",
    "pagerduty/incident-triggered.json",
    "pagerduty/incident-resolved.json",
    "pagerduty/ping.json",
    "pagerduty/incident-acknowledged.json",
    "pagerduty/incident-reopened.json",
    "jmespath/legacy.json",
];

fn fixture(path: &str) -> Value {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"));
    serde_json::from_slice(&text).expect("fixture is JSON")
}

fn expr(text: &str) -> resgate::rules::Expr {
    jmespath::compile(text).expect("valid expression")
}

fn sources() -> Vec<Source> {
    let legacy = JmesMapping {
        alerts: expr("events[]"),
        labels: expr("{alertname: type, service: tags.svc, instance: host}"),
        annotations: Some(expr("{summary: message}")),
        status: Some(expr("state")),
        starts_at: Some(expr("opened")),
        fingerprint: Some(expr("id")),
    };
    // Expressions that pass whole subtrees through, to reach every branch.
    let loose = JmesMapping {
        alerts: expr("@.*[] || @"),
        labels: expr("@"),
        annotations: Some(expr("@")),
        status: Some(expr("@")),
        starts_at: Some(expr("@")),
        fingerprint: Some(expr("@")),
    };
    // Functions on untrusted data: type errors must come back as errors.
    let functions = JmesMapping {
        alerts: expr("*[] || [@]"),
        labels: expr("{t: type(@), n: to_string(@), k: join(',', keys(@))}"),
        annotations: Some(expr(
            "{len: length(to_string(@)), top: max(values(@)[?type(@) == 'number'])}",
        )),
        status: Some(expr("status || 'firing'")),
        starts_at: Some(expr("sort_by(values(@), &to_string(@))[0]")),
        fingerprint: Some(expr("sum(map(&length(to_string(@)), values(@)))")),
    };
    let kinds = [
        SourceKind::Alertmanager,
        SourceKind::Grafana,
        SourceKind::PagerDuty,
        SourceKind::Jmespath(Box::new(legacy)),
        SourceKind::Jmespath(Box::new(loose)),
        SourceKind::Jmespath(Box::new(functions)),
    ];
    kinds
        .into_iter()
        .map(|kind| Source {
            name: "fuzz".to_owned(),
            kind,
            auth: None,
        })
        .collect()
}

fn map_everywhere(body: &[u8]) {
    let now = Timestamp::UNIX_EPOCH;
    for source in sources() {
        // Ok or Err are both fine: the property is "returns".
        let _ = map_payload(&source, body, now);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop_oneof![
            Just("firing".to_owned()),
            Just("resolved".to_owned()),
            Just("4".to_owned()),
            Just("0001-01-01T00:00:00Z".to_owned()),
            Just("2026-11-20T10:00:00.5+01:00".to_owned()),
            ".*",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("labels".to_owned()),
                    Just("status".to_owned()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer inside `value`, the root included.
fn pointers(value: &Value, here: String, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{here}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let escaped = key.replace('~', "~0").replace('/', "~1");
                pointers(item, format!("{here}/{escaped}"), out);
            }
        }
        _ => {}
    }
    out.push(here);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(body in prop::collection::vec(any::<u8>(), 0..512)) {
        map_everywhere(&body);
    }

    #[test]
    fn arbitrary_json(value in json_value()) {
        map_everywhere(value.to_string().as_bytes());
    }

    #[test]
    fn fixtures_with_one_value_replaced(
        file in prop::sample::select(FIXTURES),
        pick in any::<prop::sample::Index>(),
        replacement in json_value(),
    ) {
        let mut value = fixture(file);
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        let pointer = pick.get(&all).clone();
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = replacement;
        }
        map_everywhere(value.to_string().as_bytes());
    }

    #[test]
    fn fixtures_cut_anywhere(file in prop::sample::select(FIXTURES), cut in any::<prop::sample::Index>()) {
        let body = fixture(file).to_string().into_bytes();
        let end = cut.index(body.len() + 1);
        map_everywhere(body.get(..end).unwrap_or(&body));
    }
}
