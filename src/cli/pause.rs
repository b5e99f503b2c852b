//! `resgate pause`, `resgate pauses`, `resgate unpause`: pauses written
//! through the daemon's API (`/api/v1/pauses`), so that the decision thread
//! applies them at once and journals them; the CLI never writes the journal.

use std::time::Duration;

use serde_json::{Value, json};

use super::output::table;
use super::{Exit, Format};

/// Where the daemon listens and how to authenticate, shared by the three commands.
#[derive(Debug, clap::Args)]
pub struct Server {
    /// The daemon's address (`resgate serve --listen`)
    #[arg(long, env = "RESGATE_URL", default_value = "http://127.0.0.1:9095")]
    pub server: String,
    /// The API token the daemon was started with
    #[arg(long, env = "RESGATE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

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
            println!("paused {} {how_long}: {}", args.scope, args.reason);
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
    let text = |p: &Value, k: &str, none: &str| p[k].as_str().unwrap_or(none).to_owned();
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
        eprintln!("error: no pause on {} is in force", args.scope);
        eprintln!("help: `resgate pauses` lists them; give the scope exactly as paused");
        return Exit::Failed;
    }
    let mut body = json!({"remediation": remediation});
    if let Some(t) = target {
        body["target"] = json!(t);
    }
    match call(&args.server, "DELETE", "/api/v1/pauses", Some(&body)) {
        Ok(_) => {
            println!("unpaused {}", args.scope);
            Exit::Ok
        }
        Err(e) => e.report(&args.server),
    }
}

/// Why a call to the daemon did not succeed.
enum CallError {
    /// Nothing answered (not running, wrong address, timeout).
    Unreachable(String),
    /// The daemon answered with an error status and its reason.
    Refused { status: u16, reason: String },
}

impl CallError {
    fn report(&self, server: &Server) -> Exit {
        match self {
            CallError::Unreachable(e) => {
                eprintln!("error: cannot reach resgate at {}: {e}", server.server);
                eprintln!(
                    "help: is `resgate serve` running there? pass --server or set RESGATE_URL"
                );
                Exit::Usage
            }
            CallError::Refused { status: 401, .. } => {
                eprintln!("error: the daemon at {} wants its API token", server.server);
                eprintln!(
                    "help: set RESGATE_API_TOKEN (or --token) to the token `resgate serve` was started with"
                );
                Exit::Usage
            }
            CallError::Refused { status, reason } => {
                eprintln!("error: the daemon refused ({status}): {reason}");
                Exit::Failed
            }
        }
    }
}

fn call(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, CallError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", server.server.trim_end_matches('/'));
    let auth = server.token.as_ref().map(|t| format!("Bearer {t}"));
    let response = match (method, body) {
        ("GET", _) => {
            let mut request = agent.get(&url);
            if let Some(a) = &auth {
                request = request.header("Authorization", a);
            }
            request.call()
        }
        (_, body) => {
            let text = body.map_or_else(String::new, Value::to_string);
            let mut request = if method == "DELETE" {
                agent.delete(&url).force_send_body()
            } else {
                agent.post(&url)
            };
            request = request.header("Content-Type", "application/json");
            if let Some(a) = &auth {
                request = request.header("Authorization", a);
            }
            request.send(text)
        }
    };
    let mut response = response.map_err(|e| CallError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| CallError::Unreachable(e.to_string()))?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        Ok(value)
    } else {
        let reason = value["error"].as_str().map_or(text.clone(), str::to_owned);
        Err(CallError::Refused { status, reason })
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
