//! Where a YAML scalar's characters are in its file.
//!
//! serde-saphyr tells where a scalar starts, but a `when:` body, a regex or a
//! template inside it reports errors at offsets *within the value*. Quotes,
//! folded lines and block-scalar indentation mean value offsets and file offsets
//! differ, so this maps one to the other word by word: each whitespace-separated
//! word of the value is found, in order, in the file text after the scalar's
//! start. Escapes inside double-quoted strings break that (the word is not in the
//! file as written); then every offset maps to the scalar's start, which still
//! names the right file and line.

use serde_saphyr::Spanned;

use crate::datalog::{SourceId, Span};

/// A scalar's value together with the map from its offsets to file offsets.
#[derive(Debug, Clone)]
pub struct Located<'a> {
    pub value: &'a str,
    pub src: SourceId,
    /// Where the scalar starts in the file (its quote, if quoted).
    pub start: usize,
    /// `(offset in value, offset in file, length)` of each word, in order.
    segments: Vec<(usize, usize, usize)>,
    exact: bool,
}

impl<'a> Located<'a> {
    pub fn new(file_text: &str, src: SourceId, scalar: &'a Spanned<String>) -> Self {
        let start = scalar
            .referenced
            .span()
            .byte_offset()
            .and_then(|o| usize::try_from(o).ok())
            .unwrap_or(0)
            .min(file_text.len());
        Self::at(file_text, src, start, &scalar.value)
    }

    pub fn at(file_text: &str, src: SourceId, start: usize, value: &'a str) -> Self {
        let mut segments = Vec::new();
        let mut cursor = start;
        let mut exact = true;
        for (offset, word) in words(value) {
            match file_text.get(cursor..).and_then(|rest| rest.find(word)) {
                Some(found) => {
                    let at = cursor + found;
                    segments.push((offset, at, word.len()));
                    cursor = at + word.len();
                }
                None => {
                    exact = false;
                    break;
                }
            }
        }
        if !exact {
            segments.clear();
        }
        Located {
            value,
            src,
            start,
            segments,
            exact,
        }
    }

    /// The file offset of a byte offset inside the value.
    pub fn offset(&self, in_value: usize) -> usize {
        if !self.exact {
            return self.start;
        }
        let mut last_end = self.start;
        for &(value_off, file_off, len) in &self.segments {
            if in_value < value_off {
                // In the white space before this word: place it right before the word.
                return file_off.saturating_sub(value_off - in_value).max(last_end);
            }
            if in_value <= value_off + len {
                return file_off + (in_value - value_off);
            }
            last_end = file_off + len;
        }
        last_end
    }

    /// The file span of a byte range inside the value.
    pub fn span(&self, start: usize, end: usize) -> Span {
        let from = self.offset(start);
        let to = self.offset(end).max(from);
        Span::new(self.src, from, to)
    }

    /// The file span of the whole value (without quotes where it is exact).
    pub fn whole(&self) -> Span {
        match (self.segments.first(), self.segments.last()) {
            (Some(first), Some(last)) => Span::new(self.src, first.1, last.1 + last.2),
            _ => Span::new(self.src, self.start, self.start + 1),
        }
    }

    /// The value laid out at its file offsets: white space everywhere else.
    ///
    /// Parsing this with `base = self.start` gives spans that are file offsets,
    /// whatever the quoting or folding. `None` when the value could not be found.
    pub fn padded(&self) -> Option<String> {
        if !self.exact {
            return None;
        }
        let end = self.segments.last().map_or(self.start, |s| s.1 + s.2);
        let mut out = vec![b' '; end - self.start];
        for &(value_off, file_off, len) in &self.segments {
            let dst = file_off - self.start;
            out[dst..dst + len].copy_from_slice(&self.value.as_bytes()[value_off..value_off + len]);
        }
        String::from_utf8(out).ok()
    }
}

fn words(value: &str) -> impl Iterator<Item = (usize, &str)> {
    value
        .split(|c: char| c.is_whitespace())
        .scan(0usize, |pos, word| {
            let offset = *pos;
            // `split` consumed one separator char after the word; it may be multi-byte.
            let sep_len = value[offset + word.len()..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
            *pos = offset + word.len() + sep_len;
            Some((offset, word))
        })
        .filter(|(_, w)| !w.is_empty())
}

/// The span of any spanned YAML value: from its start, `len` bytes (at least one).
pub fn span_of<T>(src: SourceId, spanned: &Spanned<T>, len: usize) -> Span {
    let loc = spanned.referenced.span();
    let start = loc
        .byte_offset()
        .and_then(|o| usize::try_from(o).ok())
        .unwrap_or(0);
    Span::new(src, start, start + len.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locate<'a>(file: &str, value: &'a str) -> Located<'a> {
        let start = file.find(':').map_or(0, |i| i + 2);
        Located::at(file, SourceId(0), start, value)
    }

    #[test]
    fn plain_scalar_maps_one_to_one() {
        let file = "when: age($alert, S), S >= 120\n";
        let l = locate(file, "age($alert, S), S >= 120");
        assert_eq!(&file[l.offset(0)..l.offset(3)], "age");
        assert_eq!(l.padded().as_deref(), Some("age($alert, S), S >= 120"));
    }

    #[test]
    fn quoted_scalar_skips_the_quote() {
        let file = "when: \"deploying($service)\"\n";
        let l = locate(file, "deploying($service)");
        assert_eq!(l.offset(0), file.find('d').unwrap_or(0));
        assert_eq!(l.whole().start, 7);
    }

    #[test]
    fn block_scalar_maps_each_line_past_its_indentation() {
        let file = "when: |\n    a(X),\n    b(X)\n";
        let l = locate(file, "a(X),\nb(X)\n");
        let b = l.offset(6);
        assert_eq!(&file[b..b + 4], "b(X)");
        let padded = l.padded().unwrap_or_default();
        // Same length as the file text it covers, so parser offsets are file offsets.
        assert_eq!(padded.len(), file.find("b(X)").unwrap_or(0) + 4 - l.start);
        assert_eq!(
            padded.split_whitespace().collect::<Vec<_>>(),
            ["a(X),", "b(X)"]
        );
    }

    #[test]
    fn escapes_fall_back_to_the_scalar_start() {
        let file = "when: \"a(\\\"x\\\")\"\n";
        let l = locate(file, "a(\"x\")");
        assert_eq!(l.offset(3), 6);
        assert!(l.padded().is_none());
    }
}
