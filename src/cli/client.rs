//! Talking to a running `resgate serve` over its API, for the commands that
//! change the daemon's state (pauses, approvals): the daemon applies and
//! journals them; the CLI never writes the journal itself.

use std::time::Duration;

use serde_json::Value;

use super::Exit;

/// Where the daemon listens and how to authenticate, shared by the commands that use the API.
#[derive(Debug, clap::Args)]
pub struct Server {
    /// The daemon's address (`resgate serve --listen`)
    // `hide_env_values`: unset, clap would show `[env: RESGATE_URL=]`, as if set to nothing.
    #[arg(
        long,
        env = "RESGATE_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:9095"
    )]
    pub server: String,
    /// The API token the daemon was started with
    #[arg(long, env = "RESGATE_API_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Why a call to the daemon did not succeed.
pub enum CallError {
    /// Nothing answered (not running, wrong address, timeout).
    Unreachable(String),
    /// The daemon answered with an error status and its reason.
    Refused { status: u16, reason: String },
}

impl CallError {
    pub fn report(&self, server: &Server) -> Exit {
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

pub fn call(
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
