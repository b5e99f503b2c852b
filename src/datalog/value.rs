//! Runtime values and how comparisons treat them.
//!
//! `=` and `!=` are structural (interning makes equal strings equal symbols).
//! The ordering operators compare two integers numerically and two strings
//! lexicographically by their text, never by symbol number; an integer and a
//! string are never ordered against each other: such a comparison is false.

use std::cmp::Ordering;
use std::fmt;

use super::ast::CmpOp;
use super::intern::{Interner, Sym};

/// A value in a tuple. `Ord` here is only a storage order (by symbol number);
/// use [`compare`] for the dialect's semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Int(i64),
    Sym(Sym),
}

impl Value {
    pub fn as_int(self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i),
            Value::Sym(_) => None,
        }
    }

    pub fn as_sym(self) -> Option<Sym> {
        match self {
            Value::Sym(s) => Some(s),
            Value::Int(_) => None,
        }
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<Sym> for Value {
    fn from(s: Sym) -> Self {
        Value::Sym(s)
    }
}

/// Evaluates `lhs op rhs` with the dialect's semantics.
pub fn compare(op: CmpOp, lhs: Value, rhs: Value, interner: &Interner) -> bool {
    let ordering = || -> Option<Ordering> {
        match (lhs, rhs) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(&b)),
            (Value::Sym(a), Value::Sym(b)) => Some(interner.resolve(a)?.cmp(interner.resolve(b)?)),
            _ => None,
        }
    };
    match op {
        CmpOp::Eq => lhs == rhs,
        CmpOp::Ne => lhs != rhs,
        CmpOp::Lt => ordering() == Some(Ordering::Less),
        CmpOp::Le => matches!(ordering(), Some(Ordering::Less | Ordering::Equal)),
        CmpOp::Gt => ordering() == Some(Ordering::Greater),
        CmpOp::Ge => matches!(ordering(), Some(Ordering::Greater | Ordering::Equal)),
    }
}

/// A value made readable: an integer, or a string borrowed from the interner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved<'a> {
    Int(i64),
    Str(&'a str),
    /// A symbol the interner does not know (it came from another database).
    Unknown(Sym),
}

impl Resolved<'_> {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Resolved::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// Plain text: `42`, `api` (no quotes), `<unknown #7>`.
impl fmt::Display for Resolved<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolved::Int(i) => write!(f, "{i}"),
            Resolved::Str(s) => f.write_str(s),
            Resolved::Unknown(sym) => write!(f, "<unknown #{}>", sym.0),
        }
    }
}

pub fn resolve(value: Value, interner: &Interner) -> Resolved<'_> {
    match value {
        Value::Int(i) => Resolved::Int(i),
        Value::Sym(s) => interner
            .resolve(s)
            .map_or(Resolved::Unknown(s), Resolved::Str),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_semantics() {
        let mut i = Interner::new();
        // Interned in reverse order, so symbol numbers disagree with the text.
        let b = Value::Sym(i.intern("b"));
        let a = Value::Sym(i.intern("a"));
        assert!(compare(CmpOp::Lt, a, b, &i));
        assert!(!compare(CmpOp::Lt, b, a, &i));
        assert!(compare(CmpOp::Ge, b, a, &i));
        assert!(compare(CmpOp::Le, a, a, &i));
        assert!(compare(CmpOp::Lt, Value::Int(-5), Value::Int(3), &i));
        assert!(!compare(CmpOp::Gt, Value::Int(-5), Value::Int(3), &i));
        // Mixed types are never ordered, and never equal.
        for op in [CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge, CmpOp::Eq] {
            assert!(!compare(op, Value::Int(1), a, &i), "{op}");
        }
        assert!(compare(CmpOp::Ne, Value::Int(1), a, &i));
        assert!(compare(CmpOp::Eq, a, a, &i));
    }

    #[test]
    fn display() {
        let mut i = Interner::new();
        let s = Value::Sym(i.intern("api"));
        assert_eq!(resolve(s, &i).to_string(), "api");
        assert_eq!(resolve(Value::Int(-2), &i).to_string(), "-2");
        assert_eq!(resolve(Value::Sym(Sym(9)), &i).to_string(), "<unknown #9>");
    }
}
