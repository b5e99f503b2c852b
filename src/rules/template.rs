//! Templates in rules (`target`, `vars`, `body` leaves, remediator URLs).
//!
//! MiniJinja with strict undefined: a missing variable is an error, never an empty
//! string, because `restart-{{ servce }}` silently becoming `restart-` is how an
//! automation restarts the wrong thing. URL templates percent-encode every value
//! they print, so a label like `a/b?x` stays inside its path segment.

use std::collections::BTreeSet;

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

fn environment() -> Environment<'static> {
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
}
