//! `notifiers:` and `notify:`: who is told what resgate did (DESIGN.md §9).
//!
//! A notifier is a preset (the request shape), a URL and headers whose
//! secrets resolve per request like a remediator's. `notify: {to, on}` names
//! notifiers and event words; a remediation's own `notify` replaces the
//! directory's default (one file-level `notify:`), it does not add to it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_saphyr::Spanned;

use crate::datalog::SourceId;
use crate::diag::Diagnostic;

use super::compile::{Compiler, Defs};
use super::model::{Notifier, NotifyOn, NotifyPreset, NotifyRoute, NotifyTemplate};
use super::schema::{NotifierDef, NotifyDef};
use super::secret::SecretString;

/// Storms are summed up, not sent one by one: one message a minute per
/// channel is what a person can still read (DESIGN.md §9).
pub const DEFAULT_DIGEST: Duration = Duration::from_secs(60);
const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(10);
/// PagerDuty's Events API v2 change events endpoint
/// (https://developer.pagerduty.com/api-reference/95db350959c37-send-change-events-to-the-pager-duty-events-api).
pub const PAGERDUTY_CHANGE_URL: &str = "https://events.pagerduty.com/v2/change/enqueue";

impl Compiler<'_> {
    /// Every notifier, and the directory's default route; then the names
    /// no route uses are warned about by [`Compiler::warn_unused_notifiers`].
    pub(super) fn notifiers(&mut self, defs: &Defs<'_>) -> Option<Vec<Notifier>> {
        let built: Vec<Option<Notifier>> = defs
            .notifiers
            .iter()
            .map(|(src, key, def)| self.notifier(*src, key, def))
            .collect();
        built.into_iter().collect()
    }

    fn notifier(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &NotifierDef,
    ) -> Option<Notifier> {
        let mut ok = true;
        let Some(preset) = NotifyPreset::parse(&def.preset.value) else {
            let span = self.value_span(src, &def.preset);
            self.error(
                Diagnostic::error(
                    "unknown-notifier-preset",
                    format!("unknown notifier preset \"{}\"", def.preset.value),
                )
                .label(span, "preset")
                .help(crate::suggest::help(
                    &def.preset.value,
                    "preset",
                    NotifyPreset::ALL.iter().map(|p| p.as_str()),
                )),
            );
            return None;
        };
        let place = |what: &str| format!("notifier \"{}\", {what}", key.value);

        let url = match (&def.url, preset) {
            (Some(u), _) => {
                let url = self.secret(src, u, "the URL", &place("url"));
                if let Some(s) = &url
                    && !s.has_secrets()
                    && !(u.value.starts_with("https://") || u.value.starts_with("http://"))
                {
                    let span = self.value_span(src, u);
                    self.error(
                        Diagnostic::error(
                            "invalid-url",
                            format!("notifier \"{}\" has no http(s) URL", key.value),
                        )
                        .label(span, "not http:// or https://")
                        .help("write the receiver's URL, e.g. url: \"${env:SLACK_WEBHOOK_URL}\""),
                    );
                    ok = false;
                }
                url
            }
            (None, NotifyPreset::PagerdutyChange) => SecretString::parse(PAGERDUTY_CHANGE_URL).ok(),
            (None, _) => {
                let span = self.key_span(src, key);
                self.error(
                    Diagnostic::error("no-url", format!("notifier \"{}\" has no `url`", key.value))
                        .label(span, "this notifier")
                        .help(match preset {
                            NotifyPreset::GrafanaAnnotations => {
                                "add Grafana's base URL, e.g. url: \"https://grafana.example\""
                            }
                            _ => "add the webhook URL, e.g. url: \"${env:SLACK_WEBHOOK_URL}\"",
                        }),
                );
                None
            }
        };

        let mut headers = Vec::new();
        for (name, value) in def.headers.iter() {
            match self.secret(
                src,
                value,
                "this header",
                &place(&format!("header {}", name.value)),
            ) {
                Some(s) => headers.push((name.value.clone(), s)),
                None => ok = false,
            }
        }

        let routing_key = match (&def.routing_key, preset) {
            (Some(k), NotifyPreset::PagerdutyChange) => {
                let key = self.secret(src, k, "the routing key", &place("routing_key"));
                ok &= key.is_some();
                key
            }
            (Some(k), _) => {
                let span = self.value_span(src, k);
                self.error(
                    Diagnostic::error(
                        "routing-key-unused",
                        format!(
                            "`routing_key` means nothing to a {} notifier",
                            preset.as_str()
                        ),
                    )
                    .label(span, "only pagerduty-change sends one")
                    .help("delete it, or set `preset: pagerduty-change`"),
                );
                ok = false;
                None
            }
            (None, NotifyPreset::PagerdutyChange) => {
                let span = self.key_span(src, key);
                self.error(
                    Diagnostic::error(
                        "no-routing-key",
                        format!("notifier \"{}\" has no `routing_key`", key.value),
                    )
                    .label(span, "PagerDuty routes change events by it")
                    .help("add routing_key: \"${env:PAGERDUTY_ROUTING_KEY}\" (the integration key of an Events API v2 integration)"),
                );
                ok = false;
                None
            }
            (None, _) => None,
        };

        let digest = self.duration(src, def.digest.as_ref(), DEFAULT_DIGEST, "digest");
        let timeout = self.duration(src, def.timeout.as_ref(), DEFAULT_NOTIFY_TIMEOUT, "timeout");
        if timeout == Some(Duration::ZERO)
            && let Some(t) = &def.timeout
        {
            let span = self.value_span(src, t);
            self.error(
                Diagnostic::error("invalid-duration", "timeout must be longer than zero")
                    .label(span, "every call would time out")
                    .help("give the receiver a few seconds, e.g. 10s"),
            );
            ok = false;
        }
        let template = match &def.template {
            Some(t) => {
                let compiled = self.notify_template(src, t, preset);
                ok &= compiled.is_some();
                compiled
            }
            None => None,
        };
        Some(Notifier {
            template,
            name: key.value.clone(),
            preset,
            url: url?,
            headers,
            routing_key,
            digest: digest?,
            timeout: timeout?,
        })
        .filter(|_| ok)
    }

    /// A notifier's `template`: compiled with a formatter that escapes every
    /// printed value for the preset, and reading only the names of a notice.
    fn notify_template(
        &mut self,
        src: SourceId,
        t: &Spanned<String>,
        preset: NotifyPreset,
    ) -> Option<NotifyTemplate> {
        let mut env = super::template::environment();
        env.set_formatter(move |out, _state, value| {
            // Safe values (the headline, the summary) are already in the
            // format; everything else came from outside.
            let text = if value.is_safe() || value.is_none() {
                if value.is_none() {
                    String::new()
                } else {
                    value.to_string()
                }
            } else {
                crate::notifier::render::escape_for(preset, &value.to_string())
            };
            out.write_str(&text).map_err(|_| {
                minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "cannot write")
            })
        });
        if let Err(e) = env.add_template_owned("t", t.value.clone()) {
            let range = e.range().unwrap_or(0..t.value.len());
            let span = self.locate(src, t).span(
                range.start,
                range
                    .end
                    .max(range.start + 1)
                    .min(t.value.len().max(range.start + 1)),
            );
            self.error(
                Diagnostic::error(
                    "invalid-template",
                    format!("invalid template: {}", e.detail().unwrap_or("syntax error")),
                )
                .label(span, "in this template")
                .help("templates are MiniJinja: {{ remediation }} on {{ target }}: {{ why }}"),
            );
            return None;
        }
        let unknown: Vec<String> = env
            .get_template("t")
            .map(|tpl| {
                tpl.undeclared_variables(false)
                    .into_iter()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !NotifyTemplate::NAMES.contains(&v.as_str()))
            .collect();
        if let Some(first) = unknown.first() {
            let span = self.value_span(src, t);
            self.error(
                Diagnostic::error(
                    "unknown-template-variable",
                    format!("a notification template cannot read `{first}`"),
                )
                .label(span, "in this template")
                .help(crate::suggest::help(
                    first,
                    "name",
                    NotifyTemplate::NAMES.iter().copied(),
                )),
            );
            return None;
        }
        Some(NotifyTemplate {
            env,
            source: t.value.clone(),
        })
    }

    /// The file-level `notify:`: at most one in a directory.
    pub(super) fn default_notify(&mut self, defs: &Defs<'_>) -> Option<Option<NotifyRoute>> {
        let mut found = defs.notify.iter();
        let Some((src, first)) = found.next() else {
            return Some(None);
        };
        let mut ok = true;
        for (again_src, again) in found {
            let span = self.whole_value_span(*again_src, again);
            let (line, _) = self
                .sources
                .line_col(*src, self.whole_value_span(*src, first).start);
            let path = self
                .sources
                .path(*src)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            self.error(
                Diagnostic::error("duplicate-notify", "the default `notify` is given twice")
                    .label(span, "given again here")
                    .help(format!(
                        "first given at {path}:{line}; keep one, or move it into the remediations it is for"
                    )),
            );
            ok = false;
        }
        let route = self.notify_route(*src, first, defs);
        if !ok {
            return None;
        }
        route.map(Some)
    }

    /// `notify: {to, on}` checked against the notifiers and event words.
    pub(super) fn notify_route(
        &mut self,
        src: SourceId,
        def: &Spanned<NotifyDef>,
        defs: &Defs<'_>,
    ) -> Option<NotifyRoute> {
        let names: Vec<&str> = defs
            .notifiers
            .iter()
            .map(|(_, k, _)| k.value.as_str())
            .collect();
        let mut ok = true;
        if def.value.to.is_empty() {
            let span = self.whole_value_span(src, def);
            self.error(
                Diagnostic::error("empty-notify", "`notify` names no notifier in `to`")
                    .label(span, "tells nobody")
                    .help(crate::suggest::help("", "notifier", names.iter().copied())),
            );
            ok = false;
        }
        let mut to = Vec::new();
        for name in &def.value.to {
            match names.iter().position(|n| *n == name.value) {
                Some(i) if to.contains(&i) => {}
                Some(i) => {
                    // Named, even if this route fails for another reason:
                    // no "never notified" on top of the real error.
                    self.notify_used.insert(i);
                    to.push(i);
                }
                None => {
                    let span = self.value_span(src, name);
                    self.error(
                        Diagnostic::error(
                            "unknown-notifier",
                            format!("unknown notifier \"{}\"", name.value),
                        )
                        .label(span, "used here")
                        .help(crate::suggest::help(
                            &name.value,
                            "notifier",
                            names.iter().copied(),
                        )),
                    );
                    ok = false;
                }
            }
        }
        let on = match &def.value.on {
            None => NotifyOn::default_set(),
            Some(words) => {
                let mut on = BTreeSet::new();
                for word in words {
                    match NotifyOn::parse(&word.value) {
                        Some(o) => {
                            on.insert(o);
                        }
                        None => {
                            let span = self.value_span(src, word);
                            self.error(
                                Diagnostic::error(
                                    "unknown-notify-event",
                                    format!("unknown notification event \"{}\"", word.value),
                                )
                                .label(span, "in `on`")
                                .help(crate::suggest::help(
                                    &word.value,
                                    "event",
                                    NotifyOn::ALL.iter().map(|o| o.as_str()),
                                )),
                            );
                            ok = false;
                        }
                    }
                }
                on.into_iter().collect()
            }
        };
        ok.then_some(NotifyRoute { to, on })
    }

    /// A notifier no route names is configuration that does nothing.
    pub(super) fn warn_unused_notifiers(&mut self, defs: &Defs<'_>, used: &BTreeSet<usize>) {
        for (i, (src, key, _)) in defs.notifiers.iter().enumerate() {
            if !used.contains(&i) {
                let span = self.key_span(*src, key);
                self.error(
                    Diagnostic::warning(
                        "unused-notifier",
                        format!("notifier \"{}\" is never notified", key.value),
                    )
                    .label(span, "defined here")
                    .help(format!(
                        "name it in a remediation's or the default `notify: {{to: [{}]}}`, or delete it",
                        key.value
                    )),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::load_texts;

    const RULES: &str = r#"
remediators:
  runner: {url: "https://runner.example/run"}
notifiers:
  ops: {preset: slack, url: "${env:SLACK_WEBHOOK_URL}", digest: 5m}
  dashboards:
    preset: grafana-annotations
    url: "https://grafana.example"
    headers: {Authorization: "Bearer ${env:GRAFANA_TOKEN}"}
  incidents: {preset: pagerduty-change, routing_key: "${env:PD_KEY}"}
notify: {to: [ops, incidents]}
remediations:
  restart-api:
    match: {alertname: ApiDown}
    target: api
    remediator: runner
    budget: {attempts: 3, within: 1h}
    notify: {to: [dashboards], on: [fire, collapse, rescued]}
  restart-db:
    match: {alertname: DbDown}
    target: db
    remediator: runner
    budget: {attempts: 3, within: 1h}
"#;

    #[test]
    fn own_notify_replaces_the_default_and_on_defaults_to_all_but_collapse_and_defer() {
        let loaded = load_texts(vec![("rules.yaml".into(), RULES.to_owned())]);
        let errors: Vec<_> = loaded.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        let rules = loaded.rules.expect("rules load");
        let names: Vec<&str> = rules.notifiers.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ops", "dashboards", "incidents"]);
        assert_eq!(rules.notifiers[0].digest, Duration::from_secs(300));
        assert_eq!(rules.notifiers[1].digest, DEFAULT_DIGEST);
        assert_eq!(
            rules.notifiers[2].url.to_string(),
            PAGERDUTY_CHANGE_URL,
            "pagerduty-change defaults to the Events API"
        );
        // The secret stays a reference until a request is built.
        assert_eq!(
            rules.notifiers[0].url.to_string(),
            "${env:SLACK_WEBHOOK_URL}"
        );
        assert!(
            rules
                .secret_uses
                .iter()
                .any(|u| u.place == "notifier \"incidents\", routing_key")
        );

        let api = rules
            .remediation("restart-api")
            .and_then(|r| r.notify.clone());
        assert_eq!(
            api,
            Some(NotifyRoute {
                to: vec![1],
                on: vec![NotifyOn::Fire, NotifyOn::Collapse, NotifyOn::Rescued]
            })
        );
        let db = rules
            .remediation("restart-db")
            .and_then(|r| r.notify.clone());
        let db = db.expect("the default applies");
        assert_eq!(db.to, vec![0, 2]);
        assert!(!db.on.contains(&NotifyOn::Collapse) && !db.on.contains(&NotifyOn::Defer));
        assert_eq!(db.on.len(), NotifyOn::ALL.len() - 2);
    }

    #[test]
    fn a_second_default_in_another_file_is_refused() {
        let loaded = load_texts(vec![
            ("a.yaml".into(), RULES.to_owned()),
            ("b.yaml".into(), "notify: {to: [ops]}\n".to_owned()),
        ]);
        assert!(loaded.rules.is_none());
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.code == "duplicate-notify")
        );
    }
}
