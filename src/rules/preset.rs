//! Remediator presets: the response shapes and state words of the job runners
//! SREs already have, so a rules file only names the host and the job.
//!
//! State words come from each product's API documentation:
//! - Rundeck `GET /api/N/execution/ID` → `status`: running, scheduled, queued,
//!   succeeded, failed, aborted, timedout, failed-with-retry, missed, other
//!   (API docs "Execution Info"; `missed` and `queued` are in Rundeck's
//!   ExecutionService: a scheduled run that never started, a queued one).
//! - StackStorm `GET /api/v1/executions/ID` → `status`: requested, scheduled,
//!   delayed, running, pending, pausing, paused, resuming, canceling, succeeded,
//!   failed, timeout, abandoned, canceled.
//! - AWX / Ansible Tower `GET /api/v2/jobs/ID/` (and `/api/v2/workflow_jobs/ID/`
//!   for workflow job templates) → `status`: new, pending, waiting, running,
//!   successful, failed, error, canceled (awx/main/models/unified_jobs.py).

use super::model::States;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Rundeck,
    StackStorm,
    Awx,
    /// A plain webhook: nothing to poll, a 2xx answer is success.
    Webhook,
}

pub const NAMES: &[&str] = &["rundeck", "stackstorm", "awx", "webhook"];

impl Preset {
    pub fn parse(name: &str) -> Option<Preset> {
        match name {
            "rundeck" => Some(Preset::Rundeck),
            "stackstorm" => Some(Preset::StackStorm),
            "awx" => Some(Preset::Awx),
            "webhook" => Some(Preset::Webhook),
            _ => None,
        }
    }

    /// A job runner answers a launch with "queued" and reports the outcome
    /// later: without polling, a 2xx would count a job that then fails as a
    /// success. `None` for a plain webhook, whose 2xx is the outcome.
    pub fn status_url_shape(self) -> Option<&'static str> {
        match self {
            Preset::Rundeck => Some("https://rundeck.example/api/45/execution/{{ id }}"),
            Preset::StackStorm => Some("https://st2.example/api/v1/executions/{{ id }}"),
            Preset::Awx => Some("https://awx.example/api/v2/jobs/{{ id }}/"),
            Preset::Webhook => None,
        }
    }

    /// The header(s) the product authenticates API calls with (any one will
    /// do), and an example of it.
    pub fn auth_headers(self) -> Option<(&'static [&'static str], &'static str)> {
        match self {
            Preset::Rundeck => Some((
                &["X-Rundeck-Auth-Token"],
                "X-Rundeck-Auth-Token: \"${env:RUNDECK_TOKEN}\"",
            )),
            Preset::StackStorm => Some((
                &["St2-Api-Key", "X-Auth-Token"],
                "St2-Api-Key: \"${env:ST2_API_KEY}\"",
            )),
            Preset::Awx => Some((
                &["Authorization"],
                "Authorization: \"Bearer ${env:AWX_TOKEN}\"",
            )),
            Preset::Webhook => None,
        }
    }

    /// JMESPath of the event ID in the POST response.
    pub fn id(self) -> Option<&'static str> {
        match self {
            Preset::Rundeck | Preset::StackStorm => Some("id"),
            // AWX's launch answers with both `job` and `id`; `job` is documented.
            // A workflow job template's launch answers `workflow_job` instead.
            Preset::Awx => Some("job || workflow_job"),
            Preset::Webhook => None,
        }
    }

    /// JMESPath of what kind of job the launch started, when the status URL
    /// depends on it (AWX: `job` or `workflow_job`).
    pub fn kind(self) -> Option<&'static str> {
        match self {
            Preset::Awx => Some("type"),
            _ => None,
        }
    }

    /// The status URL for a job of `kind`: AWX serves a workflow job's status
    /// at `/api/v2/workflow_jobs/ID/`, not at the `/api/v2/jobs/ID/` written
    /// for job templates (polling that would 404 until `poll.timeout`).
    /// Ansible Automation Platform 2.5 serves the same API at
    /// `/api/controller/v2/`, so the `v2/jobs/` segment is what is rewritten.
    pub fn status_url_for(self, url: String, kind: Option<&str>) -> String {
        match (self, kind) {
            (Preset::Awx, Some("workflow_job")) if url.contains("/v2/jobs/") => {
                url.replacen("/v2/jobs/", "/v2/workflow_jobs/", 1)
            }
            _ => url,
        }
    }

    /// JMESPath of the state word in the status response.
    pub fn status(self) -> Option<&'static str> {
        match self {
            Preset::Rundeck | Preset::StackStorm | Preset::Awx => Some("status"),
            Preset::Webhook => None,
        }
    }

    pub fn states(self) -> States {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect();
        match self {
            Preset::Rundeck => States {
                running: words(&["running", "scheduled", "queued"]),
                succeeded: words(&["succeeded"]),
                failed: words(&[
                    "failed",
                    "aborted",
                    "timedout",
                    "failed-with-retry",
                    // A scheduled run that never started: it will not run.
                    "missed",
                    "other",
                ]),
            },
            Preset::StackStorm => States {
                running: words(&[
                    "requested",
                    "scheduled",
                    "delayed",
                    "running",
                    "pending",
                    "pausing",
                    "paused",
                    "resuming",
                    "canceling",
                ]),
                succeeded: words(&["succeeded"]),
                failed: words(&["failed", "timeout", "abandoned", "canceled"]),
            },
            Preset::Awx => States {
                running: words(&["new", "pending", "waiting", "running"]),
                succeeded: words(&["successful"]),
                failed: words(&["failed", "error", "canceled"]),
            },
            Preset::Webhook => States::default(),
        }
    }
}
