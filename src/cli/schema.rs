//! `resgate schema rules|test|scenario`: the JSON Schema (draft 2020-12) of a
//! file type, for editors (yaml-language-server in VS Code, Neovim, ...).
//! Read off the loader's own types (`rules::introspect`), so it cannot drift.

use super::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which files: rule files, `*.test.yaml` test files, or simulate scenarios
    #[arg(value_enum, default_value_t = Kind::Rules)]
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Rule files (`rules/*.yaml`)
    Rules,
    /// Test files (`*.test.yaml`)
    Test,
    /// Scenario files for `resgate simulate`
    Scenario,
}

pub fn run(args: &Args) -> Exit {
    let schema = match args.kind {
        Kind::Rules => crate::rules::introspect::rule_file(),
        Kind::Test => crate::scenario::schema::test_file_schema(),
        Kind::Scenario => crate::scenario::schema::scenario_file_schema(),
    };
    match schema.and_then(|s| serde_json::to_string_pretty(&s).map_err(|e| e.to_string())) {
        Ok(text) => {
            println!("{text}");
            Exit::Ok
        }
        Err(e) => {
            // A bug, not a user error: the types could not be traced.
            eprintln!("error: {e}");
            Exit::Failed
        }
    }
}
