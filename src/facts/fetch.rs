//! One refresh of a fact source over HTTP (ureq): the request, the timeout,
//! the capped body. What the body means is [`super::parse`]'s.

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use ureq::{Agent, http};

use crate::engine::FactRow;
use crate::remediate::SecretSource;
use crate::rules::secret;
use crate::rules::{FactKind, FactSource};

use super::MAX_BODY_BYTES;

/// Reads fact sources. Cheap to share between threads.
#[derive(Debug)]
pub struct Fetcher {
    agent: Agent,
}

impl Default for Fetcher {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL a source is read from, with its `${env:}` base resolved:
/// `<base>/api/v1/query?query=<PromQL>` for Prometheus, the URL for HTTP.
pub fn request_url(source: &FactSource, secrets: &dyn SecretSource) -> Result<String, String> {
    let (url, url_env) = match &source.kind {
        FactKind::Prometheus { url, url_env, .. } | FactKind::Http { url, url_env, .. } => {
            (url.as_str(), url_env.as_deref())
        }
    };
    let full = match url_env {
        None => url.to_owned(),
        Some(name) => {
            let (_, end) = secret::url_env_base(url).ok_or("the URL's base is not ${env:NAME}")?;
            let base = secrets
                .env(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set"))?;
            secret::check_base_url(&base).map_err(|e| format!("{name}: {e}"))?;
            secret::join_base(&base, &url[end..])
        }
    };
    Ok(match &source.kind {
        FactKind::Prometheus { query, .. } => format!(
            "{}/api/v1/query?query={}",
            full.trim_end_matches('/'),
            utf8_percent_encode(query, NON_ALPHANUMERIC)
        ),
        FactKind::Http { .. } => full,
    })
}

/// Header values in error messages are replaced (they may be tokens).
fn redact(mut text: String, headers: &[(String, String)]) -> String {
    for (_, value) in headers {
        if value.len() >= 4 && text.contains(value.as_str()) {
            text = text.replace(value.as_str(), "<redacted>");
        }
    }
    text
}

impl Fetcher {
    pub fn new() -> Fetcher {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            // A redirect could carry the headers (tokens) to another host.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("resgate/", env!("CARGO_PKG_VERSION")))
            .build();
        Fetcher {
            agent: Agent::new_with_config(config),
        }
    }

    /// Reads the source once: its rows, or why not (never a partial read).
    pub fn fetch(
        &self,
        source: &FactSource,
        secrets: &dyn SecretSource,
    ) -> Result<Vec<FactRow>, String> {
        let mut headers = Vec::with_capacity(source.headers.len());
        for (name, value) in &source.headers {
            let v = value
                .resolve(|n| secrets.env(n), |p| secrets.read_file(p))
                .map_err(|e| format!("header {name}: {e}"))?;
            headers.push((name.clone(), v));
        }
        let url = request_url(source, secrets)?;
        let body = self
            .get(&url, &headers, source.timeout)
            .map_err(|e| redact(e, &headers))?;
        match &source.kind {
            FactKind::Prometheus { .. } => super::parse::prometheus_rows(&body, &source.columns),
            FactKind::Http { rows, columns, .. } => super::parse::http_rows(&body, rows, columns),
        }
        .map_err(|e| redact(e, &headers))
    }

    fn get(
        &self,
        url: &str,
        headers: &[(String, String)],
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        let mut builder = http::Request::builder().method("GET").uri(url);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
        {
            builder = builder.header("Accept", "application/json");
        }
        let request = builder
            .body(())
            .map_err(|e| format!("invalid request: {e}"))?;
        let request = self
            .agent
            .configure_request(request)
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            .build();
        let mut response = self
            .agent
            .run(request)
            .map_err(|e| format!("request failed: {e}"))?;
        let code = response.status().as_u16();
        let body = crate::remediate::read_at_most(response.body_mut(), MAX_BODY_BYTES);
        if !(200..300).contains(&code) {
            // Prometheus answers errors (400, 422, 503) with its JSON error
            // envelope: say what it said, else quote the start of the body.
            let said = body
                .as_deref()
                .ok()
                .and_then(|b| super::parse::prometheus_rows(b, &[]).err())
                .filter(|e| e.starts_with("Prometheus answered"))
                .unwrap_or_else(|| match &body {
                    Ok(b) => String::from_utf8_lossy(&b[..b.len().min(200)])
                        .trim()
                        .to_owned(),
                    Err(e) => e.clone(),
                });
            return Err(format!("HTTP {code}: {said}"));
        }
        body
    }
}
