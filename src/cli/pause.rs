//! `resgate pause`, `resgate pauses`, `resgate unpause`: pauses written
//! through the daemon's API (`/api/v1/pauses`), so that the decision thread
//! applies them at once and journals them; the CLI never writes the journal.

use serde_json::{Value, json};

use super::client::{Server, call};
use super::output::table;
use super::{Exit, Format};
use crate::term::escape;

#[derive(Debug, clap::Args)]
pub struct PauseArgs {
    /// `REMEDIATION` (every target) or `REMEDIATION/TARGET` (one rendered target key)
    pub scope: String,
    /// Why: shown in every deferral it causes, for the next person on call
    #[arg(long)]
    pub reason: String,
    /// How long (`2h`, `30m`); without `--for` or `--until` the pause lasts until removed
    #[arg(long = "for", value_name = "DURATION", conflicts_with = "until")]
    pub duration: Option<String>,
    /// Until when (RFC 3339)
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub server: Server,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub server: Server,
}

#[derive(Debug, clap::Args)]
pub struct UnpauseArgs {
    /// `REMEDIATION` or `REMEDIATION/TARGET`, exactly as paused
    pub scope: String,
    #[command(flatten)]
    pub server: Server,
}

/// `restart-api/api/api-1:8080` is remediation `restart-api`, target
/// `api/api-1:8080`: remediation names hold no `/`, targets may.
fn split_scope(scope: &str) -> (&str, Option<&str>) {
    match scope.split_once('/') {
        Some((r, t)) => (r, Some(t)),
        None => (scope, None),
    }
}

pub fn pause(args: &PauseArgs) -> Exit {
    let (remediation, target) = split_scope(&args.scope);
    let mut body = json!({"remediation": remediation, "reason": args.reason});
    if let Some(t) = target {
        body["target"] = json!(t);
    }
    if let Some(d) = &args.duration {
        body["for"] = json!(d);
    }
    if let Some(u) = &args.until {
        body["until"] = json!(u);
    }
    match call(&args.server, "POST", "/api/v1/pauses", Some(&body)) {
        Ok(_) => {
            let how_long = match (&args.duration, &args.until) {
                (Some(d), _) => format!("for {d}"),
                (_, Some(u)) => format!("until {u}"),
                _ => "until unpaused".to_owned(),
            };
            println!(
                "paused {} {}: {}",
                escape(&args.scope),
                escape(&how_long),
                escape(&args.reason)
            );
            Exit::Ok
        }
        Err(e) => e.report(&args.server),
    }
}

pub fn list(args: &ListArgs) -> Exit {
    let answer = match call(&args.server, "GET", "/api/v1/pauses", None) {
        Ok(v) => v,
        Err(e) => return e.report(&args.server),
    };
    let pauses = answer["pauses"].as_array().cloned().unwrap_or_default();
    if args.format == Format::Json {
        println!("{}", json!({ "pauses": pauses }));
        return Exit::Ok;
    }
    if pauses.is_empty() {
        println!("no pauses");
        return Exit::Ok;
    }
    // Targets come from labels and reasons from whoever called the API.
    let text = |p: &Value, k: &str, none: &str| escape(p[k].as_str().unwrap_or(none)).into_owned();
    let rows: Vec<[String; 5]> = pauses
        .iter()
        .map(|p| {
            [
                text(p, "remediation", "-"),
                text(p, "target", "(every target)"),
                text(p, "until", "(until unpaused)"),
                text(p, "created_at", "-"),
                text(p, "reason", "-"),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &["REMEDIATION", "TARGET", "UNTIL", "SINCE", "REASON"],
            &rows
        )
    );
    Exit::Ok
}

pub fn unpause(args: &UnpauseArgs) -> Exit {
    let (remediation, target) = split_scope(&args.scope);
    // The API removes nothing silently when nothing matches; the CLI says so.
    let listed = match call(&args.server, "GET", "/api/v1/pauses", None) {
        Ok(v) => v,
        Err(e) => return e.report(&args.server),
    };
    let exists =
        listed["pauses"].as_array().into_iter().flatten().any(|p| {
            p["remediation"].as_str() == Some(remediation) && p["target"].as_str() == target
        });
    if !exists {
        eprintln!("error: no pause on {} is in force", escape(&args.scope));
        eprintln!("help: `resgate pauses` lists them; give the scope exactly as paused");
        return Exit::Failed;
    }
    let mut body = json!({"remediation": remediation});
    if let Some(t) = target {
        body["target"] = json!(t);
    }
    match call(&args.server, "DELETE", "/api/v1/pauses", Some(&body)) {
        Ok(_) => {
            println!("unpaused {}", escape(&args.scope));
            Exit::Ok
        }
        Err(e) => e.report(&args.server),
    }
}

#[cfg(test)]
mod tests {
    use super::split_scope;

    #[test]
    fn a_scope_splits_at_its_first_slash() {
        assert_eq!(split_scope("restart-api"), ("restart-api", None));
        assert_eq!(
            split_scope("restart-api/api/api-1:8080"),
            ("restart-api", Some("api/api-1:8080"))
        );
    }
}
