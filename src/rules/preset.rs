//! Remediator presets: the response shapes and state words of the job runners
//! SREs already have, so a rules file only names the host and the job.
//!
//! State words come from each product's API documentation:
//! - Rundeck `GET /api/N/execution/ID` → `status`: running, scheduled, succeeded,
//!   failed, aborted, timedout, failed-with-retry, other.
//! - StackStorm `GET /api/v1/executions/ID` → `status`: requested, scheduled,
//!   delayed, running, pending, pausing, paused, resuming, canceling, succeeded,
//!   failed, timeout, abandoned, canceled.
//! - AWX / Ansible Tower `GET /api/v2/jobs/ID/` → `status`: new, pending, waiting,
//!   running, successful, failed, error, canceled.

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

    /// JMESPath of the event ID in the POST response.
    pub fn id(self) -> Option<&'static str> {
        match self {
            Preset::Rundeck | Preset::StackStorm => Some("id"),
            // AWX's launch answers with both `job` and `id`; `job` is documented.
            Preset::Awx => Some("job"),
            Preset::Webhook => None,
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
