//! Compilation: a checked program and its query bodies become [`Compiled`], the
//! frozen, shareable form the [`Database`](super::Database) evaluates.
//!
//! Everything that does not depend on facts happens here, once per rules
//! generation: checks, strata, join plans for every rule (one full plan, one
//! per positive atom for semi-naive deltas, one with the head bound for
//! `explain`), the indexes those plans need, regexes, and interning of every
//! constant. Compile the queries, then put `Compiled` in an `Arc`.

use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::ast::{Literal, Program, Span, Term};
use super::check::{self, Builtins, Symbols};
use super::error::{DatalogError, did_you_mean};
use super::intern::Interner;
use super::plan::{Col, Operand, Plan, PlanCtx, PredId, RegexSet, Slots, Step, plan_body};
use super::stratify::{DepGraph, components};
use super::value::Value;

/// How a predicate gets its tuples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredKind {
    /// Supplied by the engine (`firing`, `label`, ...).
    Builtin,
    /// Only facts: listed in the program and/or inserted by the caller.
    Facts,
    /// Derived by rules (and maybe also given facts).
    Rules,
}

#[derive(Debug, Clone)]
pub struct PredInfo {
    pub name: Arc<str>,
    pub arity: usize,
    pub kind: PredKind,
    /// The program lists facts for it, so it accepts inserted tuples too.
    pub has_facts: bool,
    /// The head of its first clause; `None` for built-ins.
    pub defined_at: Option<Span>,
}

impl PredInfo {
    /// Whether [`Database::insert`](super::Database::insert) accepts tuples for it.
    pub fn insertable(&self) -> bool {
        self.kind == PredKind::Builtin || self.has_facts
    }
}

/// A compiled query body; valid only with the [`Compiled`] that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueryId(pub(crate) usize);

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub clause: usize,
    pub span: Span,
    pub head: PredId,
    pub head_terms: Vec<Operand>,
    pub n_slots: usize,
    pub full: Plan,
    /// One plan per positive body atom, that atom reading only its delta.
    pub deltas: Vec<(PredId, Plan)>,
    /// Head variables bound: finds the body facts of a given derived fact.
    pub explain: Plan,
}

/// A group of mutually recursive predicates, evaluated to a fixpoint together.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stratum {
    pub preds: Vec<PredId>,
    pub rules: Vec<usize>,
    pub reads_pos: Vec<PredId>,
    pub reads_neg: Vec<PredId>,
}

#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub plan: Plan,
    pub n_params: usize,
    pub n_slots: usize,
    /// Named variables and their slots, in order of first mention.
    pub vars: Vec<(Arc<str>, usize)>,
}

#[derive(Debug, Clone)]
pub(crate) struct ProgramFact {
    pub pred: PredId,
    pub tuple: Vec<Value>,
    pub clause: usize,
    pub span: Span,
}

/// What [`Compiled::entity_reach`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityReach {
    /// Some plan may read the facts of any entity.
    pub all: bool,
    /// `(key, value)` pairs: besides `params`, plans read only the facts of
    /// entities with one of these labels.
    pub labels: Vec<(Value, Value)>,
    /// Query parameters (by position) whose entity's facts a query reads.
    pub params: Vec<usize>,
}

/// A checked, planned program with its queries.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub(crate) preds: Vec<PredInfo>,
    pub(crate) pred_ids: FxHashMap<String, PredId>,
    pub(crate) arities: Vec<usize>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) rules_by_head: Vec<Vec<usize>>,
    pub(crate) strata: Vec<Stratum>,
    pub(crate) facts: Vec<ProgramFact>,
    /// Per relation, the key column masks of the indexes the plans use.
    pub(crate) indexes: Vec<Vec<u64>>,
    pub(crate) regexes: RegexSet,
    pub(crate) queries: Vec<Query>,
    pub(crate) interner: Interner,
    symbols: Symbols,
}

impl Compiled {
    /// Checks and compiles `program`; all errors if it is wrong.
    pub fn new(program: &Program, builtins: &Builtins) -> Result<Compiled, Vec<DatalogError>> {
        let (symbols, errors) = check::check(program, builtins);
        if !errors.is_empty() {
            return Err(errors);
        }
        let preds: Vec<PredInfo> = symbols
            .preds
            .iter()
            .map(|d| PredInfo {
                name: d.name.as_str().into(),
                arity: d.arity,
                kind: if d.builtin {
                    PredKind::Builtin
                } else if d.has_rules {
                    PredKind::Rules
                } else {
                    PredKind::Facts
                },
                has_facts: d.has_facts,
                defined_at: d.defined_at,
            })
            .collect();
        let mut compiled = Compiled {
            pred_ids: symbols.ids.clone(),
            arities: preds.iter().map(|p| p.arity).collect(),
            rules_by_head: vec![Vec::new(); preds.len()],
            indexes: vec![Vec::new(); preds.len()],
            preds,
            rules: Vec::new(),
            strata: Vec::new(),
            facts: Vec::new(),
            regexes: RegexSet::default(),
            queries: Vec::new(),
            interner: Interner::new(),
            symbols,
        };
        compiled.compile_clauses(program).map_err(|e| vec![e])?;
        compiled.compile_strata(program).map_err(|e| e.to_vec())?;
        Ok(compiled)
    }

    fn compile_clauses(&mut self, program: &Program) -> Result<(), DatalogError> {
        for (clause_index, clause) in program.clauses.iter().enumerate() {
            let head = clause.head.pred.as_str();
            let Some(&head_id) = self.pred_ids.get(head) else {
                continue; // unreachable: every head is in the symbol table
            };
            let ctx = &mut PlanCtx {
                pred_ids: &self.pred_ids,
                arities: &self.arities,
                interner: &mut self.interner,
                regexes: &mut self.regexes,
                indexes: &mut self.indexes,
            };
            if clause.body.is_empty() {
                let tuple: Vec<Value> = clause
                    .head
                    .args
                    .iter()
                    .filter_map(|t| match t {
                        Term::Const(c, _) => Some(ctx.constant(c)),
                        _ => None,
                    })
                    .collect();
                self.facts.push(ProgramFact {
                    pred: head_id,
                    tuple,
                    clause: clause_index,
                    span: clause.span,
                });
                continue;
            }
            let mut slots = Slots::default();
            clause.head.args.iter().for_each(|t| slots.add_term(t));
            slots.add_body(&clause.body);
            let head_terms: Vec<Operand> = clause
                .head
                .args
                .iter()
                .map(|t| match t {
                    Term::Const(c, _) => Operand::Const(ctx.constant(c)),
                    Term::Var(name, _) => Operand::Slot(slots.vars.get(name).copied().unwrap_or(0)),
                    // Rejected by the checks.
                    Term::Wildcard(_) | Term::Param(..) => Operand::Const(Value::Int(0)),
                })
                .collect();
            let full = plan_body(ctx, &clause.body, &slots, Vec::new(), None)?;
            let mut deltas = Vec::new();
            for (i, literal) in clause.body.iter().enumerate() {
                if let Literal::Pos(atom) = literal
                    && let Some(&rel) = self.pred_ids.get(&atom.pred)
                {
                    deltas.push((
                        rel,
                        plan_body(ctx, &clause.body, &slots, Vec::new(), Some(i))?,
                    ));
                }
            }
            let mut head_bound = vec![false; slots.len()];
            for op in &head_terms {
                if let Operand::Slot(s) = op
                    && let Some(b) = head_bound.get_mut(*s)
                {
                    *b = true;
                }
            }
            let explain = plan_body(ctx, &clause.body, &slots, head_bound, None)?;
            if let Some(list) = self.rules_by_head.get_mut(head_id) {
                list.push(self.rules.len());
            }
            self.rules.push(Rule {
                clause: clause_index,
                span: clause.span,
                head: head_id,
                head_terms,
                n_slots: slots.len(),
                full,
                deltas,
                explain,
            });
        }
        Ok(())
    }

    fn compile_strata(&mut self, program: &Program) -> Result<(), Vec<DatalogError>> {
        let graph = DepGraph::from_program(program);
        for component in components(&graph)? {
            let preds: Vec<PredId> = component
                .iter()
                .filter_map(|&g| graph.names.get(g as usize))
                .filter_map(|name| self.pred_ids.get(name).copied())
                .filter(|&p| self.preds.get(p).is_some_and(|i| i.kind == PredKind::Rules))
                .collect();
            if preds.is_empty() {
                continue;
            }
            let mut stratum = Stratum {
                preds,
                ..Stratum::default()
            };
            for &p in &stratum.preds {
                stratum
                    .rules
                    .extend(self.rules_by_head.get(p).into_iter().flatten());
            }
            stratum.rules.sort_unstable();
            let mut pos = FxHashSet::default();
            let mut neg = FxHashSet::default();
            for &r in &stratum.rules {
                let Some(clause) = self
                    .rules
                    .get(r)
                    .and_then(|r| program.clauses.get(r.clause))
                else {
                    continue;
                };
                for literal in &clause.body {
                    match literal {
                        Literal::Pos(a) => pos.extend(self.pred_ids.get(&a.pred)),
                        Literal::Neg { atom, .. } => neg.extend(self.pred_ids.get(&atom.pred)),
                        _ => {}
                    }
                }
            }
            stratum.reads_pos = sorted(pos);
            stratum.reads_neg = sorted(neg);
            self.strata.push(stratum);
        }
        Ok(())
    }

    /// Compiles a query body whose `$params` the caller binds when it runs it
    /// (names with or without the `$`), in this order. Checks it as a rule body:
    /// defined predicates, arities, safe variables (parameters count as bound),
    /// valid regexes; a `$name` not in `params` is an error.
    pub fn compile_query(
        &mut self,
        body: &[Literal],
        params: &[&str],
    ) -> Result<QueryId, Vec<DatalogError>> {
        let params: Vec<&str> = params
            .iter()
            .map(|p| p.strip_prefix('$').unwrap_or(p))
            .collect();
        let mut errors = Vec::new();
        for_each_param(body, |name, span| {
            if !params.contains(&name) {
                let help = match did_you_mean(name, params.iter().copied()) {
                    Some(s) => Some(format!(
                        "did you mean \"${s}\"? available: {}",
                        list_params(&params)
                    )),
                    None if params.is_empty() => {
                        Some("no parameters are available here".to_owned())
                    }
                    None => Some(format!("available: {}", list_params(&params))),
                };
                errors.push(DatalogError::UnknownParameter {
                    name: name.to_owned(),
                    span,
                    help,
                });
            }
        });
        check::check_atoms(body, &self.symbols, &mut errors);
        check::check_safety(None, body, &FxHashSet::default(), true, &mut errors);
        check::check_regexes(body, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut slots = Slots::default();
        params.iter().for_each(|p| slots.add_param(p));
        slots.add_body(body);
        let n_params = slots.params.len();
        let bound = vec![true; n_params];
        let ctx = &mut PlanCtx {
            pred_ids: &self.pred_ids,
            arities: &self.arities,
            interner: &mut self.interner,
            regexes: &mut self.regexes,
            indexes: &mut self.indexes,
        };
        let plan = plan_body(ctx, body, &slots, bound, None).map_err(|e| vec![e])?;
        let vars = slots
            .order
            .iter()
            .filter_map(|name| Some((Arc::from(name.as_str()), *slots.vars.get(name)?)))
            .collect();
        self.queries.push(Query {
            plan,
            n_params,
            n_slots: slots.len(),
            vars,
        });
        Ok(QueryId(self.queries.len() - 1))
    }

    /// The values any rule or query can look `pred` up with in `column`:
    /// `None` when it may read any value there (a variable or `_` in that
    /// column), otherwise the constants written there (empty: nothing reads
    /// `pred`). A caller inserting facts may skip the rows no reader can see,
    /// such as the labels no rule names.
    pub fn column_reads(&self, pred: &str, column: usize) -> Option<FxHashSet<Value>> {
        let Some(&id) = self.pred_ids.get(pred) else {
            return Some(FxHashSet::default());
        };
        let plans = self
            .rules
            .iter()
            .flat_map(|r| {
                std::iter::once(&r.full)
                    .chain(r.deltas.iter().map(|(_, p)| p))
                    .chain(std::iter::once(&r.explain))
            })
            .chain(self.queries.iter().map(|q| &q.plan));
        let mut values = FxHashSet::default();
        for plan in plans {
            for step in &plan.steps {
                let (Step::Scan { rel, cols, .. } | Step::Absent { rel, cols, .. }) = step else {
                    continue;
                };
                if *rel != id {
                    continue;
                }
                match cols.get(column) {
                    Some(Col::Key(Operand::Const(v))) => {
                        values.insert(*v);
                    }
                    _ => return None,
                }
            }
        }
        Some(values)
    }

    /// Whose facts the plans can read, for relations keyed by an entity in
    /// column 0 (the engine's alerts: `firing(A)`, `label(A, K, V)`, ...), where
    /// `label` is the relation holding each entity's `(key, value)` pairs.
    ///
    /// An atom over those relations reads only facts of entities pinned in the
    /// same body by a positive `label(A, "k", "v")` with both constants (it
    /// cannot succeed for any other), or, in a query, of the entity a parameter
    /// names; a `label(_, "k", "v")` reads those with that pair. Anything
    /// else (`firing(A)` alone, `not firing(_)`, an entity constant, `A` bound
    /// from another relation) may read any entity: `all`.
    pub fn entity_reach(&self, relations: &[&str], label: &str) -> EntityReach {
        let rels: FxHashSet<PredId> = relations
            .iter()
            .filter_map(|r| self.pred_ids.get(*r).copied())
            .collect();
        let label = self.pred_ids.get(label).copied();
        let rule_plans = self.rules.iter().flat_map(|r| {
            std::iter::once(&r.full)
                .chain(r.deltas.iter().map(|(_, p)| p))
                .chain(std::iter::once(&r.explain))
                .map(|p| (p, 0))
        });
        let query_plans = self.queries.iter().map(|q| (&q.plan, q.n_params));
        let mut reach = EntityReach::default();
        for (plan, n_params) in rule_plans.chain(query_plans) {
            let mut pinned = FxHashSet::default();
            for step in &plan.steps {
                let (Step::Scan { rel, cols, .. } | Step::Absent { rel, cols, .. }) = step else {
                    continue;
                };
                if Some(*rel) != label {
                    continue;
                }
                if let [
                    first,
                    Col::Key(Operand::Const(k)),
                    Col::Key(Operand::Const(v)),
                    ..,
                ] = cols.as_slice()
                {
                    reach.labels.push((*k, *v));
                    if let (Step::Scan { .. }, Col::Bind(s) | Col::Key(Operand::Slot(s))) =
                        (step, first)
                    {
                        pinned.insert(*s);
                    }
                }
            }
            for step in &plan.steps {
                let (Step::Scan { rel, cols, .. } | Step::Absent { rel, cols, .. }) = step else {
                    continue;
                };
                if !rels.contains(rel) {
                    continue;
                }
                let pinned_pair = Some(*rel) == label
                    && matches!(
                        cols.as_slice(),
                        [
                            _,
                            Col::Key(Operand::Const(_)),
                            Col::Key(Operand::Const(_)),
                            ..
                        ]
                    );
                match cols.first() {
                    Some(Col::Bind(s) | Col::Key(Operand::Slot(s))) if pinned.contains(s) => {}
                    Some(Col::Key(Operand::Slot(s))) if *s < n_params => reach.params.push(*s),
                    Some(Col::Any) if pinned_pair => {}
                    _ => reach.all = true,
                }
            }
        }
        reach.labels.sort_unstable();
        reach.labels.dedup();
        reach.params.sort_unstable();
        reach.params.dedup();
        reach
    }

    /// Whether a query's plan reads its parameter `param` at all.
    pub fn query_reads_param(&self, query: QueryId, param: usize) -> bool {
        let Some(q) = self.queries.get(query.0) else {
            return false;
        };
        let is = |o: &Operand| *o == Operand::Slot(param);
        q.plan.steps.iter().any(|step| match step {
            Step::Scan { cols, .. } | Step::Absent { cols, .. } => {
                cols.iter().any(|c| matches!(c, Col::Key(o) if is(o)))
            }
            Step::Cmp { lhs, rhs, .. } => is(lhs) || is(rhs),
            Step::Assign { value, .. } => is(value),
            Step::Regex { operand, .. } => is(operand),
        })
    }

    /// Every known predicate: built-ins, then the program's in order of definition.
    pub fn predicates(&self) -> &[PredInfo] {
        &self.preds
    }

    pub fn predicate(&self, name: &str) -> Option<&PredInfo> {
        self.pred_ids.get(name).and_then(|&id| self.preds.get(id))
    }

    /// The named variables of a query, in order of first mention.
    pub fn query_vars(&self, query: QueryId) -> impl Iterator<Item = &str> {
        self.queries
            .get(query.0)
            .into_iter()
            .flat_map(|q| q.vars.iter().map(|(n, _)| &**n))
    }

    /// The interner holding every constant of the program and its queries.
    pub fn interner(&self) -> &Interner {
        &self.interner
    }
}

fn sorted(set: FxHashSet<PredId>) -> Vec<PredId> {
    let mut v: Vec<PredId> = set.into_iter().collect();
    v.sort_unstable();
    v
}

fn list_params(params: &[&str]) -> String {
    params
        .iter()
        .map(|p| format!("${p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn for_each_param(body: &[Literal], mut f: impl FnMut(&str, Span)) {
    let mut visit = |t: &Term| {
        if let Term::Param(name, span) = t {
            f(name, *span);
        }
    };
    for literal in body {
        match literal {
            Literal::Pos(atom) | Literal::Neg { atom, .. } => atom.args.iter().for_each(&mut visit),
            Literal::Cmp { lhs, rhs, .. } => {
                visit(lhs);
                visit(rhs);
            }
            Literal::Regex { term, .. } => visit(term),
        }
    }
}
