//! `resgate lint --format sarif`: a SARIF 2.1.0 log (OASIS standard), which
//! GitHub code scanning (`github/codeql-action/upload-sarif`) and other
//! review tools show inline on pull requests.
//!
//! One run, the tool `resgate` with one reporting descriptor per diagnostic
//! code that occurs; one result per diagnostic with its level, message (and
//! help), and the region of its first label; further labels are related
//! locations. Columns count characters (`columnKind: unicodeCodePoints`) and
//! `endColumn` is the column just past the region, as SARIF §3.30 defines.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::{Value, json};

use super::location;
use crate::diag::{Diagnostic, Severity, SourceMap};

/// What a path segment may not carry raw in a URI reference (RFC 3986):
/// everything but unreserved characters and the sub-delims that are safe in
/// a path.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

pub fn render(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut codes: Vec<&str> = diags.iter().map(|d| d.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let rules: Vec<Value> = codes
        .iter()
        .map(|code| {
            json!({
                "id": code,
                "shortDescription": {"text": format!("resgate lint: {code}")},
            })
        })
        .collect();
    let results: Vec<Value> = diags
        .iter()
        .map(|d| {
            let mut result = json!({
                "ruleId": d.code,
                "ruleIndex": codes.binary_search(&d.code).unwrap_or_default(),
                "level": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "message": {"text": location::message(d)},
            });
            if let Some(at) = location::of(d, sources) {
                result["locations"] = json!([physical(&at.file, at.region)]);
                let related: Vec<Value> = d
                    .labels
                    .iter()
                    .skip(1)
                    .filter_map(|(span, text)| {
                        let file = sources.path(span.src)?.display().to_string();
                        let region = location::region(sources, *span);
                        let mut loc = physical(&file, Some(region));
                        loc["message"] = json!({"text": text});
                        Some(loc)
                    })
                    .enumerate()
                    .map(|(i, mut loc)| {
                        loc["id"] = json!(i);
                        loc
                    })
                    .collect();
                if !related.is_empty() {
                    result["relatedLocations"] = json!(related);
                }
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "resgate",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

fn physical(file: &str, region: Option<location::Region>) -> Value {
    let mut loc = json!({"physicalLocation": {"artifactLocation": {"uri": uri(file)}}});
    if let Some(r) = region {
        loc["physicalLocation"]["region"] = json!({
            "startLine": r.start_line,
            "startColumn": r.start_column,
            "endLine": r.end_line,
            "endColumn": r.end_column,
        });
    }
    loc
}

/// A path as a URI reference: relative paths stay relative (code scanning
/// resolves them against the repository root), absolute ones become
/// `file://` URIs.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let encoded: Vec<String> = path
        .split('/')
        .map(|seg| utf8_percent_encode(seg, SEGMENT).to_string())
        .collect();
    let joined = encoded.join("/");
    if path.starts_with('/') {
        format!("file://{joined}")
    } else {
        // A first segment with a colon would read as a scheme.
        let joined = joined.trim_start_matches("./").to_owned();
        match joined.split('/').next() {
            Some(first) if first.contains(':') => format!("./{joined}"),
            _ => joined,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri("rules/a b.yaml"), "rules/a%20b.yaml");
        assert_eq!(
            uri("/etc/resgate/r#1.yaml"),
            "file:///etc/resgate/r%231.yaml"
        );
        assert_eq!(uri("a:b.yaml"), "./a:b.yaml");
    }
}
