//! resgate: decide, with rules in YAML and Datalog, whether a remediation may fire
//! for an alert, and prove why. See DESIGN.md for the contract.
#![forbid(unsafe_code)]

pub mod datalog;
