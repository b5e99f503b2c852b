//! `${env:NAME}` and `${file:PATH}` references in remediator URLs and headers.
//!
//! They are checked at load time (syntax only: CI that lints rules has no
//! secrets) and resolved when a request is built. A resolved secret lives only in
//! the request; it is never logged or journaled.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Env(String),
    File(String),
}

/// A string with secret references, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString {
    pieces: Vec<Piece>,
    /// `start..end` in the written text of each reference, in order.
    ranges: Vec<(usize, usize)>,
}

/// One reference some rule makes, where it is written and what it is for:
/// `serve` checks them all before it starts and before a reload goes live.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretUse {
    /// An [`Piece::Env`] or [`Piece::File`].
    pub piece: Piece,
    pub span: crate::datalog::Span,
    /// What the secret is for: `remediator "rundeck", header X-Rundeck-Auth-Token`.
    pub place: String,
    /// A URL's base (`url: "${env:RUNDECK_URL}/api/..."`): the value must
    /// also be a base URL ([`check_base_url`]).
    pub base_url: bool,
}

/// The environment variable a URL's base comes from: `${env:NAME}` written at
/// the very start of the URL and followed by `/` or nothing. Anywhere else a
/// reference could put a secret in a query or user-info (see
/// docs/decisions.md, "URLs from the environment"). Returns the name and the
/// length of the reference.
pub fn url_env_base(url: &str) -> Option<(&str, usize)> {
    let rest = url.strip_prefix("${env:")?;
    let close = rest.find('}')?;
    let name = &rest[..close];
    let end = "${env:".len() + close + 1;
    let after = &url[end..];
    (is_env_name(name) && (after.is_empty() || after.starts_with('/'))).then_some((name, end))
}

/// A base URL from the environment: `http(s)://host[:port][/path]`, with no
/// user-info, query or fragment (those would put credentials or parameters in
/// every URL, and URLs are logged and journaled).
pub fn check_base_url(value: &str) -> Result<(), String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| format!("{value:?} does not start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("{value:?} has no host"));
    }
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, '@' | '?' | '#') || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{value:?} holds {c:?}: a base URL has no user-info, query or fragment"
        ));
    }
    Ok(())
}

/// `base` (from the environment) joined to the rest of a rendered URL; one
/// trailing `/` of the base is dropped so `http://h:4440/` works as well.
pub fn join_base(base: &str, rest: &str) -> String {
    let base = if rest.starts_with('/') {
        base.strip_suffix('/').unwrap_or(base)
    } else {
        base
    };
    format!("{base}{rest}")
}

/// Why a secret reference yields no value. One lookup serves both
/// [`SecretUse::unresolved`] (start-up and reload) and
/// [`SecretString::resolve`] (each request), so they cannot disagree.
enum Missing {
    Unset(String),
    /// Refused as a missing one: an empty HMAC key or bearer token is a
    /// secret anyone knows.
    EmptyEnv(String),
    EmptyFile(String),
    Unreadable(String, std::io::Error),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Unset(name) => write!(f, "environment variable {name} is not set"),
            Missing::EmptyEnv(name) => write!(f, "environment variable {name} is empty"),
            Missing::EmptyFile(path) => write!(f, "secret file {path} is empty"),
            Missing::Unreadable(path, e) => write!(f, "cannot read secret file {path}: {e}"),
        }
    }
}

/// The value of one `${env:}` or `${file:}` reference.
fn lookup_env(name: &str, env: impl Fn(&str) -> Option<String>) -> Result<String, Missing> {
    match env(name) {
        Some(v) if v.is_empty() => Err(Missing::EmptyEnv(name.to_owned())),
        Some(v) => Ok(v),
        None => Err(Missing::Unset(name.to_owned())),
    }
}

fn lookup_file(
    path: &str,
    read_file: impl Fn(&str) -> std::io::Result<String>,
) -> Result<String, Missing> {
    match read_file(path) {
        // Secret files conventionally end in a newline that is not part of the secret.
        Ok(v) => match v.trim_end_matches(['\n', '\r']) {
            "" => Err(Missing::EmptyFile(path.to_owned())),
            v => Ok(v.to_owned()),
        },
        Err(e) => Err(Missing::Unreadable(path.to_owned(), e)),
    }
}

impl SecretUse {
    /// Why this reference cannot be resolved now, if it cannot.
    pub fn unresolved(
        &self,
        env: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&str) -> std::io::Result<String>,
    ) -> Option<crate::diag::Diagnostic> {
        let missing = match &self.piece {
            Piece::Text(_) => return None,
            Piece::Env(name) => match lookup_env(name, env) {
                Ok(value) if self.base_url => match check_base_url(&value) {
                    Ok(()) => return None,
                    Err(why) => {
                        return Some(self.diagnostic(
                            format!("environment variable {name} is not a base URL: {why}"),
                            format!(
                                "set {name} to e.g. http://127.0.0.1:4440 (scheme, host, port, optional path)"
                            ),
                        ));
                    }
                },
                Ok(_) => return None,
                Err(missing) => missing,
            },
            Piece::File(path) => match lookup_file(path, read_file) {
                Ok(_) => return None,
                Err(missing) => missing,
            },
        };
        let help = match &missing {
            Missing::Unset(name) if self.base_url => format!(
                "set {name} in the environment of `resgate serve`, e.g. {name}=http://127.0.0.1:4440"
            ),
            Missing::Unset(name) => {
                format!("set {name} in the environment of `resgate serve`, or use ${{file:PATH}}")
            }
            Missing::EmptyEnv(name) => format!(
                "set {name} to the secret: an empty one would let anyone authenticate or sign"
            ),
            Missing::EmptyFile(_) => {
                "write the secret into the file: an empty one would let anyone authenticate or sign"
                    .to_owned()
            }
            Missing::Unreadable(..) => {
                "create the file, or make it readable by the user running `resgate serve`"
                    .to_owned()
            }
        };
        Some(self.diagnostic(missing.to_string(), help))
    }

    fn diagnostic(&self, message: String, help: String) -> crate::diag::Diagnostic {
        crate::diag::Diagnostic::error("unresolved-secret", message)
            .label(self.span, format!("{} uses it", self.place))
            .help(help)
    }
}

impl fmt::Debug for SecretString {
    /// Shows the references, never their values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Env(n) => write!(f, "${{env:{n}}}")?,
                Piece::File(p) => write!(f, "${{file:{p}}}")?,
            }
        }
        Ok(())
    }
}

/// A malformed reference; `start..end` is the byte range in the written text.
#[derive(Debug, Clone, PartialEq)]
pub struct SecretError {
    pub message: String,
    pub help: String,
    pub start: usize,
    pub end: usize,
}

impl SecretString {
    pub fn parse(text: &str) -> Result<SecretString, SecretError> {
        let mut pieces = Vec::new();
        let mut ranges = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find("${") {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_owned()));
            }
            let start = offset + open;
            let after = &rest[open + 2..];
            let Some(close) = after.find('}') else {
                return Err(SecretError {
                    message: "unterminated secret reference".to_owned(),
                    help: "write ${env:NAME} or ${file:PATH}".to_owned(),
                    start,
                    end: offset + rest.len(),
                });
            };
            let inner = &after[..close];
            let end = start + 2 + close + 1;
            let piece = match inner.split_once(':') {
                Some(("env", name)) if is_env_name(name) => Piece::Env(name.to_owned()),
                Some(("file", path)) if !path.is_empty() => Piece::File(path.to_owned()),
                Some(("env", _)) => {
                    return Err(SecretError {
                        message: format!("invalid environment variable name in \"${{{inner}}}\""),
                        help:
                            "names are letters, digits and underscores, e.g. ${env:RUNDECK_TOKEN}"
                                .to_owned(),
                        start,
                        end,
                    });
                }
                _ => {
                    return Err(SecretError {
                        message: format!("unknown secret reference \"${{{inner}}}\""),
                        help: "write ${env:NAME} or ${file:PATH}".to_owned(),
                        start,
                        end,
                    });
                }
            };
            pieces.push(piece);
            ranges.push((start, end));
            rest = &after[close + 1..];
            offset = end;
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(SecretString { pieces, ranges })
    }

    /// Each reference with its `start..end` in the written text.
    pub fn references(&self) -> impl Iterator<Item = (&Piece, (usize, usize))> {
        self.pieces
            .iter()
            .filter(|p| !matches!(p, Piece::Text(_)))
            .zip(self.ranges.iter().copied())
    }

    pub fn has_secrets(&self) -> bool {
        self.pieces.iter().any(|p| !matches!(p, Piece::Text(_)))
    }

    /// Fills in the references. `env` and `read_file` are passed in so that tests
    /// (and the engine's purity) do not depend on the process environment.
    pub fn resolve(
        &self,
        env: impl Fn(&str) -> Option<String>,
        read_file: impl Fn(&str) -> std::io::Result<String>,
    ) -> Result<String, String> {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Env(name) => {
                    out.push_str(&lookup_env(name, &env).map_err(|m| m.to_string())?);
                }
                Piece::File(path) => {
                    out.push_str(&lookup_file(path, &read_file).map_err(|m| m.to_string())?);
                }
            }
        }
        Ok(out)
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_references() {
        let s = SecretString::parse("Bearer ${env:TOKEN}!").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(s.has_secrets());
        let env = |n: &str| (n == "TOKEN").then(|| "s3cret".to_owned());
        let no_file = |_: &str| Err(std::io::Error::other("no"));
        assert_eq!(s.resolve(env, no_file), Ok("Bearer s3cret!".to_owned()));
        assert_eq!(format!("{s:?}"), "Bearer ${env:TOKEN}!");
    }

    #[test]
    fn empty_secrets_are_errors_not_secrets() {
        let s = SecretString::parse("Bearer ${env:E}").unwrap();
        let r = s.resolve(|_| Some(String::new()), |_| Ok(String::new()));
        assert_eq!(r, Err("environment variable E is empty".to_owned()));
        let f = SecretString::parse("${file:/run/secrets/x}").unwrap();
        let r = f.resolve(|_| None, |_| Ok("\n".to_owned()));
        assert_eq!(r, Err("secret file /run/secrets/x is empty".to_owned()));
    }

    #[test]
    fn missing_env_is_an_error_not_an_empty_string() {
        let s = SecretString::parse("${env:NOPE}").unwrap_or_else(|e| panic!("{e:?}"));
        let r = s.resolve(|_| None, |_| Ok(String::new()));
        assert_eq!(r, Err("environment variable NOPE is not set".to_owned()));
    }

    #[test]
    fn only_a_leading_env_reference_followed_by_a_slash_is_a_url_base() {
        assert_eq!(url_env_base("${env:RD}/api/45"), Some(("RD", 9)));
        assert_eq!(url_env_base("${env:RD}"), Some(("RD", 9)));
        assert_eq!(url_env_base("${env:RD}?token=x"), None);
        assert_eq!(url_env_base("${env:RD}@host/"), None);
        assert_eq!(url_env_base("https://h/${env:RD}"), None);
        assert_eq!(url_env_base("${file:/x}/api"), None);
        assert!(check_base_url("http://127.0.0.1:4440").is_ok());
        assert!(check_base_url("https://rundeck.internal/rundeck").is_ok());
        assert!(check_base_url("https://user:pw@rundeck").is_err());
        assert!(check_base_url("https://rundeck/?token=x").is_err());
        assert!(check_base_url("rundeck:4440").is_err());
        assert!(check_base_url("http:///x").is_err());
        assert_eq!(join_base("http://h:1/", "/api"), "http://h:1/api");
    }

    #[test]
    fn malformed_references_have_ranges() {
        let e = SecretString::parse("x ${vault:abc} y").err();
        assert_eq!(e.map(|e| (e.start, e.end)), Some((2, 14)));
        assert!(SecretString::parse("${env:1BAD}").is_err());
        assert!(SecretString::parse("${env:OK").is_err());
    }
}
