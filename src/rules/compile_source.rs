//! `sources:` definitions: which payload shape a webhook path speaks.

use serde_saphyr::Spanned;

use crate::datalog::SourceId;
use crate::diag::Diagnostic;

use super::compile::Compiler;
use super::model::{HmacScheme, JmesMapping, Source, SourceAuth, SourceKind};
use super::schema::{AuthDef, SourceDef};
use super::secret::{SecretString, SecretUse};

const KINDS: &[&str] = &["alertmanager", "grafana", "pagerduty", "jmespath"];

impl Compiler<'_> {
    pub(super) fn source(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &SourceDef,
    ) -> Option<Source> {
        let kind = match def.kind.value.as_str() {
            "alertmanager" => SourceKind::Alertmanager,
            "grafana" => SourceKind::Grafana,
            "pagerduty" => SourceKind::PagerDuty,
            "jmespath" => SourceKind::Jmespath(Box::new(self.jmes_mapping(src, key, def)?)),
            other => {
                let span = self.value_span(src, &def.kind);
                self.error(
                    Diagnostic::error(
                        "unknown-source-kind",
                        format!("unknown source kind \"{other}\""),
                    )
                    .label(span, "source kind")
                    .help(crate::suggest::help(
                        other,
                        "source kind",
                        KINDS.iter().copied(),
                    )),
                );
                return None;
            }
        };
        if !matches!(kind, SourceKind::Jmespath(_)) {
            self.refuse_mapping_keys(src, def);
        }
        let auth = match &def.auth {
            None => None,
            Some(a) => Some(self.source_auth(src, key, &kind, a)?),
        };
        Some(Source {
            name: key.value.clone(),
            kind,
            auth,
        })
    }

    pub(super) fn secret(
        &mut self,
        src: SourceId,
        value: &Spanned<String>,
        what: &str,
        place: &str,
    ) -> Option<SecretString> {
        match SecretString::parse(&value.value) {
            Ok(s) => {
                let located = self.locate(src, value);
                for (piece, (start, end)) in s.references() {
                    self.secret_uses.push(SecretUse {
                        piece: piece.clone(),
                        span: located.span(start, end),
                        place: place.to_owned(),
                        base_url: false,
                    });
                }
                Some(s)
            }
            Err(e) => {
                let span = self.locate(src, value).span(e.start, e.end);
                self.error(
                    Diagnostic::error("invalid-secret", e.message)
                        .label(span, format!("in {what}"))
                        .help(e.help),
                );
                None
            }
        }
    }

    fn source_auth(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        kind: &SourceKind,
        def: &AuthDef,
    ) -> Option<SourceAuth> {
        let given = usize::from(def.bearer.is_some())
            + usize::from(def.basic.is_some())
            + usize::from(def.hmac.is_some());
        if given != 1 {
            let span = self.key_span(src, key);
            self.error(
                Diagnostic::error(
                    "invalid-auth",
                    format!("source \"{}\" must name exactly one of `bearer`, `basic`, `hmac` under `auth`", key.value),
                )
                .label(span, "this source")
                .help("e.g. auth: {bearer: \"${env:ALERTMANAGER_TOKEN}\"}"),
            );
            return None;
        }
        if let Some(token) = &def.bearer {
            return self
                .secret(
                    src,
                    token,
                    "the bearer token",
                    &format!("source \"{}\", bearer token", key.value),
                )
                .map(SourceAuth::Bearer);
        }
        if let Some(basic) = &def.basic {
            let password = self.secret(
                src,
                &basic.password,
                "the password",
                &format!("source \"{}\", basic auth password", key.value),
            )?;
            return Some(SourceAuth::Basic {
                username: basic.username.value.clone(),
                password,
            });
        }
        let hmac = def.hmac.as_ref()?;
        let (scheme, default_header) = match kind {
            SourceKind::PagerDuty => (HmacScheme::PagerDuty, "X-PagerDuty-Signature"),
            SourceKind::Grafana => (HmacScheme::Hex, "X-Grafana-Alerting-Signature"),
            _ => (HmacScheme::Hex, "X-Signature"),
        };
        let secret = self.secret(
            src,
            &hmac.secret,
            "the HMAC secret",
            &format!("source \"{}\", HMAC secret", key.value),
        )?;
        Some(SourceAuth::Hmac {
            secret,
            scheme,
            header: hmac
                .header
                .as_ref()
                .map_or(default_header.to_owned(), |h| h.value.clone()),
            timestamp_header: hmac.timestamp_header.as_ref().map(|h| h.value.clone()),
        })
    }

    /// Built-in kinds have fixed mappings; JMESPath keys on them would be ignored.
    fn refuse_mapping_keys(&mut self, src: SourceId, def: &SourceDef) {
        let keys = [
            ("alerts", &def.alerts),
            ("labels", &def.labels),
            ("annotations", &def.annotations),
            ("status", &def.status),
            ("starts_at", &def.starts_at),
            ("fingerprint", &def.fingerprint),
        ];
        for (name, value) in keys {
            if let Some(value) = value {
                let span = self.value_span(src, value);
                self.error(
                    Diagnostic::error(
                        "mapping-on-builtin-source",
                        format!("`{name}` is only for `kind: jmespath` sources"),
                    )
                    .label(span, "would be ignored")
                    .help(format!(
                        "kind \"{}\" has a built-in mapping: remove `{name}`",
                        def.kind.value
                    )),
                );
            }
        }
    }

    fn jmes_mapping(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &SourceDef,
    ) -> Option<JmesMapping> {
        let mut missing = Vec::new();
        if def.alerts.is_none() {
            missing.push("alerts");
        }
        if def.labels.is_none() {
            missing.push("labels");
        }
        if !missing.is_empty() {
            let span = self.key_span(src, key);
            self.error(
                Diagnostic::error(
                    "incomplete-mapping",
                    format!("jmespath source \"{}\" has no `{}`", key.value, missing.join("` or `")),
                )
                .label(span, "this source")
                .help("a jmespath source needs `alerts` (the list of alerts) and `labels` (a map per alert)"),
            );
        }
        let compile =
            |c: &mut Self, value: &Option<Spanned<String>>, what: &str| -> Result<Option<_>, ()> {
                match value {
                    Some(v) => c.jmespath(src, v, what).map(Some).ok_or(()),
                    None => Ok(None),
                }
            };
        let alerts = compile(self, &def.alerts, "`alerts`");
        let labels = compile(self, &def.labels, "`labels`");
        let annotations = compile(self, &def.annotations, "`annotations`");
        let status = compile(self, &def.status, "`status`");
        let starts_at = compile(self, &def.starts_at, "`starts_at`");
        let fingerprint = compile(self, &def.fingerprint, "`fingerprint`");
        Some(JmesMapping {
            alerts: alerts.ok()??,
            labels: labels.ok()??,
            annotations: annotations.ok()?,
            status: status.ok()?,
            starts_at: starts_at.ok()?,
            fingerprint: fingerprint.ok()?,
        })
    }
}
