//! `resgate test --format junit`: JUnit XML, the report format GitLab
//! (`artifacts:reports:junit`), Jenkins (the JUnit plugin) and the GitHub test
//! reporter actions read.
//!
//! The shape follows the JUnit XSD Jenkins validates against
//! (jenkinsci/xunit-plugin, `junit-10.xsd`): `testsuites` > one `testsuite`
//! per test file (with the required `name`, `tests`, `failures`, `errors`) >
//! one `testcase` per test (`name`, `classname`, `time` in seconds), whose
//! `failure` carries the first failed expectation as `message` and every
//! failure with its proof as text. GitLab's "Unit test reports" page
//! documents the same subset (docs.gitlab.com/ci/testing/unit_test_reports).
//!
//! Test names come from YAML a pull request may change: everything is
//! escaped, and characters XML 1.0 cannot carry at all (control characters
//! other than tab, newline and carriage return; U+FFFE, U+FFFF) are written as
//! `\u{..}` so the report stays well-formed and still shows them.

use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

use crate::scenario::test::TestResult;

/// The whole report, one `testsuite` per test file in the order run.
pub fn render(results: &[TestResult]) -> String {
    let mut files: Vec<(&Path, Vec<&TestResult>)> = Vec::new();
    for r in results {
        match files.iter_mut().find(|(f, _)| *f == r.file.as_path()) {
            Some((_, tests)) => tests.push(r),
            None => files.push((r.file.as_path(), vec![r])),
        }
    }
    let failed = |tests: &[&TestResult]| tests.iter().filter(|r| !r.passed()).count();
    let total_time: Duration = results.iter().map(|r| r.time).sum();
    let all: Vec<&TestResult> = results.iter().collect();

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"resgate test\" tests=\"{}\" failures=\"{}\" errors=\"0\" time=\"{}\">",
        results.len(),
        failed(&all),
        seconds(total_time)
    );
    for (file, tests) in &files {
        let path = file.display().to_string();
        let time: Duration = tests.iter().map(|r| r.time).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{}\" file=\"{}\">",
            attr(&path),
            tests.len(),
            failed(tests),
            seconds(time),
            attr(&path)
        );
        let classname = classname(file);
        for r in tests {
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
                attr(&r.name),
                attr(&classname),
                seconds(r.time)
            );
            let Some(first) = r.failures.first() else {
                let _ = writeln!(out, "{head}/>");
                continue;
            };
            let mut text = String::new();
            for f in &r.failures {
                text.push_str(&f.message);
                text.push('\n');
                for line in f.detail.lines() {
                    let _ = writeln!(text, "  {line}");
                }
            }
            let _ = writeln!(out, "{head}>");
            let _ = writeln!(
                out,
                "      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                attr(&first.message),
                self::text(&text)
            );
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Jenkins splits `classname` at dots into package and class: the test
/// file's path without `.test.yaml`, its directories as packages
/// (`rules/deploy.test.yaml` → `rules.deploy`).
fn classname(file: &Path) -> String {
    let path = file.to_string_lossy();
    let stem = [".test.yaml", ".test.yml", ".yaml", ".yml"]
        .iter()
        .find_map(|ext| path.strip_suffix(ext))
        .unwrap_or(&path);
    stem.trim_start_matches("./")
        .replace(['/', '\\'], ".")
        .trim_matches('.')
        .to_owned()
}

/// Seconds with millisecond precision, as the XSD's `SUREFIRE_TIME` allows.
fn seconds(d: Duration) -> String {
    format!("{}.{:03}", d.as_secs(), d.subsec_millis())
}

/// Whether XML 1.0 (production `Char`) can carry `c` at all, even as a
/// character reference.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn escape(s: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            // `>` too: `]]>` may not appear in text.
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            // Attribute-value normalization would turn these into spaces, and
            // a parser turns a literal `\r` into `\n`: references keep them.
            '\n' if in_attribute => out.push_str("&#10;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

fn attr(s: &str) -> String {
    escape(s, true)
}

fn text(s: &str) -> String {
    escape(s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classnames_are_dotted_paths() {
        assert_eq!(
            classname(Path::new("rules/deploy.test.yaml")),
            "rules.deploy"
        );
        assert_eq!(classname(Path::new("./a/b.test.yml")), "a.b");
    }

    #[test]
    fn seconds_keep_milliseconds() {
        assert_eq!(seconds(Duration::from_micros(1_234_567)), "1.234");
        assert_eq!(seconds(Duration::ZERO), "0.000");
    }
}
