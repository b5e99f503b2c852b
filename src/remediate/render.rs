//! Turning a decision into the exact HTTP call it makes, without sending it.
//!
//! Template contexts follow what `lint` checks (`rules::compile_remediation`):
//! `vars` see the alert context and `target`; the remediator's `url` and the
//! `body` also see the rendered `vars`; `status_url` sees all of that plus the
//! remote `id`. URL values are percent-encoded by the URL template environment
//! and the body is built as a JSON value, so label text can change neither the
//! path nor the JSON structure.

use std::collections::BTreeMap;
use std::fmt;

use minijinja::Value;
use ureq::http::{HeaderName, HeaderValue, Uri};

use crate::engine::{Decision, Proof, alert_context};
use crate::rules::secret;
use crate::rules::template::TemplateId;
use crate::rules::{Body, Remediation, Remediator, RuleSet};
use crate::source::Alert;

use super::SecretSource;

/// A rendered HTTP call, ready to send.
#[derive(Clone, PartialEq, Eq)]
pub struct CallRequest {
    pub method: String,
    pub url: String,
    /// Secrets resolved: never print these values.
    pub headers: Vec<(String, String)>,
    /// JSON text.
    pub body: Option<String>,
}

impl fmt::Debug for CallRequest {
    /// Header values may be credentials, and `Debug` output ends up in logs and
    /// panic messages: show the header names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, _)| (name.as_str(), "<redacted>"))
            .collect();
        f.debug_struct("CallRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body", &self.body)
            .finish()
    }
}

/// Renders the call a `fire` of `remediation` on `target` for `alert` makes.
pub fn render_call(
    rules: &RuleSet,
    remediation: &Remediation,
    alert: &Alert,
    target: &str,
    secrets: &dyn SecretSource,
) -> Result<CallRequest, String> {
    let remediator = remediator(rules, remediation.remediator, remediation)?;
    let context = to_value(&call_context(rules, remediation, alert, target)?);
    let url = render_url(
        rules,
        remediator.url,
        &context,
        remediator.url_env.as_deref(),
        secrets,
    )
    .map_err(|e| format!("remediation \"{}\": url: {e}", remediation.name))?;
    let body = match &remediation.body {
        Some(body) => {
            let json = body_json(rules, body, &context)
                .map_err(|e| format!("remediation \"{}\": body: {e}", remediation.name))?;
            Some(json.to_string())
        }
        None => None,
    };
    let mut headers = resolve_headers(remediator, secrets)?;
    if body.is_some() {
        default_header(&mut headers, "Content-Type", "application/json");
    }
    Ok(CallRequest {
        method: remediator.method.clone(),
        url,
        headers,
        body,
    })
}

/// Renders the tracking status URL for the remote event `id`.
pub fn render_status_url(
    rules: &RuleSet,
    remediation: &Remediation,
    alert: &Alert,
    target: &str,
    id: &str,
    secrets: &dyn SecretSource,
) -> Result<String, String> {
    render_status_url_for(rules, remediation, alert, target, id, None, secrets)
}

/// [`render_status_url`] for a job of `kind` (what the launch answer said it
/// started): a preset may poll another URL for it (AWX workflow jobs).
pub fn render_status_url_for(
    rules: &RuleSet,
    remediation: &Remediation,
    alert: &Alert,
    target: &str,
    id: &str,
    kind: Option<&str>,
    secrets: &dyn SecretSource,
) -> Result<String, String> {
    let remediator = remediator(rules, remediation.remediator, remediation)?;
    let Some(tracking) = &remediator.tracking else {
        return Err(format!(
            "remediator \"{}\" has no `status_url`: there is nothing to poll",
            remediator.name
        ));
    };
    let mut context = call_context(rules, remediation, alert, target)?;
    context.push(("id".to_owned(), Value::from(id)));
    let url = render_url(
        rules,
        tracking.status_url,
        &to_value(&context),
        tracking.status_url_env.as_deref(),
        secrets,
    )
    .map_err(|e| format!("remediator \"{}\": status_url: {e}", remediator.name))?;
    Ok(match tracking.preset {
        Some(preset) => preset.status_url_for(url, kind),
        None => url,
    })
}

/// The headers of a remediator with their secrets resolved (calls and polls).
pub fn resolve_headers(
    remediator: &Remediator,
    secrets: &dyn SecretSource,
) -> Result<Vec<(String, String)>, String> {
    let mut headers = Vec::with_capacity(remediator.headers.len());
    for (name, value) in &remediator.headers {
        let resolved = value
            .resolve(|n| secrets.env(n), |p| secrets.read_file(p))
            .map_err(|e| format!("remediator \"{}\", header {name}: {e}", remediator.name))?;
        // Checked here so a stray newline in a secret file is reported as
        // such, by header name, instead of as an opaque send failure.
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(format!(
                "remediator \"{}\": {name:?} is not a valid HTTP header name",
                remediator.name
            ));
        }
        if HeaderValue::from_str(&resolved).is_err() {
            return Err(format!(
                "remediator \"{}\", header {name}: the value is not valid in an HTTP header (a newline or control character in the secret?)",
                remediator.name
            ));
        }
        headers.push((name.clone(), resolved));
    }
    Ok(headers)
}

/// The call an `escalate` decision makes: an Alertmanager v2 alerts array
/// POSTed to the remediation's `escalate:` remediator.
pub fn render_escalation(
    rules: &RuleSet,
    remediation: &Remediation,
    alert: &Alert,
    decision: &Decision,
    secrets: &dyn SecretSource,
) -> Result<CallRequest, String> {
    let Some(index) = remediation.escalate else {
        return Err(format!(
            "remediation \"{}\" has no `escalate` target",
            remediation.name
        ));
    };
    let escalator = remediator(rules, index, remediation)?;
    let mut context = alert_context(alert, &remediation.name);
    let target = match &decision.target {
        Some(t) => t.clone(),
        None => rules
            .templates
            .render(remediation.target, &to_value(&context))
            .map_err(|e| format!("remediation \"{}\": target: {e}", remediation.name))?,
    };
    context.push(("target".to_owned(), Value::from(target.as_str())));
    let url = render_url(
        rules,
        escalator.url,
        &to_value(&context),
        escalator.url_env.as_deref(),
        secrets,
    )
    .map_err(|e| format!("remediator \"{}\": url: {e}", escalator.name))?;

    let mut labels = serde_json::Map::new();
    for (name, value) in &alert.labels {
        labels.insert(name.clone(), value.clone().into());
    }
    // The escalation is an alert of its own: it must not be grouped or
    // silenced as the alert that caused it, but routing still needs to know
    // what that was.
    if let Some(original) = alert.labels.get("alertname") {
        labels.insert("original_alertname".to_owned(), original.clone().into());
    }
    labels.insert("alertname".to_owned(), "ResgateEscalation".into());
    labels.insert("remediation".to_owned(), remediation.name.clone().into());
    labels.insert("target".to_owned(), target.clone().into());

    let summary = format!(
        "resgate gave up on {} for {target}: a human is needed",
        remediation.name
    );
    let body = serde_json::json!([{
        "labels": labels,
        "annotations": {
            "summary": summary,
            "description": describe(remediation, &target, alert, decision),
        },
        "startsAt": decision.at.to_string(),
    }]);
    let mut headers = resolve_headers(escalator, secrets)?;
    default_header(&mut headers, "Content-Type", "application/json");
    Ok(CallRequest {
        method: "POST".to_owned(),
        url,
        headers,
        body: Some(body.to_string()),
    })
}

/// The escalation's human text, from the decision's proof.
fn describe(remediation: &Remediation, target: &str, alert: &Alert, decision: &Decision) -> String {
    let alertname = alert
        .labels
        .get("alertname")
        .map_or("the alert", String::as_str);
    let explain = format!(
        "`resgate explain {}` tells the whole story",
        alert.fingerprint
    );
    match &decision.proof {
        Proof::Budget {
            attempts,
            within_secs,
            events,
            ..
        } => {
            let window =
                crate::rules::duration::format(std::time::Duration::from_secs(*within_secs));
            let events = if events.is_empty() {
                "no events recorded".to_owned()
            } else {
                format!("events {}", events.join(", "))
            };
            format!(
                "remediation {} spent its budget on {target}: {attempts} attempt{} within {window} ({events}), and {alertname} still fires; {explain}",
                remediation.name,
                if *attempts == 1 { "" } else { "s" },
            )
        }
        _ => format!(
            "remediation {} on {target} escalated ({}), and {alertname} still fires; {explain}",
            remediation.name,
            decision
                .reason
                .as_deref()
                .unwrap_or(decision.verdict.as_str()),
        ),
    }
}

/// The context of `body`, `url` and `status_url`: the alert, `target`, and the
/// rendered `vars` (which themselves see only the alert and `target`).
fn call_context(
    rules: &RuleSet,
    remediation: &Remediation,
    alert: &Alert,
    target: &str,
) -> Result<Vec<(String, Value)>, String> {
    let mut context = alert_context(alert, &remediation.name);
    context.push(("target".to_owned(), Value::from(target)));
    let base = to_value(&context);
    for (name, id) in &remediation.vars {
        let value = rules
            .templates
            .render(*id, &base)
            .map_err(|e| format!("remediation \"{}\": vars.{name}: {e}", remediation.name))?;
        context.push((name.clone(), Value::from(value)));
    }
    Ok(context)
}

fn remediator<'r>(
    rules: &'r RuleSet,
    index: usize,
    remediation: &Remediation,
) -> Result<&'r Remediator, String> {
    rules.remediators.get(index).ok_or_else(|| {
        format!(
            "remediation \"{}\" names a remediator the rules do not have",
            remediation.name
        )
    })
}

/// Later entries win, so a var shadows a label of the same name.
fn to_value(context: &[(String, Value)]) -> Value {
    let map: BTreeMap<String, Value> = context.iter().cloned().collect();
    Value::from(map)
}

/// Renders a URL template; `base_env` names the variable its base comes from
/// (`${env:NAME}` written first, left verbatim by the template).
fn render_url(
    rules: &RuleSet,
    id: TemplateId,
    context: &Value,
    base_env: Option<&str>,
    secrets: &dyn SecretSource,
) -> Result<String, String> {
    let mut url = rules.templates.render(id, context)?;
    if let Some(name) = base_env {
        let reference = format!("${{env:{name}}}");
        let rest = url
            .strip_prefix(reference.as_str())
            .ok_or_else(|| format!("the rendered URL does not start with {reference}"))?;
        let base = secrets
            .env(name)
            .ok_or_else(|| format!("environment variable {name} is not set"))?;
        secret::check_base_url(&base)
            .map_err(|why| format!("environment variable {name} is not a base URL: {why}"))?;
        url = secret::join_base(&base, rest);
    }
    check_url(&url)?;
    Ok(url)
}

/// Percent-encoding leaves `.` alone (it is unreserved), so a label value of
/// exactly `..` would render a `..` path segment that servers and proxies
/// resolve: `/api/45/job/../run` is `/api/45/run`. Such a URL is refused
/// rather than sent somewhere the rule author never wrote.
fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("the rendered URL {url:?} is not a valid URL"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("the rendered URL {url:?} is not http or https")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("the rendered URL {url:?} has no host"));
    }
    let dot_segment = uri.path().split('/').any(|segment| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    });
    if dot_segment {
        return Err(format!(
            "the rendered URL {url:?} has a `.` or `..` path segment (from a label value?): refusing to send it"
        ));
    }
    Ok(())
}

fn body_json(rules: &RuleSet, body: &Body, context: &Value) -> Result<serde_json::Value, String> {
    use serde_json::Value as J;
    Ok(match body {
        Body::Null => J::Null,
        Body::Bool(b) => J::Bool(*b),
        Body::Int(i) => J::from(*i),
        Body::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .ok_or_else(|| format!("{f} cannot be written in JSON"))?,
        Body::Text(id) => J::String(rules.templates.render(*id, context)?),
        Body::List(items) => J::Array(
            items
                .iter()
                .map(|item| body_json(rules, item, context))
                .collect::<Result<_, _>>()?,
        ),
        Body::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                map.insert(key.clone(), body_json(rules, value, context)?);
            }
            J::Object(map)
        }
    })
}

fn default_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
        headers.push((name.to_owned(), value.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_refused() {
        assert!(check_url("http://rd/api/45/job/../run").is_err());
        assert!(check_url("http://rd/api/45/job/./run").is_err());
        assert!(check_url("http://rd/api/45/job/%2E%2e/run").is_err());
        assert!(check_url("http://rd/api/45/job/..x/run").is_ok());
        assert!(check_url("http://rd/api/45/job/a..b/run?x=..").is_ok());
    }

    #[test]
    fn only_http_urls_with_a_host() {
        assert!(check_url("https://rd:4440/api").is_ok());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("/api/45/job/x/run").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn debug_hides_header_values() {
        let req = CallRequest {
            method: "POST".to_owned(),
            url: "http://rd/run".to_owned(),
            headers: vec![("X-Token".to_owned(), "s3cret-value".to_owned())],
            body: None,
        };
        let shown = format!("{req:?}");
        assert!(shown.contains("X-Token"));
        assert!(!shown.contains("s3cret-value"));
    }
}
