//! The generic JMESPath mapping on untrusted bodies, through three mappings:
//! the documented legacy example, one passing whole subtrees through (to reach
//! every conversion), and one calling functions on the data (type errors must
//! come back as errors). Alerts or a `MapError`, never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use resgate::rules::{Expr, JmesMapping, Source, SourceKind};
use resgate::source::map_payload;

fn expr(text: &str) -> Expr {
    jmespath::compile(text).expect("valid expression")
}

static SOURCES: LazyLock<Vec<Source>> = LazyLock::new(|| {
    let legacy = JmesMapping {
        alerts: expr("events[]"),
        labels: expr("{alertname: type, service: tags.svc, instance: host}"),
        annotations: Some(expr("{summary: message}")),
        status: Some(expr("state")),
        starts_at: Some(expr("opened")),
        fingerprint: Some(expr("id")),
    };
    let loose = JmesMapping {
        alerts: expr("@.*[] || @"),
        labels: expr("@"),
        annotations: Some(expr("@")),
        status: Some(expr("@")),
        starts_at: Some(expr("@")),
        fingerprint: Some(expr("@")),
    };
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
    [legacy, loose, functions]
        .into_iter()
        .map(|mapping| Source {
            name: "fuzz".to_owned(),
            kind: SourceKind::Jmespath(Box::new(mapping)),
            auth: None,
        })
        .collect()
});

fuzz_target!(|body: &[u8]| {
    for source in SOURCES.iter() {
        let _ = map_payload(source, body, jiff::Timestamp::UNIX_EPOCH);
    }
});
