//! Reports for the tools rule authors already read: CI test reporters (JUnit
//! XML), pull-request annotations (GitHub workflow commands, SARIF) and PR
//! comments (Markdown). Each writer turns plain results into text; printing and
//! exit codes stay with the subcommand.

pub mod github;
pub mod junit;
mod location;
pub mod markdown;
pub mod sarif;
