//! `resgate serve` as a child process on loopback, and a raw HTTP/1.1 client
//! that can also misbehave (slow bodies, lying lengths) for the hostile tests.
//!
//! Waiting here is on real processes, bounded by deadlines; no test asserts
//! anything about speed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fake_remediator::FakeRemediator;

pub struct Daemon {
    child: Option<Child>,
    pub addr: String,
    pub data: PathBuf,
    pub stderr: PathBuf,
}

impl Daemon {
    /// Starts `resgate serve` and waits for its "listening" line.
    pub fn start(rules: &Path, data: &Path, extra: &[&str]) -> Daemon {
        Self::start_env(rules, data, extra, &[])
    }

    pub fn start_env(rules: &Path, data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        Self::spawn(rules, data, data, extra, env)
    }

    /// As [`Daemon::start`], with stderr logged in `logs` instead of the data
    /// directory: a test that breaks the data directory's file system still
    /// has the daemon's account of it.
    pub fn start_logging_in(rules: &Path, data: &Path, logs: &Path, extra: &[&str]) -> Daemon {
        Self::spawn(rules, data, logs, extra, &[])
    }

    fn spawn(
        rules: &Path,
        data: &Path,
        logs: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        std::fs::create_dir_all(data).expect("data dir");
        std::fs::create_dir_all(logs).expect("log dir");
        let stderr = logs.join(format!(
            "stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_resgate"));
        cmd.arg("serve")
            .arg("--rules")
            .arg(rules)
            .arg("--data")
            .arg(data)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start resgate serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let read = BufReader::new(stdout).read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("resgate listening on http://")
            .map(str::to_owned);
        let Some(addr) = addr.filter(|_| read.is_ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "resgate serve did not start; first line {line:?}; stderr:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        };
        Daemon {
            child: Some(child),
            addr,
            data: data.to_owned(),
            stderr,
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        request(&self.addr, method, path, headers, body)
    }

    pub fn post(&self, path: &str, body: &[u8]) -> (u16, String) {
        self.request("POST", path, &[("Content-Type", "application/json")], body)
    }

    /// As [`Daemon::post`], with the response's head (status line and headers).
    pub fn post_with_head(&self, path: &str, body: &[u8]) -> (u16, String, String) {
        let raw = exchange(
            &self.addr,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            body,
        );
        let (status, body) = parse_response(&raw);
        let head = raw.split_once("\r\n\r\n").map_or(raw.as_str(), |(h, _)| h);
        (status, head.to_owned(), body)
    }

    /// Whether the process is still running (it has not exited or crashed).
    /// How the process ended, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.request("GET", path, &[], b"");
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    /// One event's state; "" while it does not exist.
    pub fn event_state(&self, id: &str) -> String {
        let (status, body) = self.request("GET", &format!("/api/v1/events/{id}"), &[], b"");
        if status != 200 {
            return String::new();
        }
        let event: Value = serde_json::from_str(&body).unwrap_or_default();
        event["state"].as_str().unwrap_or_default().to_owned()
    }

    pub fn decisions(&self) -> Vec<Value> {
        self.get_json("/api/v1/decisions")["decisions"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn events(&self) -> Vec<Value> {
        self.get_json("/api/v1/events")["events"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Polls `check` every 50 ms until it holds or `timeout` passes.
    pub fn wait_for(&self, what: &str, timeout: Duration, mut check: impl FnMut(&Daemon) -> bool) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if check(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "timed out waiting for {what}\nevents: {:#?}\ndecisions: {:#?}\nlogs:\n{}",
            self.events(),
            self.decisions(),
            self.logs()
        );
    }

    /// SIGKILL: the crash a power cut or the OOM killer causes.
    pub fn kill9(mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then the exit status (bounded wait).
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("resgate serve did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One HTTP/1.1 request on a fresh connection; the status and body.
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    parse_response(&exchange(addr, method, path, headers, body))
}

/// One HTTP/1.1 request on a fresh connection; the whole response as text.
fn exchange(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    let mut has_length = false;
    let mut has_type = false;
    for (k, v) in headers {
        has_length |= k.eq_ignore_ascii_case("content-length");
        has_type |= k.eq_ignore_ascii_case("content-type");
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    // As Alertmanager, Grafana and `resgate pause` do: serve refuses a write
    // that is not declared JSON (DESIGN.md §5).
    if !has_type && matches!(method, "POST" | "DELETE") {
        head.push_str("Content-Type: application/json\r\n");
    }
    if !has_length {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("write head");
    // The server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

pub fn read_response(stream: &mut TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&String::from_utf8_lossy(&raw))
}

/// The status and body of a raw HTTP/1.1 response.
fn parse_response(text: &str) -> (u16, String) {
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// An Alertmanager webhook body with one alert.
pub fn alertmanager_payload(status: &str, labels: &[(&str, &str)], starts_at: &str) -> Vec<u8> {
    let labels: serde_json::Map<String, Value> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    let ends_at = if status == "resolved" {
        "2030-01-01T00:00:00Z"
    } else {
        "0001-01-01T00:00:00Z"
    };
    serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"ApiDown\"}",
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "resgate",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [{
            "status": status,
            "labels": labels,
            "annotations": {"summary": "test"},
            "startsAt": starts_at,
            "endsAt": ends_at,
            "generatorURL": "http://prometheus.example/graph",
            "fingerprint": ""
        }]
    })
    .to_string()
    .into_bytes()
}

/// The labels of the alert the restart rules of [`write_rules`] act on.
pub const API_DOWN: &[(&str, &str)] = &[
    ("alertname", "ApiDown"),
    ("severity", "critical"),
    ("service", "api"),
    ("instance", "api-1:8080"),
];

/// A rules directory with an Alertmanager source, a Rundeck-like remediator
/// and a pager (both on `fake`), and one remediation restarting `ApiDown`'s
/// instance. `source_extra` is appended inside the source's mapping.
/// What most daemon tests start from: a fake remediator, a temp directory
/// and the test rules pointing at the fake (`write_rules`) in `dir/rules`.
/// `let (fake, dir, rules) = rig(Behaviour::default(), "");`, or `_fake` where
/// the test never asks the fake (it must live as long as the daemon).
/// `source_extra` is appended to the source's YAML.
pub fn rig(
    behaviour: super::fake_remediator::Behaviour,
    source_extra: &str,
) -> (FakeRemediator, tempfile::TempDir, PathBuf) {
    let fake = FakeRemediator::start(behaviour);
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = dir.path().join("rules");
    write_rules(&rules, &fake, source_extra);
    (fake, dir, rules)
}

pub fn write_rules(dir: &Path, fake: &FakeRemediator, source_extra: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let url = fake.url();
    std::fs::write(
        dir.join("sources.yaml"),
        format!(
            r#"sources:
  alertmanager: {{kind: alertmanager{source_extra}}}
remediators:
  rundeck:
    preset: rundeck
    url: "{url}/api/45/job/{{{{ job }}}}/run"
    headers: {{X-Rundeck-Auth-Token: "test-token"}}
    status_url: "{url}/api/45/execution/{{{{ id }}}}"
    poll: {{every: 100ms, timeout: 1m}}
    timeout: 5s
  pager:
    preset: webhook
    url: "{url}/api/v2/alerts"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("restart.yaml"),
        r#"remediations:
  restart-api:
    match: {alertname: ApiDown, service: "=~.+", instance: "=~.+"}
    target: "{{ service }}/{{ instance }}"
    remediator: rundeck
    vars: {job: "restart-{{ service }}"}
    body: {argString: "-host {{ instance }}"}
    warmup: 1s
    budget: {attempts: 3, within: 1h}
    escalate: pager
"#,
    )
    .unwrap();
}

/// [`API_DOWN`] on another instance.
pub fn api_down_on(instance: &str) -> Vec<(&str, &str)> {
    let mut labels: Vec<(&str, &str)> = API_DOWN.to_vec();
    labels.retain(|(k, _)| *k != "instance");
    labels.push(("instance", instance));
    labels
}

/// One Alertmanager webhook carrying `n` firing `ApiDown` alerts, each on
/// its own instance (`api-0:8080`, ...): a storm in one request.
pub fn alertmanager_storm(n: usize) -> Vec<u8> {
    alertmanager_storm_of("ApiDown", n)
}

/// [`alertmanager_storm`] of alerts named `alertname`.
pub fn alertmanager_storm_of(alertname: &str, n: usize) -> Vec<u8> {
    let alerts: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "status": "firing",
                "labels": {"alertname": alertname, "severity": "critical", "service": "api",
                           "instance": format!("api-{i}:8080")},
                "annotations": {},
                "startsAt": "2026-12-07T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example/graph",
                "fingerprint": ""
            })
        })
        .collect();
    serde_json::json!({
        "version": "4", "groupKey": format!("{{}}:{{alertname=\"{alertname}\"}}"), "truncatedAlerts": 0,
        "status": "firing", "receiver": "resgate", "groupLabels": {}, "commonLabels": {},
        "commonAnnotations": {}, "externalURL": "http://alertmanager.example:9093",
        "alerts": alerts
    })
    .to_string()
    .into_bytes()
}

/// The notification outbox of a serve data directory: (rows, sent, failed),
/// of one notifier or of all.
pub fn outbox_counts(data: &Path, notifier: Option<&str>) -> (i64, i64, i64) {
    let conn = rusqlite::Connection::open_with_flags(
        data.join("resgate.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    conn.query_row(
        "SELECT COUNT(*),
                COALESCE(SUM(CASE WHEN sent_at IS NOT NULL THEN 1 ELSE 0 END), 0),
                COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0)
         FROM outbox WHERE ?1 IS NULL OR notifier = ?1",
        [notifier],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// [`write_rules`] for a storm: the remediator's jobs keep running and
/// `restart-api` has `max_concurrent: 2`, so all fires but two defer
/// (`concurrency`). Keep the returned fake alive for the test.
pub fn write_storm_rules(dir: &Path) -> FakeRemediator {
    let fake = FakeRemediator::start(super::fake_remediator::Behaviour {
        running_polls: usize::MAX,
        ..super::fake_remediator::Behaviour::default()
    });
    write_rules(dir, &fake, "");
    let restart = std::fs::read_to_string(dir.join("restart.yaml")).unwrap_or_default();
    std::fs::write(
        dir.join("restart.yaml"),
        restart.replace("warmup: 1s", "warmup: 1s\n    max_concurrent: 2"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    fake
}
