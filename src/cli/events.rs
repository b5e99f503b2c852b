//! `resgate events [ID]`: the events in a serve journal, read from disk (no
//! daemon needed, safe while it runs: the journal is opened read-only).

use std::fmt::Write;
use std::path::PathBuf;

use serde_json::Value;

use super::{Exit, Format};
use crate::engine::{Decision, render_decision};
use crate::journal;
use crate::term::escape;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One event (its decisions with proofs, and its story); all events when omitted
    pub id: Option<String>,
    /// The data directory `resgate serve --data` writes
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// A shared PostgreSQL journal (postgres://…) instead of --data
    #[arg(
        long,
        value_name = "URL",
        env = "RESGATE_JOURNAL",
        hide_env_values = true
    )]
    pub journal: Option<String>,
    /// How many events to list, newest first
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The journal of `--journal URL`, else the one in a serve data directory.
pub(super) fn location(data: &std::path::Path, url: Option<&str>) -> journal::Location {
    match url {
        Some(url) => journal::Location::Postgres(url.to_owned()),
        None => journal::Location::File(data.join(journal::FILE_NAME)),
    }
}

/// Opens a journal for reading (a SQLite file read-only); on failure says
/// what to pass instead.
pub(super) fn open_journal(at: &journal::Location) -> Result<journal::Db, Exit> {
    at.open_reader().map_err(|e| {
        eprintln!("error: {e}");
        eprintln!(
            "help: pass the directory `resgate serve --data` uses, e.g. --data /var/lib/resgate, or --journal postgres://…"
        );
        Exit::Usage
    })
}

pub fn run(args: &Args) -> Exit {
    let at = location(&args.data, args.journal.as_deref());
    let conn = match open_journal(&at) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let result = match &args.id {
        None => journal::list_events(&conn, args.limit).map(|events| {
            if args.format == Format::Json {
                serde_json::json!({ "events": events }).to_string()
            } else {
                events_table(&events)
            }
        }),
        Some(id) => match journal::event_detail(&conn, id) {
            Ok(Some(event)) => Ok(if args.format == Format::Json {
                event.to_string()
            } else {
                event_story(&event)
            }),
            Ok(None) => {
                eprintln!("error: no event {id} in {}", at.describe());
                return Exit::Failed;
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::Usage
        }
    }
}

/// A text field, escaped for the terminal ([`crate::term::escape`]): targets
/// come from alert labels.
fn s(v: &Value) -> String {
    escape(v.as_str().unwrap_or("-")).into_owned()
}

fn events_table(events: &[Value]) -> String {
    if events.is_empty() {
        return "no events".to_owned();
    }
    let rows: Vec<[String; 6]> = events
        .iter()
        .map(|e| {
            [
                s(&e["id"]),
                s(&e["state"]),
                s(&e["remediation"]),
                s(&e["target"]),
                s(&e["fired_at"]),
                s(&e["remote_id"]),
            ]
        })
        .collect();
    super::output::table(
        &["ID", "STATE", "REMEDIATION", "TARGET", "FIRED", "REMOTE ID"],
        &rows,
    )
}

/// One event: its headline, its decisions with their proofs as `explain`
/// and `simulate` draw them, then its changes.
fn event_story(e: &Value) -> String {
    let mut out = format!(
        "{} {} {} on {}\n  fired {}  remote id {}  call {}\n",
        s(&e["id"]),
        s(&e["state"]),
        s(&e["remediation"]),
        s(&e["target"]),
        s(&e["fired_at"]),
        s(&e["remote_id"]),
        s(&e["call"]),
    );
    out.push_str("decisions:\n");
    for d in e["decisions"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  {}  alert {}", s(&d["at"]), s(&d["alert"]));
        match serde_json::from_value::<Decision>(d.clone()) {
            Ok(decision) => {
                for line in render_decision(&decision).lines() {
                    let _ = writeln!(out, "    {line}");
                }
            }
            // A proof this resgate cannot read (written by another version):
            // its JSON, escaped, rather than nothing.
            Err(_) => {
                let reason = d["reason"]
                    .as_str()
                    .map(|r| format!(" ({})", escape(r)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {}{reason}\n    proof: {}",
                    s(&d["verdict"]),
                    escape(&d["proof"].to_string())
                );
            }
        }
    }
    out.push_str("story:\n");
    for c in e["changes"].as_array().into_iter().flatten() {
        match (c["from"].as_str(), c["to"].as_str()) {
            (from, Some(to)) => {
                let _ = writeln!(
                    out,
                    "  {}  {} -> {}",
                    s(&c["at"]),
                    escape(from.unwrap_or("-")),
                    escape(to)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  {}  {}",
                    s(&c["at"]),
                    super::explain::note(&c["detail"])
                );
            }
        }
    }
    out
}
