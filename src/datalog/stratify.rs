//! The predicate dependency graph and what follows from it: strata, recursion
//! through negation, reachability.
//!
//! These analyses are fixed Datalog programs compiled in with crepe (see
//! DESIGN.md §7): the graph goes in as `DependsOn(head, body, negated)` facts over
//! predicate ids, and crepe computes the transitive `Reaches` relation and the
//! negative edges that close a cycle. Only the bookkeeping around them (naming a
//! cycle, ordering the components) is plain Rust. The user's own rules are not
//! run by crepe: they are only known at run time, so [`eval`](super::eval)
//! interprets them.

use std::collections::{BTreeSet, VecDeque};

use rustc_hash::{FxHashMap, FxHashSet};

use super::ast::{Literal, Program, Span};
use super::error::DatalogError;

mod analysis {
    use crepe::crepe;

    crepe! {
        @input
        /// `head` has a rule with `body` in its body, under `not` if `negated`.
        pub struct DependsOn(pub u32, pub u32, pub bool);

        @output
        /// `p` depends on `q` through one or more edges.
        pub struct Reaches(pub u32, pub u32);

        @output
        /// The negative edge `p -> not q` lies on a cycle: `q` reaches back to `p`.
        pub struct NegativeInCycle(pub u32, pub u32);

        Reaches(p, q) <- DependsOn(p, q, _);
        Reaches(p, r) <- DependsOn(p, q, _), Reaches(q, r);
        NegativeInCycle(p, q) <- DependsOn(p, q, negated), (negated), Reaches(q, p);
    }
}

mod reach {
    use crepe::crepe;

    crepe! {
        @input
        pub struct Edge(pub u32, pub u32);

        @input
        pub struct Root(pub u32);

        @output
        pub struct Reached(pub u32);

        Reached(r) <- Root(r);
        Reached(q) <- Reached(p), Edge(p, q);
    }
}

/// One edge of the graph: a rule for `head` uses `body` (negated or not) at `span`.
#[derive(Debug, Clone)]
pub struct Dependency {
    pub head: u32,
    pub body: u32,
    pub negated: bool,
    pub span: Span,
}

/// Predicates (numbered in order of first mention) and the edges between them.
#[derive(Debug, Clone, Default)]
pub struct DepGraph {
    pub names: Vec<String>,
    pub ids: FxHashMap<String, u32>,
    pub edges: Vec<Dependency>,
}

impl DepGraph {
    pub fn from_program(program: &Program) -> Self {
        let mut graph = DepGraph::default();
        for clause in &program.clauses {
            let head = graph.id(&clause.head.pred);
            for literal in &clause.body {
                let (atom, negated, span) = match literal {
                    Literal::Pos(atom) => (atom, false, atom.span),
                    Literal::Neg { atom, span } => (atom, true, *span),
                    _ => continue,
                };
                let body = graph.id(&atom.pred);
                graph.edges.push(Dependency {
                    head,
                    body,
                    negated,
                    span,
                });
            }
        }
        graph
    }

    pub fn id(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_owned());
        self.ids.insert(name.to_owned(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }
}

/// The components of the graph in evaluation order (each after everything it
/// depends on), each a list of predicate ids, or the recursion-through-negation
/// errors that make an order impossible.
pub fn components(graph: &DepGraph) -> Result<Vec<Vec<u32>>, Vec<DatalogError>> {
    let mut runtime = analysis::Crepe::new();
    runtime.extend(
        graph
            .edges
            .iter()
            .map(|e| analysis::DependsOn(e.head, e.body, e.negated)),
    );
    let (reaches, negative_in_cycle) = runtime.run();

    let mut bad: Vec<(u32, u32)> = negative_in_cycle
        .into_iter()
        .map(|analysis::NegativeInCycle(p, q)| (p, q))
        .collect();
    if !bad.is_empty() {
        // Report in source order: the first rule that closes each cycle.
        bad.sort_by_key(|&(p, q)| {
            graph
                .edges
                .iter()
                .position(|e| e.negated && e.head == p && e.body == q)
        });
        let errors = bad
            .into_iter()
            .filter_map(|(p, q)| {
                let edge = graph
                    .edges
                    .iter()
                    .find(|e| e.negated && e.head == p && e.body == q)?;
                Some(DatalogError::NegativeRecursion {
                    cycle: describe_cycle(graph, p, q),
                    span: edge.span,
                })
            })
            .collect();
        return Err(errors);
    }

    let n = graph.names.len();
    let mut reach: Vec<FxHashSet<u32>> = vec![FxHashSet::default(); n];
    for analysis::Reaches(p, q) in reaches {
        if let Some(set) = reach.get_mut(p as usize) {
            set.insert(q);
        }
    }
    let mutual = |p: u32, q: u32| {
        p == q
            || (reach.get(p as usize).is_some_and(|s| s.contains(&q))
                && reach.get(q as usize).is_some_and(|s| s.contains(&p)))
    };
    // A component's representative is its smallest member.
    let rep: Vec<u32> = (0..n as u32)
        .map(|p| {
            reach
                .get(p as usize)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&q| q < p && mutual(p, q))
                .min()
                .unwrap_or(p)
        })
        .collect();
    let rep_of = |p: u32| rep.get(p as usize).copied().unwrap_or(p);
    // If component A depends on component B, A reaches B and everything B reaches,
    // so A reaches strictly more *other* components: sorting by that count is a
    // topological order.
    let mut comps: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
    for p in 0..n as u32 {
        comps.entry(rep_of(p)).or_default().push(p);
    }
    let mut keyed: Vec<(usize, u32, Vec<u32>)> = comps
        .into_iter()
        .map(|(r, members)| {
            let others: FxHashSet<u32> = members
                .iter()
                .flat_map(|&m| reach.get(m as usize).into_iter().flatten())
                .map(|&q| rep_of(q))
                .filter(|&q| q != r)
                .collect();
            (others.len(), r, members)
        })
        .collect();
    keyed.sort_by_key(|(count, r, _)| (*count, *r));
    Ok(keyed.into_iter().map(|(_, _, members)| members).collect())
}

/// `p -> not q -> ... -> p`: the shortest way back from `q` to `p`.
fn describe_cycle(graph: &DepGraph, p: u32, q: u32) -> String {
    let mut text = format!("{} -> not {}", graph.name(p), graph.name(q));
    if p == q {
        return text;
    }
    // Breadth-first search from q to p, remembering each node's predecessor edge.
    let mut prev: FxHashMap<u32, &Dependency> = FxHashMap::default();
    let mut queue = VecDeque::from([q]);
    let mut seen = FxHashSet::from_iter([q]);
    while let Some(node) = queue.pop_front() {
        if node == p {
            break;
        }
        for edge in graph.edges.iter().filter(|e| e.head == node) {
            if seen.insert(edge.body) {
                prev.insert(edge.body, edge);
                queue.push_back(edge.body);
            }
        }
    }
    let mut path = Vec::new();
    let mut node = p;
    while node != q {
        let Some(edge) = prev.get(&node) else { break };
        path.push(*edge);
        node = edge.head;
    }
    for edge in path.iter().rev() {
        let not = if edge.negated { "not " } else { "" };
        text.push_str(&format!(" -> {not}{}", graph.name(edge.body)));
    }
    text
}

/// The predicates in `program`'s strata, in evaluation order; each inner list is
/// one group of mutually recursive predicates (or a single predicate). Built-in
/// and undefined predicates appear too, as their own components.
pub fn strata(program: &Program) -> Result<Vec<Vec<String>>, Vec<DatalogError>> {
    let graph = DepGraph::from_program(program);
    Ok(components(&graph)?
        .into_iter()
        .map(|c| c.into_iter().map(|id| graph.name(id).to_owned()).collect())
        .collect())
}

/// Every predicate that the `roots` (e.g. the predicates the remediations'
/// bodies use) depend on, directly or through rules, including the roots
/// themselves. A defined predicate outside this set is used by nothing.
pub fn reachable_from(program: &Program, roots: &[&str]) -> BTreeSet<String> {
    let mut graph = DepGraph::from_program(program);
    let root_ids: Vec<u32> = roots.iter().map(|r| graph.id(r)).collect();
    let mut runtime = reach::Crepe::new();
    runtime.extend(graph.edges.iter().map(|e| reach::Edge(e.head, e.body)));
    runtime.extend(root_ids.into_iter().map(reach::Root));
    let (reached,) = runtime.run();
    reached
        .into_iter()
        .map(|reach::Reached(id)| graph.name(id).to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datalog::ast::SourceId;
    use crate::datalog::parser::parse_program;

    fn program(text: &str) -> Program {
        parse_program(text, SourceId(0), 0).unwrap()
    }

    #[test]
    fn strata_are_topological() {
        let p = program(
            "top(X) :- mid(X), not low(X).
             mid(X) :- low(X).
             mid(X) :- mid(X), edge(X, Y), mid(Y).
             low(X) :- edge(X, _).",
        );
        let s = strata(&p).unwrap();
        let pos = |name: &str| s.iter().position(|c| c.iter().any(|n| n == name)).unwrap();
        assert!(pos("edge") < pos("low"));
        assert!(pos("low") < pos("mid"));
        assert!(pos("mid") < pos("top"));
    }

    #[test]
    fn mutual_recursion_is_one_component() {
        let p = program("a(X) :- b(X). b(X) :- a(X). b(X) :- e(X). c(X) :- a(X).");
        let s = strata(&p).unwrap();
        assert!(
            s.iter()
                .any(|c| c.len() == 2 && c.contains(&"a".into()) && c.contains(&"b".into()))
        );
        let pos = |name: &str| s.iter().position(|c| c.iter().any(|n| n == name)).unwrap();
        assert!(pos("e") < pos("a"));
        assert!(pos("a") < pos("c"));
    }

    #[test]
    fn negative_cycle_is_named() {
        let errors = strata(&program(
            "p(X) :- e(X), not q(X).\nq(X) :- r(X).\nr(X) :- p(X).",
        ))
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "recursion through negation: p -> not q -> r -> p"
        );
        assert_eq!(errors[0].span(), Span::new(SourceId(0), 14, 22));

        let errors = strata(&program("p(X) :- e(X), not p(X).")).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "recursion through negation: p -> not p"
        );
    }

    #[test]
    fn negation_of_a_lower_stratum_is_fine() {
        assert!(
            strata(&program(
                "p(X) :- e(X), not q(X). q(X) :- f(X), not r(X). r(X) :- e(X)."
            ))
            .is_ok()
        );
    }

    #[test]
    fn reachability() {
        let p = program("a(X) :- b(X). b(X) :- c(X), not d(X). unused(X) :- a(X). lonely(1).");
        let r = reachable_from(&p, &["a", "firing"]);
        assert_eq!(
            r.into_iter().collect::<Vec<_>>(),
            ["a", "b", "c", "d", "firing"]
        );
    }
}
