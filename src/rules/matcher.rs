//! Label matchers of a remediation's `match:`, with Alertmanager's semantics.
//!
//! `=~re` and `!~re` are regexes anchored at both ends; `!=v` is inequality; any
//! other value is equality. A label the alert lacks has the value `""`, exactly as
//! in Alertmanager, so `{team: "!=db"}` matches alerts with no `team` label.

use regex::Regex;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    /// The operand, without its operator prefix.
    pub value: String,
    regex: Option<Regex>,
}

/// A matcher value that does not compile.
#[derive(Debug, Clone, PartialEq)]
pub struct MatcherError {
    pub message: String,
    /// Byte range inside the written value.
    pub start: usize,
    pub end: usize,
}

/// Compiled matcher regexes by pattern: a large rule set repeats the same few
/// (`=~.+`, `=~critical|page`) thousands of times, and compiling is the slow part.
pub type RegexCache = std::collections::HashMap<String, Regex>;

impl Matcher {
    pub fn parse(label: &str, written: &str) -> Result<Matcher, MatcherError> {
        Self::parse_cached(label, written, &mut RegexCache::new())
    }

    pub fn parse_cached(
        label: &str,
        written: &str,
        cache: &mut RegexCache,
    ) -> Result<Matcher, MatcherError> {
        let (op, prefix) = if written.starts_with("=~") {
            (MatchOp::Regex, 2)
        } else if written.starts_with("!~") {
            (MatchOp::NotRegex, 2)
        } else if written.starts_with("!=") {
            (MatchOp::NotEqual, 2)
        } else {
            (MatchOp::Equal, 0)
        };
        let value = &written[prefix..];
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => match cache.get(value) {
                Some(re) => Some(re.clone()),
                None => {
                    let re = Regex::new(&format!("^(?:{value})$")).map_err(|e| MatcherError {
                        message: format!("invalid regex {value:?}: {}", one_line(&e.to_string())),
                        start: prefix,
                        end: written.len(),
                    })?;
                    cache.insert(value.to_owned(), re.clone());
                    Some(re)
                }
            },
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher {
            label: label.to_owned(),
            op,
            value: value.to_owned(),
            regex,
        })
    }

    /// Does the matcher hold for this label value (`None`: the alert lacks the label)?
    pub fn matches(&self, value: Option<&str>) -> bool {
        let value = value.unwrap_or("");
        match (self.op, &self.regex) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            // Parse always builds the regex for regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether an alert *without* this label passes. A matcher that does not can
    /// only match alerts that carry the label, so it guarantees the label exists.
    pub fn matches_missing(&self) -> bool {
        self.matches(None)
    }

    /// The one value this matcher accepts, if it is an equality: used to index
    /// remediations by the labels their `match` requires.
    pub fn exact_value(&self) -> Option<&str> {
        (self.op == MatchOp::Equal && !self.value.is_empty()).then_some(self.value.as_str())
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        };
        write!(f, "{}{op}{:?}", self.label, self.value)
    }
}

/// The regex crate's errors are multi-line ASCII art; a diagnostic wants one line.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_owned()
        })
        .unwrap_or_else(|| message.lines().last().unwrap_or("").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(written: &str) -> Matcher {
        match Matcher::parse("l", written) {
            Ok(m) => m,
            Err(e) => panic!("{written}: {}", e.message),
        }
    }

    #[test]
    fn equality_and_missing_labels() {
        assert!(m("critical").matches(Some("critical")));
        assert!(!m("critical").matches(Some("criticality")));
        assert!(!m("critical").matches(None));
        assert!(m("!=db").matches(None));
        assert!(!m("!=db").matches(Some("db")));
    }

    #[test]
    fn regexes_are_anchored() {
        let re = m("=~critical|page");
        assert!(re.matches(Some("page")));
        assert!(!re.matches(Some("pager")));
        assert!(!re.matches(Some("noncritical")));
        assert!(!re.matches_missing());
        assert!(m("!~test.*").matches(Some("prod")));
        assert!(!m("!~test.*").matches(Some("testing")));
        assert!(m("=~.*").matches_missing());
    }

    #[test]
    fn bad_regex_points_past_the_operator() {
        let err = Matcher::parse("l", "=~(unclosed").err();
        let err = err
            .as_ref()
            .map(|e| (e.start, e.end, e.message.starts_with("invalid regex")));
        assert_eq!(err, Some((2, 11, true)));
    }
}
