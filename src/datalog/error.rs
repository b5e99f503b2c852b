//! Errors of the Datalog stages: lexing, parsing, checking and compiling.
//!
//! Each variant is a miette [`miette::Diagnostic`] with a labelled
//! [`Span`] but *no source code*: the rules loader knows which file (or which YAML
//! scalar) a [`SourceId`](super::SourceId) stands for and attaches it. [`DatalogError::labels`]
//! gives every span with its source id, including secondary ones (where a
//! predicate was first defined) that may live in another file.
//!
//! Runtime errors of the [`Database`](super::Database) have no span and are a
//! separate, smaller enum: [`DbError`].

use miette::Diagnostic;
use thiserror::Error;

use super::ast::Span;

/// An error in Datalog text, found while lexing, parsing, checking or compiling it.
#[derive(Debug, Clone, PartialEq, Eq, Error, Diagnostic)]
pub enum DatalogError {
    /// A character the dialect does not use, e.g. `#` or `[`.
    #[error("unexpected character \"{ch}\"")]
    UnexpectedChar {
        ch: char,
        #[label("not part of the Datalog dialect")]
        span: Span,
    },

    /// A `"` without its closing `"`. The span is the opening quote.
    #[error("unterminated string")]
    #[diagnostic(help("close the string with a double quote"))]
    UnterminatedString {
        #[label("string starts here")]
        span: Span,
    },

    /// A backslash escape other than `\" \\ \n \t` inside a string.
    #[error("invalid escape \"{escape}\" in string")]
    #[diagnostic(help(r#"supported escapes are \" \\ \n \t"#))]
    InvalidEscape {
        escape: String,
        #[label("unknown escape")]
        span: Span,
    },

    /// An integer literal outside the i64 range.
    #[error("integer {text} does not fit in 64 bits")]
    IntegerOutOfRange {
        text: String,
        #[label("out of range")]
        span: Span,
    },

    /// A number literal with a fraction too large for f64.
    #[error("number {text} is too large")]
    NumberOutOfRange {
        text: String,
        #[label("out of range")]
        span: Span,
    },

    /// Any grammar error: the token at `span` is not what the grammar allows there.
    #[error("expected {expected}, found {found}")]
    Syntax {
        expected: String,
        found: String,
        #[label("unexpected {found}")]
        span: Span,
    },

    /// A `$name` parameter inside a `.dl` program; only remediation bodies have them.
    #[error("parameter \"${name}\" is not allowed in a Datalog program")]
    #[diagnostic(help(
        "parameters are bound only in remediation `when` and `unless` bodies; use a variable here"
    ))]
    ParamInProgram {
        name: String,
        #[label("parameter")]
        span: Span,
    },

    /// A body atom names a predicate that no clause defines and that is not built in.
    #[error("undefined predicate {name:?}")]
    UndefinedPredicate {
        name: String,
        #[label("not defined")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// A predicate used with a different number of arguments than where it was
    /// first defined (or than the built-in relation has).
    #[error(
        "predicate {name:?} used with {used} argument{}, but defined with {defined}",
        plural(*used)
    )]
    ArityMismatch {
        name: String,
        used: usize,
        defined: usize,
        #[label("{used} argument{}", plural(*used))]
        span: Span,
        /// Where the predicate was first defined; `None` for built-in relations.
        defined_at: Option<Span>,
    },

    /// A clause head (rule or fact) names a relation the engine supplies.
    #[error("cannot define built-in relation {name:?}")]
    #[diagnostic(help("the engine supplies {name}; give this predicate another name"))]
    BuiltinRedefinition {
        name: String,
        #[label("built-in relation")]
        span: Span,
    },

    /// A variable in a head, a negated atom, a comparison or a regex match that no
    /// positive atom (or `X = <bound>` equality) binds.
    #[error("variable {name:?} is unsafe: it is not bound by a positive literal")]
    UnsafeVariable {
        name: String,
        #[label("unbound")]
        span: Span,
        #[help]
        help: Option<String>,
    },

    /// A `_` in a rule head: the head must say which value it derives.
    #[error("wildcard \"_\" cannot appear in a rule head")]
    #[diagnostic(help("name the variable and bind it in the body"))]
    WildcardInHead {
        #[label("wildcard")]
        span: Span,
    },

    /// A fact (a clause without body) with a variable or `_` among its arguments.
    #[error("fact {name:?} must be ground")]
    #[diagnostic(help(
        "a fact lists constants only; to derive it from other facts write a rule `head :- body.`"
    ))]
    NonGroundFact {
        name: String,
        #[label("variable in a fact")]
        span: Span,
    },

    /// The pattern of `X =~ "pattern"` is not valid in Go's regexp (RE2), the
    /// dialect of matchers (crate::rules::re2).
    #[error("invalid regex {pattern:?}: {reason}")]
    #[diagnostic(help(
        "regexes use Go's RE2 syntax, anchored at both ends, as in matchers: X =~ \"api-[0-9]+\""
    ))]
    InvalidRegex {
        pattern: String,
        reason: String,
        #[label("invalid regex")]
        span: Span,
    },

    /// A predicate depends on itself through a negated atom; the cycle is named
    /// `p -> not q -> p`, the span is the negated atom that closes it.
    #[error("recursion through negation: {cycle}")]
    #[diagnostic(help(
        "a predicate may not depend on its own negation; break the cycle or use a positive condition"
    ))]
    NegativeRecursion {
        cycle: String,
        #[label("negated here")]
        span: Span,
    },

    /// A `$name` in a query body that the caller does not bind.
    #[error("unknown parameter \"${name}\"")]
    UnknownParameter {
        name: String,
        #[label("not a known parameter")]
        span: Span,
        #[help]
        help: Option<String>,
    },
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl DatalogError {
    /// The primary span, with the source it points into.
    pub fn span(&self) -> Span {
        use DatalogError::*;
        match self {
            UnexpectedChar { span, .. }
            | UnterminatedString { span }
            | InvalidEscape { span, .. }
            | IntegerOutOfRange { span, .. }
            | NumberOutOfRange { span, .. }
            | Syntax { span, .. }
            | ParamInProgram { span, .. }
            | UndefinedPredicate { span, .. }
            | ArityMismatch { span, .. }
            | BuiltinRedefinition { span, .. }
            | UnsafeVariable { span, .. }
            | WildcardInHead { span }
            | NonGroundFact { span, .. }
            | InvalidRegex { span, .. }
            | NegativeRecursion { span, .. }
            | UnknownParameter { span, .. } => *span,
        }
    }

    /// Every labelled span with its text, the primary one first. Unlike miette's
    /// `labels()`, these keep their [`SourceId`](super::SourceId): a secondary
    /// span may point into another file than the primary one.
    pub fn labels(&self) -> Vec<(Span, String)> {
        // Every variant has exactly one miette label, on `span`.
        let text = miette::Diagnostic::labels(self)
            .and_then(|mut labels| labels.next())
            .and_then(|label| label.label().map(str::to_owned))
            .unwrap_or_default();
        let mut labels = vec![(self.span(), text)];
        if let DatalogError::ArityMismatch {
            defined,
            defined_at: Some(at),
            ..
        } = self
        {
            labels.push((
                *at,
                format!("defined with {defined} argument{}", plural(*defined)),
            ));
        }
        labels
    }

    /// A stable kebab-case name for this kind of error, e.g. `undefined-predicate`.
    pub fn kind(&self) -> &'static str {
        use DatalogError::*;
        match self {
            UnexpectedChar { .. } => "unexpected-character",
            UnterminatedString { .. } => "unterminated-string",
            InvalidEscape { .. } => "invalid-escape",
            IntegerOutOfRange { .. } => "integer-out-of-range",
            NumberOutOfRange { .. } => "number-out-of-range",
            Syntax { .. } => "syntax",
            ParamInProgram { .. } => "param-in-program",
            UndefinedPredicate { .. } => "undefined-predicate",
            ArityMismatch { .. } => "arity-mismatch",
            BuiltinRedefinition { .. } => "builtin-redefinition",
            UnsafeVariable { .. } => "unsafe-variable",
            WildcardInHead { .. } => "wildcard-in-head",
            NonGroundFact { .. } => "non-ground-fact",
            InvalidRegex { .. } => "invalid-regex",
            NegativeRecursion { .. } => "negative-recursion",
            UnknownParameter { .. } => "unknown-parameter",
        }
    }
}

/// A suggestion for a misspelt name: the closest candidate if it is close enough
/// to be a plausible typo (Damerau-Levenshtein distance at most a third of the
/// name, and at least 1).
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)))
        .map(|(_, c)| c)
}

/// A runtime error of the [`Database`](super::Database): the caller named a relation
/// or gave a tuple that the compiled program does not accept. These are caller
/// bugs or stale rules, never user text, so they carry no span.
#[derive(Debug, Clone, PartialEq, Eq, Error, Diagnostic)]
pub enum DbError {
    /// No clause or built-in defines this predicate.
    #[error("unknown predicate {name:?}")]
    UnknownPredicate { name: String },

    /// The tuple's length differs from the predicate's arity.
    #[error("predicate {name:?} has {expected} argument{}, but the tuple has {got}", plural(*expected))]
    ArityMismatch {
        name: String,
        expected: usize,
        got: usize,
    },

    /// Only built-in relations and predicates with facts take inserted tuples; a
    /// predicate defined only by rules is computed by `evaluate`.
    #[error("predicate {name:?} is derived by rules and cannot be changed directly")]
    Derived { name: String },
}
