//! `resgate test RULES_DIR|TEST_FILE...`: run `*.test.yaml` files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::rules;
use crate::scenario::test::{self, TestResult};

use super::{Exit, Output, report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules directories (their *.test.yaml files run) or test files
    #[arg(default_value = "rules")]
    pub paths: Vec<PathBuf>,
    /// Rules to test against (default: the directory of each test file)
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Output format: text, JSON, or JUnit XML for CI test reporters
    #[arg(long, value_enum, default_value_t = TestFormat::Text)]
    pub format: TestFormat,
}

/// `resgate test --format`: the shared formats and JUnit XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TestFormat {
    #[default]
    Text,
    Json,
    /// JUnit XML (GitLab, Jenkins and GitHub test reporters)
    Junit,
}

#[derive(Serialize)]
struct JsonResult<'a> {
    file: String,
    name: &'a str,
    passed: bool,
    failures: Vec<&'a str>,
}

pub fn run(args: &Args, out: &Output) -> Exit {
    // (rules dir, test files) in the order given.
    let mut groups: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    for path in &args.paths {
        let (dir, files) = if path.is_dir() {
            (path.clone(), test_files(path))
        } else if path.is_file() {
            (
                path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                vec![path.clone()],
            )
        } else {
            eprintln!(
                "error: cannot read {}: no such file or directory",
                path.display()
            );
            return Exit::Usage;
        };
        let dir = args.rules.clone().unwrap_or(dir);
        if files.is_empty() {
            eprintln!("error: no *.test.yaml files in {}", path.display());
            return Exit::Usage;
        }
        groups.push((dir, files));
    }

    let mut results: Vec<TestResult> = Vec::new();
    for (dir, files) in groups {
        let loaded = rules::load_path(&dir);
        let Some(ruleset) = loaded.rules else {
            out.diagnostics(&loaded.diagnostics, &loaded.sources);
            eprintln!(
                "error: the rules in {} do not load; run `resgate lint {}`",
                dir.display(),
                dir.display()
            );
            return Exit::Failed;
        };
        let ruleset = Arc::new(ruleset);
        for file in files {
            let parsed = match test::read(&file) {
                Ok(p) => p,
                Err(message) => {
                    eprintln!("error: {message}");
                    return Exit::Usage;
                }
            };
            results.extend(test::run_file(&ruleset, &file, &parsed));
        }
    }

    let passed = results.iter().filter(|r| r.passed()).count();
    let failed = results.len() - passed;
    match args.format {
        TestFormat::Text => print_text(&results),
        TestFormat::Junit => print!("{}", report::junit::render(&results)),
        TestFormat::Json => {
            let json: Vec<JsonResult<'_>> = results
                .iter()
                .map(|r| JsonResult {
                    file: r.file.display().to_string(),
                    name: &r.name,
                    passed: r.passed(),
                    failures: r.failures.iter().map(|f| f.message.as_str()).collect(),
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            );
        }
    }
    // With --format json or junit, stdout is the document alone (DESIGN.md
    // §1: machines parse it); the closing count is for the human, on stderr.
    match args.format {
        TestFormat::Text => println!("{passed} passed, {failed} failed"),
        TestFormat::Json | TestFormat::Junit => eprintln!("{passed} passed, {failed} failed"),
    }
    if failed > 0 { Exit::Failed } else { Exit::Ok }
}

fn print_text(results: &[TestResult]) {
    for r in results {
        if r.passed() {
            println!("ok   {} :: {}", r.file.display(), r.name);
            continue;
        }
        println!("FAIL {} :: {}", r.file.display(), r.name);
        for f in &r.failures {
            println!("  {}", f.message);
            for line in f.detail.lines() {
                println!("  {line}");
            }
        }
    }
}

fn test_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".test.yaml") || n.ends_with(".test.yml"))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}
