//! Reading a remediator's answers: HTTP statuses and transport errors sorted
//! into "accepted", "certainly not accepted" and "unknown", event IDs and state
//! words pulled out of JSON.
//!
//! Everything here takes untrusted input and returns plain data; nothing panics
//! and nothing echoes a secret. The one rule that matters: a call is
//! [`CallResult::NotAccepted`] only when the remediator certainly did not act
//! on it, because that is the only case resgate may send again.

use ureq::http::StatusCode;

use crate::rules::{Expr, States};

use super::client::{CallResult, PollResult};

/// Longer IDs and state words are refused: they go into URLs, logs and the
/// journal, and no real remediator needs more.
pub const MAX_WORD_BYTES: usize = 256;

/// How much of an error response is quoted in the reason.
const SNIPPET_CHARS: usize = 200;

/// A non-2xx answer to a call.
pub fn status(code: u16, snippet: &str) -> CallResult {
    let reason = describe_status(code, snippet);
    match code {
        // The server says it did not process the request, and later it may.
        408 | 425 | 429 => CallResult::NotAccepted {
            retryable: true,
            reason,
        },
        // A gateway timed out waiting for the remediator, which may have
        // received the request and be running it right now: firing again is
        // exactly the robo-hammer.
        504 => CallResult::Unknown { reason },
        500..=599 => CallResult::NotAccepted {
            retryable: true,
            reason,
        },
        400..=499 => CallResult::NotAccepted {
            retryable: false,
            reason,
        },
        // Redirects are not followed (a POST must not turn into a GET, nor be
        // sent twice), and a 303 after a POST may mean the work was created.
        _ => CallResult::Unknown {
            reason: format!("{reason} (redirects are not followed; the remediator may have acted)"),
        },
    }
}

/// `HTTP 503 Service Unavailable: <start of the body>`.
pub fn describe_status(code: u16, snippet: &str) -> String {
    let name = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut text = format!("HTTP {code}");
    if !name.is_empty() {
        text.push(' ');
        text.push_str(name);
    }
    let snippet = clean_snippet(snippet);
    if !snippet.is_empty() {
        text.push_str(": ");
        text.push_str(&snippet);
    }
    text
}

/// One line, bounded, without control characters: it goes into a log line.
fn clean_snippet(body: &str) -> String {
    let mut out = String::new();
    let mut last_space = true;
    for c in body.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
        if out.chars().count() >= SNIPPET_CHARS {
            out.push('…');
            break;
        }
    }
    out.trim_end().to_owned()
}

/// A transport error. `connected`: the connection (TCP, proxy, TLS) was up, so
/// the request may have been written; before that, nothing was sent.
pub fn transport(error: &ureq::Error, connected: bool) -> CallResult {
    let reason = error.to_string();
    if connected {
        let reason = match error {
            ureq::Error::Timeout(_) => {
                format!("no answer in time after the request was sent ({reason})")
            }
            _ => format!("the connection failed after the request was sent ({reason})"),
        };
        return CallResult::Unknown { reason };
    }
    let retryable = match error {
        // Our own configuration: sending again changes nothing.
        ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::Tls(_)
        | ureq::Error::Pem(_)
        | ureq::Error::Rustls(_) => false,
        _ => true,
    };
    CallResult::NotAccepted {
        retryable,
        reason: format!("not sent: {reason}"),
    }
}

/// The event ID in a 2xx answer of a tracked remediator.
pub fn remote_id(body: &[u8], id: &Expr) -> CallResult {
    let accepted = |remote_id: Option<String>, note: Option<String>| CallResult::Accepted {
        remote_id,
        note,
        kind: None,
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return accepted(None, Some("response is not JSON".to_owned()));
    };
    match word_at(&json, id) {
        Ok(id) => accepted(Some(id), None),
        Err(why) => accepted(None, Some(why.replace("{what}", "id"))),
    }
}

/// The kind of job a launch answer names at the JMESPath `expr` (AWX's
/// `type`), when it is a plain word; anything else is no kind.
pub fn remote_kind(body: &[u8], expr: &Expr) -> Option<String> {
    let json = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let found = expr.search(&json).ok()?;
    let word = found.as_string()?;
    (!word.is_empty() && word.len() <= MAX_WORD_BYTES && !word.chars().any(char::is_control))
        .then(|| word.clone())
}

/// The state word in a status response.
pub fn poll_body(body: &[u8], status: &Expr, states: &States) -> PollResult {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return PollResult::Failed {
            reason: "status response is not JSON".to_owned(),
        };
    };
    match word_at(&json, status) {
        Ok(word) => match states.classify(&word) {
            Some(state) => PollResult::State { state, word },
            None => PollResult::Unrecognised { word },
        },
        Err(why) => PollResult::Failed {
            reason: why.replace("{what}", "status"),
        },
    }
}

/// A string or number at `expr`, as text. The error names the expression;
/// `{what}` in it is replaced by the caller.
fn word_at(json: &serde_json::Value, expr: &Expr) -> Result<String, String> {
    use jmespath::Variable;
    let at = expr.as_str();
    let found = expr
        .search(json)
        .map_err(|_| format!("cannot evaluate `{at}` on the response"))?;
    let word = match &*found {
        Variable::String(s) => s.clone(),
        // Rundeck's and AWX's IDs are numbers; they become their decimal text.
        Variable::Number(n) => n.to_string(),
        Variable::Null => return Err(format!("no {{what}} at `{at}`")),
        Variable::Bool(_) => return Err(format!("the {{what}} at `{at}` is a boolean")),
        Variable::Array(_) => return Err(format!("the {{what}} at `{at}` is an array")),
        Variable::Object(_) => return Err(format!("the {{what}} at `{at}` is an object")),
        Variable::Expref(_) => return Err(format!("the {{what}} at `{at}` is an expression")),
    };
    if word.is_empty() {
        return Err(format!("the {{what}} at `{at}` is empty"));
    }
    if word.len() > MAX_WORD_BYTES {
        return Err(format!(
            "the {{what}} at `{at}` is longer than {MAX_WORD_BYTES} bytes"
        ));
    }
    if word.chars().any(char::is_control) {
        return Err(format!("the {{what}} at `{at}` has control characters"));
    }
    Ok(word)
}

/// Replaces every header value in `text`: error texts of libraries and
/// remediators may echo what we sent them, and they end up in logs.
pub fn redact(text: String, headers: &[(String, String)]) -> String {
    let mut text = text;
    for (_, value) in headers {
        // Very short values are not credentials, and replacing them would
        // garble the message (every "1" in it).
        if value.len() >= 4 && text.contains(value.as_str()) {
            text = text.replace(value.as_str(), "<redacted>");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RemoteState;

    fn expr(text: &str) -> Expr {
        jmespath::compile(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn rundeck_states() -> States {
        crate::rules::preset::Preset::Rundeck.states()
    }

    #[test]
    fn statuses_are_sorted_by_what_the_remediator_did() {
        let retryable = |r: &CallResult| {
            matches!(
                r,
                CallResult::NotAccepted {
                    retryable: true,
                    ..
                }
            )
        };
        let final_no = |r: &CallResult| {
            matches!(
                r,
                CallResult::NotAccepted {
                    retryable: false,
                    ..
                }
            )
        };
        let unknown = |r: &CallResult| matches!(r, CallResult::Unknown { .. });
        assert!(retryable(&status(503, "")));
        assert!(retryable(&status(500, "")));
        assert!(retryable(&status(429, "")));
        assert!(final_no(&status(400, "")));
        assert!(final_no(&status(404, "")));
        assert!(final_no(&status(409, "already running")));
        assert!(unknown(&status(504, "")));
        assert!(unknown(&status(303, "")));
    }

    #[test]
    fn reasons_quote_a_bounded_single_line_of_the_body() {
        let long = format!("line one\nline\ttwo {}", "x".repeat(1000));
        let text = describe_status(500, &long);
        assert!(text.starts_with("HTTP 500 Internal Server Error: line one line two x"));
        assert!(!text.contains('\n'));
        assert!(text.chars().count() < 250);
        assert_eq!(describe_status(599, ""), "HTTP 599");
    }

    #[test]
    fn errors_before_the_connection_are_not_accepted() {
        let refused = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(
            transport(&refused, false),
            CallResult::NotAccepted {
                retryable: true,
                ..
            }
        ));
        let timeout = ureq::Error::Timeout(ureq::Timeout::Connect);
        assert!(matches!(
            transport(&timeout, false),
            CallResult::NotAccepted {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            transport(&ureq::Error::HostNotFound, false),
            CallResult::NotAccepted {
                retryable: true,
                ..
            }
        ));
        assert!(matches!(
            transport(&ureq::Error::BadUri("x".to_owned()), false),
            CallResult::NotAccepted {
                retryable: false,
                ..
            }
        ));
    }

    #[test]
    fn errors_after_the_connection_are_unknown() {
        let reset = ureq::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(
            transport(&reset, true),
            CallResult::Unknown { .. }
        ));
        let timeout = ureq::Error::Timeout(ureq::Timeout::Global);
        assert!(matches!(
            transport(&timeout, true),
            CallResult::Unknown { .. }
        ));
    }

    #[test]
    fn ids_are_strings_or_numbers() {
        let id = expr("id");
        let got = |body: &str| match remote_id(body.as_bytes(), &id) {
            CallResult::Accepted {
                remote_id, note, ..
            } => (remote_id, note),
            other => panic!("{other:?}"),
        };
        assert_eq!(got(r#"{"id": 42}"#), (Some("42".to_owned()), None));
        assert_eq!(got(r#"{"id": "ex-7"}"#), (Some("ex-7".to_owned()), None));
        assert_eq!(
            got("<html>"),
            (None, Some("response is not JSON".to_owned()))
        );
        assert_eq!(got("{}"), (None, Some("no id at `id`".to_owned())));
        assert_eq!(
            got(r#"{"id": {"a": 1}}"#),
            (None, Some("the id at `id` is an object".to_owned()))
        );
        assert_eq!(
            got(r#"{"id": ""}"#),
            (None, Some("the id at `id` is empty".to_owned()))
        );
        let long = format!(r#"{{"id": "{}"}}"#, "x".repeat(MAX_WORD_BYTES + 1));
        assert!(got(&long).1.is_some_and(|n| n.contains("longer than")));
        assert!(
            got(r#"{"id": "a\nb"}"#)
                .1
                .is_some_and(|n| n.contains("control"))
        );
    }

    #[test]
    fn deeply_nested_answers_do_not_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            remote_id(deep.as_bytes(), &expr("id")),
            CallResult::Accepted {
                remote_id: None,
                ..
            }
        ));
    }

    #[test]
    fn state_words_are_classified() {
        let status = expr("status");
        let states = rundeck_states();
        assert_eq!(
            poll_body(br#"{"status": "succeeded"}"#, &status, &states),
            PollResult::State {
                state: RemoteState::Succeeded,
                word: "succeeded".to_owned()
            }
        );
        assert_eq!(
            poll_body(br#"{"status": "RUNNING"}"#, &status, &states),
            PollResult::State {
                state: RemoteState::Running,
                word: "RUNNING".to_owned()
            }
        );
        assert_eq!(
            poll_body(br#"{"status": "exploded"}"#, &status, &states),
            PollResult::Unrecognised {
                word: "exploded".to_owned()
            }
        );
        assert!(matches!(
            poll_body(b"{}", &status, &states),
            PollResult::Failed { reason } if reason == "no status at `status`"
        ));
        assert!(matches!(
            poll_body(b"garbage", &status, &states),
            PollResult::Failed { .. }
        ));
    }

    #[test]
    fn redact_replaces_header_values() {
        let headers = vec![
            ("X-Token".to_owned(), "tok-123456".to_owned()),
            ("X-Short".to_owned(), "1".to_owned()),
        ];
        assert_eq!(
            redact("bad token tok-123456 (1 try)".to_owned(), &headers),
            "bad token <redacted> (1 try)"
        );
    }
}
