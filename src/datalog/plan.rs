//! Join planning: a rule or query body becomes a sequence of [`Step`]s over
//! numbered variable slots.
//!
//! The order is greedy, without statistics: the next positive atom is the one
//! with the most bound columns (constants, parameters and already bound
//! variables; a fully bound atom is a membership test), ties going to source
//! order. Comparisons, regex matches and negated atoms are placed as soon as
//! their variables are bound, so they prune as early as possible; `X = <bound>`
//! becomes an assignment. Each plan registers the index (the set of bound
//! columns) its lookups need, so storage can keep exactly those indexes.

use rustc_hash::FxHashMap;

use super::ast::{Atom, CmpOp, Const, Literal, Term};
use super::check::compile_regex;
use super::error::DatalogError;
use super::intern::Interner;
use super::value::Value;

pub(crate) type PredId = usize;

/// Where a value comes from at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operand {
    Slot(usize),
    Const(Value),
}

/// What a scan does with one column of a candidate row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Col {
    /// Known before the scan: part of the lookup key, and checked.
    Key(Operand),
    /// First occurrence of an unbound variable: binds it.
    Bind(usize),
    /// A later occurrence of a variable bound by an earlier column of this atom.
    Same(usize),
    /// `_`.
    Any,
}

/// How a scan finds candidate rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Every row (no column is known).
    Scan,
    /// The relation's `n`th index, keyed by the `Key` columns.
    Index(usize),
    /// Every column is known: a single hash lookup.
    Exact,
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// A positive atom; `lit` is its position in the body (for proofs).
    Scan {
        lit: usize,
        rel: PredId,
        cols: Vec<Col>,
        access: Access,
        /// Only rows in the relation's current delta (semi-naive evaluation).
        delta: bool,
    },
    /// `not atom`: no row matches the `Key` columns (others are `Any`).
    Absent {
        rel: PredId,
        cols: Vec<Col>,
        access: Access,
    },
    Cmp {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    Assign {
        slot: usize,
        value: Operand,
    },
    Regex {
        operand: Operand,
        regex: usize,
    },
}

/// The anchored regexes of all plans, each pattern compiled once.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegexSet {
    pub list: Vec<regex::Regex>,
    ids: FxHashMap<String, usize>,
}

impl RegexSet {
    pub fn compile(&mut self, pattern: &str) -> Result<usize, String> {
        if let Some(&id) = self.ids.get(pattern) {
            return Ok(id);
        }
        self.list.push(compile_regex(pattern)?);
        self.ids.insert(pattern.to_owned(), self.list.len() - 1);
        Ok(self.list.len() - 1)
    }

    pub fn get(&self, id: usize) -> Option<&regex::Regex> {
        self.list.get(id)
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Plan {
    pub steps: Vec<Step>,
}

/// Variable (and parameter) names to slots, numbered in order of first mention.
#[derive(Debug, Clone, Default)]
pub(crate) struct Slots {
    pub vars: FxHashMap<String, usize>,
    pub params: FxHashMap<String, usize>,
    pub order: Vec<String>,
}

impl Slots {
    pub fn len(&self) -> usize {
        self.vars.len() + self.params.len()
    }

    pub fn add_param(&mut self, name: &str) {
        if !self.params.contains_key(name) {
            let slot = self.len();
            self.params.insert(name.to_owned(), slot);
        }
    }

    pub fn add_term(&mut self, term: &Term) {
        if let Term::Var(name, _) = term
            && !self.vars.contains_key(name)
        {
            let slot = self.len();
            self.vars.insert(name.clone(), slot);
            self.order.push(name.clone());
        }
    }

    pub fn add_body(&mut self, body: &[Literal]) {
        for literal in body {
            match literal {
                Literal::Pos(atom) | Literal::Neg { atom, .. } => {
                    atom.args.iter().for_each(|t| self.add_term(t));
                }
                Literal::Cmp { lhs, rhs, .. } => {
                    self.add_term(lhs);
                    self.add_term(rhs);
                }
                Literal::Regex { term, .. } => self.add_term(term),
            }
        }
    }

    fn slot(&self, term: &Term) -> Option<usize> {
        match term {
            Term::Var(name, _) => self.vars.get(name).copied(),
            Term::Param(name, _) => self.params.get(name).copied(),
            _ => None,
        }
    }
}

/// What planning needs from the program being compiled.
pub(crate) struct PlanCtx<'a> {
    pub pred_ids: &'a FxHashMap<String, PredId>,
    pub arities: &'a [usize],
    pub interner: &'a mut Interner,
    pub regexes: &'a mut RegexSet,
    /// Per relation, the key column masks of its indexes.
    pub indexes: &'a mut Vec<Vec<u64>>,
}

impl PlanCtx<'_> {
    pub fn constant(&mut self, c: &Const) -> Value {
        match c {
            Const::Int(i) => Value::Int(*i),
            Const::Frac(x) => Value::Frac(*x),
            Const::Str(s) => Value::Sym(self.interner.intern(s)),
        }
    }

    fn index(&mut self, rel: PredId, mask: u64) -> usize {
        if self.indexes.len() <= rel {
            self.indexes.resize(rel + 1, Vec::new());
        }
        let masks = &mut self.indexes[rel];
        match masks.iter().position(|&m| m == mask) {
            Some(i) => i,
            None => {
                masks.push(mask);
                masks.len() - 1
            }
        }
    }

    fn rel(&self, atom: &Atom) -> Result<PredId, DatalogError> {
        self.pred_ids
            .get(&atom.pred)
            .copied()
            .filter(|&id| self.arities.get(id) == Some(&atom.args.len()))
            // Checks run before planning, so this is only reachable by a bug;
            // report it as the check would rather than panic.
            .ok_or_else(|| DatalogError::UndefinedPredicate {
                name: atom.pred.clone(),
                span: atom.pred_span,
                help: None,
            })
    }
}

/// Plans `body` with the slots in `bound` already bound. With `first`, that
/// literal (a positive atom) goes first and reads only its relation's delta.
pub(crate) fn plan_body(
    ctx: &mut PlanCtx<'_>,
    body: &[Literal],
    slots: &Slots,
    mut bound: Vec<bool>,
    first: Option<usize>,
) -> Result<Plan, DatalogError> {
    bound.resize(slots.len(), false);
    let mut steps = Vec::new();
    let mut remaining: Vec<usize> = (0..body.len()).collect();
    if let Some(i) = first {
        remaining.retain(|&r| r != i);
        if let Some(Literal::Pos(atom)) = body.get(i) {
            steps.push(scan(ctx, i, atom, slots, &mut bound, true)?);
        }
    }
    loop {
        // Filters first: everything whose inputs are bound.
        let mut progress = true;
        while progress {
            progress = false;
            let mut k = 0;
            while k < remaining.len() {
                let i = remaining[k];
                match body
                    .get(i)
                    .map(|l| filter(ctx, l, slots, &mut bound))
                    .transpose()?
                {
                    Some(Some(step)) => {
                        steps.push(step);
                        remaining.remove(k);
                        progress = true;
                    }
                    _ => k += 1,
                }
            }
        }
        // Then the most constrained positive atom.
        let best = remaining
            .iter()
            .enumerate()
            .filter_map(|(k, &i)| match body.get(i) {
                Some(Literal::Pos(atom)) => Some((k, i, atom)),
                _ => None,
            })
            .max_by_key(|(_, i, atom)| {
                let known = atom
                    .args
                    .iter()
                    .filter(|t| term_bound(t, slots, &bound))
                    .count();
                (known == atom.args.len(), known, std::cmp::Reverse(*i))
            });
        match best {
            Some((k, i, atom)) => {
                remaining.remove(k);
                steps.push(scan(ctx, i, atom, slots, &mut bound, false)?);
            }
            None => break,
        }
    }
    if let Some(&i) = remaining.first() {
        return Err(unbound_error(body.get(i), slots, &bound));
    }
    Ok(Plan { steps })
}

fn term_bound(term: &Term, slots: &Slots, bound: &[bool]) -> bool {
    match term {
        Term::Const(..) => true,
        Term::Wildcard(_) => false,
        Term::Var(..) | Term::Param(..) => slots
            .slot(term)
            .is_some_and(|s| bound.get(s).copied().unwrap_or(false)),
    }
}

/// The operand of a bound term.
fn operand(ctx: &mut PlanCtx<'_>, term: &Term, slots: &Slots) -> Option<Operand> {
    match term {
        Term::Const(c, _) => Some(Operand::Const(ctx.constant(c))),
        Term::Wildcard(_) => None,
        _ => slots.slot(term).map(Operand::Slot),
    }
}

fn mark(bound: &mut [bool], slot: usize) {
    if let Some(b) = bound.get_mut(slot) {
        *b = true;
    }
}

fn scan(
    ctx: &mut PlanCtx<'_>,
    lit: usize,
    atom: &Atom,
    slots: &Slots,
    bound: &mut [bool],
    delta: bool,
) -> Result<Step, DatalogError> {
    let rel = ctx.rel(atom)?;
    let mut cols = Vec::with_capacity(atom.args.len());
    let mut newly: Vec<usize> = Vec::new();
    for term in &atom.args {
        let col = if term_bound(term, slots, bound) {
            match operand(ctx, term, slots) {
                Some(op) => Col::Key(op),
                None => Col::Any,
            }
        } else {
            match slots.slot(term) {
                Some(s) if newly.contains(&s) => Col::Same(s),
                Some(s) => {
                    newly.push(s);
                    Col::Bind(s)
                }
                None => Col::Any,
            }
        };
        cols.push(col);
    }
    for s in newly {
        mark(bound, s);
    }
    let mut access = access(ctx, rel, &cols);
    if delta && matches!(access, Access::Index(_)) {
        // A delta is scanned directly; no index over it is needed.
        access = Access::Scan;
    }
    Ok(Step::Scan {
        lit,
        rel,
        cols,
        access,
        delta,
    })
}

fn access(ctx: &mut PlanCtx<'_>, rel: PredId, cols: &[Col]) -> Access {
    if cols.iter().all(|c| matches!(c, Col::Key(_))) {
        return Access::Exact;
    }
    let mask = cols
        .iter()
        .enumerate()
        .filter(|(i, c)| *i < 64 && matches!(c, Col::Key(_)))
        .fold(0u64, |m, (i, _)| m | (1 << i));
    if mask == 0 {
        Access::Scan
    } else {
        Access::Index(ctx.index(rel, mask))
    }
}

/// The step for a non-atom literal (or a negated atom) once its inputs are bound;
/// `None` while they are not (and for positive atoms).
fn filter(
    ctx: &mut PlanCtx<'_>,
    literal: &Literal,
    slots: &Slots,
    bound: &mut [bool],
) -> Result<Option<Step>, DatalogError> {
    Ok(match literal {
        Literal::Pos(_) => None,
        Literal::Neg { atom, .. } => {
            let ready = atom
                .args
                .iter()
                .all(|t| matches!(t, Term::Wildcard(_)) || term_bound(t, slots, bound));
            if !ready {
                return Ok(None);
            }
            let rel = ctx.rel(atom)?;
            let cols: Vec<Col> = atom
                .args
                .iter()
                .map(|t| operand(ctx, t, slots).map_or(Col::Any, Col::Key))
                .collect();
            let access = access(ctx, rel, &cols);
            Some(Step::Absent { rel, cols, access })
        }
        Literal::Cmp { op, lhs, rhs, .. } => {
            let (lb, rb) = (term_bound(lhs, slots, bound), term_bound(rhs, slots, bound));
            match (lb, rb) {
                (true, true) => match (operand(ctx, lhs, slots), operand(ctx, rhs, slots)) {
                    (Some(lhs), Some(rhs)) => Some(Step::Cmp { op: *op, lhs, rhs }),
                    _ => None,
                },
                (false, true) | (true, false) if *op == CmpOp::Eq => {
                    let (target, source) = if lb { (rhs, lhs) } else { (lhs, rhs) };
                    match (slots.slot(target), operand(ctx, source, slots)) {
                        (Some(slot), Some(value)) => {
                            mark(bound, slot);
                            Some(Step::Assign { slot, value })
                        }
                        _ => None,
                    }
                }
                _ => None,
            }
        }
        Literal::Regex { term, pattern, .. } => {
            if !term_bound(term, slots, bound) {
                return Ok(None);
            }
            let Some(operand) = operand(ctx, term, slots) else {
                return Ok(None);
            };
            let regex =
                ctx.regexes
                    .compile(pattern)
                    .map_err(|reason| DatalogError::InvalidRegex {
                        pattern: pattern.clone(),
                        reason,
                        span: literal.span(),
                    })?;
            Some(Step::Regex { operand, regex })
        }
    })
}

/// The error for a literal that could never be placed: its first unbound variable.
fn unbound_error(literal: Option<&Literal>, slots: &Slots, bound: &[bool]) -> DatalogError {
    let terms: Vec<&Term> = match literal {
        Some(Literal::Pos(atom)) | Some(Literal::Neg { atom, .. }) => atom.args.iter().collect(),
        Some(Literal::Cmp { lhs, rhs, .. }) => vec![lhs, rhs],
        Some(Literal::Regex { term, .. }) => vec![term],
        None => Vec::new(),
    };
    let unbound = terms
        .into_iter()
        .find(|t| matches!(t, Term::Var(..)) && !term_bound(t, slots, bound));
    let (name, span) = match unbound {
        Some(Term::Var(name, span)) => (name.clone(), *span),
        _ => (
            "_".to_owned(),
            literal.map(Literal::span).unwrap_or_default(),
        ),
    };
    DatalogError::UnsafeVariable {
        name,
        span,
        help: None,
    }
}
