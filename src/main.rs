//! The `resgate` binary: parse the command line and dispatch. Nothing else.
#![forbid(unsafe_code)]

use clap::Parser;

// mimalloc, not glibc's malloc: `simulate` of 100k alerts went from 1.10x to
// 0.82-0.87x of `jq` reading the same file, and `serve` gave most of a storm's
// memory back (RSS after the ingest bench 1,073 -> 430-460 MiB), for ~10 MiB
// more at idle. Trade-offs in docs/decisions.md "The allocator".
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    resgate::cli::exit_quietly_when_stdout_fails();
    let cli = resgate::cli::Cli::parse();
    resgate::cli::run(cli).into()
}
