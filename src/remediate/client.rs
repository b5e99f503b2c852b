//! Sending calls and polls over HTTP (ureq), with explicit timeouts and capped
//! response bodies.
//!
//! The client knows whether a failed call got as far as an open connection
//! (see [`MarkConnected`]): before that, nothing was sent and the call may be
//! retried; after it, the remediator may have the request, and resgate must
//! never send it again.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::time::Duration;

use ureq::http;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{ConnectionDetails, Connector, DefaultConnector, Transport};
use ureq::{Agent, AsSendBody};

use crate::rules::{RemoteState, Tracking};

use super::CallRequest;
use super::classify;

/// Responses larger than this are not read: a hostile or broken remediator
/// must not be able to exhaust resgate's memory.
pub const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// Of an error response only the start is quoted in the reason.
const ERROR_BODY_BYTES: u64 = 4 * 1024;

/// What a call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    /// 2xx. `remote_id` is what the tracking `id` JMESPath found (numbers
    /// become their decimal text); `None` for untracked remediators, or when a
    /// tracked remediator's answer had no usable ID, and then `note` says why.
    Accepted {
        remote_id: Option<String>,
        note: Option<String>,
        /// What kind of job the launch started, when the preset's status URL
        /// depends on it (AWX: `job` or `workflow_job`).
        kind: Option<String>,
    },
    /// Certainly not acted on: nothing was sent (connection refused, DNS,
    /// connect timeout), or the remediator said no (4xx; 5xx and 429 are
    /// `retryable`).
    NotAccepted { retryable: bool, reason: String },
    /// The remediator may have the request, but we do not know (no answer in
    /// time, connection lost after sending, a gateway timeout, a redirect).
    /// Never sent again: the event is polled or reconciled instead.
    Unknown { reason: String },
}

/// What a poll of the status URL came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    State {
        state: RemoteState,
        word: String,
    },
    /// A state word the remediator's `states` do not list.
    Unrecognised {
        word: String,
    },
    /// No state word: transport error, non-2xx, not JSON, no status field.
    Failed {
        reason: String,
    },
}

/// How often a call that was certainly not accepted is tried again.
pub struct RetryPolicy {
    /// Tries in all, the first included (0 is taken as 1).
    pub attempts: u32,
    /// The first wait; each following one is twice as long.
    pub initial: Duration,
    /// How to wait; tests pass a closure that only records.
    pub sleep: Box<dyn Fn(Duration) + Send + Sync>,
}

impl RetryPolicy {
    /// `attempts` tries, waiting with `std::thread::sleep`.
    pub fn sleeping(attempts: u32, initial: Duration) -> RetryPolicy {
        RetryPolicy {
            attempts,
            initial,
            sleep: Box::new(std::thread::sleep),
        }
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("attempts", &self.attempts)
            .field("initial", &self.initial)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// Set once the connector chain (TCP, proxy, TLS) produced a connection
    /// for the call running on this thread. ureq runs a call on the calling
    /// thread, so this is per call.
    static CONNECTED: Cell<bool> = const { Cell::new(false) };
}

/// The last link of the connector chain: it sees the finished connection and
/// records that from now on bytes may reach the remediator.
#[derive(Debug)]
struct MarkConnected;

impl<In: Transport> Connector<In> for MarkConnected {
    type Out = In;

    fn connect(
        &self,
        _: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<In>, ureq::Error> {
        if chained.is_some() {
            CONNECTED.with(|c| c.set(true));
        }
        Ok(chained)
    }
}

/// What every outbound HTTP client of resgate shares (calls, polls,
/// notifications): status codes are answers to classify, not errors to
/// lose; a redirect is never followed (a POST must not be re-sent, nor its
/// headers handed to another host); resgate's user agent.
pub fn outbound_config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(concat!("resgate/", env!("CARGO_PKG_VERSION")))
}

/// Sends calls and polls. Cheap to share between threads.
#[derive(Debug)]
pub struct Client {
    agent: Agent,
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Client {
    pub fn new() -> Client {
        let config = outbound_config()
            // No pooled connections: every call opens its own, so "connected"
            // is known per call, and a stale keep-alive connection can never
            // turn a fresh call into an unknown one.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build();
        let connector = DefaultConnector::new().chain(MarkConnected);
        Client {
            agent: Agent::with_parts(config, connector, DefaultResolver::default()),
        }
    }

    /// One attempt. `timeout` bounds connecting and the whole exchange,
    /// response body included.
    pub fn send(
        &self,
        req: &CallRequest,
        idempotency_key: &str,
        timeout: Duration,
        tracking: Option<&Tracking>,
    ) -> CallResult {
        let mut builder = http::Request::builder()
            .method(req.method.as_str())
            .uri(req.url.as_str());
        for (name, value) in &req.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder = builder.header("Idempotency-Key", idempotency_key);
        if !has_header(&req.headers, "accept") {
            builder = builder.header("Accept", "application/json");
        }
        let exchange = match &req.body {
            Some(body) => builder
                .body(body.as_bytes())
                .map(|r| self.exchange(r, timeout)),
            None => builder.body(()).map(|r| self.exchange(r, timeout)),
        };
        let redact = |text: String| classify::redact(text, &req.headers);
        let (result, connected) = match exchange {
            Ok(done) => done,
            Err(e) => {
                return CallResult::NotAccepted {
                    retryable: false,
                    reason: redact(format!("not sent: invalid request: {e}")),
                };
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(e) => return redact_result(classify::transport(&e, connected), &req.headers),
        };
        let code = response.status().as_u16();
        if !(200..300).contains(&code) {
            let snippet = read_prefix(response.body_mut(), ERROR_BODY_BYTES);
            return redact_result(classify::status(code, &snippet), &req.headers);
        }
        let Some(tracking) = tracking else {
            return CallResult::Accepted {
                remote_id: None,
                note: None,
                kind: None,
            };
        };
        match read_capped(response.body_mut()) {
            Ok(body) => {
                let mut result = classify::remote_id(&body, &tracking.id);
                if let (CallResult::Accepted { kind, .. }, Some(expr)) =
                    (&mut result, &tracking.kind)
                {
                    *kind = classify::remote_kind(&body, expr);
                }
                result
            }
            // Accepted all the same: the status line said so.
            Err(why) => CallResult::Accepted {
                remote_id: None,
                note: Some(redact(why)),
                kind: None,
            },
        }
    }

    /// [`send`](Self::send), tried again (same key) while the answer is
    /// certainly-not-accepted and retryable, waiting `initial`, `2 × initial`, ...
    pub fn send_with_retries(
        &self,
        req: &CallRequest,
        key: &str,
        timeout: Duration,
        tracking: Option<&Tracking>,
        policy: &RetryPolicy,
    ) -> CallResult {
        let mut result = self.send(req, key, timeout, tracking);
        let mut backoff = policy.initial;
        for _ in 1..policy.attempts.max(1) {
            if !matches!(
                result,
                CallResult::NotAccepted {
                    retryable: true,
                    ..
                }
            ) {
                break;
            }
            (policy.sleep)(backoff);
            backoff = backoff.saturating_mul(2);
            result = self.send(req, key, timeout, tracking);
        }
        result
    }

    /// One poll of `status_url`, its state word classified by `tracking.states`.
    pub fn poll(
        &self,
        status_url: &str,
        headers: &[(String, String)],
        timeout: Duration,
        tracking: &Tracking,
    ) -> PollResult {
        let redact = |text: String| classify::redact(text, headers);
        let mut builder = http::Request::builder().method("GET").uri(status_url);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if !has_header(headers, "accept") {
            builder = builder.header("Accept", "application/json");
        }
        let (result, _) = match builder.body(()) {
            Ok(request) => self.exchange(request, timeout),
            Err(e) => {
                return PollResult::Failed {
                    reason: redact(format!("invalid status request: {e}")),
                };
            }
        };
        let mut response = match result {
            Ok(response) => response,
            Err(e) => {
                return PollResult::Failed {
                    reason: redact(format!("status request failed: {e}")),
                };
            }
        };
        let code = response.status().as_u16();
        if !(200..300).contains(&code) {
            let snippet = read_prefix(response.body_mut(), ERROR_BODY_BYTES);
            return PollResult::Failed {
                reason: redact(format!(
                    "status URL answered {}",
                    classify::describe_status(code, &snippet)
                )),
            };
        }
        match read_capped(response.body_mut()) {
            Ok(body) => match classify::poll_body(&body, &tracking.status, &tracking.states) {
                PollResult::Failed { reason } => PollResult::Failed {
                    reason: redact(reason),
                },
                other => other,
            },
            Err(why) => PollResult::Failed {
                reason: redact(why),
            },
        }
    }

    /// Runs one request with the timeouts set; also says whether a connection
    /// was made, which decides whether a failure may be retried.
    fn exchange<S: AsSendBody>(
        &self,
        request: http::Request<S>,
        timeout: Duration,
    ) -> (Result<http::Response<ureq::Body>, ureq::Error>, bool) {
        let request = self
            .agent
            .configure_request(request)
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            .build();
        CONNECTED.with(|c| c.set(false));
        let result = self.agent.run(request);
        let connected = CONNECTED.with(|c| c.replace(false));
        (result, connected)
    }
}

/// Reasons may quote what a library or the remediator said about the request.
fn redact_result(result: CallResult, headers: &[(String, String)]) -> CallResult {
    match result {
        CallResult::NotAccepted { retryable, reason } => CallResult::NotAccepted {
            retryable,
            reason: classify::redact(reason, headers),
        },
        CallResult::Unknown { reason } => CallResult::Unknown {
            reason: classify::redact(reason, headers),
        },
        CallResult::Accepted {
            remote_id,
            note,
            kind,
        } => CallResult::Accepted {
            remote_id,
            note: note.map(|n| classify::redact(n, headers)),
            kind,
        },
    }
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// The whole body, or why not (too large, unreadable, cut off by the timeout).
fn read_capped(body: &mut ureq::Body) -> Result<Vec<u8>, String> {
    read_at_most(body, MAX_RESPONSE_BYTES)
}

/// The whole body if it holds at most `limit` bytes, or why not: what a
/// remote system answers is read into memory only up to a bound.
pub fn read_at_most(body: &mut ureq::Body, limit: u64) -> Result<Vec<u8>, String> {
    body.with_config()
        .limit(limit)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => {
                format!("response is larger than {limit} bytes; not read")
            }
            e => format!("cannot read the response: {e}"),
        })
}

/// The start of an error body, for the reason; whatever could be read.
fn read_prefix(body: &mut ureq::Body, max: u64) -> String {
    let mut buf = Vec::new();
    let _ = body.as_reader().take(max).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
