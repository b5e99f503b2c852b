//! One thread per fired event: makes the call, then polls the remediator until
//! the work ends, reporting each step to the decision thread.
//!
//! The call's progress is journaled around the network call (`sending` before,
//! `answered` after), so a restart can tell a call that was never sent (send
//! it) from one that may have reached the remediator (never send it again:
//! without an ID to poll, wait out `poll.timeout` and report `timed_out`).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;

use super::Shared;
use super::decider::Msg;
use crate::engine::{Decision, Event, Outcome};
use crate::journal::{self, CallPhase};
use crate::remediate::{self, CallResult, PollResult};
use crate::rules::{RemoteState, RuleSet};
use crate::source::Alert;

pub struct Job {
    pub event: Event,
    pub alert: Option<Arc<Alert>>,
    pub phase: CallPhase,
    pub status_url: Option<String>,
    /// Known when a restart resumes an accepted call.
    pub remote_id: Option<String>,
}

use crate::remediate::UNTRACKED_HOLD;

pub fn track(shared: &Shared, rules: &RuleSet, job: Job) {
    let id = job.event.id.clone();
    let report = |msg: Msg| {
        let _ = shared.decider.send(msg);
    };
    let note = |detail: serde_json::Value| {
        let event = id.clone();
        let now = Timestamp::now();
        if let Err(e) =
            shared.leader_write(move |conn| journal::note_event(conn, &event, now, &detail))
        {
            tracing::warn!(event = %id, error = %e, "cannot journal an event note");
        }
    };
    let set_call = |phase: CallPhase, status_url: Option<String>, remote_id: Option<String>| {
        let event = id.clone();
        shared.leader_write(move |conn| {
            journal::set_call(
                conn,
                &event,
                phase,
                status_url.as_deref(),
                remote_id.as_deref(),
            )
        })
    };

    let Some(remediation) = rules.remediation(&job.event.remediation) else {
        note(
            json!({"error": "the remediation is no longer in the rules; cannot follow the event"}),
        );
        report(Msg::Finished {
            event: id.clone(),
            outcome: Outcome::TimedOut,
            reason: Some("the remediation is no longer in the rules".into()),
        });
        return;
    };
    let Some(remediator) = rules.remediators.get(remediation.remediator) else {
        return;
    };
    let hold = remediator
        .tracking
        .as_ref()
        .map_or(UNTRACKED_HOLD, |t| t.poll_timeout);
    // From the call, not the fire: an approved event is called at its approval.
    let called_at = job.event.called_at();
    let deadline = called_at
        .saturating_add(SignedDuration::try_from(hold).unwrap_or(SignedDuration::MAX))
        .unwrap_or(called_at);
    let finish = |outcome: Outcome, reason: Option<String>| {
        report(Msg::Finished {
            event: id.clone(),
            outcome,
            reason,
        });
    };

    let mut status_url = job.status_url.clone();
    match job.phase {
        CallPhase::Queued => {
            let Some(alert) = job.alert.as_deref() else {
                note(json!({"error": "the alert of this event is not in the journal"}));
                let _ = set_call(CallPhase::Refused, None, None);
                report(Msg::Refused {
                    event: id.clone(),
                    reason: "the alert of this event is not in the journal".into(),
                });
                return;
            };
            let mut request = match remediate::render_call(
                rules,
                remediation,
                alert,
                &job.event.target,
                &shared.secrets,
            ) {
                Ok(r) => r,
                Err(e) => {
                    note(json!({"call": "not sent", "error": e}));
                    let _ = set_call(CallPhase::Refused, None, None);
                    shared.metrics.call("not_sent");
                    report(Msg::Refused {
                        event: id.clone(),
                        reason: format!("not sent: {e}"),
                    });
                    return;
                }
            };
            fencing_token(shared, &mut request);
            // Durable before the first byte leaves: a crash after this point
            // must never lead to a second call. A journal fault (disk full,
            // I/O error) delays the call, as it delays the decisions; it does
            // not drop a fire the journal already holds.
            let mut backoff = Duration::from_millis(50);
            while let Err(e) = set_call(CallPhase::Sending, None, None) {
                if Timestamp::now() >= deadline {
                    tracing::error!(event = %id, error = %e, "cannot journal the call before the event's deadline; not sending it");
                    report(Msg::Refused {
                        event: id.clone(),
                        reason: format!("not sent: cannot journal the call: {e}"),
                    });
                    return;
                }
                tracing::error!(event = %id, error = %e, "cannot journal the call; retrying before sending it");
                if shared.shutdown.wait(backoff) {
                    // Still `queued` in the journal: the next start sends it.
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            let key = journal::idempotency_key(&shared.instance, &id);
            let result = shared.client.send_with_retries(
                &request,
                &key,
                remediator.timeout,
                remediator.tracking.as_ref(),
                &shared.retry,
            );
            match result {
                CallResult::Accepted {
                    remote_id,
                    note: why,
                    kind,
                } => {
                    shared.metrics.call("accepted");
                    if let (Some(rid), Some(_)) = (&remote_id, &remediator.tracking) {
                        match remediate::render_status_url_for(
                            rules,
                            remediation,
                            alert,
                            &job.event.target,
                            rid,
                            kind.as_deref(),
                            &shared.secrets,
                        ) {
                            Ok(url) => status_url = Some(url),
                            Err(e) => {
                                note(json!({"error": format!("cannot render status_url: {e}")}))
                            }
                        }
                    }
                    note(json!({"call": "accepted", "remote_id": remote_id, "note": why}));
                    let _ = set_call(CallPhase::Accepted, status_url.clone(), remote_id.clone());
                    report(Msg::Accepted {
                        event: id.clone(),
                        remote_id,
                    });
                    if remediator.tracking.is_none() {
                        // A plain webhook: its 2xx is the whole story.
                        finish(Outcome::Succeeded, None);
                        return;
                    }
                }
                CallResult::NotAccepted { retryable, reason } => {
                    shared.metrics.call("refused");
                    note(json!({"call": "refused", "retryable": retryable, "error": reason}));
                    let _ = set_call(CallPhase::Refused, None, None);
                    report(Msg::Refused {
                        event: id.clone(),
                        reason: format!("the remediator did not accept the call: {reason}"),
                    });
                    return;
                }
                CallResult::Unknown { reason } => {
                    shared.metrics.call("unknown");
                    note(json!({"call": "unknown", "error": reason,
                        "then": "not sent again; the target stays blocked until the event times out"}));
                }
            }
        }
        CallPhase::Sending => {
            note(json!({"call": "unknown",
                "error": "resgate stopped while the call was being sent",
                "then": "not sent again; the target stays blocked until the event times out"}));
        }
        // The answer was journaled but maybe not what followed it.
        CallPhase::Accepted => {
            report(Msg::Accepted {
                event: id.clone(),
                remote_id: job.remote_id.clone(),
            });
            if remediator.tracking.is_none() {
                finish(Outcome::Succeeded, None);
                return;
            }
        }
        CallPhase::Refused => {
            report(Msg::Refused {
                event: id.clone(),
                reason: "refused before the restart; `resgate events` shows why".into(),
            });
            return;
        }
    }

    let (Some(url), Some(tracking)) = (status_url, remediator.tracking.as_ref()) else {
        // Nothing to poll: the work may be running; keep the target blocked
        // until it would have timed out, then say so.
        wait_until(shared, deadline);
        if !shared.shutdown.is_set() {
            finish(
                Outcome::TimedOut,
                Some("no status to poll after an uncertain call; the target was held until the timeout".into()),
            );
        }
        return;
    };
    let headers = match remediate::resolve_headers(remediator, &shared.secrets) {
        Ok(h) => h,
        Err(e) => {
            note(json!({"error": e}));
            Vec::new()
        }
    };
    let mut running = false;
    let mut last_word: Option<String> = None;
    loop {
        if shared.shutdown.wait(tracking.poll_every) {
            return;
        }
        if Timestamp::now() >= deadline {
            note(
                json!({"poll": "timed out", "after": crate::rules::duration::format(tracking.poll_timeout)}),
            );
            report(Msg::Finished {
                event: id.clone(),
                outcome: Outcome::TimedOut,
                reason: Some(format!(
                    "no end state within poll.timeout ({})",
                    crate::rules::duration::format(tracking.poll_timeout)
                )),
            });
            return;
        }
        let result = shared
            .client
            .poll(&url, &headers, remediator.timeout, tracking);
        match result {
            PollResult::State { state, word } => {
                shared.metrics.poll("ok");
                if last_word.as_deref() != Some(word.as_str()) {
                    note(json!({"poll": word}));
                    last_word = Some(word.clone());
                }
                match state {
                    RemoteState::Running => {
                        if !running {
                            running = true;
                            report(Msg::Running { event: id.clone() });
                        }
                    }
                    RemoteState::Succeeded => {
                        report(Msg::Finished {
                            event: id.clone(),
                            outcome: Outcome::Succeeded,
                            reason: None,
                        });
                        return;
                    }
                    RemoteState::Failed => {
                        report(Msg::Finished {
                            event: id.clone(),
                            outcome: Outcome::Failed,
                            reason: Some(format!("the remediator reported {word:?}")),
                        });
                        return;
                    }
                }
            }
            PollResult::Unrecognised { word } => {
                shared.metrics.poll("unrecognised");
                if last_word.as_deref() != Some(word.as_str()) {
                    note(json!({"poll": word, "error": "not a state word of this remediator"}));
                    last_word = Some(word);
                }
            }
            PollResult::Failed { reason } => {
                shared.metrics.poll("error");
                note(json!({"poll": "error", "error": reason}));
            }
        }
    }
}

fn wait_until(shared: &Shared, deadline: Timestamp) {
    loop {
        let left =
            Duration::try_from(deadline.duration_since(Timestamp::now())).unwrap_or(Duration::ZERO);
        if left.is_zero() || shared.shutdown.wait(left.min(Duration::from_secs(1))) {
            return;
        }
    }
}

/// With a shared journal, every call carries the lease's token: the
/// remediator (or a proxy in front of it) can refuse calls older than the
/// newest token it has seen, i.e. those of a deposed leader.
fn fencing_token(shared: &Shared, request: &mut remediate::CallRequest) {
    if let Some(held) = shared.leadership.held() {
        request
            .headers
            .push(("Resgate-Fencing-Token".into(), held.token.to_string()));
    }
}

/// Sends one escalation. Its outcome is logged and counted; an escalation is
/// never retried after a remediator accepted it.
pub fn escalate(shared: &Shared, rules: &RuleSet, alert: &Alert, decision: &Decision) {
    let Some(remediation) = decision
        .remediation
        .as_deref()
        .and_then(|r| rules.remediation(r))
    else {
        return;
    };
    let Some(escalator) = remediation.escalate.and_then(|i| rules.remediators.get(i)) else {
        return;
    };
    let mut request = match remediate::render_escalation(
        rules,
        remediation,
        alert,
        decision,
        &shared.secrets,
    ) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(remediation = %remediation.name, error = e.as_str(), "cannot render the escalation");
            shared.metrics.call("escalation_not_sent");
            return;
        }
    };
    fencing_token(shared, &mut request);
    let key = format!(
        "resgate-{}-escalate-{}-{}-{}",
        shared.instance,
        remediation.name,
        decision.alert,
        decision.at.as_millisecond()
    );
    let result =
        shared
            .client
            .send_with_retries(&request, &key, escalator.timeout, None, &shared.retry);
    let (outcome, error) = match &result {
        CallResult::Accepted { .. } => ("escalation_accepted", None),
        CallResult::NotAccepted { reason, .. } => ("escalation_refused", Some(reason.as_str())),
        CallResult::Unknown { reason } => ("escalation_unknown", Some(reason.as_str())),
    };
    shared.metrics.call(outcome);
    let (r, t, at) = (
        remediation.name.clone(),
        decision.target.clone().unwrap_or_default(),
        decision.at,
    );
    let answer = outcome.trim_start_matches("escalation_").to_owned();
    if let Err(e) =
        shared.leader_write(move |conn| journal::escalation_sent(conn, &r, &t, at, &answer))
    {
        tracing::warn!(error = %e, "cannot journal the escalation's answer; a restart sends it again");
    }
    tracing::warn!(
        remediation = %remediation.name,
        target = decision.target.as_deref().unwrap_or(""),
        alert = decision.alert.as_str(),
        outcome,
        error = error.unwrap_or(""),
        "escalation"
    );
}
