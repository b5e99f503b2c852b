//! A loaded, checked rule set: what the engine and `serve` run.
//!
//! Everything here is compiled once at load (matchers, templates, JMESPath,
//! Datalog queries) so deciding an alert does no parsing.

use std::sync::Arc;
use std::time::Duration;

use crate::datalog::{Compiled, QueryId, Span};

use super::matcher::Matcher;
use super::schema::Mode;
use super::secret::SecretString;
use super::template::{TemplateId, Templates};

pub type Expr = jmespath::Expression<'static>;

#[derive(Debug)]
pub struct RuleSet {
    pub sources: Vec<Source>,
    pub remediators: Vec<Remediator>,
    pub remediations: Vec<Remediation>,
    /// The `.dl` files plus every `when`/`unless` body, compiled as queries.
    pub program: Arc<Compiled>,
    pub templates: Templates,
    /// Every predicate some rule body or guard reads: the engine only maintains
    /// the time-dependent built-ins (`age`, `warming`, ...) that someone reads.
    pub referenced: std::collections::BTreeSet<String>,
    /// The text of each clause of the `.dl` files, by clause index: proofs quote
    /// the rule that derived a fact.
    pub clauses: Vec<String>,
    /// Every predicate some guard reads directly, once each.
    pub guard_reads: Vec<String>,
    /// The rules' version: the first 12 hex digits of a SHA-256 over each
    /// file's name and text, in load order. Same files, same version, wherever
    /// the directory lives; the status page and logs name it.
    pub version: String,
    /// Every `${env:}`/`${file:}` reference with where it is written; `serve`
    /// resolves them all before rules go live (lint and test do not: CI has
    /// no secrets).
    pub secret_uses: Vec<super::secret::SecretUse>,
    /// Where people are told what happened (DESIGN.md §9), in load order;
    /// [`Remediation::notify`] indexes into it.
    pub notifiers: Vec<Notifier>,
    /// The `facts:` sources, in load order (DESIGN.md §8).
    pub facts: Vec<FactSource>,
    /// Per remediation (same index), which fact relations its `when` and each
    /// `unless` guard read, directly or through `.dl` rules: a decision that
    /// would read a stale one defers instead.
    pub fact_reads: Vec<FactReads>,
}

/// Indexes into [`RuleSet::facts`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactReads {
    pub when: Vec<usize>,
    /// One list per `unless` guard, in order.
    pub unless: Vec<Vec<usize>>,
}

impl FactReads {
    pub fn is_empty(&self) -> bool {
        self.when.is_empty() && self.unless.iter().all(Vec::is_empty)
    }
}

impl RuleSet {
    pub fn fact_source(&self, name: &str) -> Option<&FactSource> {
        self.facts.iter().find(|f| f.name == name)
    }

    pub fn source(&self, name: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.name == name)
    }

    pub fn remediation(&self, name: &str) -> Option<&Remediation> {
        self.remediations.iter().find(|r| r.name == name)
    }
}

#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    pub auth: Option<SourceAuth>,
}

/// What a sender must show. Secrets are resolved when a request is checked,
/// so a rotated `${file:...}` secret needs no reload.
#[derive(Debug)]
pub enum SourceAuth {
    Bearer(SecretString),
    Basic {
        username: String,
        password: SecretString,
    },
    Hmac {
        secret: SecretString,
        scheme: HmacScheme,
        header: String,
        timestamp_header: Option<String>,
    },
}

/// How the signature header is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacScheme {
    /// Hex HMAC-SHA256 of the body (or of `timestamp:body`), Grafana's way.
    Hex,
    /// PagerDuty v3: `v1=<hex>`, several comma-separated while a secret rotates.
    PagerDuty,
}

#[derive(Debug)]
pub enum SourceKind {
    /// Alertmanager webhook, payload version 4.
    Alertmanager,
    /// Grafana unified alerting (Alertmanager's shape plus Grafana's fields).
    Grafana,
    /// PagerDuty v3 webhooks.
    PagerDuty,
    Jmespath(Box<JmesMapping>),
}

#[derive(Debug)]
pub struct JmesMapping {
    /// Yields the list of alerts in a payload.
    pub alerts: Expr,
    /// Each of these is evaluated against one element of `alerts`.
    pub labels: Expr,
    pub annotations: Option<Expr>,
    pub status: Option<Expr>,
    pub starts_at: Option<Expr>,
    pub fingerprint: Option<Expr>,
}

#[derive(Debug)]
pub struct Remediator {
    pub name: String,
    pub url: TemplateId,
    /// `url` starts with `${env:NAME}`: its base comes from this variable.
    pub url_env: Option<String>,
    pub method: String,
    /// Header values may hold `${env:...}` secrets; they are not templates.
    pub headers: Vec<(String, SecretString)>,
    /// How to follow the work once accepted. `None`: a 2xx answer is success
    /// (plain webhooks, escalation targets such as Alertmanager).
    pub tracking: Option<Tracking>,
    /// Connect and read timeout of each call.
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct Tracking {
    /// JMESPath into the POST response that yields the event ID.
    pub id: Expr,
    pub status_url: TemplateId,
    /// `status_url` starts with `${env:NAME}`.
    pub status_url_env: Option<String>,
    /// JMESPath into the status response that yields the state word.
    pub status: Expr,
    pub states: States,
    pub poll_every: Duration,
    pub poll_timeout: Duration,
    /// The preset that filled it, if any: it may pick the status URL by the
    /// kind of job the launch started (AWX workflows).
    pub preset: Option<super::preset::Preset>,
    /// JMESPath into the launch answer naming the kind of job it started
    /// (the preset's; AWX: `type`).
    pub kind: Option<Expr>,
}

/// The remediator's own state words, sorted into resgate's three.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct States {
    pub running: Vec<String>,
    pub succeeded: Vec<String>,
    pub failed: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteState {
    Running,
    Succeeded,
    Failed,
}

impl States {
    pub fn classify(&self, word: &str) -> Option<RemoteState> {
        let is = |list: &[String]| list.iter().any(|w| w.eq_ignore_ascii_case(word));
        if is(&self.succeeded) {
            Some(RemoteState::Succeeded)
        } else if is(&self.failed) {
            Some(RemoteState::Failed)
        } else if is(&self.running) {
            Some(RemoteState::Running)
        } else {
            None
        }
    }
}

#[derive(Debug)]
pub struct Remediation {
    pub name: String,
    /// The remediation's key in its file: where diagnostics about it point.
    pub span: Span,
    pub matchers: Vec<Matcher>,
    /// Renders the target key: the thing being fixed, and the collapse key.
    pub target: TemplateId,
    /// Index into `RuleSet::remediators`.
    pub remediator: usize,
    pub vars: Vec<(String, TemplateId)>,
    pub body: Option<Body>,
    pub when: Option<Guard>,
    pub unless: Vec<Guard>,
    pub warmup: Duration,
    pub budget: Budget,
    pub max_concurrent: Option<u32>,
    /// Index into `RuleSet::remediators`.
    pub escalate: Option<usize>,
    pub mode: Mode,
    /// With `mode: approve`: a fire not approved within this expires.
    pub approve_within: Duration,
    /// Who is told of what: its own `notify`, else the directory's default.
    pub notify: Option<NotifyRoute>,
}

/// A compiled notifier (DESIGN.md §9).
#[derive(Debug)]
pub struct Notifier {
    pub name: String,
    pub preset: NotifyPreset,
    /// The whole URL may be a secret (a Slack webhook URL is one): it is
    /// resolved per request and never logged or journaled.
    pub url: SecretString,
    pub headers: Vec<(String, SecretString)>,
    /// `pagerduty-change`: the routing key.
    pub routing_key: Option<SecretString>,
    /// At most one message per window.
    pub digest: Duration,
    pub timeout: Duration,
    /// The user's text for the preset's message, if any.
    pub template: Option<NotifyTemplate>,
}

/// A notifier's `template`: MiniJinja, strict, every printed value escaped
/// for the preset's format (Slack mrkdwn, Markdown, plain for JSON fields).
pub struct NotifyTemplate {
    pub env: minijinja::Environment<'static>,
    pub source: String,
}

impl std::fmt::Debug for NotifyTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyTemplate")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl NotifyTemplate {
    /// The names a notification template may read.
    pub const NAMES: &[&str] = &[
        "on",
        "at",
        "remediation",
        "target",
        "event",
        "verdict",
        "reason",
        "why",
        "outcome",
        "started",
        "link",
        "headline",
        "more",
    ];

    pub fn render(&self, context: &minijinja::Value) -> Result<String, String> {
        let t = self.env.get_template("t").map_err(|e| e.to_string())?;
        t.render(context)
            .map_err(|e| e.detail().unwrap_or("render failed").to_owned())
    }
}

/// The request shapes resgate knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyPreset {
    Slack,
    Mattermost,
    Teams,
    Webhook,
    GrafanaAnnotations,
    PagerdutyChange,
}

impl NotifyPreset {
    pub const ALL: [NotifyPreset; 6] = [
        NotifyPreset::Slack,
        NotifyPreset::Mattermost,
        NotifyPreset::Teams,
        NotifyPreset::Webhook,
        NotifyPreset::GrafanaAnnotations,
        NotifyPreset::PagerdutyChange,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyPreset::Slack => "slack",
            NotifyPreset::Mattermost => "mattermost",
            NotifyPreset::Teams => "teams",
            NotifyPreset::Webhook => "webhook",
            NotifyPreset::GrafanaAnnotations => "grafana-annotations",
            NotifyPreset::PagerdutyChange => "pagerduty-change",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyPreset> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// What a notification is about: a verdict or the state an event reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NotifyOn {
    Fire,
    Collapse,
    Defer,
    Escalate,
    AwaitingApproval,
    Rescued,
    NotRescued,
    /// Also a call the remediator refused: the fix did not run either way.
    Failed,
    TimedOut,
    Expired,
}

impl NotifyOn {
    pub const ALL: [NotifyOn; 10] = [
        NotifyOn::Fire,
        NotifyOn::Collapse,
        NotifyOn::Defer,
        NotifyOn::Escalate,
        NotifyOn::AwaitingApproval,
        NotifyOn::Rescued,
        NotifyOn::NotRescued,
        NotifyOn::Failed,
        NotifyOn::TimedOut,
        NotifyOn::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOn::Fire => "fire",
            NotifyOn::Collapse => "collapse",
            NotifyOn::Defer => "defer",
            NotifyOn::Escalate => "escalate",
            NotifyOn::AwaitingApproval => "awaiting_approval",
            NotifyOn::Rescued => "rescued",
            NotifyOn::NotRescued => "not_rescued",
            NotifyOn::Failed => "failed",
            NotifyOn::TimedOut => "timed_out",
            NotifyOn::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<NotifyOn> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// `on` omitted: everything but `collapse` and `defer`, which a storm
    /// produces by the thousand and which change nothing in the world.
    pub fn default_set() -> Vec<NotifyOn> {
        Self::ALL
            .into_iter()
            .filter(|o| !matches!(o, NotifyOn::Collapse | NotifyOn::Defer))
            .collect()
    }

    /// The event ends the story of an event (Grafana closes its region).
    pub fn ends_event(self) -> bool {
        matches!(
            self,
            NotifyOn::Rescued
                | NotifyOn::NotRescued
                | NotifyOn::Failed
                | NotifyOn::TimedOut
                | NotifyOn::Expired
        )
    }
}

/// `notify: {to, on}` compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRoute {
    /// Indexes into [`RuleSet::notifiers`].
    pub to: Vec<usize>,
    pub on: Vec<NotifyOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub attempts: u32,
    pub within: Duration,
}

/// A JSON body whose string leaves are templates.
#[derive(Debug)]
pub enum Body {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(TemplateId),
    List(Vec<Body>),
    Map(Vec<(String, Body)>),
}

/// A `when` body or a named `unless` guard, compiled as a Datalog query.
#[derive(Debug, Clone)]
pub struct Guard {
    /// `when`, or the guard's name under `unless` (the defer reason).
    pub name: String,
    /// The body as written.
    pub text: String,
    pub query: QueryId,
    /// The query's parameters in order: `alert` first, then each `$label` it names.
    pub params: Vec<String>,
    /// The predicates the body reads directly: if none of them changed, the
    /// guard's answer cannot have changed.
    pub reads: Vec<String>,
    pub span: Span,
}

/// A relation filled from outside: its rows are replaced at each refresh.
#[derive(Debug)]
pub struct FactSource {
    /// The relation's name, read by guards and `.dl` rules.
    pub name: String,
    pub span: Span,
    pub kind: FactKind,
    /// The columns as written: label names (`value`: the sample) or JMESPath.
    pub columns: Vec<String>,
    /// Header values may hold `${env:}`/`${file:}` secrets.
    pub headers: Vec<(String, SecretString)>,
    /// Connect and read timeout of each refresh.
    pub timeout: Duration,
    pub every: Duration,
    /// A relation whose last good refresh is older than this is stale: a
    /// decision reading it defers.
    pub stale_after: Duration,
}

#[derive(Debug)]
pub enum FactKind {
    Prometheus {
        /// The server's base URL as written; `${env:NAME}` may only be its base.
        url: String,
        url_env: Option<String>,
        query: String,
    },
    Http {
        url: String,
        url_env: Option<String>,
        /// Yields the list of rows.
        rows: Expr,
        /// One per column, evaluated against one row.
        columns: Vec<Expr>,
    },
}

impl FactSource {
    pub fn arity(&self) -> usize {
        self.columns.len()
    }

    /// The URL as written (with any `${env:}` base unresolved): for messages.
    pub fn url(&self) -> &str {
        match &self.kind {
            FactKind::Prometheus { url, .. } | FactKind::Http { url, .. } => url,
        }
    }
}
