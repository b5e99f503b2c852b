//! Offline runs: `*.test.yaml` tests and `simulate` scenarios (DESIGN.md §4).
//!
//! Everything here runs the real engine on a virtual clock with scripted fake
//! remediators; it reads files (payloads, test files) but never the wall clock.

pub mod expect;
pub mod input;
pub mod run;
pub mod schema;
pub mod simulate;
pub mod test;

pub use run::{Action, Entry, Fake, Notification, Runner, Script, Step, Trace};
