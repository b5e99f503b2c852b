//! Rule files: the YAML schema, loading a rules directory, and its checks.
//!
//! `load` reads and parses; `compile*` turns definitions into the [`RuleSet`]
//! the engine runs, reporting every problem with its file and span. Nothing here
//! decides anything about an alert.

mod body;
mod compile;
pub mod compile_facts;
mod compile_notifier;
mod compile_remediation;
mod compile_remediator;
mod compile_source;
pub mod duration;
mod entries;
mod load;
pub mod locate;
pub mod matcher;
pub mod model;
pub mod preset;
pub mod re2;
pub mod schema;
pub mod secret;
pub mod template;
pub mod yaml;

pub use compile_notifier::{DEFAULT_DIGEST, PAGERDUTY_CHANGE_URL};
pub use compile_remediation::{CONTEXT_NAMES, DEFAULT_WARMUP};
pub use load::{Loaded, MAX_FILE_BYTES, Read, is_rule_file, load_path, load_texts, read_path};
pub use model::*;
pub mod introspect;
