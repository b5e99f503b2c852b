//! The remediator client: renders the HTTP call a decision asks for, sends it,
//! and polls the remediator until the work ends.
//!
//! This is where resgate touches the network on behalf of a decision; the
//! engine only says `fire` or `escalate`. Rendering ([`render_call`],
//! [`render_escalation`], [`render_status_url`]) is pure and separate from
//! sending ([`Client`]) so the offline commands and tests can look at a call
//! without making it.
//!
//! What it deliberately does not do: decide whether to call (the engine),
//! remember what was called (the journal in `serve`), or retry after a
//! remediator may have accepted the work: an answer that is not certain is
//! [`CallResult::Unknown`] and is never sent again (DESIGN.md §3).

mod classify;
mod client;
mod render;

pub use client::{
    CallResult, Client, MAX_RESPONSE_BYTES, PollResult, RetryPolicy, outbound_config, read_at_most,
};
/// How long an event whose call may or may not have reached an untracked
/// remediator (a plain webhook) keeps its target blocked: with nothing to
/// poll, wait as long as a tracked job would be given by default.
pub const UNTRACKED_HOLD: std::time::Duration = std::time::Duration::from_secs(30 * 60);

pub use render::{
    CallRequest, render_call, render_escalation, render_status_url, render_status_url_for,
    resolve_headers,
};

/// Where `${env:...}` and `${file:...}` secrets come from. A trait so tests
/// (and anything embedding resgate) need not touch the process environment.
pub trait SecretSource {
    fn env(&self, name: &str) -> Option<String>;
    fn read_file(&self, path: &str) -> std::io::Result<String>;
}

/// Secrets from the process: environment variables and files on disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessSecrets;

impl SecretSource for ProcessSecrets {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        std::fs::read_to_string(path)
    }
}
