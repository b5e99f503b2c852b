//! The syntax tree of resgate's Datalog dialect.
//!
//! Every node carries a [`Span`]: the source it came from and its byte range there.
//! A span's `src` is chosen by whoever parses the text (the rules loader numbers
//! its files), so a clause, a literal or a single argument can be pointed at in a
//! diagnostic without the tree knowing anything about files.

use std::fmt;

/// Which source text a span points into. The rules loader assigns these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SourceId(pub u32);

/// A byte range `start..end` in the source text `src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub src: SourceId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(src: SourceId, start: usize, end: usize) -> Self {
        Span { src, start, end }
    }

    /// The smallest span covering both (they must share a source).
    pub fn to(self, other: Span) -> Span {
        Span {
            src: self.src,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start, span.len()).into()
    }
}

/// A constant as written in the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Const {
    Int(i64),
    /// A literal with a fraction, `0.05`; a whole one (`1.0`) is an `Int`.
    Frac(super::value::Frac),
    Str(String),
}

impl fmt::Display for Const {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Const::Int(i) => write!(f, "{i}"),
            Const::Frac(x) => write!(f, "{x}"),
            Const::Str(s) => write!(f, "{s:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// `X`, `Service`: starts with an uppercase letter.
    Var(String, Span),
    /// `_`: matches anything, binds nothing. Each `_` is distinct.
    Wildcard(Span),
    /// `$alert`, `$service`: a value the caller supplies when it runs a query
    /// (the current alert's id or one of its labels). Only allowed in query bodies.
    Param(String, Span),
    Const(Const, Span),
}

impl Term {
    pub fn span(&self) -> Span {
        match self {
            Term::Var(_, s) | Term::Wildcard(s) | Term::Param(_, s) | Term::Const(_, s) => *s,
        }
    }
}

/// `pred(arg, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Atom {
    pub pred: String,
    pub pred_span: Span,
    pub args: Vec<Term>,
    /// From the predicate name to the closing parenthesis.
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// A positive atom: binds its variables.
    Pos(Atom),
    /// `not atom`: every variable in it must be bound by a positive literal.
    Neg { atom: Atom, span: Span },
    /// `L op R`. `X = <bound term>` binds `X`; every other comparison needs both sides bound.
    Cmp {
        op: CmpOp,
        lhs: Term,
        rhs: Term,
        span: Span,
    },
    /// `X =~ "regex"`: the pattern is anchored at both ends, as in Alertmanager.
    Regex {
        term: Term,
        pattern: String,
        pattern_span: Span,
        span: Span,
    },
}

impl Literal {
    pub fn span(&self) -> Span {
        match self {
            Literal::Pos(a) => a.span,
            Literal::Neg { span, .. } | Literal::Cmp { span, .. } | Literal::Regex { span, .. } => {
                *span
            }
        }
    }
}

/// `head :- body.` or, with an empty body, a fact `head.`
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub head: Atom,
    pub body: Vec<Literal>,
    /// From the head to the final `.`.
    pub span: Span,
}

/// All clauses of all `.dl` files, in load order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Program {
    pub clauses: Vec<Clause>,
}
