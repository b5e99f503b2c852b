//! `resgate lint --format github`: GitHub Actions workflow commands, which
//! the runner turns into annotations on the pull request's diff.
//!
//! Syntax and escaping as GitHub documents them ("Workflow commands for
//! GitHub Actions": `::error file={name},line={line},endLine={endLine},title={title}::{message}`)
//! and as actions/toolkit writes them (packages/core/src/command.ts):
//! property values escape `%`, `\r`, `\n`, `:` and `,`; the message escapes
//! `%`, `\r` and `\n`. Without the escapes a rule file named `a,b.yaml` or a
//! message with a newline would end the property or the command early.

use std::fmt::Write;

use super::location;
use crate::diag::{Diagnostic, Severity, SourceMap};

pub fn render(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties: Vec<(&str, String)> = Vec::new();
        if let Some(at) = location::of(d, sources) {
            properties.push(("file", at.file));
            if let Some(r) = at.region {
                properties.push(("line", r.start_line.to_string()));
                properties.push(("col", r.start_column.to_string()));
                properties.push(("endLine", r.end_line.to_string()));
                properties.push(("endColumn", r.end_column.to_string()));
            }
        }
        properties.push(("title", d.code.to_owned()));
        let properties: Vec<String> = properties
            .iter()
            .map(|(k, v)| format!("{k}={}", escape_property(v)))
            .collect();
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            properties.join(","),
            escape_data(&location::message(d))
        );
    }
    out
}

fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_the_toolkit_does() {
        assert_eq!(escape_data("50%\r\nx: y, z"), "50%25%0D%0Ax: y, z");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
