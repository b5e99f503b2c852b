//! Go's regexp syntax (RE2, as Alertmanager compiles its matchers) on the regex crate.
//!
//! The regex crate reads most of Go's syntax the same way, but not all of it:
//! `\d \w \s \b` are Unicode there and ASCII in Go, `\Q…\E` and `(?)` are Go only,
//! `[[]` and `a{` are literals in Go and errors or nested classes there, and Go
//! refuses `a**`, `a{1001}` and flags other than `imsU`. [`translate`] rewrites a
//! Go pattern into one the regex crate gives Go's meaning, checking what Go
//! checks, so a matcher selects exactly the alerts Alertmanager's would.
//! (The rules of Go's parser: `src/regexp/syntax/parse.go` and `doc.go`.)

use regex::Regex;

/// Go's `\d`, `\s`, `\w` (regexp/syntax doc.go: "Perl character classes (all
/// ASCII-only)"). Go's `\s` has no `\v`, unlike the regex crate's `(?-u:\s)`.
const DIGIT: &str = "0-9";
const SPACE: &str = r"\t\n\x0C\r ";
const WORD: &str = "0-9A-Za-z_";

/// Go's POSIX classes (`[[:alpha:]]`, ...): the regex crate has the same
/// names with the same ASCII meaning, so they are copied.
const POSIX: [&str; 14] = [
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct",
    "space", "upper", "word", "xdigit",
];

/// Go's limit on `{n,m}` (parse.go: "min > 1000 || max > 1000").
const MAX_REPEAT: u32 = 1000;

/// `pattern` compiled as Alertmanager compiles a regex matcher:
/// `^(?:` + pattern + `)$` (pkg/labels/matcher.go), with Go's syntax and meaning.
/// The error is one lowercase line.
pub fn compile_anchored(pattern: &str) -> Result<Regex, String> {
    translate(pattern)?;
    // The pattern is valid alone and its parentheses balance, so the anchored
    // text Go compiles differs only where a `\Q` without `\E` quotes the
    // closing `)$` too, which Go then refuses for the unclosed `(?:`.
    let anchored = translate(&format!("^(?:{pattern})$")).map_err(|_| {
        "`\\Q` without `\\E` would quote the `)$` Alertmanager anchors the regex with; end the quote with `\\E`".to_owned()
    })?;
    Regex::new(&anchored).map_err(|e| crate::rules::matcher::one_line(&e.to_string()))
}

/// Rewrites a Go regexp into regex-crate syntax with the same meaning, or says
/// why Go would refuse it.
///
/// One deliberate difference: a pattern whose parentheses do not balance alone
/// (`a)|(b`) is refused, although Alertmanager's `^(?:a)|(b)$` compiles: there
/// it silently loses its anchors and matches far more than it reads.
pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut depth = 0usize;
    // Go refuses a repetition operator right after another (`a**`, `a{2}*`).
    let mut last_repeat: Option<usize> = None;
    // Go applies a repetition right after `(?i)` to the item before the flags
    // (`a(?i)*` is `a*`); the regex crate has nothing to repeat there. So a
    // flags-only group is written after the repetition that follows it.
    let mut pending_flags = String::new();
    while let Some(&c) = chars.get(i) {
        let repeats =
            matches!(c, '*' | '+' | '?') || (c == '{' && repeat_bounds(&chars[i..]).is_some());
        // A group decides below whether it is flags only.
        let group_start = c == '(' && chars.get(i + 1) == Some(&'?');
        if !repeats && !group_start {
            out.push_str(&pending_flags);
            pending_flags.clear();
        }
        let mut repeat = None;
        match c {
            '\\' => i = escape(&chars, i, &mut out)?,
            '[' => i = class(&chars, i, &mut out)?,
            '(' if chars.get(i + 1) == Some(&'?') => {
                let mut written = String::new();
                let (next, opens) = group(&chars, i, &mut written)?;
                if opens {
                    out.push_str(&pending_flags);
                    pending_flags.clear();
                    out.push_str(&written);
                } else {
                    pending_flags.push_str(&written);
                }
                depth += usize::from(opens);
                i = next;
            }
            '(' => {
                depth += 1;
                out.push('(');
                i += 1;
            }
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| "unopened group".to_owned())?;
                out.push(')');
                i += 1;
            }
            '*' | '+' | '?' => {
                let mut end = i + 1;
                if chars.get(end) == Some(&'?') {
                    end += 1;
                }
                if let Some(start) = last_repeat {
                    return Err(format!(
                        "invalid nested repetition operator `{}`",
                        text(&chars[start..end])
                    ));
                }
                out.extend(&chars[i..end]);
                repeat = Some(i);
                i = end;
            }
            '{' => match repeat_bounds(&chars[i..]) {
                Some((min, max, len)) => {
                    let written = text(&chars[i..i + len]);
                    if min > MAX_REPEAT
                        || max.is_some_and(|m| m > MAX_REPEAT)
                        || max.is_some_and(|m| min > m)
                    {
                        return Err(format!("invalid repeat count `{written}`"));
                    }
                    let mut end = i + len;
                    if chars.get(end) == Some(&'?') {
                        end += 1;
                    }
                    if let Some(start) = last_repeat {
                        return Err(format!(
                            "invalid nested repetition operator `{}`",
                            text(&chars[start..end])
                        ));
                    }
                    match max {
                        Some(max) if max == min => out.push_str(&format!("{{{min}}}")),
                        Some(max) => out.push_str(&format!("{{{min},{max}}}")),
                        None => out.push_str(&format!("{{{min},}}")),
                    }
                    if end > i + len {
                        out.push('?');
                    }
                    repeat = Some(i);
                    i = end;
                }
                // Go: "If the repeat cannot be parsed, { is a literal."
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' | ']' => {
                literal(c, &mut out);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
        last_repeat = repeat;
    }
    if depth > 0 {
        return Err("unclosed group".to_owned());
    }
    out.push_str(&pending_flags);
    Ok(out)
}

fn text(chars: &[char]) -> String {
    chars.iter().collect()
}

/// A literal character, written so neither the regex crate's class syntax nor
/// its escapes can read it as anything else.
fn literal(c: char, out: &mut String) {
    if c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii() {
        out.push(c);
    } else {
        out.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
    }
}

/// A backslash outside a class; returns the index after it.
fn escape(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let Some(&c) = chars.get(i + 1) else {
        return Err("trailing backslash at the end of the pattern".to_owned());
    };
    match c {
        'A' => out.push_str(r"\A"),
        'z' => out.push_str(r"\z"),
        // Go's \b is an ASCII word boundary (doc.go: "at ASCII word boundary").
        'b' => out.push_str(r"(?-u:\b)"),
        'B' => out.push_str(r"(?-u:\B)"),
        // `\Q…\E` quotes literally; an unterminated `\Q` quotes to the end.
        'Q' => {
            let rest = text(&chars[i + 2..]);
            let (quoted, after) = match rest.find(r"\E") {
                Some(at) => (&rest[..at], at + 2),
                None => (rest.as_str(), rest.len()),
            };
            out.push_str(&regex::escape(quoted));
            return Ok(i + 2 + rest[..after].chars().count());
        }
        'p' | 'P' => return unicode_class(chars, i, out),
        'd' | 'D' | 's' | 'S' | 'w' | 'W' => {
            let (set, negated) = perl_class(c);
            out.push_str(if negated { "[^" } else { "[" });
            out.push_str(set);
            out.push(']');
        }
        _ => {
            let (ch, next) = char_escape(chars, i)?;
            literal(ch, out);
            return Ok(next);
        }
    }
    Ok(i + 2)
}

fn perl_class(c: char) -> (&'static str, bool) {
    match c {
        'd' => (DIGIT, false),
        'D' => (DIGIT, true),
        's' => (SPACE, false),
        'S' => (SPACE, true),
        'w' => (WORD, false),
        _ => (WORD, true),
    }
}

/// `\pL`, `\p{Greek}`, `\P{Greek}`, `\p{^Greek}` (Go's negation, which the
/// regex crate writes `\P{Greek}`).
fn unicode_class(chars: &[char], i: usize, out: &mut String) -> Result<usize, String> {
    let mut negated = chars[i + 1] == 'P';
    let Some(&first) = chars.get(i + 2) else {
        return Err("invalid character class range `\\p`".to_owned());
    };
    if first != '{' {
        out.push_str(if negated { r"\P" } else { r"\p" });
        out.push_str(&format!("{{{first}}}"));
        return Ok(i + 3);
    }
    let close = chars[i + 3..]
        .iter()
        .position(|&c| c == '}')
        .map(|p| i + 3 + p)
        .ok_or_else(|| format!("invalid character class range `{}`", text(&chars[i..])))?;
    let mut name = text(&chars[i + 3..close]);
    if let Some(rest) = name.strip_prefix('^') {
        negated = !negated;
        name = rest.to_owned();
    }
    out.push_str(if negated { r"\P" } else { r"\p" });
    out.push_str(&format!("{{{name}}}"));
    Ok(close + 1)
}

/// A single-character escape (Go's `parseEscape`): octal `\0`, `\12`, `\123`
/// (a lone `\1`…`\7` is a backreference, which Go refuses), `\xHH`, `\x{H…}`,
/// `\a \f \n \r \t \v`, and any ASCII punctuation as itself. Returns the
/// character and the index after the escape.
fn char_escape(chars: &[char], i: usize) -> Result<(char, usize), String> {
    let invalid = |end: usize| {
        format!(
            "invalid escape sequence `{}`",
            text(&chars[i..end.min(chars.len())])
        )
    };
    let Some(&c) = chars.get(i + 1) else {
        return Err("trailing backslash at the end of the pattern".to_owned());
    };
    let octal = |c: Option<&char>| c.is_some_and(|c| ('0'..='7').contains(c));
    let mut j = i + 2;
    let value = match c {
        '1'..='7' if !octal(chars.get(j)) => return Err(invalid(j)),
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.get(j).and_then(|d| d.to_digit(8)) {
                    Some(d) => {
                        v = v * 8 + d;
                        j += 1;
                    }
                    None => break,
                }
            }
            v
        }
        'x' => match chars.get(j) {
            Some('{') => {
                let close = chars[j..]
                    .iter()
                    .position(|&c| c == '}')
                    .map(|p| j + p)
                    .ok_or_else(|| invalid(chars.len()))?;
                let digits = text(&chars[j + 1..close]);
                let v = (!digits.is_empty() && digits.len() <= 8)
                    .then(|| u32::from_str_radix(&digits, 16).ok())
                    .flatten()
                    .filter(|v| *v <= 0x10FFFF)
                    .ok_or_else(|| invalid(close + 1))?;
                j = close + 1;
                v
            }
            _ => {
                let hex = |k: usize| chars.get(k).and_then(|c| c.to_digit(16));
                match (hex(j), hex(j + 1)) {
                    (Some(a), Some(b)) => {
                        j += 2;
                        a * 16 + b
                    }
                    _ => return Err(invalid(j + 2)),
                }
            }
        },
        'a' => 7,
        'f' => 12,
        'n' => 10,
        'r' => 13,
        't' => 9,
        'v' => 11,
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => u32::from(c),
        _ => return Err(invalid(j)),
    };
    // Go accepts a surrogate code point, which no valid UTF-8 label contains;
    // the regex crate cannot write one.
    let ch = char::from_u32(value).ok_or_else(|| invalid(j))?;
    Ok((ch, j))
}

/// `(?` … : flags `(?i)`, `(?i-s:re)`, `(?:re)`, named groups `(?P<n>re)` and
/// `(?<n>re)`. Returns the index after the opening and whether it opened a group.
fn group(chars: &[char], i: usize, out: &mut String) -> Result<(usize, bool), String> {
    let named = match (chars.get(i + 2), chars.get(i + 3)) {
        (Some('P'), Some('<')) => Some(i + 4),
        (Some('<'), _) => Some(i + 3),
        _ => None,
    };
    if let Some(start) = named {
        let close = chars[start..]
            .iter()
            .position(|&c| c == '>')
            .map(|p| start + p);
        let name = close.map(|c| text(&chars[start..c])).unwrap_or_default();
        // Go: a name is letters, digits and `_` (isValidCaptureName), and unique.
        let valid = !name.is_empty() && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
        let Some(close) = close.filter(|_| valid) else {
            let end = close.map_or(chars.len(), |c| c + 1);
            return Err(format!("invalid named capture `{}`", text(&chars[i..end])));
        };
        // Matchers never read captures, so a plain group means the same; Go
        // allows a name twice, the regex crate does not.
        out.push('(');
        return Ok((close + 1, true));
    }
    let mut j = i + 2;
    let mut negated = false;
    let mut saw_flag = false;
    let mut flags = String::new();
    let bad = |end: usize| {
        format!(
            "invalid or unsupported Perl syntax `{}`",
            text(&chars[i..end.min(chars.len())])
        )
    };
    loop {
        let Some(&c) = chars.get(j) else {
            return Err(bad(j));
        };
        j += 1;
        match c {
            'i' | 'm' | 's' | 'U' => {
                saw_flag = true;
                flags.push(c);
            }
            '-' if !negated => {
                negated = true;
                saw_flag = false;
                flags.push('-');
            }
            ':' | ')' => {
                if negated && !saw_flag {
                    return Err(bad(j));
                }
                let opens = c == ':';
                // Go accepts `(?)`, which sets no flag; the regex crate does not.
                if !flags.is_empty() || opens {
                    out.push_str("(?");
                    out.push_str(&flags);
                    out.push(c);
                }
                return Ok((j, opens));
            }
            _ => return Err(bad(j)),
        }
    }
}

/// `{n}`, `{n,}`, `{n,m}` as Go reads them (parseRepeat: decimal, no leading
/// zero); `None` when `{` is a literal. Returns min, max (None: unbounded) and length.
fn repeat_bounds(chars: &[char]) -> Option<(u32, Option<u32>, usize)> {
    fn int(chars: &[char], at: usize) -> Option<(u32, usize)> {
        let digits = chars[at..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if digits == 0 || (digits > 1 && chars[at] == '0') {
            return None;
        }
        // Go caps at 1e8 before refusing the count; any value above 1000 fails.
        let value = text(&chars[at..at + digits])
            .parse::<u32>()
            .unwrap_or(u32::MAX);
        Some((value, at + digits))
    }
    let (min, mut at) = int(chars, 1)?;
    let max = match chars.get(at)? {
        ',' => {
            at += 1;
            if chars.get(at)? == &'}' {
                None
            } else {
                let (max, next) = int(chars, at)?;
                at = next;
                Some(max)
            }
        }
        _ => Some(min),
    };
    (chars.get(at)? == &'}').then_some((min, max, at + 1))
}

/// A bracketed class, item by item as Go's parseClass reads it; every literal
/// is written as `\x{…}` so the regex crate's nested classes and `&&`, `--`,
/// `~~` operators cannot apply. Returns the index after the closing `]`.
fn class(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let missing = || "unclosed character class".to_owned();
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    // `]` is a literal as the first item (`[]a]`).
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(missing());
        };
        if c == ']' && !first {
            out.push(']');
            return Ok(i + 1);
        }
        first = false;
        if c == '[' && chars.get(i + 1) == Some(&':') {
            let end = chars[i + 2..]
                .windows(2)
                .position(|w| w == [':', ']'])
                .map(|p| i + 2 + p + 2);
            if let Some(end) = end {
                let name = text(&chars[i + 2..end - 2]);
                if !POSIX.contains(&name.trim_start_matches('^'))
                    || name.matches('^').count() > 1
                    || (name.contains('^') && !name.starts_with('^'))
                {
                    return Err(format!(
                        "invalid character class range `{}`",
                        text(&chars[i..end])
                    ));
                }
                out.push_str(&format!("[:{name}:]"));
                i = end;
                continue;
            }
        }
        if c == '\\' {
            match chars.get(i + 1) {
                Some('p' | 'P') => {
                    i = unicode_class(chars, i, out)?;
                    continue;
                }
                Some(&p @ ('d' | 'D' | 's' | 'S' | 'w' | 'W')) => {
                    let (set, negated) = perl_class(p);
                    if negated {
                        out.push_str(&format!("[^{set}]"));
                    } else {
                        out.push_str(set);
                    }
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        let (lo, next) = class_char(chars, i).ok_or_else(missing)??;
        i = next;
        let mut hi = lo;
        // `[a-]` is `a` or `-`.
        if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|&c| c != ']') {
            let (h, next) = class_char(chars, i + 1).ok_or_else(missing)??;
            if h < lo {
                return Err(format!(
                    "invalid character class range `{}`",
                    text(&chars[i - 1..next])
                ));
            }
            hi = h;
            i = next;
        }
        out.push_str(&format!("\\x{{{:X}}}", u32::from(lo)));
        if hi != lo {
            out.push_str(&format!("-\\x{{{:X}}}", u32::from(hi)));
        }
    }
}

/// One character of a class: an escape or the character itself (`[` too).
/// `None` at the end of the pattern.
fn class_char(chars: &[char], i: usize) -> Option<Result<(char, usize), String>> {
    let c = *chars.get(i)?;
    Some(if c == '\\' {
        char_escape(chars, i)
    } else {
        Ok((c, i + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(p: &str) -> String {
        match translate(p) {
            Ok(t) => t,
            Err(e) => panic!("{p}: {e}"),
        }
    }

    #[test]
    fn go_only_syntax_is_rewritten() {
        assert_eq!(go(r"\d+"), "[0-9]+");
        assert_eq!(go(r"\Qa.b\E+"), r"a\.b+");
        assert_eq!(go(r"\Qa.b"), r"a\.b");
        assert_eq!(go("a{"), r"a\{");
        assert_eq!(go("a{01}"), r"a\{01\x{7D}");
        assert_eq!(go("(?)a"), "a");
        assert_eq!(go("a(?i)*b"), "a*(?i)b");
        assert_eq!(go("[[]"), r"[\x{5B}]");
        assert_eq!(go(r"\p{^Greek}"), r"\P{Greek}");
    }

    #[test]
    fn what_go_refuses_is_refused() {
        for p in [
            "a**",
            "a*+",
            "a{2}{3}",
            "a{1001}",
            "a{3,2}",
            "(?x)a",
            "(?i-)a",
            r"\1",
            r"\8",
            r"\e",
            r"\C",
            r"\Z",
            "[a",
            "[z-a]",
            "[[:foo:]]",
            "a)|(b",
            "(a",
            r"[a-\d]",
            "(?P<>a)",
            "(?P<é>a)",
            r"\x{110000}",
            "\\",
        ] {
            assert!(translate(p).is_err(), "{p} should be refused");
        }
    }

    #[test]
    fn an_unterminated_quote_is_refused_once_anchored() {
        // Go: `\Qa.b` quotes to the end; Alertmanager's `^(?:\Qa.b)$` then
        // quotes its own `)$` and fails to compile.
        assert_eq!(go(r"\Qa.b"), r"a\.b");
        let err = compile_anchored(r"\Qa.b").err().unwrap_or_default();
        assert!(err.contains(r"end the quote with `\E`"), "{err}");
        assert!(compile_anchored(r"\Qa.b\E").is_ok_and(|re| re.is_match("a.b")));
    }

    #[test]
    fn every_translation_compiles() {
        for p in [
            r"[^\x00-\x{10FFFF}]",
            r"[]a]",
            r"[a-]",
            r"[\d\W[:^alpha:]\pL]",
            r"(?i:\w)\b\B",
            r"\012\0\x41\x{1F642}",
            r"a{2,}?b{0,3}",
            r"(?P<n>a)(?<m>b)",
            r"\Q\E",
            r"[&&~~-]",
        ] {
            let t = go(p);
            assert!(Regex::new(&t).is_ok(), "{p} → {t}");
        }
    }
}
