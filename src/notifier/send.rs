//! Delivering one rendered request, and sorting the answer into sent, try
//! again (and when), or give up.
//!
//! Retries and their timing belong to the caller (the outbox's sender);
//! this only says what one attempt came to. Reasons never hold the URL or a
//! header value: a Slack webhook URL is a secret.

use std::io::Read;
use std::time::Duration;

use jiff::Timestamp;
use ureq::Agent;
use ureq::http;

use super::render::Request;

/// A receiver's answer is read up to this much (Grafana's is ~50 bytes).
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// A `Retry-After` longer than this is taken as this: a receiver must not
/// be able to park a notifier for a day with one header.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// 2xx, with the start of the answer (Grafana's holds the annotation ID).
    Sent { status: u16, answer: Vec<u8> },
    /// Not delivered, may work later: no connection, a timeout, 5xx, 429,
    /// 408. `after`: the receiver's `Retry-After`, capped.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The receiver said no (4xx): sending it again would change nothing.
    Refused { reason: String },
}

/// Sends notifications; cheap to share between threads.
#[derive(Debug, Clone)]
pub struct Sender {
    agent: Agent,
}

impl Default for Sender {
    fn default() -> Self {
        Self::new()
    }
}

impl Sender {
    pub fn new() -> Sender {
        let config = crate::remediate::outbound_config().build();
        Sender {
            agent: Agent::new_with_config(config),
        }
    }

    /// One attempt. `key` goes out as `Idempotency-Key`: a receiver that
    /// dedupes sees a resend after a crash as the same message.
    pub fn deliver(
        &self,
        req: &Request,
        headers: &[(String, String)],
        key: &str,
        timeout: Duration,
        now: Timestamp,
    ) -> Delivery {
        let secrets: Vec<&str> = std::iter::once(req.url.as_str())
            .chain(headers.iter().map(|(_, v)| v.as_str()))
            .collect();
        let redact = |text: String| redact(text, &secrets);
        let body = match serde_json::to_vec(&req.body) {
            Ok(b) => b,
            Err(e) => {
                return Delivery::Refused {
                    reason: format!("cannot encode the message: {e}"),
                };
            }
        };
        let mut builder = http::Request::builder()
            .method(req.method)
            .uri(req.url.as_str())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("Idempotency-Key", key);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = match builder.body(body) {
            Ok(r) => r,
            Err(e) => {
                return Delivery::Refused {
                    reason: redact(format!("invalid request: {e}")),
                };
            }
        };
        let request = self
            .agent
            .configure_request(request)
            .timeout_connect(Some(timeout))
            .timeout_global(Some(timeout))
            .build();
        let mut response = match self.agent.run(request) {
            Ok(r) => r,
            Err(e) => {
                return Delivery::Retry {
                    reason: redact(format!("not delivered: {e}")),
                    after: None,
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, now));
        let mut answer = Vec::new();
        let read = response
            .body_mut()
            .as_reader()
            .take(MAX_ANSWER_BYTES)
            .read_to_end(&mut answer);
        let quoted = || {
            let text = String::from_utf8_lossy(&answer);
            let text: String = text.chars().take(200).collect();
            redact(text.split_whitespace().collect::<Vec<_>>().join(" "))
        };
        match status {
            200..=299 => match read {
                Ok(_) => Delivery::Sent { status, answer },
                // Accepted: the status line said so; the answer is a nicety.
                Err(_) => Delivery::Sent {
                    status,
                    answer: Vec::new(),
                },
            },
            408 | 429 | 500..=599 => Delivery::Retry {
                reason: format!("receiver answered {status}: {}", quoted()),
                after: retry_after,
            },
            _ => Delivery::Refused {
                reason: format!("receiver answered {status}: {}", quoted()),
            },
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), capped
/// at [`MAX_RETRY_AFTER`]; a date in the past means now.
pub fn retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
        let ms = at.as_millisecond().saturating_sub(now.as_millisecond());
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The annotation ID in Grafana's answer to `POST /api/annotations`
/// (`{"message":"Annotation added","id":1}`); `None` for anything else.
pub fn grafana_annotation_id(answer: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(answer).ok()?;
    v.get("id")?.as_u64()
}

fn redact(text: String, secrets: &[&str]) -> String {
    let mut text = text;
    for s in secrets {
        if s.len() >= 4 && text.contains(s) {
            text = text.replace(s, "<redacted>");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_capped() {
        let now: Timestamp = "2026-12-07T12:00:00Z"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after("Mon, 07 Dec 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-3", now), None);
    }

    #[test]
    fn grafana_ids_come_only_from_a_well_formed_answer() {
        assert_eq!(
            grafana_annotation_id(br#"{"message":"Annotation added","id":1}"#),
            Some(1)
        );
        assert_eq!(grafana_annotation_id(b"<html>"), None);
        assert_eq!(grafana_annotation_id(br#"{"id":-1}"#), None);
    }
}
