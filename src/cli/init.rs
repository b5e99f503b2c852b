//! `resgate init [DIR]`: write a starter rules directory whose tests pass.
//!
//! The starter is one source (Alertmanager), a plain webhook remediator (plus an
//! escalation target, so `lint` has nothing to warn about), one remediation
//! (restart a service unless a deploy of it is running, with its Datalog guard
//! in a `.dl` file), a fixture payload and a test file. The files are kept as
//! real files under `src/cli/init/` so they read (and diff) like rules.
//!
//! It never overwrites: if a starter file exists, or the directory already holds
//! other rule files (which would load together with the starter and clash), it
//! refuses before writing anything, unless `--force`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostic, SourceMap};
use crate::rules;

use super::{Exit, Output};

/// The starter files: path inside DIR, contents.
pub const FILES: &[(&str, &str)] = &[
    ("sources.yaml", include_str!("init/sources.yaml")),
    ("restart.yaml", include_str!("init/restart.yaml")),
    ("deploy.dl", include_str!("init/deploy.dl")),
    ("restart.test.yaml", include_str!("init/restart.test.yaml")),
    (
        "fixtures/service-down.json",
        include_str!("init/fixtures/service-down.json"),
    ),
];

/// The JSON Schemas the starter's `# yaml-language-server: $schema=` lines
/// name, generated as `resgate schema` prints them (editors read them).
pub const SCHEMAS: &[&str] = &["schema/rules.json", "schema/test.json"];

fn schema_text(rel: &str) -> Result<String, String> {
    let schema = if rel == SCHEMAS[0] {
        rules::introspect::rule_file()
    } else {
        crate::scenario::schema::test_file_schema()
    }?;
    serde_json::to_string_pretty(&schema)
        .map(|t| t + "\n")
        .map_err(|e| e.to_string())
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to create the starter rules in
    #[arg(default_value = "rules")]
    pub dir: PathBuf,
    /// Overwrite starter files that already exist, and write next to other rule files
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args, out: &Output) -> Exit {
    let dir = &args.dir;
    if !args.force
        && let Some(problem) = refusal(dir)
    {
        out.diagnostics(&[problem], &SourceMap::default());
        return Exit::Usage;
    }
    let mut files: Vec<(&str, String)> = FILES
        .iter()
        .map(|(rel, text)| (*rel, (*text).to_owned()))
        .collect();
    for rel in SCHEMAS {
        match schema_text(rel) {
            Ok(text) => files.push((rel, text)),
            Err(e) => {
                eprintln!("error: {e}");
                return Exit::Failed;
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    for (rel, text) in &files {
        let path = dir.join(rel);
        let verb = if path.exists() { "replaced" } else { "created" };
        if let Err(e) = write(&path, text, args.force) {
            out.diagnostics(&[e], &SourceMap::default());
            return Exit::Usage;
        }
        let _ = writeln!(stdout, "{verb} {}", path.display());
    }
    let shown = dir.display();
    let _ = writeln!(
        stdout,
        "next: resgate lint {shown} && resgate test {shown}, then edit {} to call your restart job",
        dir.join("sources.yaml").display()
    );
    Exit::Ok
}

/// Why writing the starter into `dir` would clobber something, if it would.
fn refusal(dir: &Path) -> Option<Diagnostic> {
    let written = FILES
        .iter()
        .map(|(rel, _)| *rel)
        .chain(SCHEMAS.iter().copied());
    if let Some(rel) = written.into_iter().find(|rel| dir.join(rel).exists()) {
        return Some(
            Diagnostic::error(
                "init-exists",
                format!("{} already exists", dir.join(rel).display()),
            )
            .help(format!(
                "resgate init never overwrites files: pass --force to replace the starter files in {}, or name a new directory, e.g. resgate init rules-starter",
                dir.display()
            )),
        );
    }
    let others = other_rule_files(dir);
    let first = others.first()?;
    let more = match others.len() - 1 {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Some(
        Diagnostic::error(
            "init-not-empty",
            format!("{} already holds rule files", dir.display()),
        )
        .help(format!(
            "the starter would load together with {}{more}; name a new directory, e.g. resgate init rules-starter, or pass --force to write it there anyway",
            first.display(),
        )),
    )
}

/// Rule files in `dir` that are not the starter's (they load together with it).
fn other_rule_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && (rules::is_rule_file(p) || is_test_file(p)))
        .collect();
    found.sort();
    found
}

fn is_test_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
}

/// Writes one file, creating its directory. Without `force` the file must not
/// exist yet (`create_new`), so a file that appeared since the check is kept.
fn write(path: &Path, text: &str, force: bool) -> Result<(), Diagnostic> {
    let fail = |what: &str, e: std::io::Error| {
        Diagnostic::error("io", format!("cannot {what} {}: {e}", path.display()))
            .help("check that the directory is writable, or name another one: resgate init DIR")
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail("create the directory of", e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Diagnostic::error("init-exists", format!("{} already exists", path.display()))
                .help("resgate init never overwrites files: pass --force to replace it")
        } else {
            fail("write", e)
        }
    })?;
    file.write_all(text.as_bytes())
        .map_err(|e| fail("write", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_starter_file_is_a_rule_file_a_test_or_a_fixture() {
        for (rel, text) in FILES {
            let path = Path::new(rel);
            assert!(
                rules::is_rule_file(path) || is_test_file(path) || rel.starts_with("fixtures/"),
                "{rel} would not be picked up"
            );
            assert!(!text.trim().is_empty(), "{rel} is empty");
        }
    }
}
