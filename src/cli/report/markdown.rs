//! `resgate backtest --format markdown`: the decision diff as the body of a
//! pull-request comment (GitHub Flavored Markdown, which GitLab renders too).
//!
//! Alert fingerprints, targets, remediation names and verdicts come from the
//! journal and the pull request's rules, so each is shown as a code span: no
//! link, image, HTML or `@mention` can come out of it. Inside a table a `|`
//! still splits the cell even in a code span and is written `\|` (GFM spec,
//! "Tables" extension); a code span's fence is longer than any run of
//! backticks inside it (CommonMark "Code spans"); control characters and
//! newlines are written as escapes so a value stays on its row.

use std::fmt::Write;

use jiff::Timestamp;

use crate::backtest::Diff;
use crate::term;

/// What was replayed, for the comment's first lines.
pub struct Summary<'a> {
    pub rules: &'a str,
    pub version: &'a str,
    pub webhooks: usize,
    pub alerts: usize,
    pub from: Timestamp,
    pub to: Timestamp,
}

pub fn render(s: &Summary<'_>, diff: &Diff) -> String {
    let mut out = String::new();
    let verdict = if diff.is_empty() {
        "no decision would change".to_owned()
    } else {
        format!(
            "{} of {} alert/remediation pairs would be decided differently",
            diff.changed(),
            diff.compared
        )
    };
    let _ = writeln!(out, "### resgate backtest: {verdict}\n");
    let _ = writeln!(
        out,
        "Replayed {} webhooks ({} alerts) received {} to {} through {} (version {}); compared {} alert/remediation pairs from {}: {} decisions recorded, {} replayed.",
        s.webhooks,
        s.alerts,
        s.from,
        s.to,
        code(s.rules),
        code(s.version),
        diff.compared,
        s.from,
        diff.decisions_before,
        diff.decisions_after
    );
    if diff.skipped_paused > 0 {
        let _ = writeln!(
            out,
            "\nLeft out {} pairs that were paused at the time (pauses are not replayed).",
            diff.skipped_paused
        );
    }
    if diff.is_empty() {
        return out;
    }
    out.push_str("\n| Remediation | Change | Alerts | Alert | Target | Recorded | Replayed |\n");
    out.push_str("| --- | --- | ---: | --- | --- | --- | --- |\n");
    for group in &diff.groups {
        let remediation = match &group.remediation {
            Some(name) => code(name),
            None => "(no remediation matched)".to_owned(),
        };
        for c in &group.changes {
            let lead = format!("| {remediation} | {} | {} |", c.change.describe(), c.alerts);
            if c.examples.is_empty() {
                let _ = writeln!(out, "{lead} | | | |");
            }
            for e in &c.examples {
                let _ = writeln!(
                    out,
                    "{lead} {} | {} | {} | {} |",
                    code(&e.alert),
                    e.target.as_deref().map(code).unwrap_or_default(),
                    verdicts(&e.before),
                    verdicts(&e.after)
                );
            }
        }
    }
    out
}

fn verdicts(words: &[String]) -> String {
    if words.is_empty() {
        "(nothing)".to_owned()
    } else {
        code(&words.join(", "))
    }
}

/// `value` as a code span that is safe in a table cell.
fn code(value: &str) -> String {
    let value = term::escape(value).replace('|', "\\|");
    if value.is_empty() {
        return String::new();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in value.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    // A span that begins or ends with a backtick needs a space inside its
    // fence; CommonMark strips one space from each side again.
    let pad = if value.starts_with('`') || value.ends_with('`') || value.starts_with(' ') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{value}{pad}{fence}")
}

#[cfg(test)]
mod tests {
    use super::code;

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x``"), "``` `x`` ```");
        assert_eq!(code("a|b"), "`a\\|b`");
    }
}
