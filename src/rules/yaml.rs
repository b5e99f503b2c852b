//! How resgate reads YAML: one set of parser options for rule files, test files
//! and scenarios, and one way to turn a parse error into a line for a user.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Parses YAML with resgate's options.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, serde_saphyr::Error> {
    let options = serde_saphyr::options! {
        // `no`, `on`, `y` stay strings: a label value `no` must not become `false`.
        strict_booleans: true,
        // Large generated rule sets (10,000 remediations) exceed the default node
        // budget; alias bombs stay bounded by the alias limits, and a rule file by
        // MAX_FILE_BYTES.
        budget: serde_saphyr::budget! {
            max_nodes: 8_000_000,
            max_events: 16_000_000,
        },
    };
    serde_saphyr::from_str_with_options(text, options)
}

/// A YAML syntax error: where the parser stopped and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset of the place in the text.
    pub offset: usize,
    /// 1-based line and column.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// When the line is indented to no level open above it: what is wrong.
    pub indentation: Option<Misindented>,
}

/// A key indented between the levels open above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misindented {
    pub key: String,
    pub indent: usize,
    /// The nearest open level deeper than `indent` (the block the key
    /// probably belongs to) and the nearest shallower one, each with the key
    /// written at it and its 1-based line.
    pub deeper: Option<(usize, String, usize)>,
    pub shallower: Option<(usize, String, usize)>,
}

/// Runs the parser alone over `text`: the first syntax error, if any.
///
/// serde-saphyr deserializes while it parses, so a mapping that a syntax error
/// cuts short (an under-indented key ends the block above it) is reported as
/// `missing key` at the mapping's start before the parser reaches the bad line.
/// PyYAML's `expected <block end>` points at the line; so does this.
pub fn syntax_error(text: &str) -> Option<SyntaxError> {
    for event in granit_parser::Parser::new_from_str(text) {
        let Err(e) = event else { continue };
        let marker = e.marker();
        let offset = marker
            .byte_offset()
            .unwrap_or_else(|| {
                text.char_indices()
                    .nth(marker.index())
                    .map_or(text.len(), |(i, _)| i)
            })
            .min(text.len());
        return Some(SyntaxError {
            offset,
            line: marker.line(),
            column: marker.col() + 1,
            message: e.info(),
            indentation: misindented(text, marker.line()),
        });
    }
    None
}

/// Is line `line` (1-based) a `key:` indented to a level no block above it is
/// open at? The open levels are found from the indentation of the lines
/// before it (comments and blank lines do not count).
fn misindented(text: &str, line: usize) -> Option<Misindented> {
    let indent_of = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let key_of = |l: &str| {
        let t = l.trim_start_matches(' ').trim_start_matches("- ");
        t.split_once(':').map(|(k, _)| k.trim().to_owned())
    };
    let lines: Vec<&str> = text.lines().collect();
    let bad = *lines.get(line.checked_sub(1)?)?;
    let key = key_of(bad)?;
    let indent = indent_of(bad);
    // (indent, key, line) of each open level, outermost first.
    let mut open: Vec<(usize, String, usize)> = Vec::new();
    for (i, l) in lines.iter().enumerate().take(line - 1) {
        let t = l.trim_start_matches(' ');
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let at = indent_of(l);
        while open.last().is_some_and(|(o, _, _)| *o > at) {
            open.pop();
        }
        let key = key_of(l).unwrap_or_default();
        match open.last_mut() {
            Some(last) if last.0 == at => *last = (at, key, i + 1),
            _ => open.push((at, key, i + 1)),
        }
    }
    if open.iter().any(|(o, _, _)| *o == indent) {
        return None;
    }
    let deeper = open.iter().find(|(o, _, _)| *o > indent).cloned();
    let shallower = open.iter().rev().find(|(o, _, _)| *o < indent).cloned();
    deeper.as_ref()?;
    Some(Misindented {
        key,
        indent,
        deeper,
        shallower,
    })
}

/// The error's message with its location, without the source snippet.
pub fn error_line(err: &serde_saphyr::Error) -> String {
    let rendered = err.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    rendered.lines().next().unwrap_or("invalid YAML").to_owned()
}

/// Reads and parses a YAML file (test file, scenario); errors name the file.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| match syntax_error(&text) {
        Some(s) => format!("{}:{}:{}: {}", path.display(), s.line, s.column, s.message),
        None => format!("{}: {}", path.display(), error_line(&e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_under_indented_key_is_a_syntax_error_on_its_line() {
        let text = "a:\n  b:\n    c: 1\n    d: 2\n   e: 3\n";
        let e = syntax_error(text).unwrap_or_else(|| panic!("no syntax error"));
        assert_eq!((e.line, e.column), (5, 4));
        let m = e
            .indentation
            .unwrap_or_else(|| panic!("no indentation finding"));
        assert_eq!((m.key.as_str(), m.indent), ("e", 3));
        assert_eq!(m.deeper, Some((4, "d".to_owned(), 4)));
        assert_eq!(m.shallower, Some((2, "b".to_owned(), 2)));
        assert_eq!(syntax_error("a:\n  b: 1\n"), None);
    }
}
