//! `remediators:` definitions: where a fire is sent and how it is followed.

use std::time::Duration;

use serde_saphyr::Spanned;

use crate::datalog::SourceId;
use crate::diag::Diagnostic;

use super::compile::Compiler;
use super::model::{Remediator, States, Tracking};
use super::preset::{self, Preset};
use super::schema::RemediatorDef;
use super::secret;
use super::template::TemplateKind;

const DEFAULT_POLL_EVERY: Duration = Duration::from_secs(15);
const DEFAULT_POLL_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);
const METHODS: &[&str] = &["POST", "PUT", "PATCH", "GET"];

impl Compiler<'_> {
    pub(super) fn remediator(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &RemediatorDef,
    ) -> Option<Remediator> {
        let mut ok = true;
        let preset = match &def.preset {
            None => None,
            Some(name) => match Preset::parse(&name.value) {
                Some(p) => Some(p),
                None => {
                    let span = self.value_span(src, name);
                    self.error(
                        Diagnostic::error(
                            "unknown-preset",
                            format!("unknown remediator preset \"{}\"", name.value),
                        )
                        .label(span, "preset")
                        .help(crate::suggest::help(
                            &name.value,
                            "preset",
                            preset::NAMES.iter().copied(),
                        )),
                    );
                    ok = false;
                    None
                }
            },
        };

        ok &= self.refuse_secret_in_url(src, &def.url, "url");
        let url_env = self.url_env(src, &def.url, &format!("remediator \"{}\", url", key.value));
        let url = self.template(src, &def.url, TemplateKind::Url);

        let method = match &def.method {
            None => "POST".to_owned(),
            Some(m) => {
                let upper = m.value.to_ascii_uppercase();
                if !METHODS.contains(&upper.as_str()) {
                    let span = self.value_span(src, m);
                    self.error(
                        Diagnostic::error(
                            "invalid-method",
                            format!("unsupported HTTP method \"{}\"", m.value),
                        )
                        .label(span, "method")
                        .help(format!("use one of {}", METHODS.join(", "))),
                    );
                    ok = false;
                }
                upper
            }
        };

        let mut headers = Vec::new();
        for (name, value) in def.headers.iter() {
            let place = format!("remediator \"{}\", header {}", key.value, name.value);
            match self.secret(src, value, "this header", &place) {
                Some(s) => headers.push((name.value.clone(), s)),
                None => ok = false,
            }
        }

        if let Some((p, (names, example))) = def
            .preset
            .as_ref()
            .zip(preset)
            .and_then(|(written, p)| Some((written, p.auth_headers()?)))
            && !def
                .headers
                .iter()
                .any(|(h, _)| names.iter().any(|n| n.eq_ignore_ascii_case(&h.value)))
        {
            let span = self.value_span(src, p);
            self.error(
                Diagnostic::warning(
                    "no-auth-header",
                    format!(
                        "remediator \"{}\" has no {} header",
                        key.value,
                        names.join(" or ")
                    ),
                )
                .label(span, format!("{} authenticates its API with it", p.value))
                .help(format!("add headers: {{{example}}}")),
            );
        }

        let timeout = self.duration(src, def.timeout.as_ref(), DEFAULT_CALL_TIMEOUT, "timeout");
        let tracking = self.tracking(src, key, def, preset);
        Some(Remediator {
            name: key.value.clone(),
            url: url?,
            url_env,
            method,
            headers,
            tracking: tracking?,
            timeout: timeout?,
        })
        .filter(|_| ok)
    }

    /// `Some(None)`: nothing to poll. `None`: an error was reported.
    fn tracking(
        &mut self,
        src: SourceId,
        key: &Spanned<String>,
        def: &RemediatorDef,
        preset: Option<Preset>,
    ) -> Option<Option<Tracking>> {
        let id = def
            .id
            .as_ref()
            .map(|v| (Some(v), v.value.clone()))
            .or_else(|| preset.and_then(Preset::id).map(|e| (None, e.to_owned())));
        let status = def
            .status
            .as_ref()
            .map(|v| (Some(v), v.value.clone()))
            .or_else(|| {
                preset
                    .and_then(Preset::status)
                    .map(|e| (None, e.to_owned()))
            });
        let states = def
            .states
            .as_ref()
            .map(|s| States {
                running: s.value.running.clone(),
                succeeded: s.value.succeeded.clone(),
                failed: s.value.failed.clone(),
            })
            .or_else(|| preset.map(Preset::states))
            .unwrap_or_default();

        let Some(status_url) = &def.status_url else {
            if let Some((Some(written), _)) = &id {
                let span = self.value_span(src, written);
                self.error(
                    Diagnostic::error("no-status-url", format!("remediator \"{}\" has an `id` but no `status_url`", key.value))
                        .label(span, "the event ID is extracted here")
                        .help("add `status_url` (e.g. \"https://host/api/45/execution/{{ id }}\") so resgate can poll the event"),
                );
                return None;
            }
            if let (Some(p), Some(shape)) = (
                def.preset.as_ref(),
                preset.and_then(Preset::status_url_shape),
            ) {
                let span = self.value_span(src, p);
                self.error(
                    Diagnostic::error(
                        "no-status-url",
                        format!(
                            "remediator \"{}\" runs {} jobs but has no `status_url`",
                            key.value, p.value
                        ),
                    )
                    .label(span, "its launch answer only means \"queued\"")
                    .help(format!(
                        "add `status_url: \"{shape}\"` so resgate polls the job's outcome"
                    )),
                );
                return None;
            }
            return Some(None);
        };

        let mut ok = self.refuse_secret_in_url(src, status_url, "status_url");
        let status_url_env = self.url_env(
            src,
            status_url,
            &format!("remediator \"{}\", status_url", key.value),
        );
        let status_template = self.template(src, status_url, TemplateKind::Url);
        let span = self.value_span(src, status_url);
        let (Some((id_written, id_expr)), Some((status_written, status_expr))) = (id, status)
        else {
            self.error(
                Diagnostic::error(
                    "incomplete-tracking",
                    format!(
                        "remediator \"{}\" has a `status_url` but no `id` or `status`",
                        key.value
                    ),
                )
                .label(span, "polled here")
                .help("set `id` and `status` (JMESPath), or a `preset` that provides them"),
            );
            return None;
        };
        let id = self.tracking_expr(src, id_written, &id_expr, "`id`");
        let status = self.tracking_expr(src, status_written, &status_expr, "`status`");
        if states.succeeded.is_empty() || states.failed.is_empty() {
            self.error(
                Diagnostic::error(
                    "incomplete-states",
                    format!(
                        "remediator \"{}\" does not say which states are success and failure",
                        key.value
                    ),
                )
                .label(span, "polled here")
                .help(
                    "add `states: {running: [...], succeeded: [...], failed: [...]}` or a `preset`",
                ),
            );
            ok = false;
        }
        let poll = def.poll.as_ref().map(|p| &p.value);
        let every = self.duration(
            src,
            poll.and_then(|p| p.every.as_ref()),
            DEFAULT_POLL_EVERY,
            "poll.every",
        );
        let timeout = self.duration(
            src,
            poll.and_then(|p| p.timeout.as_ref()),
            DEFAULT_POLL_TIMEOUT,
            "poll.timeout",
        );
        if every == Some(Duration::ZERO) {
            if let Some(v) = poll.and_then(|p| p.every.as_ref()) {
                let span = self.value_span(src, v);
                self.error(
                    Diagnostic::error("invalid-duration", "poll.every must be longer than zero")
                        .label(span, "would poll in a busy loop")
                        .help("poll every few seconds at least, e.g. 15s"),
                );
            }
            ok = false;
        }
        let tracking = Tracking {
            id: id?,
            status_url: status_template?,
            status_url_env,
            status: status?,
            states,
            poll_every: every?,
            poll_timeout: timeout?,
            preset,
            // Preset expressions are ours and known to compile.
            kind: preset
                .and_then(Preset::kind)
                .and_then(|e| jmespath::compile(e).ok()),
        };
        ok.then_some(Some(tracking))
    }

    fn tracking_expr(
        &mut self,
        src: SourceId,
        written: Option<&Spanned<String>>,
        expr: &str,
        what: &str,
    ) -> Option<super::model::Expr> {
        match written {
            Some(v) => self.jmespath(src, v, what),
            // Preset expressions are ours and known to compile.
            None => jmespath::compile(expr).ok(),
        }
    }

    /// A URL may take its base from the environment (`${env:NAME}` first,
    /// then `/` or nothing); any other reference in it is an error.
    pub(super) fn refuse_secret_in_url(
        &mut self,
        src: SourceId,
        url: &Spanned<String>,
        what: &str,
    ) -> bool {
        let skip = secret::url_env_base(&url.value).map_or(0, |(_, end)| end);
        let Some(at) = url.value[skip..].find("${").map(|at| at + skip) else {
            return true;
        };
        let span = self.locate(src, url).span(at, at + 2);
        self.error(
            Diagnostic::error("secret-in-url", format!("secret reference in `{what}`"))
                .label(span, "URLs end up in logs and the journal")
                .help("put credentials in `headers`, e.g. headers: {X-Rundeck-Auth-Token: \"${env:RUNDECK_TOKEN}\"}; only a URL's base may come from the environment, written first: \"${env:RUNDECK_URL}/api/45/...\""),
        );
        false
    }

    /// The environment variable of a URL's base, recorded for `serve` to check.
    pub(super) fn url_env(
        &mut self,
        src: SourceId,
        url: &Spanned<String>,
        place: &str,
    ) -> Option<String> {
        let (name, end) = secret::url_env_base(&url.value)?;
        let span = self.locate(src, url).span(0, end);
        self.secret_uses.push(secret::SecretUse {
            piece: secret::Piece::Env(name.to_owned()),
            span,
            place: place.to_owned(),
            base_url: true,
        });
        Some(name.to_owned())
    }
}
