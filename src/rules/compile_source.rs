//! `sources:` definitions: which payload shape a webhook path speaks.

use serde_saphyr::Spanned;

use crate::datalog::SourceId;
use crate::diag::Diagnostic;

use super::compile::Compiler;
use super::model::{JmesMapping, Source, SourceKind};
use super::schema::SourceDef;

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
        Some(Source {
            name: key.value.clone(),
            kind,
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
