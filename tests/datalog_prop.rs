//! Property tests: the engine against a naive reference evaluator.
//!
//! Random stratified programs over a small integer domain: three EDB relations,
//! four IDB predicates `p0..p3` where `p_i` may use `p_j` positively for `j <= i`
//! (so positive recursion happens) and negatively only for `j < i` (so the
//! program is always stratified), plus comparisons and wildcards. The reference
//! evaluates level by level, trying every assignment of the rule's variables
//! over the domain until nothing changes: slow, obviously right.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use resgate::datalog::*;

const DOMAIN: i64 = 4;
const EDB: [(&str, usize); 3] = [("e0", 1), ("e1", 2), ("e2", 2)];
const IDB: usize = 4;
const VARS: [&str; 3] = ["X", "Y", "Z"];

#[derive(Debug, Clone, Copy, PartialEq)]
enum T {
    Var(usize),
    Const(i64),
    Any,
}

#[derive(Debug, Clone)]
struct AtomS {
    pred: usize,
    args: Vec<T>,
}

#[derive(Debug, Clone)]
struct RuleS {
    head: usize,
    head_args: Vec<T>,
    pos: Vec<AtomS>,
    neg: Option<AtomS>,
    cmp: Option<(T, &'static str, T)>,
}

#[derive(Debug, Clone)]
struct Spec {
    /// Arity of every predicate: the EDB ones, then p0..p3.
    arity: Vec<usize>,
    rules: Vec<RuleS>,
    /// Facts for IDB predicates written into the program.
    idb_facts: Vec<(usize, Vec<i64>)>,
}

type Raw = (bool, u8);

fn raw_term() -> impl Strategy<Value = Raw> {
    (any::<bool>(), 0u8..12)
}

type RawAtom = (u8, [Raw; 2]);

fn raw_atom() -> impl Strategy<Value = RawAtom> {
    (any::<u8>(), [raw_term(), raw_term()])
}

type RawRule = (
    u8,
    [Raw; 2],
    Vec<RawAtom>,
    Option<RawAtom>,
    Option<(Raw, u8, Raw)>,
);

fn raw_rule() -> impl Strategy<Value = RawRule> {
    (
        0u8..IDB as u8,
        [raw_term(), raw_term()],
        prop::collection::vec(raw_atom(), 1..=3),
        prop::option::weighted(0.4, raw_atom()),
        prop::option::weighted(0.4, (raw_term(), 0u8..6, raw_term())),
    )
}

fn name(pred: usize) -> String {
    match EDB.get(pred) {
        Some((n, _)) => (*n).to_owned(),
        None => format!("p{}", pred - EDB.len()),
    }
}

/// Turns raw choices into a safe, stratified program.
fn build(arities: [u8; IDB], raw_rules: Vec<RawRule>, raw_facts: Vec<(u8, [u8; 2])>) -> Spec {
    let mut arity: Vec<usize> = EDB.iter().map(|(_, a)| *a).collect();
    arity.extend(arities.iter().map(|a| 1 + (*a as usize % 2)));
    let term = |(is_var, n): Raw| {
        if is_var {
            T::Var(n as usize % VARS.len())
        } else {
            T::Const(n as i64 % DOMAIN)
        }
    };
    let fact_preds: Vec<usize> = raw_facts
        .iter()
        .map(|(p, _)| EDB.len() + *p as usize % IDB)
        .collect();
    // Only predicates with a rule or a fact are defined; bodies use only those.
    let defined = |pred: usize| {
        pred < EDB.len()
            || fact_preds.contains(&pred)
            || raw_rules.iter().any(|r| EDB.len() + r.0 as usize == pred)
    };
    let mut rules = Vec::new();
    for (head, head_raw, pos_raw, neg_raw, cmp_raw) in raw_rules.clone() {
        let level = head as usize;
        let head = EDB.len() + level;
        // Positive: EDB or p_j with j <= level. Negative: EDB or p_j with j < level.
        let pos_choices: Vec<usize> = (0..=head).filter(|p| defined(*p)).collect();
        let neg_choices: Vec<usize> = (0..head).filter(|p| defined(*p)).collect();
        let atom = |(p, args): RawAtom, choices: &[usize]| {
            let pred = choices[p as usize % choices.len()];
            AtomS {
                pred,
                args: args
                    .iter()
                    .take(arity[pred])
                    .map(|r| match r {
                        // Some positive columns are wildcards.
                        (false, 11) => T::Any,
                        r => term(*r),
                    })
                    .collect(),
            }
        };
        let pos: Vec<AtomS> = pos_raw.into_iter().map(|a| atom(a, &pos_choices)).collect();
        let bound: Vec<usize> = pos
            .iter()
            .flat_map(|a| a.args.iter())
            .filter_map(|t| match t {
                T::Var(v) => Some(*v),
                _ => None,
            })
            .collect();
        let fix = |t: T, unbound: T| match t {
            T::Var(v) if !bound.contains(&v) => unbound,
            t => t,
        };
        let neg = neg_raw.map(|a| {
            let mut a = atom(a, &neg_choices);
            a.args = a.args.iter().map(|t| fix(*t, T::Any)).collect();
            a
        });
        let cmp = cmp_raw.map(|(l, op, r)| {
            let op = ["=", "!=", "<", "<=", ">", ">="][op as usize % 6];
            (fix(term(l), T::Const(1)), op, fix(term(r), T::Const(2)))
        });
        let head_args = head_raw
            .iter()
            .take(arity[head])
            .map(|r| match term(*r) {
                T::Var(v) if !bound.contains(&v) => bound
                    .get(v % bound.len().max(1))
                    .map_or(T::Const(0), |b| T::Var(*b)),
                t => t,
            })
            .collect();
        rules.push(RuleS {
            head,
            head_args,
            pos,
            neg,
            cmp,
        });
    }
    let idb_facts = raw_facts
        .into_iter()
        .map(|(p, args)| {
            let pred = EDB.len() + p as usize % IDB;
            let tuple = args
                .iter()
                .take(arity[pred])
                .map(|a| *a as i64 % DOMAIN)
                .collect();
            (pred, tuple)
        })
        .collect();
    Spec {
        arity,
        rules,
        idb_facts,
    }
}

fn render_term(t: &T) -> String {
    match t {
        T::Var(v) => VARS[*v].to_owned(),
        T::Const(c) => c.to_string(),
        T::Any => "_".to_owned(),
    }
}

fn render_atom(a: &AtomS) -> String {
    let args: Vec<String> = a.args.iter().map(render_term).collect();
    format!("{}({})", name(a.pred), args.join(", "))
}

fn render(spec: &Spec) -> String {
    let mut text = String::new();
    for (pred, tuple) in &spec.idb_facts {
        let args: Vec<String> = tuple.iter().map(i64::to_string).collect();
        text.push_str(&format!("{}({}).\n", name(*pred), args.join(", ")));
    }
    for r in &spec.rules {
        let mut body: Vec<String> = r.pos.iter().map(render_atom).collect();
        if let Some(n) = &r.neg {
            body.push(format!("not {}", render_atom(n)));
        }
        if let Some((l, op, rhs)) = &r.cmp {
            body.push(format!("{} {op} {}", render_term(l), render_term(rhs)));
        }
        let head = render_atom(&AtomS {
            pred: r.head,
            args: r.head_args.clone(),
        });
        text.push_str(&format!("{head} :- {}.\n", body.join(", ")));
    }
    text
}

type Rels = Vec<BTreeSet<Vec<i64>>>;

/// The reference: level by level, every assignment, until nothing changes.
fn naive(spec: &Spec, edb: &Rels) -> Rels {
    let mut rels: Rels = vec![BTreeSet::new(); spec.arity.len()];
    for (i, facts) in edb.iter().enumerate() {
        rels[i] = facts.clone();
    }
    for (pred, tuple) in &spec.idb_facts {
        rels[*pred].insert(tuple.clone());
    }
    for level in 0..IDB {
        let head = EDB.len() + level;
        loop {
            let mut new = Vec::new();
            for rule in spec.rules.iter().filter(|r| r.head == head) {
                for x in 0..DOMAIN {
                    for y in 0..DOMAIN {
                        for z in 0..DOMAIN {
                            let env = [x, y, z];
                            if holds(rule, &env, &rels) {
                                new.push(
                                    rule.head_args
                                        .iter()
                                        .map(|t| value(t, &env))
                                        .collect::<Vec<_>>(),
                                );
                            }
                        }
                    }
                }
            }
            let before = rels[head].len();
            rels[head].extend(new);
            if rels[head].len() == before {
                break;
            }
        }
    }
    rels
}

fn value(t: &T, env: &[i64; 3]) -> i64 {
    match t {
        T::Var(v) => env[*v],
        T::Const(c) => *c,
        T::Any => -1,
    }
}

fn matches(args: &[T], tuple: &[i64], env: &[i64; 3]) -> bool {
    args.iter()
        .zip(tuple)
        .all(|(a, v)| *a == T::Any || value(a, env) == *v)
}

fn holds(rule: &RuleS, env: &[i64; 3], rels: &Rels) -> bool {
    rule.pos
        .iter()
        .all(|a| rels[a.pred].iter().any(|t| matches(&a.args, t, env)))
        && rule
            .neg
            .as_ref()
            .is_none_or(|a| !rels[a.pred].iter().any(|t| matches(&a.args, t, env)))
        && rule.cmp.as_ref().is_none_or(|(l, op, r)| {
            let (l, r) = (value(l, env), value(r, env));
            match *op {
                "=" => l == r,
                "!=" => l != r,
                "<" => l < r,
                "<=" => l <= r,
                ">" => l > r,
                _ => l >= r,
            }
        })
}

fn compile(spec: &Spec) -> Arc<Compiled> {
    let text = render(spec);
    let program = parse_program(&text, SourceId(0), 0).expect("generated program parses");
    match Compiled::new(&program, &Builtins::new(EDB)) {
        Ok(c) => Arc::new(c),
        Err(e) => panic!("generated program rejected: {e:?}\n{text}"),
    }
}

fn contents(spec: &Spec, db: &Database) -> Rels {
    (0..spec.arity.len())
        .map(|p| {
            db.facts(&name(p))
                .map(|t| t.iter().map(|v| v.as_int().unwrap_or(-99)).collect())
                .collect()
        })
        .collect()
}

fn load(compiled: &Arc<Compiled>, edb: &Rels) -> Database {
    let mut db = Database::new(Arc::clone(compiled));
    for (p, facts) in edb.iter().enumerate() {
        for t in facts {
            let tuple: Vec<Value> = t.iter().map(|i| Value::Int(*i)).collect();
            db.insert(&name(p), &tuple).unwrap();
        }
    }
    db
}

fn edb_strategy() -> impl Strategy<Value = Rels> {
    let rel =
        |arity: usize| prop::collection::btree_set(prop::collection::vec(0..DOMAIN, arity), 0..10);
    (rel(1), rel(2), rel(2)).prop_map(|(a, b, c)| vec![a, b, c])
}

fn spec_strategy() -> impl Strategy<Value = Spec> {
    (
        [any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>()],
        prop::collection::vec(raw_rule(), 1..8),
        prop::collection::vec((any::<u8>(), [any::<u8>(), any::<u8>()]), 0..3),
    )
        .prop_map(|(a, r, f)| build(a, r, f))
}

/// Every derived fact has a proof, and every rule step in it is sound: its
/// children hold.
fn check_proofs(spec: &Spec, db: &Database) {
    for p in EDB.len()..spec.arity.len() {
        let rows: Vec<Vec<Value>> = db.facts(&name(p)).map(<[Value]>::to_vec).collect();
        for t in rows {
            let d = db
                .explain(&name(p), &t)
                .expect("a fact that holds explains");
            let mut stack = vec![&d];
            while let Some(node) = stack.pop() {
                assert_ne!(node.origin, Origin::Truncated, "{}", render(spec));
                assert!(db.contains(&node.pred, &node.tuple));
                stack.extend(node.children.iter());
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(usize, Vec<i64>),
    Remove(usize, Vec<i64>),
    Evaluate,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..EDB.len(), prop::collection::vec(0..DOMAIN, 2)).prop_map(|(p, t)| Op::Insert(p, t)),
        2 => (0..EDB.len(), prop::collection::vec(0..DOMAIN, 2)).prop_map(|(p, t)| Op::Remove(p, t)),
        1 => Just(Op::Evaluate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn semi_naive_equals_naive(spec in spec_strategy(), edb in edb_strategy()) {
        let compiled = compile(&spec);
        let mut db = load(&compiled, &edb);
        db.evaluate();
        let expected = naive(&spec, &edb);
        prop_assert_eq!(contents(&spec, &db), expected, "program:\n{}", render(&spec));
        check_proofs(&spec, &db);
    }

    #[test]
    fn incremental_equals_from_scratch(
        spec in spec_strategy(),
        edb in edb_strategy(),
        ops in prop::collection::vec(op_strategy(), 1..30),
    ) {
        let compiled = compile(&spec);
        let mut db = load(&compiled, &edb);
        db.evaluate();
        let mut current = edb;
        for op in ops.into_iter().chain([Op::Evaluate]) {
            match op {
                Op::Insert(p, mut t) => {
                    t.truncate(EDB[p].1);
                    let tuple: Vec<Value> = t.iter().map(|i| Value::Int(*i)).collect();
                    prop_assert_eq!(db.insert(EDB[p].0, &tuple).unwrap(), current[p].insert(t));
                }
                Op::Remove(p, mut t) => {
                    t.truncate(EDB[p].1);
                    let tuple: Vec<Value> = t.iter().map(|i| Value::Int(*i)).collect();
                    prop_assert_eq!(db.remove(EDB[p].0, &tuple).unwrap(), current[p].remove(&t));
                }
                Op::Evaluate => {
                    db.evaluate();
                    let mut scratch = load(&compiled, &current);
                    scratch.evaluate();
                    prop_assert_eq!(contents(&spec, &db), contents(&spec, &scratch), "program:\n{}", render(&spec));
                    prop_assert_eq!(contents(&spec, &db), naive(&spec, &current), "program:\n{}", render(&spec));
                }
            }
        }
        check_proofs(&spec, &db);
    }
}
