//! Command-line interface: one file per subcommand, each with its clap `Args`
//! and a `run` returning an [`Exit`] code (DESIGN.md §1).

use clap::{Parser, Subcommand, ValueEnum};

pub mod approve;
pub mod backtest;
mod client;
pub mod completions;
pub mod events;
pub mod explain;
pub mod facts;
pub mod init;
pub mod lint;
pub mod manpage;
mod output;
pub mod pause;
mod pretty;
pub mod report;
pub mod schema;
pub mod serve;
pub mod simulate;
pub mod test;

pub use output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "resgate",
    version,
    about = "Safe auto-remediation: decide whether a fix may fire, and prove why",
    long_about = "resgate maps alerts to labels, decides with YAML + Datalog rules whether a \
                  remediation may fire now (fire, collapse, defer, escalate or discard), and \
                  explains every verdict."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a rules directory: YAML schema, Datalog, templates, references
    Lint(lint::Args),
    /// Run *.test.yaml files against the rules
    Test(test::Args),
    /// Show the decisions (with proofs) for a payload or a scenario timeline
    Simulate(simulate::Args),
    /// Run the webhook daemon: decide, fire, poll, verify (journal in --data)
    Serve(serve::Args),
    /// List the events in a serve journal, or tell one event's story
    Events(events::Args),
    /// Approve an event of a `mode: approve` remediation through the running daemon
    Approve(approve::Args),
    /// Replay a serve journal through other rules and diff the decisions
    Backtest(backtest::Args),
    /// Tell the whole story of an event or an alert from a serve journal
    Explain(explain::Args),
    /// Pause a remediation (or one target of it) through the running daemon
    Pause(pause::PauseArgs),
    /// List the pauses in force in the running daemon
    Pauses(pause::ListArgs),
    /// Remove a pause through the running daemon
    Unpause(pause::UnpauseArgs),
    /// Write a starter rules directory whose tests pass
    Init(init::Args),
    /// Query every fact source of the rules once and print the rows
    Facts(facts::Args),
    /// Print shell completions
    Completions(completions::Args),
    /// Print the JSON Schema of rule, test or scenario files (for editors)
    Schema(schema::Args),
}

/// Output format for machine consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// Exit codes, the same for every subcommand (DESIGN.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success.
    Ok = 0,
    /// The rules are wrong or a test failed.
    Failed = 1,
    /// Usage error or unreadable input.
    Usage = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// `println!` panics when standard output is closed (`resgate schema | head`)
/// or cannot be written (a full disk): a backtrace for what is no bug. The
/// commands print in many places, so this is caught once, where the panic is
/// reported: a closed pipe ends the process quietly with 141, the status a
/// shell shows for a command that SIGPIPE ended (never 0: the command did not
/// finish, and `resgate test | head` under `pipefail` must not pass); any other
/// write error is one line and exit 2. Every other panic is reported as usual.
pub fn exit_quietly_when_stdout_fails() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        match message.strip_prefix("failed printing to stdout: ") {
            Some(reason) if reason.starts_with("Broken pipe") => std::process::exit(141),
            Some(reason) => {
                eprintln!("error: cannot write the output: {reason}");
                std::process::exit(Exit::Usage as i32)
            }
            None => report(info),
        }
    }));
}

pub fn run(cli: Cli) -> Exit {
    let out = Output::from_env();
    match cli.command {
        Command::Lint(args) => lint::run(&args, &out),
        Command::Test(args) => test::run(&args, &out),
        Command::Simulate(args) => simulate::run(&args, &out),
        Command::Serve(args) => serve::run(&args),
        Command::Events(args) => events::run(&args),
        Command::Approve(args) => approve::run(&args),
        Command::Backtest(args) => backtest::run(&args, &out),
        Command::Explain(args) => explain::run(&args),
        Command::Pause(args) => pause::pause(&args),
        Command::Pauses(args) => pause::list(&args),
        Command::Unpause(args) => pause::unpause(&args),
        Command::Init(args) => init::run(&args, &out),
        Command::Facts(args) => facts::run(&args, &out),
        Command::Completions(args) => completions::run(&args),
        Command::Schema(args) => schema::run(&args),
    }
}
