//! The completion scripts in `completions/` must match what the binary prints.
//! Regenerate with `UPDATE_COMPLETIONS=1 cargo test --test completions`.

use clap_complete::Shell;
use resgate::cli::completions;

#[test]
fn completion_files_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("UPDATE_COMPLETIONS").is_some();
    let mut stale = Vec::new();
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::PowerShell,
        Shell::Elvish,
    ] {
        let mut generated = Vec::new();
        completions::write(shell, &mut generated);
        let path = dir.join(completions::file_name(shell));
        if update {
            std::fs::write(&path, &generated).expect("write completion file");
            continue;
        }
        let kept = std::fs::read(&path).unwrap_or_default();
        if kept != generated {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale completion files: {stale:?}; run UPDATE_COMPLETIONS=1 cargo test --test completions"
    );
}
