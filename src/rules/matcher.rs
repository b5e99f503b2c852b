//! Label matchers of a remediation's `match:`, with Alertmanager's semantics.
//!
//! `=~re` and `!~re` are regexes anchored at both ends; `!=v` is inequality; `=v`
//! (Alertmanager's explicit operator) and any other value are equality. The
//! operator is the longest of `=~ !~ != =` that starts the value and everything
//! after it is the operand, so `"==x"` equals `=x`. Regexes have Go's syntax and
//! meaning (see [`super::re2`]). A label the alert lacks has the value `""`,
//! exactly as in Alertmanager, so `{team: "!=db"}` matches alerts with no `team`.

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
    /// The same test without the regex engine, for the patterns rule sets
    /// write most (`.+`, `.*`, `a|b|c`).
    fast: Option<Fast>,
}

/// A regex whose meaning is simple enough to test directly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fast {
    /// `.*`: any value without a newline (`.` does not match `\n`).
    Any,
    /// `.+`: a non-empty value without a newline.
    NonEmpty,
    /// `a|b|c` of plain words: exactly one of them.
    OneOf(Vec<String>),
}

impl Fast {
    fn parse(pattern: &str) -> Option<Fast> {
        match pattern {
            ".*" => return Some(Fast::Any),
            ".+" => return Some(Fast::NonEmpty),
            _ => {}
        }
        // Only characters with no meaning in a regex, so each alternative is
        // the literal it reads as.
        let plain = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        let words: Vec<String> = pattern.split('|').map(str::to_owned).collect();
        words.iter().all(|w| plain(w)).then_some(Fast::OneOf(words))
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Fast::Any => !value.contains('\n'),
            Fast::NonEmpty => !value.is_empty() && !value.contains('\n'),
            Fast::OneOf(words) => words.iter().any(|w| w == value),
        }
    }
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
        } else if written.starts_with('=') {
            // Alertmanager writes equality `severity="critical"`; a value copied
            // from there keeps its `=`, which is the operator, not part of it.
            (MatchOp::Equal, 1)
        } else {
            (MatchOp::Equal, 0)
        };
        let value = &written[prefix..];
        let regex = match op {
            MatchOp::Regex | MatchOp::NotRegex => match cache.get(value) {
                Some(re) => Some(re.clone()),
                None => {
                    let re = super::re2::compile_anchored(value).map_err(|e| MatcherError {
                        message: format!("invalid regex {value:?}: {e}"),
                        start: prefix,
                        end: written.len(),
                    })?;
                    cache.insert(value.to_owned(), re.clone());
                    Some(re)
                }
            },
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        let fast = regex.as_ref().and_then(|_| Fast::parse(value));
        Ok(Matcher {
            label: label.to_owned(),
            op,
            value: value.to_owned(),
            regex,
            fast,
        })
    }

    /// Does the matcher hold for this label value (`None`: the alert lacks the label)?
    pub fn matches(&self, value: Option<&str>) -> bool {
        let value = value.unwrap_or("");
        if let Some(fast) = &self.fast {
            return fast.matches(value) == (self.op == MatchOp::Regex);
        }
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
    fn fast_paths_agree_with_the_regex() {
        let patterns = [
            ".*",
            ".+",
            "critical|page",
            "a",
            "a-b|c_d|E9",
            "a||b",
            "a|b.",
            "(a|b)",
        ];
        let values = [
            "", "a", "b", "critical", "page", "pager", "a-b", "c_d", "E9", "e9", "x\ny", "\n",
            "a|b", " a", "ü",
        ];
        for p in patterns {
            for op in ["=~", "!~"] {
                let fast = m(&format!("{op}{p}"));
                let mut slow = fast.clone();
                slow.fast = None;
                for v in values {
                    assert_eq!(
                        fast.matches(Some(v)),
                        slow.matches(Some(v)),
                        "{op}{p} on {v:?}"
                    );
                }
                assert_eq!(
                    fast.matches(None),
                    slow.matches(None),
                    "{op}{p} on a missing label"
                );
            }
        }
        assert!(m("=~.+").fast.is_some() && m("=~a|b").fast.is_some());
        assert!(m("=~a|b.").fast.is_none() && m("=~a||b").fast.is_none());
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
