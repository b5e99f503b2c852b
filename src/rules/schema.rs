//! The shape of a rules YAML file, exactly as written (DESIGN.md §2).
//!
//! These types only describe syntax: every value that a later check may complain
//! about is `Spanned`, so the complaint can point at it. Meaning (compiled
//! matchers, templates, Datalog queries) is built from them in `load`. Unknown keys
//! are errors (`deny_unknown_fields`): a misspelt `unles:` must never silently
//! drop a guard.

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::body::BodyNode;
use super::entries::Entries;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub sources: Entries<SourceDef>,
    #[serde(default)]
    pub remediators: Entries<RemediatorDef>,
    #[serde(default)]
    pub remediations: Entries<RemediationDef>,
    /// Where people are told what resgate did (DESIGN.md §9).
    #[serde(default)]
    pub notifiers: Entries<NotifierDef>,
    /// The notifications of every remediation without its own `notify`
    /// (at most one file of a directory may say it).
    pub notify: Option<Spanned<NotifyDef>>,
    /// Relations filled from outside (DESIGN.md §8).
    #[serde(default)]
    pub facts: Entries<FactDef>,
}

/// One relation filled by a Prometheus instant query or an HTTP JSON endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactDef {
    /// The Prometheus server's base URL (`GET <base>/api/v1/query`).
    pub prometheus: Option<Spanned<String>>,
    /// The PromQL instant query (with `prometheus`).
    pub query: Option<Spanned<String>>,
    /// A JSON endpoint's URL (`GET`).
    pub http: Option<Spanned<String>>,
    /// JMESPath yielding the list of rows (with `http`).
    pub rows: Option<Spanned<String>>,
    /// Prometheus: label names, `value` for the sample. HTTP: one JMESPath per
    /// column, evaluated against one row.
    #[serde(default)]
    pub columns: Vec<Spanned<String>>,
    #[serde(default)]
    pub headers: Entries<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub every: Option<Spanned<String>>,
    pub stale_after: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// `alertmanager`, `grafana`, `pagerduty` or `jmespath`.
    pub kind: Spanned<String>,
    /// JMESPath expressions, for `kind: jmespath` only.
    pub alerts: Option<Spanned<String>>,
    pub labels: Option<Spanned<String>>,
    pub annotations: Option<Spanned<String>>,
    pub status: Option<Spanned<String>>,
    pub starts_at: Option<Spanned<String>>,
    pub fingerprint: Option<Spanned<String>>,
    /// How senders prove who they are (serve checks it on every request).
    pub auth: Option<AuthDef>,
}

/// Exactly one of the three.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthDef {
    /// `Authorization: Bearer <token>`.
    pub bearer: Option<Spanned<String>>,
    pub basic: Option<BasicAuthDef>,
    /// A signature of the body with a shared secret (Grafana, PagerDuty).
    pub hmac: Option<HmacDef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuthDef {
    pub username: Spanned<String>,
    pub password: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HmacDef {
    pub secret: Spanned<String>,
    /// The header carrying the signature; defaults per source kind.
    pub header: Option<Spanned<String>>,
    /// Grafana's optional timestamp header: signed as `timestamp:body`.
    pub timestamp_header: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediatorDef {
    /// `rundeck`, `stackstorm`, `awx` or `webhook`: fills `id`, `status`, `states`.
    pub preset: Option<Spanned<String>>,
    pub url: Spanned<String>,
    pub method: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: Entries<Spanned<String>>,
    /// JMESPath into the POST response that yields the event ID.
    pub id: Option<Spanned<String>>,
    pub status_url: Option<Spanned<String>>,
    /// JMESPath into the status response that yields the remediator's state word.
    pub status: Option<Spanned<String>>,
    pub states: Option<Spanned<StatesDef>>,
    pub poll: Option<Spanned<PollDef>>,
    /// Connect + read timeout of each HTTP call.
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatesDef {
    #[serde(default)]
    pub running: Vec<String>,
    #[serde(default)]
    pub succeeded: Vec<String>,
    #[serde(default)]
    pub failed: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollDef {
    pub every: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemediationDef {
    #[serde(rename = "match", default)]
    pub match_: Option<Spanned<Entries<Spanned<String>>>>,
    pub target: Option<Spanned<String>>,
    pub remediator: Spanned<String>,
    #[serde(default)]
    pub vars: Entries<Spanned<String>>,
    pub body: Option<Spanned<BodyNode>>,
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub unless: Entries<Spanned<String>>,
    pub warmup: Option<Spanned<String>>,
    pub budget: Option<Spanned<BudgetDef>>,
    pub max_concurrent: Option<Spanned<u32>>,
    pub escalate: Option<Spanned<String>>,
    pub mode: Option<Spanned<Mode>>,
    /// With `mode: approve`: how long a fire waits for its approval.
    pub approve_within: Option<Spanned<String>>,
    /// Who is told of what (replaces the file-level default).
    pub notify: Option<Spanned<NotifyDef>>,
}

/// A notifier: a chat channel, a dashboard or an incident tool (DESIGN.md §9).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifierDef {
    /// `slack`, `mattermost`, `teams`, `webhook`, `grafana-annotations`,
    /// `pagerduty-change`: the shape of each request.
    pub preset: Spanned<String>,
    /// Where to post; may be a secret whole (`${env:SLACK_WEBHOOK_URL}`).
    /// `pagerduty-change` defaults to PagerDuty's Events API.
    pub url: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: Entries<Spanned<String>>,
    /// `pagerduty-change`: the integration's routing key.
    pub routing_key: Option<Spanned<String>>,
    /// At most one message per this window; the rest are summed up in it.
    pub digest: Option<Spanned<String>>,
    /// Connect + read timeout of each HTTP call.
    pub timeout: Option<Spanned<String>>,
    /// A MiniJinja template replacing the preset's message text.
    pub template: Option<Spanned<String>>,
}

/// `notify: {to: [ops], on: [fire, rescued]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyDef {
    pub to: Vec<Spanned<String>>,
    /// Event words; omitted: every one except `collapse` and `defer`.
    pub on: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetDef {
    pub attempts: Spanned<u32>,
    pub within: Spanned<String>,
}

/// How much a remediation is trusted to act on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Decide and call the remediator.
    #[default]
    Auto,
    /// Decide and record, never call.
    Shadow,
    /// A fire waits for an operator's approval.
    Approve,
}
