//! Text from outside (alert labels, API input) made safe to print on a terminal.
//!
//! A label value is whatever the sender put there: an ESC starts a terminal
//! control sequence (colours, cursor moves, an OSC window title, on some
//! terminals a clipboard write), a newline forges a table row, and a bidi
//! override (U+202E) makes text read in another order than it is. Every human
//! (non-JSON) output of such a value goes through [`escape`]; JSON output needs
//! nothing (its encoder escapes control characters).

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character written as a Rust-style escape: C0
/// (`\n`, `\t`, `\r`, `\x1b`...), DEL (`\x7f`), C1 (`\u{9b}`...) and the bidi
/// embeddings, overrides and isolates (`\u{202e}`, `\u{2066}`...). Everything
/// else, a backslash included, is kept as it is: the escapes are for reading,
/// not for parsing back. Borrows when there is nothing to escape.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// C0, DEL, C1, and the bidi controls of Unicode's "Trojan Source" advisory
/// (CVE-2021-42574): LRE, RLE, PDF, LRO, RLO and LRI, RLI, FSI, PDI.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(escape("api-1"), "api-1");
        assert!(matches!(escape("api-1"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(
            escape("\x1b]0;pwned\x07x\x1b[2J"),
            "\\x1b]0;pwned\\x07x\\x1b[2J"
        );
        assert_eq!(escape("\x7f\u{9b}\u{85}"), "\\x7f\\u{9b}\\u{85}");
        assert_eq!(
            escape("a\u{202e}b\u{2066}c\u{2069}\u{202a}"),
            "a\\u{202e}b\\u{2066}c\\u{2069}\\u{202a}"
        );
        // Printable text outside ASCII stays as it is.
        assert_eq!(escape("größe 東京 \\n"), "größe 東京 \\n");
    }

    #[test]
    fn no_output_byte_is_a_control_character() {
        let every: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let out = escape(&every);
        assert!(out.bytes().all(|b| b >= 0x20 && b != 0x7f), "{out:?}");
        assert!(!out.chars().any(|c| c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)));
    }
}
