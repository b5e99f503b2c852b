//! The `resgate` binary: parse the command line and dispatch. Nothing else.
#![forbid(unsafe_code)]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = resgate::cli::Cli::parse();
    resgate::cli::run(cli).into()
}
