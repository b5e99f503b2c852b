//! A Rundeck-like remediator on loopback, with scripted answers and faults.
//!
//! `POST /api/45/job/{job}/run` starts an execution (IDs count up from 1),
//! `GET /api/45/execution/{id}` reports `running` for `running_polls` polls and
//! then the scripted final word, `POST /api/v2/alerts` takes escalations.
//! Faults (503s, garbage, hangs, refusing connections, forgotten IDs) apply to
//! run calls, except `refuse`, which closes the listener for everything.
//!
//! The server runs on a background thread that the handle stops on drop; a
//! hanging answer waits on the same stop signal, so dropping never hangs.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Hangs are bounded whatever a test asks, so a forgotten fake cannot stall CI.
const MAX_HANG: Duration = Duration::from_secs(30);
/// How long the background thread blocks before looking at its instructions.
const TICK: Duration = Duration::from_millis(10);
/// How long `start`/`set_behaviour` wait for the listener to open or close.
const APPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// What a 2xx answer to a run call holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `{"id": n, "href": ..., "status": "running"}`.
    Normal,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with JSON that has no `id`.
    NoId,
}

/// The script. Change it while running with [`FakeRemediator::set_behaviour`].
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// The first this many run calls after the behaviour is set fail with `fail_status`.
    pub fail_first: usize,
    pub fail_status: u16,
    pub answer: Answer,
    /// Run calls are answered only after this long (bounded by 30 s).
    pub hang: Option<Duration>,
    /// Status polls are answered only after this long (bounded by 30 s).
    pub hang_polls: Option<Duration>,
    /// Stop listening: connections are refused until this is turned off again.
    pub refuse: bool,
    /// Every status poll is 404, as if the remediator lost its executions.
    pub forget_ids: bool,
    /// Polls of an execution that report `running` before the final word.
    pub running_polls: usize,
    /// The word reported after `running_polls` polls (`succeeded`, `failed`, ...).
    pub final_status: String,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            fail_first: 0,
            fail_status: 503,
            answer: Answer::Normal,
            hang: None,
            hang_polls: None,
            refuse: false,
            forget_ids: false,
            running_polls: 0,
            final_status: "succeeded".to_owned(),
        }
    }
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct ReceivedCall {
    pub method: String,
    /// The raw request target: path and query, still percent-encoded.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ReceivedCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    behaviour: Behaviour,
    failures_left: usize,
    calls: Vec<ReceivedCall>,
    escalations: Vec<ReceivedCall>,
    polls: usize,
    next_id: u64,
    /// Execution ID → polls answered so far.
    executions: BTreeMap<u64, usize>,
    listening: bool,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere in a test must not hide the fake's records.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct FakeRemediator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

impl FakeRemediator {
    pub fn start(behaviour: Behaviour) -> FakeRemediator {
        Self::start_on("127.0.0.1:0", behaviour)
    }

    /// As [`FakeRemediator::start`], on a given address (a documented example's
    /// port); panics when it is taken.
    pub fn start_on(addr: &str, behaviour: Behaviour) -> FakeRemediator {
        let server = tiny_http::Server::http(addr)
            .unwrap_or_else(|e| panic!("bind the fake remediator on {addr}: {e}"));
        let addr = server
            .server_addr()
            .to_ip()
            .expect("the fake remediator listens on TCP");
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                failures_left: behaviour.fail_first,
                behaviour,
                calls: Vec::new(),
                escalations: Vec::new(),
                polls: 0,
                next_id: 1,
                executions: BTreeMap::new(),
                listening: true,
                stop: false,
            }),
            changed: Condvar::new(),
        });
        let inner = shared.clone();
        let thread = std::thread::spawn(move || serve(&inner, server, addr));
        let fake = FakeRemediator {
            shared,
            addr,
            thread: Some(thread),
        };
        fake.wait_applied();
        fake
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every run call received, failed ones included, in order.
    pub fn calls(&self) -> Vec<ReceivedCall> {
        self.shared.lock().calls.clone()
    }

    /// Every `POST /api/v2/alerts` received.
    pub fn escalations(&self) -> Vec<ReceivedCall> {
        self.shared.lock().escalations.clone()
    }

    /// Status polls received, unknown IDs included.
    pub fn polls(&self) -> usize {
        self.shared.lock().polls
    }

    /// Replaces the script; `fail_first` counts again from now. Returns once
    /// the listener is open or closed as `refuse` says.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        {
            let mut state = self.shared.lock();
            state.failures_left = behaviour.fail_first;
            state.behaviour = behaviour;
        }
        self.shared.changed.notify_all();
        self.wait_applied();
    }

    fn wait_applied(&self) {
        let state = self.shared.lock();
        let (state, timeout) = self
            .shared
            .changed
            .wait_timeout_while(state, APPLY_TIMEOUT, |s| s.listening == s.behaviour.refuse)
            .unwrap_or_else(|e| e.into_inner());
        assert!(
            !timeout.timed_out(),
            "the fake remediator could not {} port {}",
            if state.behaviour.refuse {
                "stop listening on"
            } else {
                "listen again on"
            },
            self.addr.port()
        );
    }
}

impl Drop for FakeRemediator {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The background thread: answers requests, opens and closes the listener.
fn serve(shared: &Arc<Shared>, server: tiny_http::Server, addr: SocketAddr) {
    let mut server = Some(server);
    loop {
        let (stop, refuse) = {
            let state = shared.lock();
            (state.stop, state.behaviour.refuse)
        };
        if stop {
            return;
        }
        if refuse && server.is_some() {
            drop(server.take());
            wait_until_refused(addr);
        } else if !refuse && server.is_none() {
            // std sets SO_REUSEADDR, so the port can be bound again at once.
            server = tiny_http::Server::http(addr).ok();
        }
        {
            let mut state = shared.lock();
            if state.listening != server.is_some() {
                state.listening = server.is_some();
                shared.changed.notify_all();
            }
        }
        match &server {
            Some(s) => {
                if let Ok(Some(request)) = s.recv_timeout(TICK) {
                    handle(shared, request);
                }
            }
            None => {
                let state = shared.lock();
                let _ = shared.changed.wait_timeout(state, TICK);
            }
        }
    }
}

/// tiny_http closes its listener on its accept thread shortly after the
/// server is dropped; `refuse` promises refusal, so wait for it.
fn wait_until_refused(addr: SocketAddr) {
    let until = Instant::now() + APPLY_TIMEOUT;
    while Instant::now() < until {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

struct Reply {
    status: u16,
    body: String,
}

fn reply(status: u16, body: impl Into<String>) -> Reply {
    Reply {
        status,
        body: body.into(),
    }
}

fn handle(shared: &Arc<Shared>, mut request: tiny_http::Request) {
    let mut body = String::new();
    let _ = request
        .as_reader()
        .take(1024 * 1024)
        .read_to_string(&mut body);
    let call = ReceivedCall {
        method: request.method().as_str().to_owned(),
        path: request.url().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_owned(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        body,
    };
    let path = call
        .path
        .split_once('?')
        .map_or(call.path.as_str(), |(p, _)| p);
    let job = path
        .strip_prefix("/api/45/job/")
        .and_then(|rest| rest.strip_suffix("/run"))
        .filter(|job| !job.is_empty() && !job.contains('/'));
    let execution = path.strip_prefix("/api/45/execution/");
    let (answer, hang) = match (call.method.as_str(), job, execution, path) {
        ("POST", Some(_), _, _) => run(shared, call),
        ("GET", None, Some(id), _) => status(shared, id),
        ("POST", None, None, "/api/v2/alerts") => {
            shared.lock().escalations.push(call);
            (reply(200, "{}"), None)
        }
        _ => (reply(404, r#"{"error": "no such endpoint"}"#), None),
    };
    match hang {
        None => respond(request, answer),
        Some(delay) => {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let state = shared.lock();
                let _ = shared
                    .changed
                    .wait_timeout_while(state, delay.min(MAX_HANG), |s| !s.stop);
                respond(request, answer);
            });
        }
    }
}

fn run(shared: &Shared, call: ReceivedCall) -> (Reply, Option<Duration>) {
    let mut state = shared.lock();
    state.calls.push(call);
    if state.failures_left > 0 {
        state.failures_left -= 1;
        let status = state.behaviour.fail_status;
        return (reply(status, r#"{"error": "scripted failure"}"#), None);
    }
    let hang = state.behaviour.hang;
    let answer = match state.behaviour.answer {
        Answer::Normal => {
            let id = state.next_id;
            state.next_id += 1;
            state.executions.insert(id, 0);
            let href = format!("/api/45/execution/{id}");
            reply(
                200,
                serde_json::json!({"id": id, "href": href, "status": "running"}).to_string(),
            )
        }
        Answer::Garbage => reply(200, "<html>Rundeck is starting</html>"),
        Answer::NoId => reply(200, r#"{"status": "running"}"#),
    };
    (answer, hang)
}

fn status(shared: &Shared, id: &str) -> (Reply, Option<Duration>) {
    let mut state = shared.lock();
    state.polls += 1;
    let hang = state.behaviour.hang_polls;
    let not_found = || reply(404, r#"{"error": "execution not found"}"#);
    if state.behaviour.forget_ids {
        return (not_found(), hang);
    }
    let running_polls = state.behaviour.running_polls;
    let final_status = state.behaviour.final_status.clone();
    let Ok(id) = id.parse::<u64>() else {
        return (not_found(), hang);
    };
    let Some(seen) = state.executions.get_mut(&id) else {
        return (not_found(), hang);
    };
    let word = if *seen < running_polls {
        "running".to_owned()
    } else {
        final_status
    };
    *seen += 1;
    let body = serde_json::json!({"id": id, "status": word});
    (reply(200, body.to_string()), hang)
}

fn respond(request: tiny_http::Request, answer: Reply) {
    let mut response =
        tiny_http::Response::from_string(answer.body).with_status_code(answer.status);
    if let Ok(header) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
        response = response.with_header(header);
    }
    // The client may have given up already (that is what hangs are for).
    let _ = request.respond(response);
}
