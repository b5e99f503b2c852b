//! `--help` of every subcommand, as a user without resgate's environment
//! variables sees it (issue 18 item 8): an unset variable is named, never
//! shown as `[env: NAME=]` (which reads as "set to nothing").

use clap::CommandFactory;
use resgate::cli::Cli;

#[test]
fn help_never_shows_an_unset_variable_as_empty() {
    let root = Cli::command();
    let mut names: Vec<String> = root
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    names.push(String::new());
    for name in names {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"));
        if !name.is_empty() {
            cmd.arg(&name);
        }
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("RESGATE_") {
                cmd.env_remove(key);
            }
        }
        let out = cmd.arg("--help").output().expect("run resgate");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "resgate {name} --help");
        assert!(!help.contains("=]"), "resgate {name} --help:\n{help}");
    }
    // The variable is still named where it applies.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(["pauses", "--help"])
        .env_remove("RESGATE_URL")
        .output()
        .expect("run resgate");
    assert!(String::from_utf8_lossy(&out.stdout).contains("[env: RESGATE_URL]"));
}
