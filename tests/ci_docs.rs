//! docs/ci.md and .pre-commit-hooks.yaml (issue 23): every `resgate` command
//! they show is one resgate's own argument parser accepts, their YAML parses,
//! and the lint and test commands run on the shipped rules as the page says.

use std::path::Path;

use clap::Parser;
use resgate::cli::Cli;

const CI_MD: &str = include_str!("../docs/ci.md");
const HOOKS: &str = include_str!("../.pre-commit-hooks.yaml");

/// The fenced blocks of a Markdown text: (info string, body).
fn blocks(md: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = md;
    while let Some((_, after)) = rest.split_once("```") {
        let (info, after) = after.split_once('\n').expect("a fence line");
        let (body, after) = after.split_once("```").expect("a closed fence");
        out.push((info.trim(), body));
        rest = after;
    }
    out
}

/// The `resgate …` command lines of the YAML blocks, without the YAML
/// around them (`run:`, `- `) and without a redirection of stdout.
fn commands(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (info, body) in blocks(md) {
        assert_eq!(info, "yaml", "docs/ci.md shows YAML: {body}");
        for line in body.lines() {
            let line = line.trim();
            let line = line
                .strip_prefix("- ")
                .or_else(|| line.strip_prefix("run: "))
                .unwrap_or(line);
            if line.starts_with("resgate ") {
                let line = line.split(" > ").next().unwrap_or(line);
                out.push(line.to_owned());
            }
        }
    }
    out
}

#[test]
fn every_yaml_block_parses_and_every_resgate_command_is_accepted() {
    for (_, body) in blocks(CI_MD) {
        let parsed: Result<serde_json::Value, _> = serde_saphyr::from_str(body);
        assert!(parsed.is_ok(), "{parsed:?}\n{body}");
    }
    let commands = commands(CI_MD);
    assert!(commands.len() >= 7, "{commands:?}");
    for command in &commands {
        if let Err(e) = Cli::try_parse_from(command.split_whitespace()) {
            panic!("docs/ci.md: `{command}`: {e}");
        }
    }
    for format in ["github", "sarif", "junit", "markdown"] {
        assert!(
            commands
                .iter()
                .any(|c| c.contains(&format!("--format {format}"))),
            "docs/ci.md shows --format {format}"
        );
    }
}

#[test]
fn the_lint_and_test_commands_run_on_the_shipped_rules() {
    // From the repository root, as a CI job runs them: the shipped tests read
    // payloads from ../fixtures. The commands only write to stdout.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    for command in commands(CI_MD) {
        let words: Vec<&str> = command.split_whitespace().collect();
        if !matches!(words[1], "lint" | "test") {
            continue; // backtest needs a journal: tests/backtest.rs runs it on one.
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"))
            .args(&words[1..])
            .current_dir(dir)
            .output()
            .expect("run resgate");
        assert!(out.status.success(), "`{command}`: {:?}", out);
        let stdout = String::from_utf8(out.stdout).expect("UTF-8");
        if command.contains("junit") {
            roxmltree::Document::parse(&stdout).expect("JUnit XML");
        } else if command.contains("sarif") {
            let log: serde_json::Value = serde_json::from_str(&stdout).expect("SARIF");
            assert_eq!(log["version"], "2.1.0");
        } else if command.contains("github") {
            // The shipped rules have nothing to annotate.
            assert_eq!(stdout, "", "`{command}`");
        }
    }
}

/// A hook as pre-commit documents `.pre-commit-hooks.yaml`
/// (pre-commit.com, "Creating new hooks"): `id`, `name`, `entry`, `language`
/// required; the keys used here among the optional ones. Unknown keys are
/// refused, so a misspelt one cannot pass unnoticed.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Hook {
    id: String,
    name: String,
    entry: String,
    language: String,
    #[serde(default)]
    description: Option<String>,
    files: String,
    pass_filenames: bool,
}

#[test]
fn the_pre_commit_hooks_are_well_formed_and_run_resgate() {
    let hooks: Vec<Hook> = serde_saphyr::from_str(HOOKS).expect(".pre-commit-hooks.yaml");
    let ids: Vec<&str> = hooks.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["resgate-lint", "resgate-test"]);
    for hook in &hooks {
        assert!(!hook.name.is_empty() && hook.description.is_some());
        // `rust` hooks are built from this repository with `cargo install`.
        assert_eq!(hook.language, "rust");
        assert!(!hook.pass_filenames, "rules are checked as a directory");
        // pre-commit runs `entry` with `args` (none by default: `rules/`).
        for args in [&[][..], &["deploy/rules"][..]] {
            let words = hook.entry.split_whitespace().chain(args.iter().copied());
            if let Err(e) = Cli::try_parse_from(words) {
                panic!("{}: {e}", hook.id);
            }
        }
        // pre-commit's `files` is a Python regex searched in each path; this
        // one is in the syntax the two share.
        let files = regex::Regex::new(&hook.files).expect("files is a regex");
        for path in ["rules/restart.yaml", "rules/topology.dl", "x/a.test.yml"] {
            assert!(files.is_match(path), "{path}");
        }
        assert!(!files.is_match("README.md"));
    }
    assert!(
        Path::new("Cargo.toml").exists(),
        "a rust hook needs the crate at the root"
    );
}
