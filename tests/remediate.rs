//! The remediator client against a fake Rundeck on loopback: what a fire sends,
//! how answers and faults are classified, polling, escalations, and that label
//! text and secrets stay where they belong.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::fake_remediator::{Answer, Behaviour, FakeRemediator};
use jiff::Timestamp;
use resgate::engine::{Decision, Proof, Verdict};
use resgate::remediate::{
    CallRequest, CallResult, Client, PollResult, RetryPolicy, SecretSource, render_call,
    render_escalation, render_status_url,
};
use resgate::rules::{self, Remediation, RemoteState, RuleSet};
use resgate::source::{Alert, AlertStatus, fingerprint};

const TOKEN: &str = "tok-5ecret-value";
const KEY: &str = "resgate-test-ev-1";
const TIMEOUT: Duration = Duration::from_secs(5);

/// Rules whose remediators live at `base` (`http://127.0.0.1:PORT`).
fn rules_at(base: &str) -> RuleSet {
    let text = format!(
        r#"
sources:
  alertmanager: {{kind: alertmanager}}
remediators:
  rundeck:
    preset: rundeck
    url: "{base}/api/45/job/{{{{ job }}}}/run"
    headers: {{X-Rundeck-Auth-Token: "${{env:RUNDECK_TOKEN}}"}}
    status_url: "{base}/api/45/execution/{{{{ id }}}}"
  hook:
    url: "{base}/api/v2/alerts"
remediations:
  restart-api:
    match: {{alertname: ApiDown, service: "=~.+", instance: "=~.+"}}
    target: "{{{{ service }}}}/{{{{ instance }}}}"
    remediator: rundeck
    vars: {{job: "restart-{{{{ service }}}}"}}
    body:
      argString: "-host {{{{ instance }}}}"
      options: {{service: "{{{{ service }}}}", target: "{{{{ target }}}}", count: 3, dry: false}}
    budget: {{attempts: 3, within: 1h}}
    escalate: hook
  notify:
    match: {{alertname: DiskFull}}
    target: "{{{{ alertname }}}}"
    remediator: hook
    budget: {{attempts: 1, within: 1h}}
"#
    );
    let loaded = rules::load_texts(vec![(PathBuf::from("rules.yaml"), text)]);
    match loaded.rules {
        Some(rules) => rules,
        None => panic!("rules do not load: {:#?}", loaded.diagnostics),
    }
}

fn remediation<'r>(rules: &'r RuleSet, name: &str) -> &'r Remediation {
    rules
        .remediation(name)
        .unwrap_or_else(|| panic!("no remediation {name}"))
}

fn alert(labels: &[(&str, &str)]) -> Alert {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Alert {
        source: "alertmanager".to_owned(),
        fingerprint: fingerprint(&labels),
        status: AlertStatus::Firing,
        labels,
        annotations: BTreeMap::from([("summary".to_owned(), "api is down".to_owned())]),
        starts_at: Timestamp::UNIX_EPOCH,
        ends_at: None,
        group_key: None,
        generator_url: None,
    }
}

fn api_down() -> Alert {
    alert(&[
        ("alertname", "ApiDown"),
        ("service", "api"),
        ("instance", "host-1"),
        ("severity", "critical"),
    ])
}

struct Secrets(BTreeMap<&'static str, &'static str>);

impl Secrets {
    fn with_token() -> Secrets {
        Secrets(BTreeMap::from([("RUNDECK_TOKEN", TOKEN)]))
    }
}

impl SecretSource for Secrets {
    fn env(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| (*v).to_owned())
    }

    fn read_file(&self, path: &str) -> std::io::Result<String> {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{path}: no such file"),
        ))
    }
}

fn restart_call(rules: &RuleSet, alert: &Alert) -> CallRequest {
    render_call(
        rules,
        remediation(rules, "restart-api"),
        alert,
        "api/host-1",
        &Secrets::with_token(),
    )
    .unwrap_or_else(|e| panic!("render_call: {e}"))
}

fn tracking(rules: &RuleSet) -> &rules::Tracking {
    let r = remediation(rules, "restart-api");
    rules.remediators[r.remediator]
        .tracking
        .as_ref()
        .unwrap_or_else(|| panic!("rundeck is tracked"))
}

/// A retry policy that does not sleep, and the waits it was asked for.
fn recording_policy(attempts: u32) -> (RetryPolicy, Arc<Mutex<Vec<Duration>>>) {
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let seen = sleeps.clone();
    let policy = RetryPolicy {
        attempts,
        initial: Duration::from_millis(100),
        sleep: Box::new(move |d| seen.lock().expect("sleeps").push(d)),
    };
    (policy, sleeps)
}

fn accepted(result: &CallResult) -> (Option<String>, Option<String>) {
    match result {
        CallResult::Accepted {
            remote_id, note, ..
        } => (remote_id.clone(), note.clone()),
        other => panic!("expected Accepted, got {other:?}"),
    }
}

/// A one-connection HTTP server: reads one request, writes `answer` (raw
/// bytes; empty closes without answering), returns the request text.
fn one_shot(answer: &'static [u8]) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let thread = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let request = read_request(&mut stream);
        if !answer.is_empty() {
            let _ = stream.write_all(answer);
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        request
    });
    (base, thread)
}

/// Headers and a Content-Length body.
fn read_request(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&data).into_owned(),
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn a_fire_is_sent_with_its_key_secret_and_json_body_and_accepted_with_the_remote_id() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.url,
        format!("{}/api/45/job/restart-api/run", fake.url())
    );

    let result = Client::new().send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert_eq!(accepted(&result), (Some("1".to_owned()), None));

    let calls = fake.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/api/45/job/restart-api/run");
    assert_eq!(call.header("Idempotency-Key"), Some(KEY));
    assert_eq!(call.header("X-Rundeck-Auth-Token"), Some(TOKEN));
    assert_eq!(call.header("Content-Type"), Some("application/json"));
    assert_eq!(call.header("Accept"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&call.body).expect("body is JSON");
    assert_eq!(
        body,
        serde_json::json!({
            "argString": "-host host-1",
            "options": {"service": "api", "target": "api/host-1", "count": 3, "dry": false}
        })
    );

    // The second fire gets the next execution.
    let again = Client::new().send(&request, "another-key", TIMEOUT, Some(tracking(&rules)));
    assert_eq!(accepted(&again).0.as_deref(), Some("2"));
}

#[test]
fn an_untracked_remediator_is_accepted_on_2xx_without_an_id() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let disk = alert(&[("alertname", "DiskFull")]);
    let notify = remediation(&rules, "notify");
    let request =
        render_call(&rules, notify, &disk, "DiskFull", &Secrets::with_token()).expect("render");
    assert_eq!(request.body, None);
    assert!(
        !request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    );
    let result = Client::new().send(&request, KEY, TIMEOUT, None);
    assert_eq!(accepted(&result), (None, None));
    assert_eq!(fake.escalations().len(), 1);

    let err = render_status_url(
        &rules,
        notify,
        &disk,
        "DiskFull",
        "1",
        &Secrets::with_token(),
    );
    assert!(err.is_err_and(|e| e.contains("nothing to poll")));
}

#[test]
fn secrets_reach_the_header_but_never_debug_output_or_error_strings() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    assert!(request.headers.iter().any(|(_, v)| v == TOKEN));
    let shown = format!("{request:?}");
    assert!(shown.contains("X-Rundeck-Auth-Token"), "{shown}");
    assert!(!shown.contains(TOKEN), "{shown}");

    // A remediator that echoes the credential in its error answer.
    let (base, server) = one_shot(
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 39\r\nConnection: close\r\n\r\ninvalid token tok-5ecret-value, go away",
    );
    let echoing = CallRequest {
        url: format!("{base}/api/45/job/restart-api/run"),
        ..request.clone()
    };
    let result = Client::new().send(&echoing, KEY, TIMEOUT, Some(tracking(&rules)));
    let _ = server.join();
    match &result {
        CallResult::NotAccepted { retryable, reason } => {
            assert!(!retryable);
            assert!(reason.contains("401"), "{reason}");
            assert!(reason.contains("invalid token <redacted>"), "{reason}");
            assert!(!reason.contains(TOKEN), "{reason}");
        }
        other => panic!("expected NotAccepted, got {other:?}"),
    }
    assert!(!format!("{result:?}").contains(TOKEN));

    // A missing secret names the variable, and sends nothing.
    let err = render_call(
        &rules,
        remediation(&rules, "restart-api"),
        &api_down(),
        "api/host-1",
        &Secrets(BTreeMap::new()),
    )
    .expect_err("the token is not set");
    assert!(err.contains("RUNDECK_TOKEN"), "{err}");
    assert!(err.contains("is not set"), "{err}");
}

#[test]
fn a_secret_that_is_not_a_valid_header_value_is_refused_by_name() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let secrets = Secrets(BTreeMap::from([("RUNDECK_TOKEN", "line1\nX-Evil: yes")]));
    let err = render_call(
        &rules,
        remediation(&rules, "restart-api"),
        &api_down(),
        "api/host-1",
        &secrets,
    )
    .expect_err("a newline cannot go into a header");
    assert!(err.contains("X-Rundeck-Auth-Token"), "{err}");
    assert!(!err.contains("line1"), "{err}");
}

#[test]
fn two_503s_then_success_retries_with_the_same_key_and_doubling_backoff() {
    let fake = FakeRemediator::start(Behaviour {
        fail_first: 2,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let (policy, sleeps) = recording_policy(5);
    let result =
        Client::new().send_with_retries(&request, KEY, TIMEOUT, Some(tracking(&rules)), &policy);
    assert_eq!(accepted(&result), (Some("1".to_owned()), None));
    assert_eq!(
        *sleeps.lock().expect("sleeps"),
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
    let keys: Vec<Option<String>> = fake
        .calls()
        .iter()
        .map(|c| c.header("Idempotency-Key").map(str::to_owned))
        .collect();
    assert_eq!(keys, vec![Some(KEY.to_owned()); 3]);
}

#[test]
fn retries_stop_after_the_attempts_with_the_last_answer() {
    let fake = FakeRemediator::start(Behaviour {
        fail_first: 10,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let (policy, sleeps) = recording_policy(3);
    let result =
        Client::new().send_with_retries(&request, KEY, TIMEOUT, Some(tracking(&rules)), &policy);
    assert!(
        matches!(&result, CallResult::NotAccepted { retryable: true, reason } if reason.contains("503")),
        "{result:?}"
    );
    assert_eq!(fake.calls().len(), 3);
    assert_eq!(sleeps.lock().expect("sleeps").len(), 2);
}

#[test]
fn a_4xx_is_not_accepted_and_not_retried() {
    let fake = FakeRemediator::start(Behaviour {
        fail_first: 5,
        fail_status: 400,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let (policy, sleeps) = recording_policy(5);
    let result =
        Client::new().send_with_retries(&request, KEY, TIMEOUT, Some(tracking(&rules)), &policy);
    assert!(
        matches!(&result, CallResult::NotAccepted { retryable: false, reason } if reason.contains("HTTP 400 Bad Request")),
        "{result:?}"
    );
    assert_eq!(fake.calls().len(), 1);
    assert!(sleeps.lock().expect("sleeps").is_empty());
}

#[test]
fn a_429_is_retryable() {
    let fake = FakeRemediator::start(Behaviour {
        fail_first: 1,
        fail_status: 429,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let (policy, sleeps) = recording_policy(2);
    let result =
        Client::new().send_with_retries(&request, KEY, TIMEOUT, Some(tracking(&rules)), &policy);
    assert_eq!(accepted(&result).0.as_deref(), Some("1"));
    assert_eq!(sleeps.lock().expect("sleeps").len(), 1);
}

#[test]
fn a_2xx_without_a_usable_id_is_accepted_with_a_note() {
    let fake = FakeRemediator::start(Behaviour {
        answer: Answer::Garbage,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let client = Client::new();
    let result = client.send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert_eq!(
        accepted(&result),
        (None, Some("response is not JSON".to_owned()))
    );

    fake.set_behaviour(Behaviour {
        answer: Answer::NoId,
        ..Behaviour::default()
    });
    let result = client.send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert_eq!(accepted(&result), (None, Some("no id at `id`".to_owned())));
}

#[test]
fn connection_refused_is_not_accepted_and_retryable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let rules = rules_at(&format!("http://127.0.0.1:{port}"));
    let request = restart_call(&rules, &api_down());
    let result = Client::new().send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert!(
        matches!(&result, CallResult::NotAccepted { retryable: true, reason } if reason.starts_with("not sent")),
        "{result:?}"
    );
}

#[test]
fn a_remediator_that_stops_listening_is_not_accepted_until_it_is_back() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let client = Client::new();

    fake.set_behaviour(Behaviour {
        refuse: true,
        ..Behaviour::default()
    });
    let result = client.send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert!(
        matches!(
            result,
            CallResult::NotAccepted {
                retryable: true,
                ..
            }
        ),
        "{result:?}"
    );

    fake.set_behaviour(Behaviour::default());
    let result = client.send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert_eq!(accepted(&result).0.as_deref(), Some("1"));
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn no_answer_within_the_timeout_is_unknown() {
    let fake = FakeRemediator::start(Behaviour {
        hang: Some(Duration::from_secs(10)),
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let (policy, sleeps) = recording_policy(3);
    let started = Instant::now();
    let result = Client::new().send_with_retries(
        &request,
        KEY,
        Duration::from_millis(300),
        Some(tracking(&rules)),
        &policy,
    );
    let took = started.elapsed();
    assert!(
        matches!(&result, CallResult::Unknown { reason } if reason.contains("no answer in time")),
        "{result:?}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "gave up early: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the timeout did not hold: {took:?}"
    );
    // The remediator got it: that is why it is never sent again.
    assert_eq!(fake.calls().len(), 1);
    assert!(sleeps.lock().expect("sleeps").is_empty());
}

#[test]
fn a_connection_closed_after_the_request_was_sent_is_unknown() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let (base, server) = one_shot(b"");
    let request = CallRequest {
        url: format!("{base}/api/45/job/restart-api/run"),
        ..restart_call(&rules, &api_down())
    };
    let result = Client::new().send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    let received = server.join().expect("server thread");
    assert!(
        received.starts_with("POST /api/45/job/restart-api/run"),
        "{received}"
    );
    assert!(
        matches!(&result, CallResult::Unknown { reason } if reason.contains("after the request was sent")),
        "{result:?}"
    );
}

#[test]
fn a_gateway_timeout_is_unknown_and_not_retried() {
    let fake = FakeRemediator::start(Behaviour {
        fail_first: 3,
        fail_status: 504,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let (policy, _) = recording_policy(3);
    let result =
        Client::new().send_with_retries(&request, KEY, TIMEOUT, Some(tracking(&rules)), &policy);
    assert!(
        matches!(&result, CallResult::Unknown { reason } if reason.contains("504")),
        "{result:?}"
    );
    assert_eq!(fake.calls().len(), 1);
}

#[test]
fn a_huge_answer_is_not_read_but_still_accepted() {
    static HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2097162\r\nConnection: close\r\n\r\n{\"id\": \"";
    let body: &'static [u8] = Box::leak(
        format!("{HEAD}{}\"}}", "x".repeat(2 * 1024 * 1024))
            .into_bytes()
            .into_boxed_slice(),
    );
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let (base, server) = one_shot(body);
    let request = CallRequest {
        url: format!("{base}/api/45/job/restart-api/run"),
        ..restart_call(&rules, &api_down())
    };
    let result = Client::new().send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    let _ = server.join();
    let (id, note) = accepted(&result);
    assert_eq!(id, None);
    assert!(note.is_some_and(|n| n.contains("larger than")));
}

#[test]
fn polls_report_running_then_the_final_word() {
    let fake = FakeRemediator::start(Behaviour {
        running_polls: 2,
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let r = remediation(&rules, "restart-api");
    let alert = api_down();
    let request = restart_call(&rules, &alert);
    let client = Client::new();
    let tracking = tracking(&rules);
    let id = accepted(&client.send(&request, KEY, TIMEOUT, Some(tracking)))
        .0
        .expect("an id");
    let url = render_status_url(&rules, r, &alert, "api/host-1", &id, &Secrets::with_token())
        .expect("status url");
    assert_eq!(url, format!("{}/api/45/execution/1", fake.url()));
    let headers = resgate::remediate::resolve_headers(
        &rules.remediators[r.remediator],
        &Secrets::with_token(),
    )
    .expect("headers");

    let running = PollResult::State {
        state: RemoteState::Running,
        word: "running".to_owned(),
    };
    assert_eq!(client.poll(&url, &headers, TIMEOUT, tracking), running);
    assert_eq!(client.poll(&url, &headers, TIMEOUT, tracking), running);
    assert_eq!(
        client.poll(&url, &headers, TIMEOUT, tracking),
        PollResult::State {
            state: RemoteState::Succeeded,
            word: "succeeded".to_owned()
        }
    );
    assert_eq!(fake.polls(), 3);

    // The remediator changes its mind about how things end.
    fake.set_behaviour(Behaviour {
        final_status: "aborted".to_owned(),
        ..Behaviour::default()
    });
    assert_eq!(
        client.poll(&url, &headers, TIMEOUT, tracking),
        PollResult::State {
            state: RemoteState::Failed,
            word: "aborted".to_owned()
        }
    );
    fake.set_behaviour(Behaviour {
        final_status: "on-fire".to_owned(),
        ..Behaviour::default()
    });
    assert_eq!(
        client.poll(&url, &headers, TIMEOUT, tracking),
        PollResult::Unrecognised {
            word: "on-fire".to_owned()
        }
    );
}

#[test]
fn polling_an_unknown_id_fails_naming_the_404() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let r = remediation(&rules, "restart-api");
    let alert = api_down();
    let url = render_status_url(
        &rules,
        r,
        &alert,
        "api/host-1",
        "999",
        &Secrets::with_token(),
    )
    .expect("status url");
    let client = Client::new();
    let result = client.poll(&url, &[], TIMEOUT, tracking(&rules));
    assert!(
        matches!(&result, PollResult::Failed { reason } if reason.contains("404")),
        "{result:?}"
    );

    // Known once, then forgotten (a remediator restarted without its history).
    let id = accepted(&client.send(
        &restart_call(&rules, &alert),
        KEY,
        TIMEOUT,
        Some(tracking(&rules)),
    ))
    .0
    .expect("an id");
    fake.set_behaviour(Behaviour {
        forget_ids: true,
        ..Behaviour::default()
    });
    let url = render_status_url(&rules, r, &alert, "api/host-1", &id, &Secrets::with_token())
        .expect("status url");
    let result = client.poll(&url, &[], TIMEOUT, tracking(&rules));
    assert!(
        matches!(&result, PollResult::Failed { reason } if reason.contains("404")),
        "{result:?}"
    );
}

#[test]
fn a_poll_without_an_answer_in_time_fails() {
    let fake = FakeRemediator::start(Behaviour {
        hang_polls: Some(Duration::from_secs(10)),
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let alert = api_down();
    let client = Client::new();
    let id = accepted(&client.send(
        &restart_call(&rules, &alert),
        KEY,
        TIMEOUT,
        Some(tracking(&rules)),
    ))
    .0
    .expect("an id");
    let url = render_status_url(
        &rules,
        remediation(&rules, "restart-api"),
        &alert,
        "api/host-1",
        &id,
        &Secrets::with_token(),
    )
    .expect("status url");
    let started = Instant::now();
    let result = client.poll(&url, &[], Duration::from_millis(300), tracking(&rules));
    assert!(matches!(result, PollResult::Failed { .. }), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn hostile_label_values_stay_inside_their_path_segment_and_json_string() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let service = "a\"b'c\n{{ x }}../%2F?x=1&y=2#frag ../..";
    let instance = "h\"}, \"evil\": true, {\"\\n{{ service }}";
    let alert = alert(&[
        ("alertname", "ApiDown"),
        ("service", service),
        ("instance", instance),
    ]);
    let target = format!("{service}/{instance}");
    let request = render_call(
        &rules,
        remediation(&rules, "restart-api"),
        &alert,
        &target,
        &Secrets::with_token(),
    )
    .expect("render");
    let result = Client::new().send(&request, KEY, TIMEOUT, Some(tracking(&rules)));
    assert_eq!(accepted(&result).0.as_deref(), Some("1"));

    let calls = fake.calls();
    let path = &calls[0].path;
    assert!(!path.contains('?'), "the query changed: {path}");
    assert!(!path.contains('#'), "{path}");
    let job = path
        .strip_prefix("/api/45/job/")
        .and_then(|p| p.strip_suffix("/run"))
        .unwrap_or_else(|| panic!("the path changed: {path}"));
    assert!(!job.contains('/'), "a new path segment: {path}");
    let decoded = percent_encoding::percent_decode_str(job)
        .decode_utf8()
        .expect("utf-8");
    assert_eq!(decoded, format!("restart-{service}"));

    let body: serde_json::Value = serde_json::from_str(&calls[0].body).expect("body is JSON");
    assert_eq!(body["argString"], format!("-host {instance}"));
    assert_eq!(body["options"]["service"], service);
    assert_eq!(body["options"]["target"], target.as_str());
    assert_eq!(body.as_object().map(|o| o.len()), Some(2), "{body}");
}

#[test]
fn a_label_that_would_render_a_dot_dot_segment_is_refused() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    // The status URL prints the remote id unprefixed, and the id comes from
    // the remediator's answer: `..` there would poll another resource.
    let alert = api_down();
    let r = remediation(&rules, "restart-api");
    let err = render_status_url(
        &rules,
        r,
        &alert,
        "api/host-1",
        "..",
        &Secrets::with_token(),
    );
    assert!(err.is_err_and(|e| e.contains("..")));
    // A dot-dot inside a longer value is a plain name.
    assert!(
        render_status_url(
            &rules,
            r,
            &alert,
            "api/host-1",
            "..x",
            &Secrets::with_token()
        )
        .is_ok()
    );
    assert!(fake.calls().is_empty());
}

#[test]
fn an_escalation_is_an_alertmanager_alerts_array() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let r = remediation(&rules, "restart-api");
    let mut alert = api_down();
    // The alert's own labels never override the escalation's identity.
    alert
        .labels
        .insert("target".to_owned(), "spoofed".to_owned());
    alert
        .labels
        .insert("remediation".to_owned(), "spoofed".to_owned());
    let at: Timestamp = "2025-03-01T12:34:56Z".parse().expect("time");
    let decision = Decision {
        at,
        alert: alert.fingerprint.clone(),
        remediation: Some("restart-api".to_owned()),
        target: Some("api/host-1".to_owned()),
        verdict: Verdict::Escalate,
        reason: Some("budget".to_owned()),
        event: None,
        proof: Proof::Budget {
            attempts: 3,
            within_secs: 3600,
            events: vec!["ev-1".to_owned(), "ev-4".to_owned(), "ev-9".to_owned()],
            already_escalated: false,
        },
    };
    let request =
        render_escalation(&rules, r, &alert, &decision, &Secrets::with_token()).expect("render");
    assert_eq!(request.method, "POST");
    assert_eq!(request.url, format!("{}/api/v2/alerts", fake.url()));
    let result = Client::new().send(&request, KEY, TIMEOUT, None);
    assert_eq!(accepted(&result), (None, None));

    let escalations = fake.escalations();
    assert_eq!(escalations.len(), 1);
    assert_eq!(
        escalations[0].header("Content-Type"),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_str(&escalations[0].body).expect("body is JSON");
    let alerts = body.as_array().expect("an array of alerts");
    assert_eq!(alerts.len(), 1);
    let sent = &alerts[0];
    assert_eq!(sent["labels"]["alertname"], "ResgateEscalation");
    assert_eq!(sent["labels"]["remediation"], "restart-api");
    assert_eq!(sent["labels"]["target"], "api/host-1");
    assert_eq!(sent["labels"]["severity"], "critical");
    assert_eq!(sent["labels"]["service"], "api");
    assert_eq!(sent["labels"]["original_alertname"], "ApiDown");
    // Alertmanager takes only string label values.
    let labels = sent["labels"].as_object().expect("labels");
    assert!(labels.values().all(serde_json::Value::is_string));
    assert_eq!(sent["startsAt"], "2025-03-01T12:34:56Z");
    let summary = sent["annotations"]["summary"].as_str().expect("summary");
    assert!(summary.contains("restart-api"), "{summary}");
    let description = sent["annotations"]["description"]
        .as_str()
        .expect("description");
    for needle in [
        "3 attempts",
        "1h",
        "ev-1, ev-4, ev-9",
        "ApiDown",
        &alert.fingerprint,
    ] {
        assert!(
            description.contains(needle),
            "{needle} not in {description}"
        );
    }
}

#[test]
fn an_escalation_needs_an_escalate_target() {
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = rules_at(&fake.url());
    let disk = alert(&[("alertname", "DiskFull")]);
    let decision = Decision {
        at: Timestamp::UNIX_EPOCH,
        alert: disk.fingerprint.clone(),
        remediation: Some("notify".to_owned()),
        target: None,
        verdict: Verdict::Escalate,
        reason: Some("budget".to_owned()),
        event: None,
        proof: Proof::Budget {
            attempts: 1,
            within_secs: 3600,
            events: Vec::new(),
            already_escalated: false,
        },
    };
    let err = render_escalation(
        &rules,
        remediation(&rules, "notify"),
        &disk,
        &decision,
        &Secrets::with_token(),
    );
    assert!(err.is_err_and(|e| e.contains("no `escalate`")));
}

#[test]
fn dropping_the_fake_while_a_call_hangs_returns_promptly() {
    let fake = FakeRemediator::start(Behaviour {
        hang: Some(Duration::from_secs(30)),
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let request = restart_call(&rules, &api_down());
    let result = Client::new().send(
        &request,
        KEY,
        Duration::from_millis(200),
        Some(tracking(&rules)),
    );
    assert!(matches!(result, CallResult::Unknown { .. }));
    let started = Instant::now();
    drop(fake);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Rundeck's scheduler marks a scheduled run that never started `missed`
/// (Rundeck API docs, "Execution Info": `status`; `EXECUTION_MISSED` in
/// rundeckapp's ExecutionService). It will not run any more: a failure now,
/// not a word polled until `poll.timeout`.
#[test]
fn a_missed_rundeck_execution_is_a_failure_at_once() {
    let fake = FakeRemediator::start(Behaviour {
        final_status: "missed".to_owned(),
        ..Behaviour::default()
    });
    let rules = rules_at(&fake.url());
    let r = remediation(&rules, "restart-api");
    let alert = api_down();
    let client = Client::new();
    let tracking = tracking(&rules);
    let id = accepted(&client.send(&restart_call(&rules, &alert), KEY, TIMEOUT, Some(tracking)))
        .0
        .expect("an id");
    let url = render_status_url(&rules, r, &alert, "api/host-1", &id, &Secrets::with_token())
        .expect("status url");
    let headers = resgate::remediate::resolve_headers(
        &rules.remediators[r.remediator],
        &Secrets::with_token(),
    )
    .expect("headers");
    assert_eq!(
        client.poll(&url, &headers, TIMEOUT, tracking),
        PollResult::State {
            state: RemoteState::Failed,
            word: "missed".to_owned()
        }
    );
}

/// Every status word each job runner documents, and what resgate makes of it
/// (the table in docs/integrations.md). Sources:
/// - Rundeck API docs, "Execution Info" (`running`, `succeeded`, `failed`,
///   `aborted`, `timedout`, `failed-with-retry`, `scheduled`, `other`) and
///   rundeckapp's ExecutionService (`queued`, `missed`);
/// - StackStorm st2common/st2common/constants/action.py `LIVEACTION_STATUSES`;
/// - AWX awx/main/models/unified_jobs.py `STATUS_CHOICES` (jobs and workflow jobs).
///
/// A word none of them lists is never success: it is polled again until it
/// changes or `poll.timeout` makes the event `timed_out`.
#[test]
fn every_documented_status_word_of_each_job_runner_is_sorted() {
    use RemoteState::{Failed, Running, Succeeded};
    use resgate::rules::preset::Preset;
    let table: &[(Preset, &[(&str, RemoteState)])] = &[
        (
            Preset::Rundeck,
            &[
                ("running", Running),
                ("scheduled", Running),
                ("queued", Running),
                ("succeeded", Succeeded),
                ("failed", Failed),
                ("aborted", Failed),
                ("timedout", Failed),
                ("failed-with-retry", Failed),
                ("missed", Failed),
                ("other", Failed),
            ],
        ),
        (
            Preset::StackStorm,
            &[
                ("requested", Running),
                ("scheduled", Running),
                ("delayed", Running),
                ("running", Running),
                ("pending", Running),
                ("pausing", Running),
                ("paused", Running),
                ("resuming", Running),
                ("canceling", Running),
                ("succeeded", Succeeded),
                ("failed", Failed),
                ("timeout", Failed),
                ("abandoned", Failed),
                ("canceled", Failed),
            ],
        ),
        (
            Preset::Awx,
            &[
                ("new", Running),
                ("pending", Running),
                ("waiting", Running),
                ("running", Running),
                ("successful", Succeeded),
                ("failed", Failed),
                ("error", Failed),
                ("canceled", Failed),
            ],
        ),
    ];
    for (preset, words) in table {
        let states = preset.states();
        for (word, expected) in *words {
            assert_eq!(states.classify(word), Some(*expected), "{preset:?} {word}");
        }
        for unknown in ["", "unknown", "success", "done", "ok", "completed"] {
            assert_eq!(states.classify(unknown), None, "{preset:?} {unknown}");
        }
        let listed = states.running.len() + states.succeeded.len() + states.failed.len();
        assert_eq!(listed, words.len(), "{preset:?}: a word the table misses");
    }
}

/// An AWX-shaped remediator on loopback, as AWX's API documents it: launching
/// a job template (`POST /api/v2/job_templates/N/launch/`) answers 201 with
/// `job`, `id` and `"type": "job"`, the job's status is at `/api/v2/jobs/ID/`;
/// launching a workflow job template (`POST
/// /api/v2/workflow_job_templates/N/launch/`) answers `workflow_job`, `id` and
/// `"type": "workflow_job"`, and its status is only at
/// `/api/v2/workflow_jobs/ID/` (`/api/v2/jobs/ID/` is 404). Each job reports
/// `pending` once, then `successful`. Ansible Automation Platform 2.5 serves
/// the same API under `/api/controller/v2/` behind its gateway (AAP 2.5
/// "Automation controller API overview"; e.g. `POST
/// /api/controller/v2/job_templates/N/launch/`), answered here too.
struct FakeAwx {
    server: Arc<tiny_http::Server>,
    base: String,
    thread: Option<JoinHandle<()>>,
    polled: Arc<Mutex<Vec<String>>>,
}

impl FakeAwx {
    fn start() -> FakeAwx {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let base = format!(
            "http://{}",
            server.server_addr().to_ip().expect("a TCP address")
        );
        let polled = Arc::new(Mutex::new(Vec::new()));
        let (inner, seen) = (server.clone(), polled.clone());
        let thread = std::thread::spawn(move || {
            // id → (is a workflow job, polls answered)
            let mut jobs: BTreeMap<u64, (bool, usize)> = BTreeMap::new();
            let mut next = 100u64;
            for request in inner.incoming_requests() {
                let path = request.url().to_owned();
                // AAP's gateway path is the same API.
                let path = path
                    .strip_prefix("/api/controller/")
                    .map_or(path.clone(), |rest| format!("/api/{rest}"));
                let json = |code: u16, body: String| {
                    tiny_http::Response::from_string(body)
                        .with_status_code(code)
                        .with_header(
                            tiny_http::Header::from_bytes("Content-Type", "application/json")
                                .expect("header"),
                        )
                };
                let launch = |workflow: bool, id: u64| {
                    let (field, kind, at) = if workflow {
                        ("workflow_job", "workflow_job", "workflow_jobs")
                    } else {
                        ("job", "job", "jobs")
                    };
                    format!(
                        r#"{{"{field}": {id}, "ignored_fields": {{}}, "id": {id}, "type": "{kind}", "url": "/api/v2/{at}/{id}/", "status": "pending"}}"#
                    )
                };
                let response = if request.method() == &tiny_http::Method::Post {
                    next += 1;
                    let workflow = path.starts_with("/api/v2/workflow_job_templates/");
                    jobs.insert(next, (workflow, 0));
                    json(201, launch(workflow, next))
                } else {
                    seen.lock().expect("polled").push(path.clone());
                    let (workflow_url, rest) = match path.strip_prefix("/api/v2/workflow_jobs/") {
                        Some(rest) => (true, rest),
                        None => (false, path.strip_prefix("/api/v2/jobs/").unwrap_or("")),
                    };
                    let id = rest.trim_end_matches('/').parse::<u64>().unwrap_or(0);
                    match jobs.get_mut(&id) {
                        Some((workflow, polls)) if *workflow == workflow_url => {
                            *polls += 1;
                            let status = if *polls == 1 { "pending" } else { "successful" };
                            json(200, format!(r#"{{"id": {id}, "status": "{status}"}}"#))
                        }
                        _ => json(404, r#"{"detail": "Not found."}"#.to_owned()),
                    }
                };
                let _ = request.respond(response);
            }
        });
        FakeAwx {
            server,
            base,
            thread: Some(thread),
            polled,
        }
    }
}

impl Drop for FakeAwx {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn an_awx_workflow_job_is_tracked_and_polled_at_its_workflow_jobs_url() {
    awx_jobs_are_polled_at_their_own_urls("/api/v2");
}

/// The same under Ansible Automation Platform 2.5's gateway, where the status
/// URL a user writes is `/api/controller/v2/jobs/{{ id }}/`: a workflow job
/// must be polled at `/api/controller/v2/workflow_jobs/ID/`, not at the jobs
/// URL that is 404 for it until `poll.timeout` (issue 17).
#[test]
fn an_aap_workflow_job_is_polled_at_its_controller_workflow_jobs_url() {
    awx_jobs_are_polled_at_their_own_urls("/api/controller/v2");
}

/// Launches a job template and a workflow job template under `api` (AWX's
/// `/api/v2` or AAP's `/api/controller/v2`) and follows each to success.
fn awx_jobs_are_polled_at_their_own_urls(api: &str) {
    let awx = FakeAwx::start();
    let base = &format!("{}{api}", awx.base);
    let text = format!(
        r#"
sources:
  alertmanager: {{kind: alertmanager}}
remediators:
  awx:
    preset: awx
    url: "{base}/{{{{ kind }}}}/{{{{ template }}}}/launch/"
    headers: {{Authorization: "Bearer ${{env:AWX_TOKEN}}"}}
    status_url: "{base}/jobs/{{{{ id }}}}/"
remediations:
  roll-api:
    match: {{alertname: ApiDown}}
    target: "{{{{ service }}}}"
    remediator: awx
    vars: {{template: "7"}}
    budget: {{attempts: 3, within: 1h}}
"#
    );
    let loaded = rules::load_texts(vec![(PathBuf::from("rules.yaml"), text)]);
    let rules = loaded
        .rules
        .unwrap_or_else(|| panic!("rules do not load: {:#?}", loaded.diagnostics));
    let r = remediation(&rules, "roll-api");
    let remediator = &rules.remediators[r.remediator];
    let tracking = remediator.tracking.as_ref().expect("awx is tracked");
    let secrets = Secrets(BTreeMap::from([("AWX_TOKEN", TOKEN)]));
    let headers = resgate::remediate::resolve_headers(remediator, &secrets).expect("headers");
    let client = Client::new();

    for (kind, polled_at) in [
        ("job_templates", "/jobs/"),
        ("workflow_job_templates", "/workflow_jobs/"),
    ] {
        let alert = alert(&[("alertname", "ApiDown"), ("service", "api"), ("kind", kind)]);
        let request = render_call(&rules, r, &alert, "api", &secrets).expect("render_call");
        assert_eq!(request.url, format!("{base}/{kind}/7/launch/"));
        let result = client.send(&request, KEY, TIMEOUT, Some(tracking));
        let CallResult::Accepted {
            remote_id: Some(id),
            kind: launched,
            ..
        } = result
        else {
            panic!("{kind}: no remote ID in {result:?}");
        };
        let url = resgate::remediate::render_status_url_for(
            &rules,
            r,
            &alert,
            "api",
            &id,
            launched.as_deref(),
            &Secrets::with_token(),
        )
        .expect("status url");
        assert_eq!(url, format!("{base}{polled_at}{id}/"), "{kind}");
        assert_eq!(
            client.poll(&url, &headers, TIMEOUT, tracking),
            PollResult::State {
                state: RemoteState::Running,
                word: "pending".to_owned()
            },
            "{kind}"
        );
        assert_eq!(
            client.poll(&url, &headers, TIMEOUT, tracking),
            PollResult::State {
                state: RemoteState::Succeeded,
                word: "successful".to_owned()
            },
            "{kind}"
        );
    }
    let polled = awx.polled.lock().expect("polled").clone();
    assert_eq!(polled.len(), 4, "{polled:?}");
}

/// `{{ labels | tojson }}` in a body (docs/rules.md, Templates) is the alert's
/// labels as a JSON object, and a label whose name is not an identifier reads
/// with `labels['...']` (issue 17: both were a list of pairs / undefined).
#[test]
fn a_body_renders_labels_as_a_json_object() {
    let text = r#"
sources:
  alertmanager: {kind: alertmanager}
remediators:
  hook:
    url: "http://127.0.0.1:9/hooks/{{ labels['app.kubernetes.io/name'] }}"
  pager:
    url: "http://127.0.0.1:9/alerts"
remediations:
  notify:
    match: {alertname: ApiDown}
    target: "{{ alertname }}"
    remediator: hook
    body:
      labels: "{{ labels | tojson }}"
      annotations: "{{ annotations | tojson }}"
      app: "{{ labels['app.kubernetes.io/name'] | upper }}"
    budget: {attempts: 1, within: 1h}
    escalate: pager
"#;
    let loaded = rules::load_texts(vec![(PathBuf::from("rules.yaml"), text.to_owned())]);
    let Some(rules) = loaded.rules else {
        panic!("rules do not load: {:#?}", loaded.diagnostics);
    };
    let mut alert = api_down();
    alert.labels.insert(
        "app.kubernetes.io/name".to_owned(),
        "web/1 \"x\"".to_owned(),
    );
    let request = render_call(
        &rules,
        remediation(&rules, "notify"),
        &alert,
        "ApiDown",
        &Secrets::with_token(),
    )
    .unwrap_or_else(|e| panic!("render_call: {e}"));
    // The URL still percent-encodes the label, `/` included.
    assert_eq!(request.url, "http://127.0.0.1:9/hooks/web%2F1%20%22x%22");
    let body: serde_json::Value =
        serde_json::from_str(request.body.as_deref().unwrap_or("")).expect("body is JSON");
    let field = |name: &str| {
        body[name]
            .as_str()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    };
    assert_eq!(
        field("labels"),
        Some(serde_json::json!({
            "alertname": "ApiDown",
            "service": "api",
            "instance": "host-1",
            "severity": "critical",
            "app.kubernetes.io/name": "web/1 \"x\"",
        })),
        "{body}"
    );
    assert_eq!(
        field("annotations"),
        Some(serde_json::json!({"summary": "api is down"}))
    );
    assert_eq!(body["app"], "WEB/1 \"X\"");
}
