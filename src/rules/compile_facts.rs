//! `facts:` definitions: relations filled by a Prometheus instant query or an
//! HTTP JSON endpoint (DESIGN.md §8). Only the definitions are checked here;
//! fetching lives in `crate::facts`, deciding in `crate::engine`.

use std::time::Duration;

use serde_saphyr::Spanned;

use crate::datalog::{Program, RESGATE_BUILTINS, SourceId};
use crate::diag::{Diagnostic, SourceMap};

use super::compile::{Compiler, Defs};
use super::locate::span_of;
use super::model::{FactKind, FactSource};
use super::schema::FactDef;

pub const DEFAULT_EVERY: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// `stale_after` defaults to this many refresh intervals: one lost refresh is
/// noise, three in a row mean the source is gone.
pub const STALE_INTERVALS: u32 = 3;

/// A Datalog predicate name: `[a-z][A-Za-z0-9_]*`, not the keyword `not`.
fn is_predicate_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "not"
}

/// A Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The fact relations the Datalog program may read, as built-in inputs
/// `(name, arity)`: those whose name is valid and clashes with nothing (a
/// clash is reported by [`check_clashes`]; leaving it out avoids a second,
/// less helpful error from the Datalog checks).
pub fn relations(defs: &Defs<'_>, program: &Program) -> Vec<(String, usize)> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for (_, key, def) in &defs.facts {
        let name = key.value.as_str();
        if is_predicate_name(name)
            && !RESGATE_BUILTINS.iter().any(|(b, _)| *b == name)
            && !program.clauses.iter().any(|c| c.head.pred == name)
            && !out.iter().any(|(n, _)| n == name)
        {
            out.push((name.to_owned(), def.columns.len()));
        }
    }
    out
}

/// A fact relation named like a built-in or defined by a `.dl` rule or fact.
pub fn check_clashes(
    defs: &Defs<'_>,
    program: &Program,
    sources: &SourceMap,
    diags: &mut Vec<Diagnostic>,
) {
    for (src, key, _) in &defs.facts {
        let name = key.value.as_str();
        let here = span_of(*src, key, name.len());
        if RESGATE_BUILTINS.iter().any(|(b, _)| *b == name) {
            diags.push(
                Diagnostic::error(
                    "fact-name-clash",
                    format!("fact relation \"{name}\" has the name of a built-in relation"),
                )
                .label(here, "the engine supplies this relation")
                .help("give the fact relation another name, e.g. \"queue_depth\""),
            );
        } else if let Some(clause) = program.clauses.iter().find(|c| c.head.pred == name) {
            let there = clause.head.pred_span;
            let mut d = Diagnostic::error(
                "fact-name-clash",
                format!("fact relation \"{name}\" is also defined in a .dl file"),
            )
            .label(here, "filled from outside here");
            if let Some(path) = sources.path(there.src) {
                let (line, col) = sources.line_col(there.src, there.start);
                d = d.help(format!(
                    "{}:{line}:{col} defines it too; a fact relation is only filled by its source: rename one of them",
                    path.display()
                ));
            }
            diags.push(d);
        }
    }
}

impl Compiler<'_> {
    pub(super) fn fact(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &FactDef,
    ) -> Option<FactSource> {
        let name = &key.value;
        let key_span = self.key_span(src, key);
        let mut ok = true;
        if !is_predicate_name(name) {
            self.error(
                Diagnostic::error(
                    "invalid-fact-name",
                    format!("fact relation name \"{name}\" is not a Datalog predicate name"),
                )
                .label(key_span, "relation name")
                .help("start with a lowercase letter, then letters, digits or _: e.g. queue_depth"),
            );
            ok = false;
        }
        if def.columns.is_empty() {
            self.error(
                Diagnostic::error(
                    "no-columns",
                    format!("fact relation \"{name}\" has no `columns`"),
                )
                .label(key_span, "this relation")
                .help("list one entry per column, e.g. columns: [service, value]"),
            );
            ok = false;
        }

        let every = self.duration(src, def.every.as_ref(), DEFAULT_EVERY, "every");
        let timeout = self.duration(src, def.timeout.as_ref(), DEFAULT_TIMEOUT, "timeout");
        let stale_default = every.map_or(DEFAULT_EVERY, |e| e.saturating_mul(STALE_INTERVALS));
        let stale_after =
            self.duration(src, def.stale_after.as_ref(), stale_default, "stale_after");
        if let Some(e) = every
            && e.is_zero()
        {
            self.zero_duration(src, def.every.as_ref(), key_span, "every");
            ok = false;
        }
        if let Some(t) = timeout
            && t.is_zero()
        {
            self.zero_duration(src, def.timeout.as_ref(), key_span, "timeout");
            ok = false;
        }
        if let (Some(e), Some(s)) = (every, stale_after)
            && s < e
        {
            let span = def
                .stale_after
                .as_ref()
                .map_or(key_span, |v| self.value_span(src, v));
            self.error(
                Diagnostic::error(
                    "stale-before-refresh",
                    format!(
                        "fact relation \"{name}\" would be stale before its next refresh (stale_after {} < every {})",
                        super::duration::format(s),
                        super::duration::format(e)
                    ),
                )
                .label(span, "stale_after")
                .help("make stale_after at least `every` (the default is 3 × every)"),
            );
            ok = false;
        }

        let mut headers = Vec::new();
        for (hname, value) in def.headers.iter() {
            let place = format!("fact relation \"{name}\", header {}", hname.value);
            match self.secret(src, value, "this header", &place) {
                Some(s) => headers.push((hname.value.clone(), s)),
                None => ok = false,
            }
        }

        let kind = match (&def.prometheus, &def.http) {
            (Some(url), None) => self.prometheus_fact(src, key, def, url),
            (None, Some(url)) => self.http_fact(src, key, def, url),
            _ => {
                self.error(
                    Diagnostic::error(
                        "fact-source-kind",
                        format!("fact relation \"{name}\" must name exactly one of `prometheus` or `http`"),
                    )
                    .label(key_span, "this relation")
                    .help("e.g. prometheus: \"${env:PROMETHEUS_URL}\" with a `query`, or http: \"https://host/api\" with `rows`"),
                );
                None
            }
        };
        let source = FactSource {
            name: name.clone(),
            span: key_span,
            kind: kind?,
            columns: def.columns.iter().map(|c| c.value.clone()).collect(),
            headers,
            timeout: timeout?,
            every: every?,
            stale_after: stale_after?,
        };
        ok.then_some(source)
    }

    /// A key the other kind of source needs: an error, never ignored.
    fn misplaced(
        &mut self,
        src: SourceId,
        value: &Spanned<String>,
        code: &'static str,
        message: &str,
        help: &str,
    ) {
        let span = self.value_span(src, value);
        self.error(
            Diagnostic::error(code, message.to_owned())
                .label(span, "would be ignored")
                .help(help.to_owned()),
        );
    }

    /// A key this kind of source cannot do without.
    fn missing(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        code: &'static str,
        message: String,
        help: &str,
    ) {
        let span = self.key_span(src, key);
        self.error(
            Diagnostic::error(code, message)
                .label(span, "this relation")
                .help(help.to_owned()),
        );
    }

    fn zero_duration(
        &mut self,
        src: SourceId,
        value: Option<&Spanned<String>>,
        fallback: crate::datalog::Span,
        what: &str,
    ) {
        let span = value.map_or(fallback, |v| self.value_span(src, v));
        self.error(
            Diagnostic::error(
                "invalid-duration",
                format!("`{what}` must be longer than 0s"),
            )
            .label(span, what.to_owned())
            .help("write a positive duration, e.g. 30s"),
        );
    }

    /// The URL's checks shared by both kinds: no secret outside the base.
    fn fact_url(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        url: &Spanned<String>,
        what: &str,
    ) -> Option<(String, Option<String>)> {
        let ok = self.refuse_secret_in_url(src, url, what);
        let url_env = self.url_env(
            src,
            url,
            &format!("fact relation \"{}\", {what}", key.value),
        );
        if url_env.is_none()
            && !(url.value.starts_with("http://") || url.value.starts_with("https://"))
        {
            let span = self.value_span(src, url);
            self.error(
                Diagnostic::error(
                    "invalid-url",
                    format!("`{what}` must be an http:// or https:// URL"),
                )
                .label(span, "here")
                .help("write the full URL, or take its base from the environment: \"${env:PROMETHEUS_URL}\""),
            );
            return None;
        }
        ok.then(|| (url.value.clone(), url_env))
    }

    fn prometheus_fact(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &FactDef,
        url: &Spanned<String>,
    ) -> Option<FactKind> {
        let mut ok = true;
        if let Some(rows) = &def.rows {
            self.misplaced(
                src,
                rows,
                "rows-on-prometheus",
                "`rows` is only for `http` fact sources",
                "a Prometheus query yields one row per series: remove `rows`",
            );
            ok = false;
        }
        for column in &def.columns {
            if column.value != "value" && !is_label_name(&column.value) {
                let span = self.value_span(src, column);
                self.error(
                    Diagnostic::error(
                        "invalid-column",
                        format!("column \"{}\" is not a Prometheus label name", column.value),
                    )
                    .label(span, "column")
                    .help("name a label of the query's result (letters, digits, _), or `value` for the sample"),
                );
                ok = false;
            }
        }
        let query = match &def.query {
            None => {
                self.missing(src, key, "no-query", format!("prometheus fact relation \"{}\" has no `query`", key.value), "add the PromQL instant query, e.g. query: sum by (service) (rabbitmq_queue_messages_ready)");
                None
            }
            Some(q) => match promql_balance(&q.value) {
                Ok(()) => Some(q.value.trim().to_owned()),
                Err((at, message)) => {
                    let located = self.locate(src, q);
                    let span = if q.value.is_empty() {
                        located.whole()
                    } else {
                        located.span(at, (at + 1).min(q.value.len()))
                    };
                    self.error(
                        Diagnostic::error("invalid-promql", message)
                            .label(span, "here")
                            .help("check the query in Prometheus' expression browser"),
                    );
                    None
                }
            },
        };
        let url = self.fact_url(src, key, url, "prometheus");
        let (url, url_env) = url?;
        let query = query?;
        ok.then_some(FactKind::Prometheus {
            url,
            url_env,
            query,
        })
    }

    fn http_fact(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &FactDef,
        url: &Spanned<String>,
    ) -> Option<FactKind> {
        let mut ok = true;
        if let Some(q) = &def.query {
            self.misplaced(
                src,
                q,
                "query-on-http",
                "`query` is only for `prometheus` fact sources",
                "an http source maps its JSON with `rows` and `columns` (JMESPath)",
            );
            ok = false;
        }
        let rows = match &def.rows {
            None => {
                self.missing(
                    src,
                    key,
                    "no-rows",
                    format!("http fact relation \"{}\" has no `rows`", key.value),
                    "add a JMESPath yielding the list of rows, e.g. rows: \"items[]\"",
                );
                None
            }
            Some(r) => self.jmespath(src, r, "`rows`"),
        };
        let mut columns = Vec::new();
        for column in &def.columns {
            match self.jmespath(src, column, "a column") {
                Some(e) => columns.push(e),
                None => ok = false,
            }
        }
        let url = self.fact_url(src, key, url, "http");
        let (url, url_env) = url?;
        let rows = rows?;
        ok.then_some(FactKind::Http {
            url,
            url_env,
            rows,
            columns,
        })
    }
}

/// PromQL is checked only as far as resgate can without Prometheus: not empty,
/// brackets balanced, strings closed (Prometheus itself reports the rest at the
/// first refresh, and `resgate facts` shows it). The error is the byte offset
/// of the culprit and a message.
pub fn promql_balance(query: &str) -> Result<(), (usize, String)> {
    if query.trim().is_empty() {
        return Err((0, "the PromQL query is empty".to_owned()));
    }
    let mut open: Vec<(usize, char)> = Vec::new();
    let mut chars = query.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' | '\'' | '`' => {
                // Backtick strings have no escapes; the others have `\`.
                let mut closed = false;
                while let Some((_, d)) = chars.next() {
                    if d == '\\' && c != '`' {
                        chars.next();
                    } else if d == c {
                        closed = true;
                        break;
                    }
                }
                if !closed {
                    return Err((at, "unterminated string in the PromQL query".to_owned()));
                }
            }
            '#' => {
                // A comment, to the end of the line.
                while chars.peek().is_some_and(|(_, d)| *d != '\n') {
                    chars.next();
                }
            }
            '(' | '[' | '{' => open.push((at, c)),
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((_, o)) if o == want => {}
                    Some((o_at, o)) => {
                        return Err((
                            at,
                            format!(
                                "\"{c}\" closes \"{o}\" opened at offset {o_at} in the PromQL query"
                            ),
                        ));
                    }
                    None => {
                        return Err((at, format!("unbalanced \"{c}\" in the PromQL query")));
                    }
                }
            }
            _ => {}
        }
    }
    match open.pop() {
        Some((at, o)) => Err((at, format!("\"{o}\" is never closed in the PromQL query"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promql_balance_checks() {
        assert!(promql_balance("sum by (service) (rabbitmq_queue_messages_ready)").is_ok());
        assert!(promql_balance(r#"rate(x{job="a)b"}[5m])"#).is_ok());
        assert!(promql_balance("up # a comment (\n").is_ok());
        assert_eq!(promql_balance("  ").unwrap_err().0, 0);
        assert_eq!(promql_balance("sum(rate(x[5m])").unwrap_err().0, 3);
        assert_eq!(promql_balance("x{a=\"b}").unwrap_err().0, 4);
        assert_eq!(promql_balance("x)").unwrap_err().0, 1);
        assert_eq!(promql_balance("x{a=\"b\"]").unwrap_err().0, 7);
    }

    #[test]
    fn names() {
        assert!(is_predicate_name("queue_depth"));
        assert!(!is_predicate_name("Queue"));
        assert!(!is_predicate_name("not"));
        assert!(!is_predicate_name("queue-depth"));
        assert!(is_label_name("__name__"));
        assert!(!is_label_name("1x"));
    }
}
