//! resgate's Datalog: the language of `*.dl` files and of remediation guards.
//!
//! The stages are separate modules, each taking and returning plain data:
//! [`lexer`] → [`parser`] → [`check`] (with [`stratify`]) → [`compile`] (join
//! plans) → [`eval`] (a [`Database`] of facts, evaluated bottom-up,
//! semi-naive, stratum by stratum, incrementally between calls) → [`query`] and
//! [`explain`] (proofs for decisions).
//!
//! What it deliberately does not do: no function symbols, arithmetic or
//! aggregates (a guard compares values, it does not compute them); no I/O, no
//! clock and no logging (the engine feeds it facts); no built-in relation is
//! known here — the caller lists them ([`Builtins`], [`RESGATE_BUILTINS`]) and
//! inserts their facts. Warnings (unused predicates, ...) are the caller's, from
//! [`reachable_from`] and [`Compiled::predicates`]. Errors carry spans but no
//! source text: the rules loader attaches the file.
//!
//! ```
//! use std::sync::Arc;
//! use resgate::datalog::*;
//!
//! let program = parse_program(
//!     r#"deploying(S) :- firing(A), label(A, "alertname", "Deploy"), label(A, "service", S)."#,
//!     SourceId(0), 0,
//! ).unwrap();
//! let mut compiled = Compiled::new(&program, &Builtins::resgate()).unwrap();
//! let body = parse_body("deploying($service)", SourceId(1), 0).unwrap();
//! let guard = compiled.compile_query(&body, &["service"]).unwrap();
//! let mut db = Database::new(Arc::new(compiled));
//! let (a, api) = (db.intern("a1"), db.intern("api"));
//! let (alertname, service, deploy) = (db.intern("alertname"), db.intern("service"), db.intern("Deploy"));
//! db.insert("firing", &[a]).unwrap();
//! db.insert("label", &[a, alertname, deploy]).unwrap();
//! db.insert("label", &[a, service, api]).unwrap();
//! db.evaluate();
//! let proof = db.query(guard, &[api]).unwrap();
//! assert_eq!(&*proof.facts[0].pred, "deploying");
//! ```

pub mod ast;
pub mod check;
pub mod compile;
pub mod error;
pub mod eval;
mod exec;
pub mod explain;
pub mod intern;
pub mod lexer;
pub mod parser;
mod plan;
pub mod query;
mod storage;
pub mod stratify;
pub mod value;

pub use ast::{Atom, Clause, CmpOp, Const, Literal, Program, SourceId, Span, Term};
pub use check::{Builtins, RESGATE_BUILTINS, check_program};
pub use compile::{Compiled, EntityReach, PredInfo, PredKind, QueryId};
pub use error::{DatalogError, DbError};
pub use eval::Database;
pub use explain::{Derivation, Origin};
pub use intern::{Interner, Sym};
pub use parser::{parse_body, parse_program};
pub use query::{Fact, Solution};
pub use stratify::{reachable_from, strata};
pub use value::{Resolved, Value};
