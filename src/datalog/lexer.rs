//! Lexer: Datalog text to tokens with spans.
//!
//! Offsets are `base + offset in text`, so a body embedded in a YAML scalar gets
//! spans in its file's coordinates; the caller picks `base` and the [`SourceId`].
//! The lexer stops at the first bad character or literal: one error is enough
//! for text this short, and later errors would mostly be echoes of the first.

use super::ast::{SourceId, Span};
use super::error::DatalogError;
use super::value::{Frac, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// `deploying`, `label`: `[a-z][A-Za-z0-9_]*`, except the keyword `not`.
    Ident(String),
    /// `X`, `Service`, `_tmp`: `[A-Z_][A-Za-z0-9_]*`, except a lone `_`.
    Var(String),
    /// `_`.
    Wildcard,
    /// `$service`, stored without the `$`.
    Param(String),
    /// A string literal, escapes resolved.
    Str(String),
    Int(i64),
    /// A number literal with a fraction (`0.05`); `1.0` lexes as `Int(1)`.
    Frac(Frac),
    LParen,
    RParen,
    Comma,
    Dot,
    /// `:-`
    If,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`
    Match,
    Not,
    /// End of input; its span is empty, at the end of the text.
    Eof,
}

impl TokenKind {
    /// How the token is named in "expected ..., found ..." messages.
    pub fn describe(&self) -> String {
        match self {
            TokenKind::Ident(s) => format!("identifier {s:?}"),
            TokenKind::Var(s) => format!("variable {s:?}"),
            TokenKind::Wildcard => "wildcard \"_\"".to_owned(),
            TokenKind::Param(s) => format!("parameter \"${s}\""),
            TokenKind::Str(s) => format!("string {s:?}"),
            TokenKind::Int(i) => format!("integer {i}"),
            TokenKind::Frac(x) => format!("number {x}"),
            TokenKind::Eof => "end of input".to_owned(),
            other => format!("\"{}\"", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            TokenKind::LParen => "(",
            TokenKind::RParen => ")",
            TokenKind::Comma => ",",
            TokenKind::Dot => ".",
            TokenKind::If => ":-",
            TokenKind::Eq => "=",
            TokenKind::Ne => "!=",
            TokenKind::Lt => "<",
            TokenKind::Le => "<=",
            TokenKind::Gt => ">",
            TokenKind::Ge => ">=",
            TokenKind::Match => "=~",
            TokenKind::Not => "not",
            _ => "",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

/// Splits `text` into tokens, ending with [`TokenKind::Eof`].
pub fn lex(text: &str, src: SourceId, base: usize) -> Result<Vec<Token>, DatalogError> {
    Lexer {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        src,
        base,
    }
    .run()
}

struct Lexer<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    src: SourceId,
    base: usize,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Lexer<'_> {
    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.src, self.base + start, self.base + end)
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes.get(self.pos + offset).copied()
    }

    fn word_end(&self, from: usize) -> usize {
        let mut end = from;
        while self.bytes.get(end).is_some_and(|b| is_word(*b)) {
            end += 1;
        }
        end
    }

    fn run(mut self) -> Result<Vec<Token>, DatalogError> {
        let mut tokens = Vec::new();
        loop {
            self.skip_trivia();
            let start = self.pos;
            let Some(b) = self.peek_at(0) else {
                tokens.push(Token {
                    kind: TokenKind::Eof,
                    span: self.span(start, start),
                });
                return Ok(tokens);
            };
            let kind = match b {
                b'(' => self.single(TokenKind::LParen),
                b')' => self.single(TokenKind::RParen),
                b',' => self.single(TokenKind::Comma),
                b'.' => self.single(TokenKind::Dot),
                b':' if self.peek_at(1) == Some(b'-') => self.double(TokenKind::If),
                b'=' if self.peek_at(1) == Some(b'~') => self.double(TokenKind::Match),
                b'=' => self.single(TokenKind::Eq),
                b'!' if self.peek_at(1) == Some(b'=') => self.double(TokenKind::Ne),
                b'<' if self.peek_at(1) == Some(b'=') => self.double(TokenKind::Le),
                b'<' => self.single(TokenKind::Lt),
                b'>' if self.peek_at(1) == Some(b'=') => self.double(TokenKind::Ge),
                b'>' => self.single(TokenKind::Gt),
                b'"' => self.string()?,
                b'-' if self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) => self.int()?,
                b'0'..=b'9' => self.int()?,
                b'$' if self
                    .peek_at(1)
                    .is_some_and(|c| c.is_ascii_lowercase() || c == b'_') =>
                {
                    let end = self.word_end(start + 1);
                    self.pos = end;
                    TokenKind::Param(self.text[start + 1..end].to_owned())
                }
                b'a'..=b'z' => {
                    let end = self.word_end(start);
                    self.pos = end;
                    match &self.text[start..end] {
                        "not" => TokenKind::Not,
                        word => TokenKind::Ident(word.to_owned()),
                    }
                }
                b'A'..=b'Z' | b'_' => {
                    let end = self.word_end(start);
                    self.pos = end;
                    match &self.text[start..end] {
                        "_" => TokenKind::Wildcard,
                        word => TokenKind::Var(word.to_owned()),
                    }
                }
                _ => {
                    // `start` is always on a char boundary: every branch above
                    // consumes whole ASCII bytes or whole strings.
                    let ch = self.text[start..].chars().next().unwrap_or('\u{FFFD}');
                    return Err(DatalogError::UnexpectedChar {
                        ch,
                        span: self.span(start, start + ch.len_utf8()),
                    });
                }
            };
            tokens.push(Token {
                kind,
                span: self.span(start, self.pos),
            });
        }
    }

    fn single(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 1;
        kind
    }

    fn double(&mut self, kind: TokenKind) -> TokenKind {
        self.pos += 2;
        kind
    }

    fn skip_trivia(&mut self) {
        while let Some(b) = self.peek_at(0) {
            if b.is_ascii_whitespace() {
                self.pos += 1;
            } else if b == b'%' {
                while self.peek_at(0).is_some_and(|b| b != b'\n') {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn int(&mut self) -> Result<TokenKind, DatalogError> {
        let start = self.pos;
        let mut end = start + 1; // a sign or the first digit
        while self.bytes.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        // `1.5` is a fraction; `1.` is the integer 1 ending a clause, so the
        // dot belongs to the number only when a digit follows it.
        if self.bytes.get(end) == Some(&b'.')
            && self.bytes.get(end + 1).is_some_and(u8::is_ascii_digit)
        {
            end += 2;
            while self.bytes.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            self.pos = end;
            let text = &self.text[start..end];
            let parsed = text.parse::<f64>().ok().filter(|x| x.is_finite());
            return match parsed.and_then(Value::number) {
                Some(Value::Int(i)) => Ok(TokenKind::Int(i)),
                Some(Value::Frac(x)) => Ok(TokenKind::Frac(x)),
                _ => Err(DatalogError::NumberOutOfRange {
                    text: text.to_owned(),
                    span: self.span(start, end),
                }),
            };
        }
        self.pos = end;
        let text = &self.text[start..end];
        // Parsing with the sign keeps i64::MIN representable.
        text.parse::<i64>()
            .map(TokenKind::Int)
            .map_err(|_| DatalogError::IntegerOutOfRange {
                text: text.to_owned(),
                span: self.span(start, end),
            })
    }

    fn string(&mut self) -> Result<TokenKind, DatalogError> {
        let start = self.pos;
        let mut value = String::new();
        let mut chars = self.text[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            let at = start + 1 + i;
            match c {
                '"' => {
                    self.pos = at + 1;
                    return Ok(TokenKind::Str(value));
                }
                '\\' => match chars.next() {
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, other)) => {
                        return Err(DatalogError::InvalidEscape {
                            escape: format!("\\{other}"),
                            span: self.span(at, at + 1 + other.len_utf8()),
                        });
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(DatalogError::UnterminatedString {
            span: self.span(start, start + 1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<TokenKind> {
        lex(text, SourceId(0), 0)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn err(text: &str) -> DatalogError {
        lex(text, SourceId(0), 0).unwrap_err()
    }

    #[test]
    fn all_token_kinds() {
        use TokenKind::*;
        assert_eq!(
            kinds(
                r#"p(X, _, _y, $svc, "a", -3) :- not q, X != 1, X <= 2, X >= 3, X < 4, X > 5, X = 6, X =~ "r"."#
            ),
            vec![
                Ident("p".into()),
                LParen,
                Var("X".into()),
                Comma,
                Wildcard,
                Comma,
                Var("_y".into()),
                Comma,
                Param("svc".into()),
                Comma,
                Str("a".into()),
                Comma,
                Int(-3),
                RParen,
                If,
                Not,
                Ident("q".into()),
                Comma,
                Var("X".into()),
                Ne,
                Int(1),
                Comma,
                Var("X".into()),
                Le,
                Int(2),
                Comma,
                Var("X".into()),
                Ge,
                Int(3),
                Comma,
                Var("X".into()),
                Lt,
                Int(4),
                Comma,
                Var("X".into()),
                Gt,
                Int(5),
                Comma,
                Var("X".into()),
                Eq,
                Int(6),
                Comma,
                Var("X".into()),
                Match,
                Str("r".into()),
                Dot,
                Eof,
            ]
        );
    }

    #[test]
    fn keyword_only_when_whole_word() {
        use TokenKind::*;
        assert_eq!(
            kinds("not nothing note"),
            vec![Not, Ident("nothing".into()), Ident("note".into()), Eof]
        );
    }

    #[test]
    fn comments_and_whitespace() {
        use TokenKind::*;
        assert_eq!(
            kinds("% all comment\n p. % trailing\n%last"),
            vec![Ident("p".into()), Dot, Eof]
        );
        assert_eq!(kinds(""), vec![Eof]);
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            kinds(r#""a\"b\\c\nd\te%f""#),
            vec![TokenKind::Str("a\"b\\c\nd\te%f".into()), TokenKind::Eof]
        );
        assert_eq!(
            kinds("\"héllo ✓\""),
            vec![TokenKind::Str("héllo ✓".into()), TokenKind::Eof]
        );
    }

    #[test]
    fn integers_at_the_limits() {
        assert_eq!(
            kinds("9223372036854775807 -9223372036854775808")[..2],
            [TokenKind::Int(i64::MAX), TokenKind::Int(i64::MIN)]
        );
        let e = err("p(9223372036854775808)");
        assert_eq!(e.span(), Span::new(SourceId(0), 2, 21));
        assert_eq!(
            e.to_string(),
            "integer 9223372036854775808 does not fit in 64 bits"
        );
        assert!(matches!(
            err("-9223372036854775809"),
            DatalogError::IntegerOutOfRange { .. }
        ));
    }

    #[test]
    fn fractions() {
        let kinds = |text: &str| -> Vec<TokenKind> {
            lex(text, SourceId(0), 0)
                .unwrap()
                .into_iter()
                .map(|t| t.kind)
                .collect()
        };
        let frac = |x: f64| match Value::number(x) {
            Some(Value::Frac(f)) => TokenKind::Frac(f),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            kinds("0.05 -1.25 2.0 3."),
            [
                frac(0.05),
                frac(-1.25),
                TokenKind::Int(2),
                TokenKind::Int(3),
                TokenKind::Dot,
                TokenKind::Eof
            ]
        );
        let long = format!("1{}.5", "0".repeat(400));
        let err = lex(&long, SourceId(0), 0).unwrap_err();
        assert!(
            matches!(err, DatalogError::NumberOutOfRange { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn minus_needs_a_digit() {
        let e = err("X > - 1");
        assert_eq!(e.to_string(), "unexpected character \"-\"");
        assert_eq!(e.span(), Span::new(SourceId(0), 4, 5));
    }

    #[test]
    fn spans_are_offset_by_base() {
        let tokens = lex("  foo(\"x\")", SourceId(7), 100).unwrap();
        assert_eq!(tokens[0].span, Span::new(SourceId(7), 102, 105));
        assert_eq!(tokens[2].span, Span::new(SourceId(7), 106, 109));
        assert_eq!(tokens[4].span, Span::new(SourceId(7), 110, 110));
    }

    #[test]
    fn unterminated_string_points_at_the_quote() {
        let e = lex("p(\"abc", SourceId(1), 10).unwrap_err();
        assert_eq!(
            e,
            DatalogError::UnterminatedString {
                span: Span::new(SourceId(1), 12, 13)
            }
        );
        // A trailing backslash escapes nothing and leaves the string open.
        assert!(matches!(
            err("\"abc\\"),
            DatalogError::UnterminatedString { .. }
        ));
    }

    #[test]
    fn bad_escape() {
        let e = err(r#""a\qb""#);
        assert_eq!(e.to_string(), r#"invalid escape "\q" in string"#);
        assert_eq!(e.span(), Span::new(SourceId(0), 2, 4));
    }

    #[test]
    fn unexpected_characters() {
        let e = err("p(X) :- q(X) # comment");
        assert_eq!(e.to_string(), "unexpected character \"#\"");
        assert_eq!(e.span(), Span::new(SourceId(0), 13, 14));
        // A multi-byte character is spanned whole.
        assert_eq!(err("p(é)").span(), Span::new(SourceId(0), 2, 4));
        // `$` needs a lowercase name; `:` needs `-`; `!` needs `=`.
        assert!(matches!(
            err("$X"),
            DatalogError::UnexpectedChar { ch: '$', .. }
        ));
        assert!(matches!(
            err("p :"),
            DatalogError::UnexpectedChar { ch: ':', .. }
        ));
        assert!(matches!(
            err("X ! Y"),
            DatalogError::UnexpectedChar { ch: '!', .. }
        ));
    }
}
