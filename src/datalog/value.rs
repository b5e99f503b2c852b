//! Runtime values and how comparisons treat them.
//!
//! `=` and `!=` are structural (interning makes equal strings equal symbols).
//! The ordering operators compare two numbers numerically and two strings
//! lexicographically by their text, never by symbol number; a number and a
//! string are never ordered against each other: such a comparison is false.
//!
//! Numbers are integers (i64) or fractions (f64, for metric values such as an
//! error ratio of 0.05). A number is kept in one canonical form so that
//! structural equality is numeric equality: a whole number that fits in i64 is
//! always an `Int` (`1.0` is `1`), only the rest is a `Frac`, and NaN is no
//! value at all ([`Value::number`] refuses it: a guard could never compare it).

use std::cmp::Ordering;
use std::fmt;

use super::ast::CmpOp;
use super::intern::{Interner, Sym};

/// A value in a tuple. `Ord` here is only a storage order (by symbol number);
/// use [`compare`] for the dialect's semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Int(i64),
    Frac(Frac),
    Sym(Sym),
}

/// A number that is not a whole i64: a fraction, an integral value beyond
/// i64's range, or an infinity. Never NaN. Stored as its bits, so that it can be
/// hashed and compared structurally (canonical form makes that exact: `-0.0`
/// is the integer 0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frac(u64);

/// 2^63 as f64: the first whole number above i64's range.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

impl Frac {
    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

impl fmt::Debug for Frac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Frac({self})")
    }
}

/// The shortest decimal text that reads back as the same f64 (`0.05`, not
/// `0.05000000000000000277`), never in exponent form; infinities print as
/// Prometheus prints them, `+Inf` and `-Inf`.
impl fmt::Display for Frac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.get();
        if x.is_infinite() {
            f.write_str(if x > 0.0 { "+Inf" } else { "-Inf" })
        } else {
            write!(f, "{x}")
        }
    }
}

/// How an integer and a fraction order, exactly: casting a large i64 to f64
/// rounds, so the fraction's whole part is compared as an integer instead.
fn cmp_int_frac(i: i64, x: f64) -> Ordering {
    if x >= TWO_POW_63 {
        return Ordering::Less;
    }
    if x < -TWO_POW_63 {
        return Ordering::Greater;
    }
    // In range, so the truncation is exact and fits.
    let whole = x.trunc() as i64;
    i.cmp(&whole).then_with(|| {
        let rest = x - x.trunc();
        if rest > 0.0 {
            Ordering::Less
        } else if rest < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    })
}

/// Two numbers in order; `None` for a string on either side.
fn cmp_numbers(lhs: Value, rhs: Value) -> Option<Ordering> {
    match (lhs, rhs) {
        (Value::Int(a), Value::Int(b)) => Some(a.cmp(&b)),
        (Value::Int(a), Value::Frac(b)) => Some(cmp_int_frac(a, b.get())),
        (Value::Frac(a), Value::Int(b)) => Some(cmp_int_frac(b, a.get()).reverse()),
        (Value::Frac(a), Value::Frac(b)) => a.get().partial_cmp(&b.get()),
        _ => None,
    }
}

impl Value {
    pub fn as_int(self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i),
            Value::Frac(_) | Value::Sym(_) => None,
        }
    }

    pub fn as_sym(self) -> Option<Sym> {
        match self {
            Value::Sym(s) => Some(s),
            Value::Int(_) | Value::Frac(_) => None,
        }
    }

    /// A number in its canonical form: a whole number that fits in i64 becomes
    /// an `Int`, anything else a `Frac`. `None` for NaN.
    pub fn number(x: f64) -> Option<Value> {
        if x.is_nan() {
            return None;
        }
        if x.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&x) {
            // Whole and in range: the cast is exact (and -0.0 becomes 0).
            return Some(Value::Int(x as i64));
        }
        Some(Value::Frac(Frac(x.to_bits())))
    }

    /// The value as f64, for a number (an i64 beyond 2^53 rounds).
    pub fn as_f64(self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(i as f64),
            Value::Frac(x) => Some(x.get()),
            Value::Sym(_) => None,
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
            (Value::Sym(a), Value::Sym(b)) => Some(interner.resolve(a)?.cmp(interner.resolve(b)?)),
            _ => cmp_numbers(lhs, rhs),
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

/// A value made readable: a number, or a string borrowed from the interner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved<'a> {
    Int(i64),
    Frac(Frac),
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

/// Plain text: `42`, `0.05`, `api` (no quotes), `<unknown #7>`.
impl fmt::Display for Resolved<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resolved::Int(i) => write!(f, "{i}"),
            Resolved::Frac(x) => write!(f, "{x}"),
            Resolved::Str(s) => f.write_str(s),
            Resolved::Unknown(sym) => write!(f, "<unknown #{}>", sym.0),
        }
    }
}

pub fn resolve(value: Value, interner: &Interner) -> Resolved<'_> {
    match value {
        Value::Int(i) => Resolved::Int(i),
        Value::Frac(x) => Resolved::Frac(x),
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
    fn numbers_order_exactly_across_int_and_frac() {
        let i = Interner::new();
        let n = |x: f64| Value::number(x).unwrap();
        assert_eq!(n(3.0), Value::Int(3));
        assert_eq!(n(-0.0), Value::Int(0));
        assert!(matches!(n(0.5), Value::Frac(_)));
        assert!(
            matches!(n(TWO_POW_63), Value::Frac(_)),
            "beyond i64 stays a fraction"
        );
        assert_eq!(n(-TWO_POW_63), Value::Int(i64::MIN));
        assert!(compare(CmpOp::Lt, Value::Int(i64::MAX), n(TWO_POW_63), &i));
        assert!(compare(CmpOp::Gt, Value::Int(i64::MIN), n(-1e19), &i));
        assert!(compare(CmpOp::Lt, Value::Int(-1), n(-0.5), &i));
        assert!(compare(CmpOp::Gt, Value::Int(0), n(-0.5), &i));
        assert!(compare(CmpOp::Lt, n(0.049), n(0.05), &i));
        assert!(compare(
            CmpOp::Gt,
            n(f64::INFINITY),
            Value::Int(i64::MAX),
            &i
        ));
        assert!(compare(CmpOp::Lt, n(f64::NEG_INFINITY), n(-1e300), &i));
        assert!(!compare(CmpOp::Eq, n(0.5), Value::Int(0), &i));
    }

    #[test]
    fn display() {
        let mut i = Interner::new();
        let s = Value::Sym(i.intern("api"));
        assert_eq!(resolve(s, &i).to_string(), "api");
        assert_eq!(resolve(Value::Int(-2), &i).to_string(), "-2");
        let n = |x: f64| resolve(Value::number(x).unwrap(), &i).to_string();
        assert_eq!(n(0.05), "0.05");
        assert_eq!(n(-1.5), "-1.5");
        assert_eq!(n(1e-7), "0.0000001");
        assert_eq!(n(f64::INFINITY), "+Inf");
        assert_eq!(n(f64::NEG_INFINITY), "-Inf");
        assert_eq!(resolve(Value::Sym(Sym(9)), &i).to_string(), "<unknown #9>");
    }
}
