//! `resgate facts --rules DIR`: query every fact source once and print its
//! rows, or why it could not be read (DESIGN.md §8).

use std::path::PathBuf;

use serde::Serialize;

use crate::engine::FactRow;
use crate::facts::Fetcher;
use crate::remediate::ProcessSecrets;
use crate::rules::{self, FactKind};
use crate::term::escape;

use super::{Exit, Format, Output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules directory whose `facts:` sources are queried
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Serialize)]
struct Report<'a> {
    relation: &'a str,
    kind: &'static str,
    /// The URL as written (a `${env:}` base unresolved).
    url: &'a str,
    columns: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    rows: Option<Vec<FactRow>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn run(args: &Args, out: &Output) -> Exit {
    let loaded = rules::load_path(&args.rules);
    let Some(rules) = loaded.rules else {
        out.diagnostics(&loaded.diagnostics, &loaded.sources);
        eprintln!("error: the rules do not load; run `resgate lint` for details");
        return Exit::Failed;
    };
    let fetcher = Fetcher::new();
    let reports: Vec<Report<'_>> = rules
        .facts
        .iter()
        .map(|source| {
            let result = fetcher.fetch(source, &ProcessSecrets);
            let (rows, error) = match result {
                Ok(rows) => (Some(rows), None),
                Err(e) => (None, Some(e)),
            };
            Report {
                relation: &source.name,
                kind: match source.kind {
                    FactKind::Prometheus { .. } => "prometheus",
                    FactKind::Http { .. } => "http",
                },
                url: source.url(),
                columns: &source.columns,
                rows,
                error,
            }
        })
        .collect();
    let failed = reports.iter().any(|r| r.error.is_some());
    match args.format {
        Format::Json => match serde_json::to_string_pretty(&reports) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("error: cannot encode the report: {e}"),
        },
        Format::Text => {
            if reports.is_empty() {
                println!("no fact sources in {}", args.rules.display());
            }
            for r in &reports {
                // Rows and errors came from outside: escaped (crate::term).
                match (&r.rows, &r.error) {
                    (Some(rows), _) => {
                        println!(
                            "{}({}) from {} {}: {} row(s)",
                            r.relation,
                            r.columns.join(", "),
                            r.kind,
                            escape(r.url),
                            rows.len()
                        );
                        for row in rows {
                            let cells: Vec<String> = row.iter().map(ToString::to_string).collect();
                            println!("  {}({})", r.relation, escape(&cells.join(", ")));
                        }
                    }
                    (None, error) => {
                        println!(
                            "{} from {} {}: error: {}",
                            r.relation,
                            r.kind,
                            escape(r.url),
                            escape(error.as_deref().unwrap_or("unknown"))
                        );
                    }
                }
            }
        }
    }
    if failed { Exit::Failed } else { Exit::Ok }
}
