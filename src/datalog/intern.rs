//! String interning: every string constant and every string the engine inserts
//! becomes a [`Sym`], so tuples are small `Copy` values that hash and compare by
//! number. The interner never forgets a string: a [`Database`](super::Database)
//! lives as long as one rules generation, and its strings (label values, alert
//! ids) are bounded by the alerts it holds.

use std::sync::Arc;

use rustc_hash::FxHashMap;

/// An interned string. Only meaningful together with the interner that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sym(pub u32);

#[derive(Debug, Clone, Default)]
pub struct Interner {
    /// The map and the list share each string: one allocation per new string
    /// (every alert brings a new fingerprint).
    ids: FxHashMap<Arc<str>, u32>,
    strings: Vec<Arc<str>>,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The symbol for `s`, adding it if it is new.
    pub fn intern(&mut self, s: &str) -> Sym {
        if let Some(&id) = self.ids.get(s) {
            return Sym(id);
        }
        // More than 2^32 distinct strings would need far more memory than any
        // host has; saturating keeps this total without a panic path.
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let s: Arc<str> = Arc::from(s);
        self.strings.push(Arc::clone(&s));
        self.ids.insert(s, id);
        Sym(id)
    }

    /// The symbol for `s` if it was interned.
    pub fn lookup(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).map(|&id| Sym(id))
    }

    /// The string of a symbol; `None` for a symbol from another interner.
    pub fn resolve(&self, sym: Sym) -> Option<&str> {
        self.strings.get(sym.0 as usize).map(|s| &**s)
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable() {
        let mut i = Interner::new();
        let a = i.intern("api");
        let b = i.intern("db");
        assert_ne!(a, b);
        assert_eq!(i.intern("api"), a);
        assert_eq!(i.lookup("db"), Some(b));
        assert_eq!(i.lookup("nope"), None);
        assert_eq!(i.resolve(a), Some("api"));
        assert_eq!(i.resolve(Sym(99)), None);
        assert_eq!(i.len(), 2);
    }
}
