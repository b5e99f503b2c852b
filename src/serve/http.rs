//! HTTP in: routes, limits, and the answers of DESIGN.md §5.
//!
//! Limits live in `httpd` (socket timeouts, head size, connection cap); here:
//! bodies over `max_body` are refused from their Content-Length before a byte
//! is read, and bearer and basic credentials are checked before the body is
//! read at all.

use std::time::Duration;

use super::httpd::{Incoming, Reply};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::decider::{ApprovalRefused, Msg};
use super::hosts::{self, AllowedHosts, HostCheck};
use super::httpd::BodyError;
use super::metrics::Metrics;
use super::{Shared, auth, status};
use crate::engine::ApproveError;
use crate::engine::Pause;
use crate::journal;
use crate::journal::{history, story};
use crate::rules::SourceAuth;
use crate::scenario::Entry;
use crate::source::map_payload;
use crate::timeline::{self, Timeline};

/// A finished answer: status and JSON (or text) body.
struct Answer {
    status: u16,
    body: String,
    content_type: &'static str,
    extra: Vec<(&'static str, String)>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            body: body.to_string(),
            content_type: "application/json",
            extra: Vec::new(),
        }
    }

    fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({"status": "error", "error": message.into()}))
    }

    fn text(status: u16, body: String, content_type: &'static str) -> Answer {
        Answer {
            status,
            body,
            content_type,
            extra: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.extra.push((name, value.into()));
        self
    }
}

/// Answers one request (called on its connection's thread).
pub fn handle(request: &mut Incoming, shared: &Shared, hosts: &AllowedHosts) -> Reply {
    let answer = match refuse_foreign_host(request, hosts, &shared.metrics) {
        Some(refusal) => refusal,
        None => route(request, shared, hosts),
    };
    Reply {
        status: answer.status,
        content_type: answer.content_type,
        body: answer.body,
        headers: answer.extra,
    }
}

/// DNS rebinding (DESIGN.md §5): a request for a host this daemon does not
/// answer for is refused on every route, reads included (the journal holds
/// webhook bodies). No `Host` at all is an HTTP/1.0 client, never a browser.
/// Each refusal is counted, so that a page probing the daemon shows.
fn refuse_foreign_host(
    request: &Incoming,
    hosts: &AllowedHosts,
    metrics: &Metrics,
) -> Option<Answer> {
    let host = request.authority.as_deref().or(request.header("host"))?;
    match hosts.host(host) {
        HostCheck::Allowed => None,
        HostCheck::Malformed => {
            metrics.request_refused("malformed_host");
            Some(Answer::error(400, "malformed Host header"))
        }
        HostCheck::Foreign => {
            metrics.request_refused("foreign_host");
            Some(Answer::error(
                403,
                format!(
                    "this daemon does not answer for the host {host:?}; if it is a name of this \
                 server, start resgate serve with --allowed-host NAME"
                ),
            ))
        }
    }
}

/// Every write (webhooks, the operator API) is JSON from a program, never a
/// form or a cross-site page: a foreign `Origin` is refused 403, a body that
/// is not `Content-Type: application/json` (or that is compressed) 415.
fn refuse_foreign_write(
    request: &Incoming,
    hosts: &AllowedHosts,
    metrics: &Metrics,
) -> Option<Answer> {
    if let Some(origin) = request.header("origin")
        && !hosts.origin(origin)
    {
        metrics.request_refused("foreign_origin");
        return Some(Answer::error(
            403,
            format!(
                "cross-site write refused: the Origin {origin:?} is not this daemon; writes \
                 come from programs (Alertmanager, resgate pause), not from web pages"
            ),
        ));
    }
    if let Some(encoding) = request.header("content-encoding")
        && !encoding.trim().eq_ignore_ascii_case("identity")
    {
        return Some(Answer::error(
            415,
            format!("Content-Encoding {encoding:?} is not accepted; send the body uncompressed"),
        ));
    }
    if !hosts::is_json(request.header("content-type")) {
        return Some(Answer::error(
            415,
            "writes need Content-Type: application/json",
        ));
    }
    None
}

fn route(request: &mut Incoming, shared: &Shared, hosts: &AllowedHosts) -> Answer {
    let path = request.path.clone();
    let query = request.query.clone();
    // HEAD works wherever GET does (RFC 9110 §9.3.2): the edge drops the body.
    let method = match request.method.as_str() {
        "HEAD" => "GET".to_owned(),
        m => m.to_owned(),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let write = matches!(
        (method.as_str(), segments.as_slice()),
        ("POST", ["webhook", _])
            | ("POST" | "DELETE", ["api", "v1", "pauses"])
            | ("POST", ["api", "v1", "events", _, "approve"])
    );
    if write && let Some(refusal) = refuse_foreign_write(request, hosts, &shared.metrics) {
        if let ("POST", ["webhook", _]) = (method.as_str(), segments.as_slice()) {
            shared.metrics.ingest("", refusal.status, 0);
        }
        return refusal;
    }
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["webhook", source]) => ingest(request, shared, source),
        ("POST" | "DELETE", ["api", "v1", "pauses"]) => {
            if let Some(refusal) = api_auth(request, shared) {
                return refusal;
            }
            let body = match json_body(request) {
                Ok(b) => b,
                Err(refused) => return refused,
            };
            if method == "POST" {
                pause(&body, shared)
            } else {
                unpause(&body, shared, &query)
            }
        }
        ("POST", ["api", "v1", "events", id, "approve"]) => {
            if let Some(refusal) = api_auth(request, shared) {
                return refusal;
            }
            approve(shared, &decode(id))
        }
        _ => route_url(shared, &method, &path, &segments, &query),
    }
}

/// `POST /api/v1/events/{id}/approve`: lets a `mode: approve` fire call out.
fn approve(shared: &Shared, event: &str) -> Answer {
    let (reply, answer) = std::sync::mpsc::sync_channel(1);
    let msg = Msg::Approve {
        event: event.to_owned(),
        reply,
    };
    if let Some(refusal) = to_decider(shared, msg) {
        return refusal;
    }
    match answer.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => Answer::json(200, json!({"status": "success", "event": event})),
        Ok(Err(ApprovalRefused::Engine(e @ ApproveError::NoSuchEvent(_)))) => {
            Answer::error(404, e.to_string())
        }
        Ok(Err(ApprovalRefused::Engine(e))) => Answer::error(409, e.to_string()),
        Ok(Err(ApprovalRefused::Journal(e))) => Answer::error(503, e),
        Err(_) => queued(),
    }
}

fn route_url(shared: &Shared, method: &str, path: &str, segments: &[&str], query: &str) -> Answer {
    let allowed: &[&str] = match segments {
        ["webhook", _] => &["POST"],
        [""] if method == "GET" => return status_page(shared, query),
        ["healthz"] if method == "GET" => {
            return Answer::json(200, json!({"status": "ok"}));
        }
        ["readyz"] if method == "GET" => {
            let ready =
                shared.ready.load(std::sync::atomic::Ordering::SeqCst) && !shared.shutdown.is_set();
            let stalled = shared.decider_stalled_for();
            return if !ready {
                Answer::error(503, "not ready")
            } else if let Some(e) = shared_journal_unreachable(shared) {
                Answer::error(503, format!("the shared journal is unreachable: {e}"))
            } else if shared.leadership.is_leader() && stalled > 10 {
                Answer::error(
                    503,
                    format!(
                        "the decision thread has not moved for {stalled} s (journal unavailable?)"
                    ),
                )
            } else {
                let leadership = &shared.leadership;
                // A stale fact source is named, not failed: decisions reading
                // it defer, but ingest must stay up (DESIGN.md §8).
                let stale: Vec<serde_json::Value> = shared
                    .metrics
                    .facts
                    .stale(jiff::Timestamp::now())
                    .into_iter()
                    .map(|(relation, at)| {
                        json!({"relation": relation,
                               "last_good_refresh": at.map(|t| t.to_string())})
                    })
                    .collect();
                Answer::json(
                    200,
                    json!({"status": "ready", "role": leadership.role(),
                           "lease_age_seconds": leadership.lease_age(),
                           "stale_fact_sources": stale}),
                )
            };
        }
        ["metrics"] if method == "GET" => {
            let mut text = shared.metrics.render();
            text.push_str(&liveness(shared));
            text.push_str(&shared.limits.render(shared.metrics.journal_used()));
            return Answer::text(200, text, "text/plain; version=0.0.4; charset=utf-8");
        }
        ["api", "v1", "events"] if method == "GET" => {
            let limit = param(query, "limit")
                .and_then(|l| l.parse().ok())
                .unwrap_or(100u32)
                .min(10_000);
            return read(shared, |conn| {
                Ok(json!({"events": journal::list_events(conn, limit)?}))
            });
        }
        ["api", "v1", "events", id] if method == "GET" => {
            let id = decode(id);
            return match shared
                .readers
                .get()
                .and_then(|conn| journal::event_detail(&conn, &id))
            {
                Ok(Some(event)) => Answer::json(200, event),
                Ok(None) => Answer::error(404, format!("no event {id}")),
                Err(e) => Answer::error(503, e.to_string()),
            };
        }
        ["api", "v1", "events", id, "explain"] if method == "GET" => {
            let id = decode(id);
            let story = shared.readers.get().and_then(|conn| {
                if story::is_event(&conn, &id)? {
                    story::story(&conn, &id)
                } else {
                    Ok(None)
                }
            });
            return match story {
                Ok(Some(story)) => match serde_json::to_value(&story) {
                    Ok(v) => Answer::json(200, v),
                    Err(e) => Answer::error(503, format!("cannot encode the story: {e}")),
                },
                Ok(None) => Answer::error(404, format!("no event {id}")),
                Err(e) => Answer::error(503, e.to_string()),
            };
        }
        ["api", "v1", "decisions"] if method == "GET" => {
            return decisions(shared, query);
        }
        ["events", id] if method == "GET" => return event_page(shared, &decode(id)),
        ["api", "v1", "pauses"] if method == "GET" => {
            return read(shared, |conn| {
                Ok(json!({"pauses": journal::list_pauses(conn, Timestamp::now())?}))
            });
        }
        ["api", "v1", "pauses"] => &["GET", "HEAD", "POST", "DELETE"],
        ["api", "v1", "events", _, "approve"] => &["POST"],
        ["" | "healthz" | "readyz" | "metrics"]
        | ["api", "v1", "events"]
        | ["api", "v1", "events", _]
        | ["api", "v1", "events", _, "explain"]
        | ["events", _]
        | ["api", "v1", "decisions"] => &["GET", "HEAD"],
        _ => return Answer::error(404, format!("no route {path}")),
    };
    Answer::error(405, format!("{method} is not allowed on {path}"))
        .with("Allow", allowed.join(", "))
}

/// With a shared journal, an instance that cannot reach it can take no
/// webhook (each would get 503): not ready, so a load balancer sends them to
/// another. A SQLite file is always there; its faults show in the writes.
fn shared_journal_unreachable(shared: &Shared) -> Option<journal::JournalError> {
    if !shared.leadership.shared {
        return None;
    }
    shared
        .readers
        .get()
        .and_then(|db| db.query_one("SELECT 1", &[], |r| r.int(0)))
        .err()
}

/// What an alert on resgate itself needs: is the decision thread moving, and
/// is anything acknowledged waiting to be decided (and for how long)?
fn liveness(shared: &Shared) -> String {
    let leadership = &shared.leadership;
    let mut out = String::new();
    // A standby has no decision thread: nothing to report, nothing to alert on.
    if leadership.is_leader() {
        out.push_str(&format!(
            "# HELP resgate_decider_idle_seconds Seconds since the decision thread last went round its loop.\n\
             # TYPE resgate_decider_idle_seconds gauge\nresgate_decider_idle_seconds {}\n",
            shared.decider_stalled_for().max(0)
        ));
    }
    out.push_str(&format!(
        "# HELP resgate_leader 1 when this instance decides and fires (always, with a SQLite journal), 0 on a standby.\n\
         # TYPE resgate_leader gauge\nresgate_leader {}\n",
        u8::from(leadership.is_leader())
    ));
    if let Some(age) = leadership.lease_age() {
        out.push_str(&format!(
            "# HELP resgate_lease_age_seconds Seconds since this instance last took or renewed the lease.\n\
             # TYPE resgate_lease_age_seconds gauge\nresgate_lease_age_seconds {age:.3}\n"
        ));
    }
    if let Ok(conn) = shared.readers.get()
        && let Ok((count, oldest)) = journal::undecided(&conn)
    {
        let age = oldest.map_or(0, |t| Timestamp::now().as_second() - t.as_second());
        out.push_str(&format!(
            "# HELP resgate_inbound_undecided Webhooks journaled but not decided yet.\n\
             # TYPE resgate_inbound_undecided gauge\nresgate_inbound_undecided {count}\n\
             # HELP resgate_inbound_undecided_age_seconds Age of the oldest undecided webhook.\n\
             # TYPE resgate_inbound_undecided_age_seconds gauge\nresgate_inbound_undecided_age_seconds {}\n",
            age.max(0)
        ));
    }
    out
}

/// Hours of history the status page's timeline shows by default, and at most.
const STATUS_HOURS: (u32, u32) = (6, 7 * 24);
/// Rows the status page lists and draws at most.
const STATUS_DECISIONS: u32 = 200;
/// Decisions the picture draws at most: about 500 bytes of SVG each, so the
/// picture fits the page (`status::PICTURE_BYTES`); 1,000 made 492 KiB, drawn
/// for nothing, and every one costs CPU per view (issue 19).
const STATUS_PICTURE_DECISIONS: u32 = 500;

/// The read-only status page (`GET /`, `?hours=N`), drawn at most once a
/// second (`status::Cache`).
fn status_page(shared: &Shared, query: &str) -> Answer {
    let hours = param(query, "hours")
        .and_then(|h| h.parse::<u32>().ok())
        .unwrap_or(STATUS_HOURS.0)
        .clamp(1, STATUS_HOURS.1);
    match shared
        .status_cache
        .get(hours, || render_status(shared, hours))
    {
        Ok(html) => Answer::text(200, html.to_string(), "text/html; charset=utf-8")
            // No script may run on this page, whatever a label smuggles in.
            .with(
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
            )
            .with("Cache-Control", "no-store"),
        Err(e) => Answer::error(503, e.to_string()),
    }
}

/// Every notifier of the live rules, and any the journal still has rows of.
fn notification_rows(
    rules: &crate::rules::RuleSet,
    counts: Vec<(String, journal::outbox::Counts)>,
) -> Vec<Value> {
    let mut by_name: std::collections::BTreeMap<String, journal::outbox::Counts> = rules
        .notifiers
        .iter()
        .map(|n| (n.name.clone(), Default::default()))
        .collect();
    by_name.extend(counts);
    by_name
        .into_iter()
        .map(|(name, c)| {
            json!({
                "notifier": name,
                "sent": c.sent,
                "failed": c.failed,
                "queued": c.queued,
                "oldest_queued": c.oldest_queued.map(|t| t.to_string()),
                "last_error": c.last_error,
            })
        })
        .collect()
}

fn render_status(shared: &Shared, hours: u32) -> journal::Result<String> {
    let now = Timestamp::now();
    let since = now
        .checked_sub(jiff::SignedDuration::from_hours(i64::from(hours)))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let gathered = shared.readers.get().and_then(|conn| {
        Ok((
            history::open_events(&conn)?,
            history::latest_decisions(&conn, STATUS_DECISIONS)?,
            journal::list_pauses(&conn, now)?,
            history::window(&conn, since, now, STATUS_PICTURE_DECISIONS)?,
            journal::outbox::counts(&conn)?,
        ))
    });
    let (in_flight, decisions, pauses, window, outbox) = gathered?;
    let notifications = notification_rows(&shared.rules(), outbox);
    // The picture starts at the first thing that happened in the window (to
    // the second), so that a burst of the last minutes is not a sliver at the
    // right edge of six empty hours.
    let first = window
        .trace
        .log
        .iter()
        .map(|e| match e {
            Entry::Decision(d) => d.at,
            Entry::Transition(t) => t.at,
        })
        .chain(window.trace.notifications.iter().map(|n| n.at))
        .min();
    let picture = first.map(|first| {
        let start = Timestamp::from_second(first.max(since).as_second()).unwrap_or(first);
        timeline::svg::render(&Timeline::from_trace(&window.trace, start))
    });
    let rules = shared.rules_record();
    Ok(status::render(&status::StatusPage {
        now,
        instance: &shared.instance,
        role: shared.leadership.shared.then(|| shared.leadership.role()),
        rules: &rules,
        hours,
        in_flight: &in_flight,
        decisions: &decisions,
        pauses: &pauses,
        timeline: picture.as_deref(),
        truncated: window.truncated,
        notifications: &notifications,
        stale_facts: &shared.metrics.facts.stale(now),
    }))
}

/// `GET /events/{id}`: the event's story as a page (DESIGN.md §9), what
/// `resgate explain ID --no-payload` prints, with its timeline picture.
fn event_page(shared: &Shared, id: &str) -> Answer {
    let story = shared.readers.get().and_then(|conn| {
        if story::is_event(&conn, id)? {
            story::story(&conn, id)
        } else {
            Ok(None)
        }
    });
    let story = match story {
        Ok(Some(story)) => story,
        Ok(None) => return Answer::error(404, format!("no event {id}")),
        Err(e) => return Answer::error(503, e.to_string()),
    };
    let picture = story.start().map(|start| {
        let mut timeline = Timeline::from_trace(&story.trace(), start);
        timeline.title = Some(format!("event {id}"));
        timeline::svg::render(&timeline)
    });
    let text = crate::cli::explain::render(&story, false);
    let html = status::render_event(id, &text, picture.as_deref());
    Answer::text(200, html, "text/html; charset=utf-8")
        // As on the status page: no script may run, whatever a label holds.
        .with(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:",
        )
        .with("Cache-Control", "no-store")
}

fn read(shared: &Shared, f: impl FnOnce(&journal::Db) -> journal::Result<Value>) -> Answer {
    match shared.readers.get().and_then(|conn| f(&conn)) {
        Ok(v) => Answer::json(200, v),
        Err(e) => Answer::error(503, e.to_string()),
    }
}

fn ingest(request: &mut Incoming, shared: &Shared, source_name: &str) -> Answer {
    let received_at = Timestamp::now();
    let rules = shared.rules();
    let source_name = decode(source_name);
    let Some(source) = rules.source(&source_name) else {
        shared.metrics.ingest("", 404, 0);
        return Answer::error(404, format!("unknown source \"{source_name}\""));
    };
    // Credentials in headers are checked before the body is read: a stranger
    // cannot make resgate read (or wait for) a megabyte.
    if let Some(auth) = source
        .auth
        .as_ref()
        .filter(|a| !matches!(a, SourceAuth::Hmac { .. }))
    {
        let lookup = |name: &str| request.header(name).map(str::to_owned);
        if let Err(refusal) =
            auth::check(auth, &lookup, b"", received_at.as_second(), &shared.secrets)
        {
            shared.metrics.ingest(&source.name, 401, 0);
            return unauthorized(auth, refusal);
        }
    }
    let max = shared.options.max_body;
    let body = match request.body(max) {
        Ok(b) => b,
        Err(e) => {
            let answer = body_error(e, max);
            shared.metrics.ingest(&source.name, answer.status, 0);
            return answer;
        }
    };
    let (answer, journaled) = accept(request, shared, source, body, received_at);
    shared
        .metrics
        .ingest(&source.name, answer.status, journaled);
    answer
}

/// Authenticates, maps and journals one body; the answer and how many alerts
/// were journaled.
fn accept(
    request: &Incoming,
    shared: &Shared,
    source: &crate::rules::Source,
    body: Vec<u8>,
    received_at: Timestamp,
) -> (Answer, usize) {
    if let Some(auth @ SourceAuth::Hmac { .. }) = &source.auth {
        let lookup = |name: &str| request.header(name).map(str::to_owned);
        if let Err(refusal) = auth::check(
            auth,
            &lookup,
            &body,
            received_at.as_second(),
            &shared.secrets,
        ) {
            return (unauthorized(auth, refusal), 0);
        }
    }
    let alerts = match map_payload(source, &body, received_at) {
        Ok(a) => a,
        Err(e) => return (Answer::error(400, e.to_string()), 0),
    };
    let journal_used = shared.metrics.journal_used().unwrap_or(0);
    let decides = shared.leadership.is_leader();
    let reserved = match shared.limits.admit(&alerts, journal_used, decides) {
        Ok(reservation) => reservation,
        Err(refusal) => {
            shared.metrics.refused(&source.name, refusal.reason());
            let answer = Answer::error(refusal.status(), refusal.message());
            let answer = match refusal.status() {
                503 => answer.with("Retry-After", "5"),
                _ => answer,
            };
            return (answer, 0);
        }
    };
    let total = alerts.len();
    let fresh = shared.dedupe.fresh(alerts);
    if fresh.is_empty() {
        // Repeats of what is journaled (and so held): nothing new to hold.
        shared.limits.release(reserved);
        let ok = json!({"status": "success", "alerts": total, "journaled": 0});
        return (Answer::json(200, ok), 0);
    }
    let name = source.name.clone();
    // Serialized here, on the request's own thread, not on the writer's nor
    // the decider's: one alert at a time, so that the decision thread can
    // journal each alert's row with its JSON; the inbound row's list is the
    // same bytes `serde_json::to_string(&fresh)` makes (compact: `[a,b]`).
    let encoded = fresh
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<String>, _>>();
    let (journaled, encoded) = match encoded {
        Ok(each) => (format!("[{}]", each.join(",")), each),
        Err(e) => {
            shared.limits.release(reserved);
            return (
                Answer::error(503, format!("cannot encode the alerts: {e}")),
                0,
            );
        }
    };
    let decider = shared.decider.clone();
    // Room for the decisions of what the decision thread is handed, kept
    // until it has journaled them (a shared journal has no cap to keep room in).
    let owed = if shared.leadership.shared {
        0
    } else {
        super::limits::decision_bytes(&fresh)
    };
    // Handed over on the writer thread, in ID order. If the decision thread has
    // stopped, the row stays undecided in the journal and the next start decides it.
    // A shared journal's leader reads its webhooks from the journal (every
    // instance takes them): here it is only woken, and a standby tells no one.
    let hand_over: Box<dyn FnOnce(&i64) + Send> = if shared.leadership.shared {
        let leading = shared.leadership.is_leader();
        Box::new(move |_: &i64| {
            if leading {
                let _ = decider.send(Msg::Wake);
            }
        })
    } else {
        let for_decider = fresh.clone();
        Box::new(move |id: &i64| {
            let _ = decider.send(Msg::Inbound {
                id: *id,
                alerts: for_decider,
                encoded,
                owed,
            });
        })
    };
    let row = journal::NewInbound {
        received_at,
        source: name,
        body,
        alerts: journaled,
    };
    shared.limits.owe(owed);
    let committed = shared.writer.submit_inbound(row, Some(hand_over));
    match committed {
        Ok(_) => {
            shared.dedupe.record(&fresh);
            let n = fresh.len();
            let ok = json!({"status": "success", "alerts": total, "journaled": n});
            (Answer::json(200, ok), n)
        }
        Err(e) => {
            shared.limits.release(reserved);
            shared.limits.paid(owed);
            tracing::error!(source = %source.name, error = %e, "cannot journal a webhook; answering 503");
            (
                Answer::error(503, "journal unavailable; retry").with("Retry-After", "5"),
                0,
            )
        }
    }
}

fn unauthorized(auth: &SourceAuth, refusal: auth::Refusal) -> Answer {
    let a = Answer::error(401, refusal.0);
    match auth {
        SourceAuth::Bearer(_) => a.with("WWW-Authenticate", "Bearer"),
        SourceAuth::Basic { .. } => a.with("WWW-Authenticate", "Basic realm=\"resgate\""),
        SourceAuth::Hmac { .. } => a,
    }
}

fn body_error(e: BodyError, max: usize) -> Answer {
    match e {
        BodyError::TooLarge => Answer::error(413, format!("body larger than {max} bytes")),
        BodyError::Timeout => Answer::error(408, "body not received in time"),
        BodyError::Io(e) => Answer::error(400, format!("cannot read the body: {e}")),
    }
}

fn decisions(shared: &Shared, query: &str) -> Answer {
    let limit = param(query, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(1000u32)
        .min(10_000);
    if let Some(after) = param(query, "after") {
        let Ok(after) = after.parse::<i64>() else {
            return Answer::error(400, "`after` must be a decision sequence number");
        };
        return read(shared, |conn| {
            Ok(json!({"decisions": journal::decisions_after(conn, after, limit)?}))
        });
    }
    let since = match param(query, "since") {
        None => Timestamp::UNIX_EPOCH,
        Some(s) => match parse_since(&s) {
            Some(t) => t,
            None => {
                return Answer::error(
                    400,
                    "`since` must be an RFC 3339 time (2026-01-02T03:04:05Z) or a duration ago (15m)",
                );
            }
        },
    };
    read(shared, |conn| {
        Ok(json!({"decisions": journal::decisions_since(conn, since, limit)?}))
    })
}

fn parse_since(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let d = humantime::parse_duration(s).ok()?;
    Timestamp::now()
        .checked_sub(jiff::SignedDuration::try_from(d).ok()?)
        .ok()
}

fn api_auth(request: &Incoming, shared: &Shared) -> Option<Answer> {
    let token = shared.options.api_token.as_deref()?;
    let given = request.header("authorization");
    let ok = given
        .and_then(|g| auth::strip_scheme(g, "bearer"))
        .is_some_and(|g| auth::constant_time_eq(g.trim().as_bytes(), token.as_bytes()));
    (!ok).then(|| {
        Answer::error(401, "this route needs the API token").with("WWW-Authenticate", "Bearer")
    })
}

fn json_body(request: &mut Incoming) -> Result<Value, Answer> {
    let body = request
        .body(64 * 1024)
        .map_err(|e| body_error(e, 64 * 1024))?;
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| Answer::error(400, format!("body is not JSON: {e}")))
}

fn pause(body: &Value, shared: &Shared) -> Answer {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(remediation) = text("remediation") else {
        return Answer::error(400, "`remediation` is required");
    };
    if shared.rules().remediation(&remediation).is_none() {
        return Answer::error(400, format!("unknown remediation \"{remediation}\""));
    }
    let Some(reason) = text("reason").filter(|r| !r.trim().is_empty()) else {
        return Answer::error(400, "`reason` is required: say why, for the next person");
    };
    let now = Timestamp::now();
    let until = match (text("for"), text("until")) {
        (Some(d), None) => match humantime::parse_duration(&d)
            .ok()
            .and_then(|d| jiff::SignedDuration::try_from(d).ok())
            .and_then(|d| now.checked_add(d).ok())
        {
            Some(t) => Some(t),
            None => return Answer::error(400, format!("`for` is not a duration: {d:?}")),
        },
        (None, Some(u)) => match u.parse::<Timestamp>() {
            Ok(t) => Some(t),
            Err(_) => return Answer::error(400, format!("`until` is not an RFC 3339 time: {u:?}")),
        },
        (None, None) => None,
        (Some(_), Some(_)) => return Answer::error(400, "give `for` or `until`, not both"),
    };
    let p = Pause {
        remediation,
        target: text("target"),
        reason,
        until,
    };
    let (reply, answer) = std::sync::mpsc::sync_channel(1);
    let msg = Msg::Pause {
        pause: p.clone(),
        reply,
    };
    if let Some(refusal) = to_decider(shared, msg) {
        return refusal;
    }
    match answer.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => Answer::json(
            201,
            json!({"status": "success", "pause": {"remediation": p.remediation, "target": p.target,
                "reason": p.reason, "until": p.until.map(|t| t.to_string())}}),
        ),
        Ok(Err(e)) => Answer::error(503, e.to_string()),
        Err(_) => queued(),
    }
}

/// Hands an operator's request to the decision thread; the refusal to answer
/// when there is none here (a standby, or shutting down).
fn to_decider(shared: &Shared, msg: Msg) -> Option<Answer> {
    if !shared.leadership.is_leader() {
        return Some(
            Answer::error(
                503,
                "this instance is a standby; send this to the leader (see /readyz on each instance)",
            )
            .with("Retry-After", "5"),
        );
    }
    shared
        .decider
        .send(msg)
        .is_err()
        .then(|| Answer::error(503, "shutting down"))
}

/// The request is queued for the decision thread, which applies it as soon as
/// the journal takes it: not refused, so never answered 5xx.
fn queued() -> Answer {
    Answer::json(
        202,
        json!({"status": "queued", "note": "the journal is slow or unavailable; this applies once it is written"}),
    )
}

fn unpause(body: &Value, shared: &Shared, query: &str) -> Answer {
    let get = |k: &str| {
        param(query, k).or_else(|| body.get(k).and_then(Value::as_str).map(str::to_owned))
    };
    let Some(remediation) = get("remediation") else {
        return Answer::error(400, "`remediation` is required");
    };
    let target = get("target");
    let (reply, answer) = std::sync::mpsc::sync_channel(1);
    let msg = Msg::Unpause {
        remediation,
        target,
        reply,
    };
    if let Some(refusal) = to_decider(shared, msg) {
        return refusal;
    }
    match answer.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => Answer::json(200, json!({"status": "success"})),
        Ok(Err(e)) => Answer::error(503, e.to_string()),
        Err(_) => queued(),
    }
}

fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == name).then(|| decode(v))
    })
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}
