//! Turning parsed rule files into a [`RuleSet`](super::model::RuleSet).
//!
//! The [`Compiler`] walks every definition, compiles what it holds (matchers,
//! templates, JMESPath, Datalog guards) and reports each problem at its span. The
//! per-section work lives in `compile_source`, `compile_remediator` and
//! `compile_remediation`; this file holds what they share.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use crate::datalog::{Compiled, DatalogError, SourceId, Span};
use crate::diag::{Diagnostic, SourceMap};

use super::duration;
use super::locate::{Located, span_of};
use super::model::{Expr, Remediation, Remediator, Source};
use super::model::{Notifier, NotifyRoute};
use super::schema::{NotifierDef, NotifyDef, RemediationDef, RemediatorDef, RuleFile, SourceDef};
use super::template::{TemplateId, TemplateKind, Templates};

/// Every definition of every file, with the file it came from, in load order.
pub struct Defs<'a> {
    pub sources: Vec<(SourceId, &'a Spanned<String>, &'a SourceDef)>,
    pub remediators: Vec<(SourceId, &'a Spanned<String>, &'a RemediatorDef)>,
    pub remediations: Vec<(SourceId, &'a Spanned<String>, &'a RemediationDef)>,
    pub notifiers: Vec<(SourceId, &'a Spanned<String>, &'a NotifierDef)>,
    /// Each file-level `notify:` (the default; more than one is an error).
    pub notify: Vec<(SourceId, &'a Spanned<NotifyDef>)>,
    pub facts: Vec<(SourceId, &'a Spanned<String>, &'a super::schema::FactDef)>,
}

impl<'a> Defs<'a> {
    pub fn collect(files: &'a [(SourceId, RuleFile)]) -> Self {
        let mut defs = Defs {
            sources: Vec::new(),
            remediators: Vec::new(),
            remediations: Vec::new(),
            notifiers: Vec::new(),
            notify: Vec::new(),
            facts: Vec::new(),
        };
        for (src, file) in files {
            defs.sources
                .extend(file.sources.iter().map(|(k, v)| (*src, k, v)));
            defs.remediators
                .extend(file.remediators.iter().map(|(k, v)| (*src, k, v)));
            defs.remediations
                .extend(file.remediations.iter().map(|(k, v)| (*src, k, v)));
            defs.notifiers
                .extend(file.notifiers.iter().map(|(k, v)| (*src, k, v)));
            defs.notify.extend(file.notify.iter().map(|n| (*src, n)));
            defs.facts
                .extend(file.facts.iter().map(|(k, v)| (*src, k, v)));
        }
        defs
    }
}

pub struct Compiler<'a> {
    pub(super) sources: &'a SourceMap,
    /// `None` when the `.dl` files have errors: guards are then parsed but not compiled.
    pub(super) program: Option<Compiled>,
    pub(super) diags: &'a mut Vec<Diagnostic>,
    pub(super) templates: Templates,
    /// Predicates named by `when`/`unless` bodies: the roots of "is it used?".
    pub(super) query_predicates: BTreeSet<String>,
    /// Set while compiling a remediation whose `match` failed: which labels it
    /// guarantees is unknown, so "not guaranteed" warnings would be noise.
    pub(super) labels_unknown: bool,
    pub(super) regexes: super::matcher::RegexCache,
    /// Every `${env:}`/`${file:}` the rules make, for `serve` to check.
    pub(super) secret_uses: Vec<super::secret::SecretUse>,
    /// The directory's default `notify`; `None` inside when it failed.
    pub(super) notify_default: Option<NotifyRoute>,
    /// Notifiers some route names (the rest are warned about).
    pub(super) notify_used: BTreeSet<usize>,
    /// `None` when a notifier failed to compile.
    pub(super) notifiers: Option<Vec<Notifier>>,
}

type Built = (Vec<Source>, Vec<Remediator>, Vec<Remediation>);

/// What the compiler leaves besides the definitions.
pub struct Finished {
    pub program: Option<Compiled>,
    pub templates: Templates,
    pub query_predicates: BTreeSet<String>,
    pub secret_uses: Vec<super::secret::SecretUse>,
    /// `None` when a notifier or a `notify` failed to compile.
    pub notifiers: Option<Vec<Notifier>>,
}

impl<'a> Compiler<'a> {
    pub fn new(
        sources: &'a SourceMap,
        program: Option<Compiled>,
        diags: &'a mut Vec<Diagnostic>,
    ) -> Self {
        Compiler {
            sources,
            program,
            diags,
            templates: Templates::new(),
            query_predicates: BTreeSet::new(),
            labels_unknown: false,
            regexes: super::matcher::RegexCache::new(),
            secret_uses: Vec::new(),
            notify_default: None,
            notify_used: BTreeSet::new(),
            notifiers: Some(Vec::new()),
        }
    }

    /// Compiles every definition; `None` if any of them failed.
    pub fn build(&mut self, defs: &Defs<'_>) -> Option<Built> {
        let sources: Vec<Option<Source>> = defs
            .sources
            .iter()
            .map(|(src, key, def)| self.source(*src, key, def))
            .collect();
        let remediators: Vec<Option<Remediator>> = defs
            .remediators
            .iter()
            .map(|(src, key, def)| self.remediator(*src, key, def))
            .collect();
        self.notifiers = self.notifiers(defs);
        match self.default_notify(defs) {
            Some(route) => self.notify_default = route,
            None => self.notifiers = None,
        }
        let remediations: Vec<Option<Remediation>> = defs
            .remediations
            .iter()
            .map(|(src, key, def)| self.remediation(*src, key, def, &remediators, defs))
            .collect();
        let used = std::mem::take(&mut self.notify_used);
        self.warn_unused_notifiers(defs, &used);
        Some((
            sources.into_iter().collect::<Option<Vec<_>>>()?,
            remediators.into_iter().collect::<Option<Vec<_>>>()?,
            remediations.into_iter().collect::<Option<Vec<_>>>()?,
        ))
    }

    pub fn finish(self) -> Finished {
        Finished {
            program: self.program,
            templates: self.templates,
            query_predicates: self.query_predicates,
            secret_uses: self.secret_uses,
            notifiers: self.notifiers,
        }
    }

    pub(super) fn text(&self, src: SourceId) -> &'a str {
        self.sources.text(src)
    }

    pub(super) fn locate<'v>(&self, src: SourceId, value: &'v Spanned<String>) -> Located<'v> {
        Located::new(self.text(src), src, value)
    }

    /// The span of a YAML key (a definition's name).
    pub(super) fn key_span(&self, src: SourceId, key: &Spanned<String>) -> Span {
        self.locate(src, key).whole()
    }

    /// The span of a scalar value, without quotes.
    pub(super) fn value_span(&self, src: SourceId, value: &Spanned<String>) -> Span {
        self.locate(src, value).whole()
    }

    pub(super) fn error(&mut self, diag: Diagnostic) {
        if self.labels_unknown && diag.code == "label-not-guaranteed" {
            return;
        }
        self.diags.push(diag);
    }

    pub(super) fn duration(
        &mut self,
        src: SourceId,
        value: Option<&Spanned<String>>,
        default: Duration,
        what: &str,
    ) -> Option<Duration> {
        let Some(value) = value else {
            return Some(default);
        };
        match duration::parse(&value.value) {
            Ok(d) => Some(d),
            Err(message) => {
                let span = self.value_span(src, value);
                self.error(
                    Diagnostic::error("invalid-duration", message)
                        .label(span, format!("{what} must be a duration"))
                        .help("write a number and a unit, e.g. 30s, 10m, 1h30m"),
                );
                None
            }
        }
    }

    pub(super) fn template(
        &mut self,
        src: SourceId,
        value: &Spanned<String>,
        kind: TemplateKind,
    ) -> Option<TemplateId> {
        match self.templates.add(kind, &value.value) {
            Ok(id) => Some(id),
            Err(e) => {
                let located = self.locate(src, value);
                let span = located.span(
                    e.start,
                    e.end
                        .max(e.start + 1)
                        .min(value.value.len().max(e.start + 1)),
                );
                self.error(
                    Diagnostic::error("invalid-template", e.message)
                        .label(span, "in this template")
                        .help("templates are MiniJinja: {{ label }}, {{ label | lower }}"),
                );
                None
            }
        }
    }

    pub(super) fn jmespath(
        &mut self,
        src: SourceId,
        value: &Spanned<String>,
        what: &str,
    ) -> Option<Expr> {
        match jmespath::compile(&value.value) {
            Ok(expr) => Some(expr),
            Err(e) => {
                // JMESPath reports a character offset; spans are bytes.
                let byte = value
                    .value
                    .char_indices()
                    .nth(e.offset)
                    .map_or(value.value.len(), |(i, _)| i);
                let reason = match &e.reason {
                    jmespath::ErrorReason::Parse(msg) => msg.clone(),
                    other => other.to_string(),
                };
                let located = self.locate(src, value);
                let span = located.span(byte, (byte + 1).min(value.value.len()).max(byte));
                self.error(
                    Diagnostic::error(
                        "invalid-jmespath",
                        format!(
                            "invalid JMESPath in {what}: {}",
                            lowercase_first(reason.trim_end_matches('.'))
                        ),
                    )
                    .label(span, "here")
                    .help("see jmespath.org for the expression syntax"),
                );
                None
            }
        }
    }

    /// Reports that `name` does not name one of `defined`.
    pub(super) fn unknown_name(
        &mut self,
        src: SourceId,
        value: &Spanned<String>,
        what: &str,
        defined: &[&str],
    ) {
        let span = self.value_span(src, value);
        self.error(
            Diagnostic::error(
                if what == "escalation target" {
                    "unknown-escalation"
                } else {
                    "unknown-remediator"
                },
                format!("unknown {what} \"{}\"", value.value),
            )
            .label(span, "used here")
            .help(crate::suggest::help(
                &value.value,
                "remediator",
                defined.iter().copied(),
            )),
        );
    }

    pub(super) fn whole_value_span<T>(&self, src: SourceId, value: &Spanned<T>) -> Span {
        span_of(src, value, 1)
    }
}

pub(super) fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A Datalog error as a resgate diagnostic.
pub fn datalog_diagnostic(err: &DatalogError) -> Diagnostic {
    use miette::Diagnostic as _;
    let mut diag = Diagnostic::error(datalog_code(err), err.to_string());
    for (span, label) in err.labels() {
        // A secondary label in another file cannot be drawn in this file's snippet.
        if diag.src.is_none() || diag.src == Some(span.src) {
            diag = diag.label(span, label);
        }
    }
    if diag.labels.is_empty() {
        diag = diag.label(err.span(), "here");
    }
    if let Some(help) = err.help() {
        diag = diag.help(help.to_string());
    }
    diag
}

fn datalog_code(err: &DatalogError) -> &'static str {
    use DatalogError::*;
    match err {
        UnexpectedChar { .. }
        | UnterminatedString { .. }
        | InvalidEscape { .. }
        | IntegerOutOfRange { .. }
        | NumberOutOfRange { .. }
        | Syntax { .. }
        | ParamInProgram { .. } => "datalog-syntax",
        UndefinedPredicate { .. } => "undefined-predicate",
        ArityMismatch { .. } => "arity-mismatch",
        BuiltinRedefinition { .. } => "builtin-redefinition",
        UnsafeVariable { .. } | WildcardInHead { .. } => "unsafe-variable",
        NonGroundFact { .. } => "non-ground-fact",
        InvalidRegex { .. } => "invalid-regex",
        NegativeRecursion { .. } => "negation-cycle",
        UnknownParameter { .. } => "unknown-parameter",
    }
}
