//! `resgate completions SHELL`: print a completion script. The same scripts are
//! kept in `completions/` (a test fails when they are stale).

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, Exit};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, powershell or elvish
    pub shell: Shell,
}

pub fn run(args: &Args) -> Exit {
    let mut out = std::io::stdout();
    write(args.shell, &mut out);
    Exit::Ok
}

/// Writes the completion script for `shell`.
pub fn write(shell: Shell, out: &mut dyn std::io::Write) {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "resgate", out);
}

/// The file name each shell expects, as kept in `completions/`.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "resgate.bash",
        Shell::Zsh => "_resgate",
        Shell::Fish => "resgate.fish",
        Shell::PowerShell => "_resgate.ps1",
        Shell::Elvish => "resgate.elv",
        _ => "resgate.unknown",
    }
}
