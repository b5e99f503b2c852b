//! The template renderer (`resgate::rules::template`) on untrusted templates
//! and untrusted values. Input: the first line is a template (as a rule file
//! would hold it), the rest is a label value.
//!
//! Besides "never panic, never hang" (fuel and recursion limits bound the
//! work), two properties of values, which come from alerts:
//! - a value printed by a text template is printed as is (a `{{ }}` inside a
//!   label is text, never evaluated);
//! - a value printed by a URL template stays inside its path segment:
//!   percent-encoded, no `/`, `?` or `#`, and it decodes back to the value.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use minijinja::Value;
use resgate::rules::template::{TemplateKind, Templates};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, value) = text.split_once('\n').unwrap_or((text, ""));
    let context: BTreeMap<&str, Value> = [
        ("service", Value::from(value)),
        ("instance", Value::from(value)),
        ("target", Value::from(value)),
        ("id", Value::from(value)),
    ]
    .into_iter()
    .collect();
    let context = Value::from(context);

    let mut t = Templates::new();
    for kind in [TemplateKind::Text, TemplateKind::Url] {
        if let Ok(id) = t.add(kind, template) {
            let _ = t.variables(id);
            let _ = t.render(id, &context);
        }
    }

    let text = t
        .add(TemplateKind::Text, "{{ service }}")
        .expect("compiles");
    assert_eq!(t.render(text, &context).as_deref(), Ok(value));

    let url = t
        .add(TemplateKind::Url, "http://rd/job/{{ service }}/run")
        .expect("compiles");
    let rendered = t.render(url, &context).expect("renders");
    let segment = rendered
        .strip_prefix("http://rd/job/")
        .and_then(|s| s.strip_suffix("/run"))
        .expect("the value stays between its slashes");
    assert!(!segment.contains(['/', '?', '#']), "{rendered:?}");
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8();
    assert_eq!(decoded.as_deref(), Ok(value));
});
