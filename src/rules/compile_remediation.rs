//! `remediations:` definitions: when a fix applies, what it does, and its limits.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use crate::datalog::{self, Literal, SourceId, Term};
use crate::diag::Diagnostic;

use super::body::BodyNode;
use super::compile::{Compiler, Defs};
use super::matcher::Matcher;
use super::model::{Body, Budget, Guard, Remediation, Remediator};
use super::schema::RemediationDef;
use super::template::{TemplateId, TemplateKind};

/// Names every template may read besides labels (the engine supplies them).
pub const CONTEXT_NAMES: &[&str] = &["labels", "annotations", "remediation", "fingerprint"];

/// Without a warm-up the alert is judged the moment the fix reports success, before
/// Prometheus has even re-evaluated it: every fix would look like a failure.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(5 * 60);
/// How long a `mode: approve` fire waits for an operator by default.
pub const DEFAULT_APPROVE_WITHIN: Duration = Duration::from_secs(60 * 60);

/// What a template may read beyond the labels `match` guarantees.
#[derive(Clone, Copy)]
enum Scope {
    Target,
    Vars,
    Body,
    StatusUrl,
}

impl Compiler<'_> {
    pub(super) fn remediation(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &RemediationDef,
        remediators: &[Option<Remediator>],
        defs: &Defs<'_>,
    ) -> Option<Remediation> {
        let key_span = self.key_span(src, key);
        let remediator_names: Vec<&str> = defs
            .remediators
            .iter()
            .map(|(_, k, _)| k.value.as_str())
            .collect();
        let mut ok = true;

        let matchers = self.matchers(src, key, def);
        self.labels_unknown = matchers.is_none();
        let guaranteed: BTreeSet<String> = matchers
            .iter()
            .flatten()
            .filter(|m| !m.matches_missing())
            .map(|m| m.label.clone())
            .collect();

        let target = match &def.target {
            Some(t) => {
                self.checked_template(src, t, TemplateKind::Text, Scope::Target, &guaranteed, &[])
            }
            None => {
                self.error(
                    Diagnostic::error("no-target", format!("remediation \"{}\" has no `target`", key.value))
                        .label(key_span, "this remediation")
                        .help("add a target, e.g. target: \"{{ service }}/{{ instance }}\": it names the thing being fixed and is how re-fires collapse into the running event"),
                );
                None
            }
        };

        let remediator = self.reference(src, &def.remediator, "remediator", &remediator_names);
        let escalate = match &def.escalate {
            Some(e) => Some(self.reference(src, e, "escalation target", &remediator_names)?),
            None => None,
        };

        let mut vars = Vec::new();
        let mut var_names = Vec::new();
        for (name, value) in def.vars.iter() {
            match self.checked_template(
                src,
                value,
                TemplateKind::Text,
                Scope::Vars,
                &guaranteed,
                &[],
            ) {
                Some(id) => vars.push((name.value.clone(), id)),
                None => ok = false,
            }
            var_names.push(name.value.clone());
        }

        let body = match &def.body {
            Some(b) => match self.body(src, b, &guaranteed, &var_names) {
                Some(body) => Some(body),
                None => {
                    ok = false;
                    None
                }
            },
            None => None,
        };

        // The remediator's URL templates read this remediation's vars and labels.
        if let Some(Some(r)) = remediator.and_then(|i| remediators.get(i)) {
            self.check_remediator_templates(src, key, r, &guaranteed, &var_names);
        }

        let when = def
            .when
            .as_ref()
            .map(|w| self.guard(src, "when", w, &guaranteed));
        let mut unless = Vec::new();
        for (name, body) in def.unless.iter() {
            match self.guard(src, &name.value, body, &guaranteed) {
                Some(g) => unless.push(g),
                None => ok = false,
            }
        }

        let warmup = self.duration(src, def.warmup.as_ref(), DEFAULT_WARMUP, "warmup");
        let approve_within = self.duration(
            src,
            def.approve_within.as_ref(),
            DEFAULT_APPROVE_WITHIN,
            "approve_within",
        );
        let budget = self.budget(src, key, def);
        let max_concurrent = match &def.max_concurrent {
            Some(m) if m.value == 0 => {
                let span = self.whole_value_span(src, m);
                self.error(
                    Diagnostic::error(
                        "invalid-max-concurrent",
                        "max_concurrent must be at least 1",
                    )
                    .label(span, "0 would defer every alert forever")
                    .help("to stop a remediation from firing, use `mode: shadow` or a pause"),
                );
                ok = false;
                None
            }
            Some(m) => Some(m.value),
            None => None,
        };
        if def.escalate.is_none() && def.budget.is_some() {
            self.error(
                Diagnostic::warning("no-escalation", format!("remediation \"{}\" has a budget but no `escalate` target", key.value))
                    .label(key_span, "this remediation")
                    .help("when the budget runs out the escalation is only recorded: add `escalate: <remediator>` to page someone"),
            );
        }

        // Its own `notify` replaces the default: a remediation that says
        // `to: [dashboards]` means only the dashboards.
        let notify = match &def.notify {
            Some(n) => match self.notify_route(src, n, defs) {
                Some(route) => Some(route),
                None => {
                    ok = false;
                    None
                }
            },
            None => self.notify_default.clone(),
        };

        let when = match when {
            Some(Some(g)) => Some(g),
            Some(None) => return None,
            None => None,
        };
        Some(Remediation {
            name: key.value.clone(),
            span: key_span,
            matchers: matchers?,
            target: target?,
            remediator: remediator?,
            vars,
            body,
            when,
            unless,
            warmup: warmup?,
            budget: budget?,
            max_concurrent,
            escalate,
            mode: def.mode.as_ref().map(|m| m.value).unwrap_or_default(),
            approve_within: approve_within?,
            notify,
        })
        .filter(|_| ok)
    }

    fn matchers(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &RemediationDef,
    ) -> Option<Vec<Matcher>> {
        let key_span = self.key_span(src, key);
        let entries = match &def.match_ {
            Some(m) if !m.value.is_empty() => &m.value,
            Some(m) => {
                let span = self.whole_value_span(src, m);
                self.error(empty_match(&key.value).label(span, "empty selector"));
                return None;
            }
            None => {
                self.error(
                    empty_match(&key.value).label(key_span, "this remediation has no `match`"),
                );
                return None;
            }
        };
        let mut matchers = Vec::new();
        let mut failed = false;
        for (label, written) in entries.iter() {
            match Matcher::parse_cached(&label.value, &written.value, &mut self.regexes) {
                Ok(m) => matchers.push(m),
                Err(e) => {
                    let span = self.locate(src, written).span(e.start, e.end);
                    self.error(
                        Diagnostic::error("invalid-regex", e.message)
                            .label(span, "in this matcher")
                            .help(
                                "matchers use RE2 syntax, anchored at both ends: =~critical|page",
                            ),
                    );
                    failed = true;
                }
            }
        }
        if failed {
            return None;
        }
        if matchers.iter().all(Matcher::matches_missing) {
            let span = match &def.match_ {
                Some(m) => self.whole_value_span(src, m),
                None => key_span,
            };
            self.error(
                Diagnostic::error("match-all", format!("`match` of \"{}\" matches every alert", key.value))
                    .label(span, "every matcher here also matches an alert without that label")
                    .help("add a matcher that requires a label, e.g. alertname: ApiDown (Alertmanager refuses such silences for the same reason)"),
            );
            return None;
        }
        Some(matchers)
    }

    fn budget(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &RemediationDef,
    ) -> Option<Budget> {
        let Some(budget) = &def.budget else {
            let span = self.key_span(src, key);
            self.error(
                Diagnostic::error("no-budget", format!("remediation \"{}\" has no `budget`", key.value))
                    .label(span, "this remediation")
                    .help("add a budget, e.g. budget: {attempts: 3, within: 1h}: without one a fix that does not work is retried forever"),
            );
            return None;
        };
        if budget.value.attempts.value == 0 {
            let span = self.whole_value_span(src, &budget.value.attempts);
            self.error(
                Diagnostic::error("invalid-budget", "budget.attempts must be at least 1")
                    .label(span, "0 attempts would escalate every alert without trying")
                    .help("use `mode: shadow` to decide without acting"),
            );
            return None;
        }
        let within = self.duration(
            src,
            Some(&budget.value.within),
            Duration::ZERO,
            "budget.within",
        )?;
        Some(Budget {
            attempts: budget.value.attempts.value,
            within,
        })
    }

    fn reference(
        &mut self,
        src: SourceId,
        name: &Spanned<String>,
        what: &str,
        defined: &[&str],
    ) -> Option<usize> {
        let index = defined.iter().position(|d| *d == name.value);
        if index.is_none() {
            self.unknown_name(src, name, what, defined);
        }
        index
    }

    fn checked_template(
        &mut self,
        src: SourceId,
        value: &Spanned<String>,
        kind: TemplateKind,
        scope: Scope,
        guaranteed: &BTreeSet<String>,
        vars: &[String],
    ) -> Option<TemplateId> {
        let id = self.template(src, value, kind)?;
        let span = self.value_span(src, value);
        self.warn_unguaranteed(id, span, scope, guaranteed, vars);
        Some(id)
    }

    fn warn_unguaranteed(
        &mut self,
        id: TemplateId,
        span: datalog::Span,
        scope: Scope,
        guaranteed: &BTreeSet<String>,
        vars: &[String],
    ) {
        for name in self.templates.variables(id) {
            let known = CONTEXT_NAMES.contains(&name.as_str())
                || guaranteed.contains(&name)
                || (matches!(scope, Scope::Vars | Scope::Body | Scope::StatusUrl)
                    && name == "target")
                || (matches!(scope, Scope::Body | Scope::StatusUrl) && vars.contains(&name))
                || (matches!(scope, Scope::StatusUrl) && name == "id");
            if known {
                continue;
            }
            if matches!(scope, Scope::Target) && name == "target" {
                self.error(
                    Diagnostic::error("target-uses-target", "the `target` template reads `target`")
                        .label(span, "target is not known until this renders")
                        .help(
                            "build the target from labels, e.g. \"{{ service }}/{{ instance }}\"",
                        ),
                );
                continue;
            }
            self.error(label_not_guaranteed(&name, span, "template"));
        }
    }

    fn check_remediator_templates(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        remediator: &Remediator,
        guaranteed: &BTreeSet<String>,
        vars: &[String],
    ) {
        let span = self.key_span(src, key);
        let mut templates = vec![(remediator.url, Scope::Body)];
        if let Some(t) = &remediator.tracking {
            templates.push((t.status_url, Scope::StatusUrl));
        }
        for (id, scope) in templates {
            for name in self.templates.variables(id) {
                let known = CONTEXT_NAMES.contains(&name.as_str())
                    || guaranteed.contains(&name)
                    || vars.contains(&name)
                    || name == "target"
                    || (matches!(scope, Scope::StatusUrl) && name == "id");
                if !known {
                    self.error(
                        Diagnostic::warning(
                            "label-not-guaranteed",
                            format!("remediator \"{}\" reads \"{name}\", which remediation \"{}\" neither sets in `vars` nor guarantees by `match`", remediator.name, key.value),
                        )
                        .label(span, "this remediation")
                        .help(format!("add `vars: {{{name}: ...}}` or a matcher `{name}: \"=~.+\"`; otherwise the call fails when the label is missing")),
                    );
                }
            }
        }
    }

    fn body(
        &mut self,
        src: SourceId,
        node: &Spanned<BodyNode>,
        guaranteed: &BTreeSet<String>,
        vars: &[String],
    ) -> Option<Body> {
        Some(match &node.value {
            BodyNode::Null => Body::Null,
            BodyNode::Bool(b) => Body::Bool(*b),
            BodyNode::Int(i) => Body::Int(*i),
            BodyNode::Float(f) => Body::Float(*f),
            BodyNode::Text(text) => {
                let spanned = Spanned::new(text.clone(), node.referenced, node.defined);
                Body::Text(self.checked_template(
                    src,
                    &spanned,
                    TemplateKind::Text,
                    Scope::Body,
                    guaranteed,
                    vars,
                )?)
            }
            BodyNode::List(items) => {
                let built: Vec<Option<Body>> = items
                    .iter()
                    .map(|i| self.body(src, i, guaranteed, vars))
                    .collect();
                Body::List(built.into_iter().collect::<Option<_>>()?)
            }
            BodyNode::Map(entries) => {
                let built: Vec<Option<(String, Body)>> = entries
                    .iter()
                    .map(|(k, v)| self.body(src, v, guaranteed, vars).map(|b| (k.clone(), b)))
                    .collect();
                Body::Map(built.into_iter().collect::<Option<_>>()?)
            }
        })
    }

    /// Parses and compiles a `when` or `unless` body. `None` after reporting an error.
    fn guard(
        &mut self,
        src: SourceId,
        name: &str,
        value: &Spanned<String>,
        guaranteed: &BTreeSet<String>,
    ) -> Option<Guard> {
        let located = self.locate(src, value);
        let (text, base) = match located.padded() {
            Some(padded) => (padded, located.start),
            None => (value.value.clone(), located.start),
        };
        let body = match datalog::parse_body(&text, src, base) {
            Ok(body) => body,
            Err(e) => {
                self.error(super::compile::datalog_diagnostic(&e));
                return None;
            }
        };

        let mut params = vec!["alert".to_owned()];
        let mut predicates = Vec::new();
        let mut warnings = Vec::new();
        for literal in &body {
            visit_literal(literal, &mut |term| {
                if let Term::Param(p, span) = term
                    && !params.contains(p)
                {
                    params.push(p.clone());
                    if !guaranteed.contains(p) {
                        warnings.push(label_not_guaranteed(p, *span, "guard"));
                    }
                }
            });
            if let Literal::Pos(a) | Literal::Neg { atom: a, .. } = literal {
                predicates.push(a.pred.clone());
            }
        }
        predicates.sort_unstable();
        predicates.dedup();
        self.query_predicates.extend(predicates.iter().cloned());
        for w in warnings {
            self.error(w);
        }

        let program = self.program.as_mut()?;
        let param_refs: Vec<&str> = params.iter().map(String::as_str).collect();
        match program.compile_query(&body, &param_refs) {
            Ok(query) => Some(Guard {
                name: name.to_owned(),
                text: value.value.clone(),
                query,
                params,
                reads: predicates,
                span: located.whole(),
            }),
            Err(errors) => {
                self.diags
                    .extend(errors.iter().map(super::compile::datalog_diagnostic));
                None
            }
        }
    }
}

fn visit_literal(literal: &Literal, f: &mut impl FnMut(&Term)) {
    match literal {
        Literal::Pos(atom) | Literal::Neg { atom, .. } => atom.args.iter().for_each(&mut *f),
        Literal::Cmp { lhs, rhs, .. } => {
            f(lhs);
            f(rhs);
        }
        Literal::Regex { term, .. } => f(term),
    }
}

fn empty_match(name: &str) -> Diagnostic {
    Diagnostic::error("empty-match", format!("remediation \"{name}\" has an empty `match`"))
        .help("an empty selector never means \"every alert\": add label matchers, e.g. match: {alertname: ApiDown}")
}

fn label_not_guaranteed(name: &str, span: datalog::Span, what: &str) -> Diagnostic {
    Diagnostic::warning("label-not-guaranteed", format!("label \"{name}\" is not guaranteed by `match`"))
        .label(span, format!("this {what} reads it"))
        .help(if what == "guard" {
            format!("for an alert without \"{name}\" the guard is false; add a matcher `{name}: \"=~.+\"` if every alert must have it")
        } else {
            format!("rendering fails for an alert without \"{name}\"; add a matcher `{name}: \"=~.+\"` to `match`")
        })
}
