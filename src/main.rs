//! The `resgate` binary: parse the command line and dispatch. Nothing else.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    resgate::cli::exit_quietly_when_stdout_fails();
    let cli = resgate::cli::Cli::parse();
    resgate::cli::run(cli).into()
}
