//! Static checks of a program and of query bodies.
//!
//! Every check runs and every error is collected, so `lint` can show them all at
//! once: undefined predicates (with a did-you-mean), arity mismatches, built-in
//! redefinitions, unsafe variables, non-ground facts, invalid regexes and
//! recursion through negation. Warnings (unused predicates and the like) are the
//! caller's business; [`reachable_from`](super::reachable_from) gives it the data.

use std::borrow::Borrow;

use rustc_hash::{FxHashMap, FxHashSet};

use super::ast::{Atom, Clause, Literal, Program, Span, Term};
use super::error::{DatalogError, did_you_mean};
use super::stratify::{DepGraph, components};

/// The relations resgate's engine supplies (DESIGN.md §2), with their arities.
pub const RESGATE_BUILTINS: &[(&str, usize)] = &[
    ("alert", 1),
    ("firing", 1),
    ("resolved", 1),
    ("label", 3),
    ("annotation", 3),
    ("source", 2),
    ("age", 2),
    ("in_flight", 2),
    ("warming", 2),
    ("succeeded", 3),
    ("failed", 3),
    ("attempts", 3),
];

/// The relations the caller supplies facts for and that rules may not define.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Builtins {
    relations: Vec<(String, usize)>,
}

impl Builtins {
    /// From `(name, arity)` pairs (owned or borrowed, so `RESGATE_BUILTINS`
    /// works as is); a repeated name keeps its first arity.
    pub fn new<'a, T: Borrow<(&'a str, usize)>>(relations: impl IntoIterator<Item = T>) -> Self {
        let mut out: Vec<(String, usize)> = Vec::new();
        for pair in relations {
            let &(name, arity) = pair.borrow();
            if !out.iter().any(|(n, _)| n == name) {
                out.push((name.to_owned(), arity));
            }
        }
        Builtins { relations: out }
    }

    /// [`RESGATE_BUILTINS`].
    pub fn resgate() -> Self {
        Self::new(RESGATE_BUILTINS)
    }

    pub fn arity(&self, name: &str) -> Option<usize> {
        self.relations
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, a)| *a)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, usize)> {
        self.relations.iter().map(|(n, a)| (n.as_str(), *a))
    }
}

/// What the checks learnt about one predicate.
#[derive(Debug, Clone)]
pub(crate) struct PredDecl {
    pub name: String,
    pub arity: usize,
    pub builtin: bool,
    /// The head of the first clause defining it.
    pub defined_at: Option<Span>,
    pub has_facts: bool,
    pub has_rules: bool,
}

/// Every known predicate: built-ins first, then defined ones in source order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Symbols {
    pub preds: Vec<PredDecl>,
    pub ids: FxHashMap<String, usize>,
}

impl Symbols {
    pub fn get(&self, name: &str) -> Option<&PredDecl> {
        self.ids.get(name).and_then(|&i| self.preds.get(i))
    }

    /// A likely typo's fix; else how to define the predicate, and what is
    /// defined (so that a user never meets the error without a way on).
    fn suggest(&self, name: &str, arity: usize) -> Option<String> {
        if let Some(s) = did_you_mean(name, self.preds.iter().map(|p| p.name.as_str())) {
            return Some(format!("did you mean \"{s}\"?"));
        }
        let mut defined: Vec<&str> = self
            .preds
            .iter()
            .filter(|p| !p.builtin)
            .map(|p| p.name.as_str())
            .collect();
        defined.sort_unstable();
        defined.dedup();
        let mut builtin: Vec<&str> = self
            .preds
            .iter()
            .filter(|p| p.builtin)
            .map(|p| p.name.as_str())
            .collect();
        builtin.sort_unstable();
        let defined = if defined.is_empty() {
            "none is defined yet".to_owned()
        } else {
            format!("defined: {}", defined.join(", "))
        };
        // The example has the arity of the use, so it can be copied as it is.
        let example = (1..=arity)
            .map(|i| format!("\"v{i}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Some(format!(
            "define it with facts or a rule in a .dl file of the rules directory, e.g. `{name}({example}).`; {defined}; built in: {}",
            builtin.join(", ")
        ))
    }
}

/// Runs every check on `program`; empty when it is fine.
pub fn check_program(program: &Program, builtins: &Builtins) -> Vec<DatalogError> {
    check(program, builtins).1
}

/// The symbol table and all errors of a program.
pub(crate) fn check(program: &Program, builtins: &Builtins) -> (Symbols, Vec<DatalogError>) {
    let mut errors = Vec::new();
    let symbols = collect_symbols(program, builtins, &mut errors);
    for clause in &program.clauses {
        check_clause(clause, &symbols, &mut errors);
    }
    if let Err(cycles) = components(&DepGraph::from_program(program)) {
        errors.extend(cycles);
    }
    (symbols, errors)
}

fn collect_symbols(
    program: &Program,
    builtins: &Builtins,
    errors: &mut Vec<DatalogError>,
) -> Symbols {
    let mut symbols = Symbols::default();
    for (name, arity) in builtins.iter() {
        symbols.ids.insert(name.to_owned(), symbols.preds.len());
        symbols.preds.push(PredDecl {
            name: name.to_owned(),
            arity,
            builtin: true,
            defined_at: None,
            has_facts: false,
            has_rules: false,
        });
    }
    for clause in &program.clauses {
        let head = &clause.head;
        let id = match symbols.ids.get(&head.pred) {
            Some(&id) => id,
            None => {
                let id = symbols.preds.len();
                symbols.ids.insert(head.pred.clone(), id);
                symbols.preds.push(PredDecl {
                    name: head.pred.clone(),
                    arity: head.args.len(),
                    builtin: false,
                    defined_at: Some(head.span),
                    has_facts: false,
                    has_rules: false,
                });
                id
            }
        };
        let Some(decl) = symbols.preds.get_mut(id) else {
            continue;
        };
        if decl.builtin {
            errors.push(DatalogError::BuiltinRedefinition {
                name: head.pred.clone(),
                span: head.pred_span,
            });
        } else if decl.arity != head.args.len() {
            errors.push(DatalogError::ArityMismatch {
                name: head.pred.clone(),
                used: head.args.len(),
                defined: decl.arity,
                span: head.span,
                defined_at: decl.defined_at,
            });
        } else if clause.body.is_empty() {
            decl.has_facts = true;
        } else {
            decl.has_rules = true;
        }
    }
    symbols
}

fn check_clause(clause: &Clause, symbols: &Symbols, errors: &mut Vec<DatalogError>) {
    let head = &clause.head;
    if clause.body.is_empty() {
        if let Some(term) = head
            .args
            .iter()
            .find(|t| matches!(t, Term::Var(..) | Term::Wildcard(_)))
        {
            errors.push(DatalogError::NonGroundFact {
                name: head.pred.clone(),
                span: term.span(),
            });
        }
        return;
    }
    for term in &head.args {
        if let Term::Wildcard(span) = term {
            errors.push(DatalogError::WildcardInHead { span: *span });
        }
    }
    check_atoms(&clause.body, symbols, errors);
    check_safety(
        Some(head),
        &clause.body,
        &FxHashSet::default(),
        false,
        errors,
    );
    check_regexes(&clause.body, errors);
}

/// Undefined predicates and arity mismatches in a body.
pub(crate) fn check_atoms(body: &[Literal], symbols: &Symbols, errors: &mut Vec<DatalogError>) {
    for literal in body {
        let atom = match literal {
            Literal::Pos(atom) | Literal::Neg { atom, .. } => atom,
            _ => continue,
        };
        match symbols.get(&atom.pred) {
            None => errors.push(DatalogError::UndefinedPredicate {
                name: atom.pred.clone(),
                span: atom.pred_span,
                help: symbols.suggest(&atom.pred, atom.args.len()),
            }),
            Some(decl) if decl.arity != atom.args.len() => {
                errors.push(DatalogError::ArityMismatch {
                    name: atom.pred.clone(),
                    used: atom.args.len(),
                    defined: decl.arity,
                    span: atom.span,
                    defined_at: decl.defined_at,
                })
            }
            Some(_) => {}
        }
    }
}

/// The variables a body binds, given the already bound `prebound` ones:
/// those of positive atoms, then (to a fixpoint) `X = <bound>` equalities.
pub(crate) fn bound_vars<'a>(
    body: &'a [Literal],
    prebound: &FxHashSet<&'a str>,
) -> FxHashSet<&'a str> {
    let mut bound = prebound.clone();
    for literal in body {
        if let Literal::Pos(atom) = literal {
            bound.extend(atom.args.iter().filter_map(var_name));
        }
    }
    loop {
        let mut changed = false;
        for literal in body {
            if let Literal::Cmp {
                op: super::ast::CmpOp::Eq,
                lhs,
                rhs,
                ..
            } = literal
            {
                for (target, source) in [(lhs, rhs), (rhs, lhs)] {
                    if let Some(v) = var_name(target)
                        && !bound.contains(v)
                        && is_bound(source, &bound)
                    {
                        bound.insert(v);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            return bound;
        }
    }
}

pub(crate) fn var_name(term: &Term) -> Option<&str> {
    match term {
        Term::Var(name, _) => Some(name),
        _ => None,
    }
}

/// Constants and parameters are always bound; a variable when it is in `bound`.
pub(crate) fn is_bound(term: &Term, bound: &FxHashSet<&str>) -> bool {
    match term {
        Term::Var(name, _) => bound.contains(name.as_str()),
        Term::Wildcard(_) => false,
        Term::Param(..) | Term::Const(..) => true,
    }
}

/// Reports each unbound variable of the head, negated atoms, comparisons and
/// regex matches once, at its first occurrence.
pub(crate) fn check_safety(
    head: Option<&Atom>,
    body: &[Literal],
    prebound: &FxHashSet<&str>,
    is_query: bool,
    errors: &mut Vec<DatalogError>,
) {
    let bound = bound_vars(body, prebound);
    let mut reported: FxHashSet<&str> = FxHashSet::default();
    let mut needs: Vec<&Term> = Vec::new();
    if let Some(head) = head {
        needs.extend(&head.args);
    }
    for literal in body {
        match literal {
            Literal::Pos(_) => {}
            Literal::Neg { atom, .. } => needs.extend(&atom.args),
            Literal::Cmp { lhs, rhs, .. } => needs.extend([lhs, rhs]),
            Literal::Regex { term, .. } => needs.push(term),
        }
    }
    for term in needs {
        if let Term::Var(name, span) = term
            && !bound.contains(name.as_str())
            && reported.insert(name)
        {
            let (scope, alert) = if is_query {
                ("body", "$alert")
            } else {
                ("rule body", "A")
            };
            errors.push(DatalogError::UnsafeVariable {
                name: name.clone(),
                span: *span,
                help: Some(format!(
                    "bind {name} in a positive atom of the same {scope}, e.g. label({alert}, \"service\", {name})"
                )),
            });
        }
    }
}

/// Compiles each `=~` pattern, anchored, reporting the invalid ones.
pub(crate) fn check_regexes(body: &[Literal], errors: &mut Vec<DatalogError>) {
    for literal in body {
        if let Literal::Regex {
            pattern,
            pattern_span,
            ..
        } = literal
            && let Err(reason) = compile_regex(pattern)
        {
            errors.push(DatalogError::InvalidRegex {
                pattern: pattern.clone(),
                reason,
                span: *pattern_span,
            });
        }
    }
}

/// `pattern` anchored at both ends, or the reason it is invalid (one line).
/// The same dialect as a `match:` regex: Go's syntax and meaning, as
/// Alertmanager's (crate::rules::re2), so one pattern means one thing in both
/// places. A pattern that would escape the anchors (`a)|(b`) is refused.
pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    crate::rules::re2::compile_anchored(pattern)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datalog::ast::SourceId;
    use crate::datalog::parser::parse_program;

    fn errors(text: &str) -> Vec<String> {
        let p = parse_program(text, SourceId(0), 0).unwrap();
        check_program(&p, &Builtins::resgate())
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    fn errs(text: &str) -> Vec<DatalogError> {
        let p = parse_program(text, SourceId(0), 0).unwrap();
        check_program(&p, &Builtins::resgate())
    }

    #[test]
    fn topology_example_is_clean() {
        let text = r#"
            depends_on("api", "db").
            depends_on("db", "storage").
            depends(X, Y) :- depends_on(X, Y).
            depends(X, Z) :- depends_on(X, Y), depends(Y, Z).
            deploying(S) :- firing(A), label(A, "alertname", "DeployInProgress"), label(A, "service", S).
            deploying(S) :- in_flight("deploy-api", S).
            upstream_down(S) :- depends(S, D), firing(A), label(A, "service", D), label(A, "alertname", "ServiceDown").
        "#;
        assert_eq!(errors(text), Vec::<String>::new());
    }

    #[test]
    fn undefined_with_suggestion() {
        let e = errs("deploying(S) :- in_flight(\"x\", S).\nguard(S) :- deploing(S).");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].to_string(), "undefined predicate \"deploing\"");
        let help = miette::Diagnostic::help(&e[0]).unwrap().to_string();
        assert_eq!(help, "did you mean \"deploying\"?");
        assert_eq!(e[0].span(), Span::new(SourceId(0), 47, 55));
        // Nothing close: how to define it, and what is defined.
        let e = errs("q(\"a\").\np(X) :- zzzzzz(X), q(X).");
        let help = miette::Diagnostic::help(&e[0]).unwrap().to_string();
        assert!(
            help.starts_with("define it with facts or a rule in a .dl file")
                && help.contains("`zzzzzz(\"v1\").`")
                && help.contains("; defined: p, q; built in: "),
            "{help}"
        );
    }

    #[test]
    fn arity_errors() {
        assert_eq!(
            errors("depends(\"a\", \"b\").\np(X) :- depends(X, Y, Z)."),
            ["predicate \"depends\" used with 3 arguments, but defined with 2"]
        );
        assert_eq!(
            errors("p(X) :- firing(X, Y)."),
            ["predicate \"firing\" used with 2 arguments, but defined with 1"]
        );
        let e = errs("q(1).\nq(1, 2).");
        assert_eq!(
            e[0].to_string(),
            "predicate \"q\" used with 2 arguments, but defined with 1"
        );
        let labels = e[0].labels();
        assert_eq!(
            labels[0],
            (Span::new(SourceId(0), 6, 13), "2 arguments".to_owned())
        );
        assert_eq!(
            labels[1],
            (
                Span::new(SourceId(0), 0, 4),
                "defined with 1 argument".to_owned()
            )
        );
    }

    #[test]
    fn builtin_redefinition() {
        assert_eq!(
            errors("firing(\"a\").\nfiring(A) :- alert(A)."),
            [
                "cannot define built-in relation \"firing\"",
                "cannot define built-in relation \"firing\""
            ]
        );
    }

    #[test]
    fn unsafe_variables() {
        let e = errs("p(S) :- firing(A).");
        assert_eq!(e.len(), 1);
        assert_eq!(
            e[0].to_string(),
            "variable \"S\" is unsafe: it is not bound by a positive literal"
        );
        assert_eq!(
            miette::Diagnostic::help(&e[0]).unwrap().to_string(),
            "bind S in a positive atom of the same rule body, e.g. label(A, \"service\", S)"
        );
        assert_eq!(e[0].span(), Span::new(SourceId(0), 2, 3));
        // Negation, comparisons and regexes do not bind; each variable is reported once.
        assert_eq!(
            errors("p(A) :- firing(A), not label(A, K, V), V > 3, K =~ \"x\", V != K."),
            [
                "variable \"K\" is unsafe: it is not bound by a positive literal",
                "variable \"V\" is unsafe: it is not bound by a positive literal"
            ]
        );
        // Equality binds, also through a chain and from either side.
        assert!(errors("p(A, X, Y) :- firing(A), X = A, 5 = Y.").is_empty());
        assert!(errors("p(Z) :- firing(A), Z = Y, Y = A.").is_empty());
        assert_eq!(errors("p(Z) :- firing(A), Z = Y.").len(), 2);
        // A wildcard in a negated atom is fine.
        assert!(errors("p(A) :- firing(A), not label(A, \"team\", _).").is_empty());
    }

    #[test]
    fn facts_must_be_ground() {
        let e = errs("p(\"a\", X).\nq(_).");
        assert_eq!(e[0].to_string(), "fact \"p\" must be ground");
        assert_eq!(e[0].span(), Span::new(SourceId(0), 7, 8));
        assert_eq!(e[1].to_string(), "fact \"q\" must be ground");
    }

    #[test]
    fn wildcard_in_head() {
        assert_eq!(
            errors("p(_) :- firing(_)."),
            ["wildcard \"_\" cannot appear in a rule head"]
        );
    }

    #[test]
    fn invalid_regex() {
        let e = errs("p(A) :- label(A, \"k\", V), V =~ \"(ab\".");
        assert_eq!(e[0].to_string(), "invalid regex \"(ab\": unclosed group");
        assert_eq!(e[0].span(), Span::new(SourceId(0), 31, 36));
        // Would be valid once wrapped, but is not a regex on its own.
        assert_eq!(errs("p(A) :- label(A, \"k\", V), V =~ \"a)|(b\".").len(), 1);
    }

    #[test]
    fn all_errors_are_reported() {
        let e =
            errors("p(X) :- q(X).\nr(X) :- firng(X), s(X, Y).\ns(1).\nt(X) :- alert(X), not t(X).");
        assert_eq!(
            e,
            [
                "undefined predicate \"q\"",
                "undefined predicate \"firng\"",
                "predicate \"s\" used with 2 arguments, but defined with 1",
                "recursion through negation: t -> not t",
            ]
        );
    }
}
