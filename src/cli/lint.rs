//! `resgate lint RULES_DIR`: load the rules and report every problem.

use std::path::PathBuf;

use serde::Serialize;

use crate::diag::{self, Severity};
use crate::rules;

use super::{Exit, Output, report};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules directory (or a single rule file)
    #[arg(default_value = "rules")]
    pub rules: PathBuf,
    /// Output format: text diagnostics on stderr, or JSON, GitHub workflow
    /// commands or SARIF on stdout
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Treat warnings as errors (`--deny warnings`)
    #[arg(long, value_name = "LEVEL", value_parser = ["warnings"])]
    pub deny: Option<String>,
}

/// `resgate lint --format`: the shared formats and the pull-request ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LintFormat {
    #[default]
    Text,
    Json,
    /// GitHub Actions workflow commands (`::error file=…::…`): annotations on the diff
    Github,
    /// SARIF 2.1.0, for GitHub code scanning and other review tools
    Sarif,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<diag::JsonDiagnostic<'a>>,
}

pub fn run(args: &Args, out: &Output) -> Exit {
    let loaded = rules::load_path(&args.rules);
    let errors = loaded.errors();
    let warnings = loaded.warnings();
    // A missing or unreadable rules path is a usage error, not wrong rules.
    let unreadable = loaded
        .diagnostics
        .iter()
        .any(|d| d.severity == Severity::Error && d.code == "io");
    let failed = errors > 0 || (args.deny.is_some() && warnings > 0);

    match args.format {
        LintFormat::Github => {
            print!(
                "{}",
                report::github::render(&loaded.diagnostics, &loaded.sources)
            );
            eprintln!("{}", summary(&loaded, errors, warnings, failed));
        }
        LintFormat::Sarif => {
            println!(
                "{}",
                report::sarif::render(&loaded.diagnostics, &loaded.sources)
            );
            eprintln!("{}", summary(&loaded, errors, warnings, failed));
        }
        LintFormat::Json => {
            let report = JsonReport {
                ok: !failed,
                errors,
                warnings,
                diagnostics: loaded
                    .diagnostics
                    .iter()
                    .map(|d| diag::to_json(d, &loaded.sources))
                    .collect(),
            };
            match serde_json::to_string_pretty(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: cannot encode the report: {e}"),
            }
        }
        LintFormat::Text => {
            out.diagnostics(&loaded.diagnostics, &loaded.sources);
            let summary = summary(&loaded, errors, warnings, failed);
            if failed {
                eprintln!("{summary}");
            } else {
                println!("{summary}");
            }
        }
    }

    if unreadable {
        Exit::Usage
    } else if failed {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

fn summary(loaded: &rules::Loaded, errors: usize, warnings: usize, failed: bool) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match &loaded.rules {
        // Loaded, yet failed: `--deny warnings` refused the warnings. Never
        // `ok:` beside exit 1.
        Some(_) if failed => format!(
            "{}, {} (denied by --deny warnings)",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
        Some(r) => format!(
            "ok: {}, {}, {}; {}",
            plural(r.sources.len(), "source"),
            plural(r.remediators.len(), "remediator"),
            plural(r.remediations.len(), "remediation"),
            plural(warnings, "warning"),
        ),
        None => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}
