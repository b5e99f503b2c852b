//! resgate: decide, with rules in YAML and Datalog, whether a remediation may fire
//! for an alert, and prove why. See DESIGN.md for the contract.
#![forbid(unsafe_code)]

pub mod backtest;
pub mod cli;
pub mod datalog;
pub mod diag;
pub mod engine;
pub mod facts;
pub mod journal;
pub mod notifier;
pub mod remediate;
pub mod rules;
pub mod scenario;
pub mod serve;
pub mod source;
pub mod suggest;
pub mod term;
pub mod timeline;
