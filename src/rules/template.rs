//! Templates in rules (`target`, `vars`, `body` leaves, remediator URLs).
//!
//! MiniJinja with strict undefined: a missing variable is an error, never an empty
//! string, because `restart-{{ servce }}` silently becoming `restart-` is how an
//! automation restarts the wrong thing. URL templates percent-encode every value
//! they print, so a label like `a/b?x` stays inside its path segment.
//!
//! Most templates are plain (`restart-{{ service }}`, `{{ labels.job }}`): text
//! and references to the alert's fields. Those are also split into [`Piece`]s at
//! compile time and rendered by concatenation, which costs a fraction of a
//! MiniJinja render and its context; anything else (filters, blocks, a missing
//! variable's error) goes through MiniJinja.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::{Environment, UndefinedBehavior};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 3986 unreserved characters stay; everything else is encoded.
const URL_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How a template's output is used, which decides how values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TemplateKind {
    /// Plain text: targets, vars, JSON body leaves (the JSON encoder escapes).
    Text,
    /// A URL: each printed value is percent-encoded.
    Url,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateId {
    kind: TemplateKind,
    index: u32,
}

/// A template that does not compile; `start..end` is the range in its text.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

pub struct Templates {
    text: Environment<'static>,
    url: Environment<'static>,
    count: u32,
    sources: Vec<String>,
    /// By template index: its pieces, if it is plain.
    plain: Vec<Option<Vec<Piece>>>,
}

/// One part of a plain template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// `{{ name }}`: a label, `remediation` or `fingerprint`.
    Var(String),
    /// `{{ labels.name }}`
    Label(String),
    /// `{{ annotations.name }}`
    Annotation(String),
}

/// What a plain template can read: the names of `engine::alert_context`.
#[derive(Debug, Clone, Copy)]
pub struct PlainContext<'a> {
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    pub remediation: &'a str,
    pub fingerprint: &'a str,
}

impl PlainContext<'_> {
    /// The string a top-level name prints, as in `alert_context`, where
    /// `remediation` and `fingerprint` shadow labels of the same name; `None`
    /// for a missing name or one that is not a string (`labels`).
    fn var(&self, name: &str) -> Option<&str> {
        match name {
            "remediation" => Some(self.remediation),
            "fingerprint" => Some(self.fingerprint),
            "labels" | "annotations" => None,
            _ => self.labels.get(name).map(String::as_str),
        }
    }
}

/// Plain templates longer than this go through MiniJinja, whose fuel bounds them.
const MAX_PIECES: usize = 256;

/// Words MiniJinja reads as literals or operators, not variables.
const KEYWORDS: &[&str] = &[
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else",
    "loop", "self",
];

fn identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&s)
}

/// The pieces of `source` if it is only text and simple references; `None`
/// when MiniJinja must render it. Conservative: anything unusual (blocks,
/// comments, whitespace control, a trailing newline MiniJinja would drop,
/// filters, indexing) is not plain.
pub fn plain_pieces(source: &str) -> Option<Vec<Piece>> {
    if source.ends_with('\n') || source.contains('\r') {
        return None;
    }
    let mut pieces = Vec::new();
    let mut rest = source;
    while !rest.is_empty() {
        let Some(open) = rest.find('{') else {
            pieces.push(Piece::Text(rest.to_owned()));
            break;
        };
        let after = &rest[open + 1..];
        if after.starts_with('%') || after.starts_with('#') {
            return None;
        }
        if !after.starts_with('{') {
            // A lone brace is text.
            let (text, tail) = rest.split_at(open + 1);
            match pieces.last_mut() {
                Some(Piece::Text(t)) => t.push_str(text),
                _ => pieces.push(Piece::Text(text.to_owned())),
            }
            rest = tail;
            continue;
        }
        if open > 0 {
            match pieces.last_mut() {
                Some(Piece::Text(t)) => t.push_str(&rest[..open]),
                _ => pieces.push(Piece::Text(rest[..open].to_owned())),
            }
        }
        let inner_start = open + 2;
        let close = rest[inner_start..].find("}}")? + inner_start;
        let inner = rest[inner_start..close].trim_matches(|c| c == ' ' || c == '\t');
        let piece = match inner.split_once('.') {
            None if identifier(inner) => Piece::Var(inner.to_owned()),
            Some(("labels", key)) if identifier(key) => Piece::Label(key.to_owned()),
            Some(("annotations", key)) if identifier(key) => Piece::Annotation(key.to_owned()),
            _ => return None,
        };
        pieces.push(piece);
        rest = &rest[close + 2..];
    }
    (pieces.len() <= MAX_PIECES).then_some(pieces)
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Templates({})", self.count)
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Templates come from rule files; bound their work so a typo'd loop cannot hang serve.
    env.set_fuel(Some(100_000));
    env.set_recursion_limit(64);
    env
}

impl Templates {
    pub fn new() -> Self {
        let mut url = environment();
        url.set_formatter(|out, _state, value| {
            let text = value.to_string();
            write!(out, "{}", utf8_percent_encode(&text, URL_VALUE)).map_err(|_| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write")
            })
        });
        Templates {
            text: environment(),
            url,
            count: 0,
            sources: Vec::new(),
            plain: Vec::new(),
        }
    }

    pub fn add(&mut self, kind: TemplateKind, source: &str) -> Result<TemplateId, TemplateError> {
        let id = TemplateId {
            kind,
            index: self.count,
        };
        let env = match kind {
            TemplateKind::Text => &mut self.text,
            TemplateKind::Url => &mut self.url,
        };
        env.add_template_owned(name(id), source.to_owned())
            .map_err(|e| {
                let range = e.range().unwrap_or(0..source.len());
                TemplateError {
                    message: format!("invalid template: {}", e.detail().unwrap_or("syntax error")),
                    start: range.start,
                    end: range.end.max(range.start),
                }
            })?;
        self.count += 1;
        self.sources.push(source.to_owned());
        self.plain.push(plain_pieces(source));
        Ok(id)
    }

    /// The top-level variables a template reads (`{{ service }}` → `service`).
    pub fn variables(&self, id: TemplateId) -> BTreeSet<String> {
        self.env(id)
            .get_template(&name(id))
            .map(|t| t.undeclared_variables(false).into_iter().collect())
            .unwrap_or_default()
    }

    pub fn source(&self, id: TemplateId) -> &str {
        self.sources
            .get(id.index as usize)
            .map_or("", String::as_str)
    }

    pub fn render(&self, id: TemplateId, context: &minijinja::Value) -> Result<String, String> {
        let template = self
            .env(id)
            .get_template(&name(id))
            .map_err(|e| e.to_string())?;
        template.render(context).map_err(|e| {
            let mut message = e.detail().unwrap_or("render failed").to_owned();
            if e.kind() == minijinja::ErrorKind::UndefinedError {
                message = format!("undefined variable in template {:?}", self.source(id));
            }
            message
        })
    }

    /// Renders a plain template by concatenation, escaping as its kind says;
    /// `None` when it is not plain or names something `context` lacks (then
    /// [`Templates::render`] gives the answer, or the error).
    pub fn render_plain(&self, id: TemplateId, context: &PlainContext<'_>) -> Option<String> {
        let pieces = self.plain.get(id.index as usize)?.as_ref()?;
        let mut out = String::new();
        for piece in pieces {
            let value = match piece {
                Piece::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Var(name) => context.var(name)?,
                Piece::Label(key) => context.labels.get(key)?,
                Piece::Annotation(key) => context.annotations.get(key)?,
            };
            match id.kind {
                TemplateKind::Text => out.push_str(value),
                TemplateKind::Url => out.extend(utf8_percent_encode(value, URL_VALUE)),
            }
        }
        Some(out)
    }

    fn env(&self, id: TemplateId) -> &Environment<'static> {
        match id.kind {
            TemplateKind::Text => &self.text,
            TemplateKind::Url => &self.url,
        }
    }
}

fn name(id: TemplateId) -> String {
    format!("t{}", id.index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn strict_undefined_is_an_error() {
        let mut t = Templates::new();
        let id = t
            .add(TemplateKind::Text, "restart-{{ servce }}")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(t.render(id, &context! { service => "api" }).is_err());
        let ok = t
            .add(TemplateKind::Text, "restart-{{ service }}")
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            t.render(ok, &context! { service => "api" }),
            Ok("restart-api".to_owned())
        );
        assert_eq!(t.variables(ok).into_iter().collect::<Vec<_>>(), ["service"]);
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let mut t = Templates::new();
        let id = t
            .add(TemplateKind::Url, "https://rd/api/job/{{ job }}/run")
            .unwrap_or_else(|e| panic!("{e:?}"));
        let url = t.render(id, &context! { job => "a/b?c d" });
        assert_eq!(url, Ok("https://rd/api/job/a%2Fb%3Fc%20d/run".to_owned()));
    }

    #[test]
    fn syntax_errors_have_a_range() {
        let mut t = Templates::new();
        let err = t.add(TemplateKind::Text, "x {{ service ").err();
        assert!(err.is_some_and(|e| e.message.starts_with("invalid template")));
    }

    /// The context `engine::alert_context` builds, as MiniJinja sees it: the
    /// real one, so these tests see what a rendered remediator call sees.
    fn jinja_context(c: &PlainContext<'_>) -> minijinja::Value {
        let alert = crate::source::Alert {
            source: "alertmanager".to_owned(),
            fingerprint: c.fingerprint.to_owned(),
            status: crate::source::AlertStatus::Firing,
            labels: c.labels.clone(),
            annotations: c.annotations.clone(),
            starts_at: jiff::Timestamp::UNIX_EPOCH,
            ends_at: None,
            group_key: None,
            generator_url: None,
        };
        crate::engine::to_value(&crate::engine::alert_context(&alert, c.remediation))
    }

    /// `{{ labels | tojson }}` (docs/rules.md) is a JSON object, and `labels` and
    /// `annotations` are maps for every filter and lookup, not lists of pairs.
    #[test]
    fn labels_and_annotations_are_maps() {
        let labels = BTreeMap::from([
            ("service".to_owned(), "api".to_owned()),
            ("app.kubernetes.io/name".to_owned(), "web \"1\"".to_owned()),
        ]);
        let annotations = BTreeMap::from([("summary".to_owned(), "down".to_owned())]);
        let c = PlainContext {
            labels: &labels,
            annotations: &annotations,
            remediation: "restart",
            fingerprint: "abc",
        };
        let mut t = Templates::new();
        let mut render = |kind, source: &str| {
            let id = t
                .add(kind, source)
                .unwrap_or_else(|e| panic!("{source}: {e:?}"));
            t.render(id, &jinja_context(&c))
        };
        let json = render(TemplateKind::Text, "{{ labels | tojson }}");
        let parsed = json
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>);
        assert_eq!(
            parsed.ok().and_then(Result::ok),
            Some(serde_json::json!({"service": "api", "app.kubernetes.io/name": "web \"1\""})),
            "{json:?}"
        );
        let json = render(TemplateKind::Text, "{{ annotations | tojson }}");
        let parsed = json
            .as_deref()
            .map(serde_json::from_str::<serde_json::Value>);
        assert_eq!(
            parsed.ok().and_then(Result::ok),
            Some(serde_json::json!({"summary": "down"})),
            "{json:?}"
        );
        assert_eq!(
            render(TemplateKind::Text, "{{ labels['app.kubernetes.io/name'] }}"),
            Ok("web \"1\"".to_owned())
        );
        assert_eq!(
            render(
                TemplateKind::Text,
                "{% for k, v in labels | items %}{{ k }}={{ v }};{% endfor %}{{ labels | length }}"
            ),
            Ok("app.kubernetes.io/name=web \"1\";service=api;2".to_owned())
        );
        // A URL template still percent-encodes what it prints, the object too.
        let text = render(TemplateKind::Text, "{{ labels | tojson }}").unwrap_or_default();
        assert_eq!(
            render(TemplateKind::Url, "https://rd/x?l={{ labels | tojson }}"),
            Ok(format!(
                "https://rd/x?l={}",
                utf8_percent_encode(&text, URL_VALUE)
            ))
        );
    }

    #[test]
    fn plain_templates_render_like_minijinja() {
        let sources = [
            "restart-{{ service }}",
            "{{service}}",
            "{{  service\t}}/{{ labels.job }}",
            "{{ annotations.summary }}",
            "{{ remediation }}:{{ fingerprint }}",
            "https://rd/api/job/{{ job }}/run?x={{ labels.service }}&y=1",
            "plain text, no references",
            "",
            "a { b } c }} d",
            "{ {{ service }} }",
            "{{ missing }}",
            "{{ labels.missing }}",
            "{{ labels }}",
            "{{ service }}\n",
            "{{ service }}\nnext",
            "{{- service }}",
            "{{ service | upper }}",
            "{{ labels['job'] }}",
            "{% if service %}{{ service }}{% endif %}",
            "{# note #}{{ service }}",
            "{{ true }}",
            "{{ none }}",
            "{{ remediation.x }}",
            "é{{ service }}ü",
        ];
        let plain_expected = [
            true, true, true, true, true, true, true, true, true, true, true, true, true, false,
            true, false, false, false, false, false, false, false, false, true,
        ];
        let mut labels_a = BTreeMap::new();
        labels_a.insert("service".to_owned(), "api".to_owned());
        labels_a.insert("job".to_owned(), "a/b?c d".to_owned());
        let mut labels_b = BTreeMap::new();
        labels_b.insert("service".to_owned(), "x %2F&=#+~._-ü \"'<>{}".to_owned());
        labels_b.insert("job".to_owned(), String::new());
        // Shadowed by the context's own names.
        labels_b.insert("remediation".to_owned(), "label-value".to_owned());
        labels_b.insert("fingerprint".to_owned(), "label-value".to_owned());
        labels_b.insert("labels".to_owned(), "label-value".to_owned());
        let mut annotations = BTreeMap::new();
        annotations.insert("summary".to_owned(), "disk 95% full / <b>".to_owned());
        let empty = BTreeMap::new();
        let contexts = [
            PlainContext {
                labels: &labels_a,
                annotations: &annotations,
                remediation: "restart",
                fingerprint: "abc123",
            },
            PlainContext {
                labels: &labels_b,
                annotations: &empty,
                remediation: "r/é s",
                fingerprint: "",
            },
        ];
        let mut t = Templates::new();
        let mut compared = 0;
        for kind in [TemplateKind::Text, TemplateKind::Url] {
            for (source, plain) in sources.iter().zip(plain_expected) {
                let id = t
                    .add(kind, source)
                    .unwrap_or_else(|e| panic!("{source}: {e:?}"));
                assert_eq!(t.plain[id.index as usize].is_some(), plain, "{source:?}");
                for c in &contexts {
                    let jinja = t.render(id, &jinja_context(c));
                    match t.render_plain(id, c) {
                        Some(out) => {
                            assert_eq!(Ok(out), jinja, "{kind:?} {source:?}");
                            compared += 1;
                        }
                        // Not plain, or a name the context lacks: MiniJinja's
                        // answer stands (for a missing name, its error).
                        None => assert!(
                            !plain || jinja.is_err() || source.contains("{{ labels }}"),
                            "{kind:?} {source:?}: plain path gave up on {jinja:?}"
                        ),
                    }
                }
            }
        }
        assert!(compared > 30, "only {compared} renders compared");
    }
}
