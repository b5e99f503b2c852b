//! End to end: the real Prometheus Alertmanager → `resgate serve` → a fake Rundeck.
//!
//! What the Debian package gives us (learned by running it on loopback):
//!
//! - `apt-get install prometheus-alertmanager` (Debian 0.25.0-1+b4, Go 1.19) puts the
//!   binary at `/usr/bin/prometheus-alertmanager`. There is no `alertmanager` on PATH
//!   (`amtool` is `/usr/bin/amtool`). `--version`: "alertmanager, version 0.25.0".
//!   In a container without systemd the postinst starts nothing; on a host with
//!   systemd it starts the packaged service on :9093/:9094, which this test never
//!   touches (every port here is picked at run time).
//! - Command line used below (starts in ~70 ms, `/-/ready` answers 200 at once):
//!
//!   ```text
//!   prometheus-alertmanager --config.file=DIR/alertmanager.yml --storage.path=DIR/am-data
//!     --web.listen-address=127.0.0.1:PORT --web.external-url=http://127.0.0.1:PORT/
//!     --cluster.listen-address= --log.level=debug
//!   ```
//!
//!   `--cluster.listen-address=` (empty) disables HA gossip: no :9094, no waiting
//!   for peers to settle. `--storage.path` is created if missing; nflog and
//!   silences snapshots are written there on SIGTERM. Without `--config.file` and
//!   `--storage.path` it would read `/etc/prometheus/alertmanager.yml` and write
//!   `/var/lib/prometheus/alertmanager/`. `--web.external-url` only makes
//!   `externalURL` in payloads deterministic (else `http://<hostname>:PORT`).
//! - Config used below (see [`alertmanager_config`]): one route, `group_by`
//!   alertname/service/instance, `group_wait: 1s`, `group_interval: 2s`,
//!   `repeat_interval: 4s`, one receiver with `webhook_configs: [{url,
//!   send_resolved: true, max_alerts: 0}]`. `amtool check-config`: group_interval
//!   and repeat_interval "cannot be zero"; anything above zero is accepted (1ms
//!   passes), group_wait 0s is accepted. Repeats are only checked on
//!   group_interval ticks, so group_interval is the real granularity.
//! - Observed timings (`POST /api/v2/alerts` without startsAt/endsAt): first
//!   notification 1.0 s after the push (group_wait), then repeats every 4–6 s (a
//!   repeat is due when the last notify is ≥ 4 s old at a 2 s tick; the log entry's
//!   timestamp is a few ms after the tick, so some gaps are 6 s). Every post is
//!   `{"version": "4", "status", "receiver", "groupKey":
//!   "{}:{alertname=\"ApiDown\", instance=\"api-1:8080\", service=\"api\"}",
//!   "truncatedAlerts": 0, "alerts": [{status, labels, annotations, startsAt,
//!   endsAt, generatorURL, fingerprint}], groupLabels, commonLabels, ...}` with
//!   `User-Agent: Alertmanager/0.25.0`; a firing alert shows `endsAt:
//!   "0001-01-01T00:00:00Z"` (the alert fingerprint here is 747c372d08f14e3c).
//! - Resolving: an alert pushed without endsAt gets endsAt = now + resolve_timeout
//!   (global default 5m) inside Alertmanager. Re-pushing the same labels with
//!   `endsAt` = now or in the past resolves it at once (`GET /api/v2/alerts` no
//!   longer lists it; startsAt is kept) and the `resolved` notification goes out on
//!   the group's next group_interval tick (observed 0.5 s and 1.4 s after the push),
//!   once; nothing is sent for the group afterwards.
//! - A receiver that refuses connections is retried with backoff ("Notify attempt
//!   failed, will retry later"); one came up 4 s late and got the notification
//!   at attempt 5.
//!
//! What that means for this test: resgate recognises a repeat of the same
//! (groupKey, fingerprint, startsAt, status) within the dedupe window as a
//! duplicate and decides it once (DESIGN.md §5). The test runs serve with
//! `--dedupe-window 5s` so Alertmanager's 4–6 s repeats are decided again within
//! seconds (the default, 60 s, would make the test wait a minute). The fake
//! Rundeck keeps the job `running` until the test has seen a `collapse`, then
//! lets it succeed, so the test does not depend on timing. The warm-up is 30 s
//! rather than a few seconds so that the resolve (one group_interval tick away,
//! plus Alertmanager's retries) always lands while the event is warming; an
//! event that outlives its warm-up while the alert fires is `not_rescued`, and
//! the next repeat would rightly fire again.
//!
//! A green run (resgate log): fire 1 s after the push (accepted, then running
//! at the first poll); the first repeat inside 5 s is journaled as a duplicate,
//! the next is decided again: `collapse` (in_flight) into the running event;
//! the job is released, `warming` 1 s later; the resolve is pushed,
//! Alertmanager posts `resolved` and the event is `rescued`; SIGTERM, exit 0.
//! About 10 s in all.
//!
//! Without the binary: skipped with a message, or a failure when `CI` is set.
//! `ALERTMANAGER_BIN` overrides where the binary is looked for.
#![cfg(unix)]

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::fake_remediator::{Behaviour, FakeRemediator};
use serde_json::{Value, json};

/// Every wait is bounded so a broken build fails instead of hanging CI; none of
/// these is a claim about speed.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const FIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bounds only: the first repeat decided again comes a few seconds in.
const COLLAPSE_TIMEOUT: Duration = Duration::from_secs(180);
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_EVERY: Duration = Duration::from_millis(200);

const REMEDIATION: &str = "restart-api";

/// The labels Prometheus would send for the api being down.
fn api_down_labels() -> Value {
    json!({
        "alertname": "ApiDown",
        "severity": "critical",
        "service": "api",
        "instance": "api-1:8080",
    })
}

#[test]
fn alertmanager_notifications_fire_once_collapse_and_rescue() {
    let Some(alertmanager) = find_alertmanager() else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but the Alertmanager binary was not found (looked for \
                 prometheus-alertmanager and alertmanager on PATH, and $ALERTMANAGER_BIN): \
                 install the Debian package with `apt-get install -y prometheus-alertmanager` \
                 (.ci/run does this)"
            );
        }
        common::skipped(
            "the Alertmanager binary was not found (the Debian package \
             prometheus-alertmanager is not installed; `apt-get install -y \
             prometheus-alertmanager` to run this test)",
        );
        return;
    };

    let dir = tempfile::tempdir().expect("temp dir");
    let http = agent();

    // 1. The remediator: keeps the job running until the test lets it finish.
    let fake = FakeRemediator::start(Behaviour {
        running_polls: 1_000_000,
        ..Behaviour::default()
    });

    // 2. resgate serve, on a port of its choosing.
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("rules dir");
    std::fs::write(rules.join("sources.yaml"), sources_yaml(&fake.url())).expect("sources.yaml");
    std::fs::write(rules.join("restart.yaml"), RESTART_YAML).expect("restart.yaml");
    let mut resgate = start_resgate(dir.path(), &rules);
    let base = resgate.base_url.clone().expect("resgate's URL");
    wait_ready(&http, &format!("{base}/readyz"), &mut resgate);

    // 3. Alertmanager, posting to resgate.
    let am_port = free_port();
    let am_url = format!("http://127.0.0.1:{am_port}");
    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        alertmanager_config(&format!("{base}/webhook/alertmanager")),
    )
    .expect("alertmanager.yml");
    let mut am = start_alertmanager(&alertmanager, dir.path(), &am_config, am_port);
    wait_ready(&http, &format!("{am_url}/-/ready"), &mut am);

    // 4. The api goes down. Prometheus sends startsAt; so do we, so that the
    //    resolve below names the same alert.
    let starts_at = jiff::Timestamp::now();
    push_alert(&http, &am_url, starts_at, None);

    // 5. One fire, and the job is running.
    let fired = wait_for("a fire decision and a running event", FIRE_TIMEOUT, || {
        let s = Observed::fetch(&http, &base)?;
        s.at_most_one_fire()?;
        let Some(fire) = s.fires().first().copied() else {
            return Ok((None, s.summary()));
        };
        let event_id = str_field(fire, "event").ok_or("the fire decision names no event")?;
        let running = s
            .event(event_id)
            .is_some_and(|e| str_field(e, "state") == Some("running"));
        Ok((running.then(|| event_id.to_owned()), s.summary()))
    });

    // 6. Alertmanager keeps notifying; a repeat decided while the job runs
    //    collapses into the running event instead of firing again.
    wait_for(
        "a collapse into the running event",
        COLLAPSE_TIMEOUT,
        || {
            let s = Observed::fetch(&http, &base)?;
            s.at_most_one_fire()?;
            let collapsed = s
                .decisions_for(REMEDIATION)
                .iter()
                .any(|d| str_field(d, "verdict") == Some("collapse"));
            Ok((collapsed.then_some(()), s.summary()))
        },
    );
    {
        let s = Observed::fetch(&http, &base).expect("resgate's API");
        for d in s.decisions_for(REMEDIATION) {
            if str_field(d, "verdict") == Some("collapse") {
                assert_eq!(
                    str_field(d, "event"),
                    Some(fired.as_str()),
                    "a collapse must name the running event\n{}",
                    s.summary()
                );
                assert_eq!(str_field(d, "reason"), Some("in_flight"), "{}", s.summary());
            }
        }
    }

    // 7. The job succeeds: the event warms up.
    fake.set_behaviour(Behaviour::default());
    wait_for("the event to be warming", SETTLE_TIMEOUT, || {
        let s = Observed::fetch(&http, &base)?;
        s.at_most_one_fire()?;
        let state = s.event(&fired).and_then(|e| str_field(e, "state"));
        if let Some(bad @ ("failed" | "timed_out" | "refused" | "not_rescued" | "rescued")) = state
        {
            return Err(format!(
                "event {fired} is {bad} before warming\n{}",
                s.summary()
            ));
        }
        Ok(((state == Some("warming")).then_some(()), s.summary()))
    });

    // 8. The api is back: resolve the alert in Alertmanager, which tells resgate.
    push_alert(
        &http,
        &am_url,
        starts_at,
        Some(jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1)),
    );
    wait_for("the event to be rescued", SETTLE_TIMEOUT, || {
        let s = Observed::fetch(&http, &base)?;
        s.at_most_one_fire()?;
        let state = s.event(&fired).and_then(|e| str_field(e, "state"));
        if let Some(bad @ ("failed" | "timed_out" | "refused" | "not_rescued")) = state {
            return Err(format!("event {fired} is {bad}\n{}", s.summary()));
        }
        Ok(((state == Some("rescued")).then_some(()), s.summary()))
    });

    // 9. The whole story, once more, from the journal.
    let s = Observed::fetch(&http, &base).expect("resgate's API");
    let summary = s.summary();
    let fires = s.fires();
    assert_eq!(fires.len(), 1, "exactly one fire\n{summary}");
    assert_eq!(
        str_field(fires[0], "target"),
        Some("api/api-1:8080"),
        "{summary}"
    );
    assert!(
        s.decisions_for(REMEDIATION)
            .iter()
            .all(|d| !matches!(str_field(d, "verdict"), Some("escalate" | "discard"))),
        "nothing escalated or discarded for {REMEDIATION}\n{summary}"
    );
    let events: Vec<&Value> = s
        .events
        .iter()
        .filter(|e| str_field(e, "remediation") == Some(REMEDIATION))
        .collect();
    assert_eq!(events.len(), 1, "exactly one event\n{summary}");
    let event = events[0];
    assert_eq!(str_field(event, "id"), Some(fired.as_str()), "{summary}");
    assert_eq!(
        str_field(event, "target"),
        Some("api/api-1:8080"),
        "{summary}"
    );
    assert_eq!(
        event.get("remote_id").map(id_text).as_deref(),
        Some("1"),
        "the event keeps Rundeck's execution ID\n{summary}"
    );
    let history: Vec<&str> = event
        .get("history")
        .and_then(Value::as_array)
        .map(|h| h.iter().filter_map(|c| str_field(c, "state")).collect())
        .unwrap_or_default();
    assert!(
        is_subsequence(&["running", "warming", "rescued"], &history),
        "history {history:?} must go running → warming → rescued\n{summary}"
    );
    assert!(
        history.iter().all(|st| matches!(
            *st,
            "pending" | "accepted" | "running" | "warming" | "rescued"
        )),
        "history {history:?} has an unexpected state\n{summary}"
    );

    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "exactly one job call: {calls:#?}");
    let call = &calls[0];
    assert_eq!(call.method, "POST", "{call:#?}");
    assert_eq!(call.path, "/api/45/job/restart-api/run", "{call:#?}");
    assert!(
        call.header("Idempotency-Key")
            .is_some_and(|k| !k.trim().is_empty()),
        "the job call carries an Idempotency-Key: {call:#?}"
    );
    let body: Value = serde_json::from_str(&call.body).expect("the job call's body is JSON");
    assert_eq!(body, json!({"argString": "-host api-1:8080"}), "{call:#?}");
    assert!(fake.polls() >= 2, "resgate polled the execution");
    assert!(
        fake.escalations().is_empty(),
        "nothing was escalated: {:#?}",
        fake.escalations()
    );

    // 10. SIGTERM: a clean exit.
    let status = resgate.terminate(START_TIMEOUT);
    assert!(status.success(), "resgate exits 0 on SIGTERM, got {status}");
}

// ---- rules and configs -------------------------------------------------------

fn sources_yaml(fake: &str) -> String {
    format!(
        r#"sources:
  alertmanager: {{kind: alertmanager}}

remediators:
  rundeck:
    preset: rundeck
    url: "{fake}/api/45/job/{{{{ job }}}}/run"
    headers: {{X-Rundeck-Auth-Token: "test-token"}}
    status_url: "{fake}/api/45/execution/{{{{ id }}}}"
    poll: {{every: 1s, timeout: 5m}}
    timeout: 5s
  pager:
    preset: webhook
    url: "{fake}/api/v2/alerts"
"#
    )
}

/// `rules/restart.yaml`'s restart-api without its `unless` guards, and with a
/// warm-up that a resolve one group_interval away cannot miss.
const RESTART_YAML: &str = r#"remediations:
  restart-api:
    match:
      alertname: ApiDown
      severity: "=~critical|page"
      service: "=~.+"
      instance: "=~.+"
    target: "{{ service }}/{{ instance }}"
    remediator: rundeck
    vars: {job: "restart-{{ service }}"}
    body: {argString: "-host {{ instance }}"}
    warmup: 30s
    budget: {attempts: 3, within: 1h}
    max_concurrent: 2
    escalate: pager
"#;

fn alertmanager_config(webhook: &str) -> String {
    format!(
        r#"global:
  resolve_timeout: 5m
route:
  receiver: resgate
  group_by: [alertname, service, instance]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 4s
receivers:
  - name: resgate
    webhook_configs:
      - url: "{webhook}"
        send_resolved: true
        max_alerts: 0
"#
    )
}

// ---- processes ----------------------------------------------------------------

/// A child process that is killed and reaped when dropped, test failure or not;
/// on a failure its log is printed.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
    base_url: Option<String>,
}

impl Proc {
    fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!(
            "---- {} log ({}) ----\n{text}---- end of {} log ----",
            self.name,
            self.log.display(),
            self.name
        )
    }

    /// Exited already (with its status)?
    fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGTERM, then wait up to `limit` for the exit.
    fn terminate(&mut self, limit: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let until = Instant::now() + limit;
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                Instant::now() < until,
                "{} did not exit within {limit:?} of SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.log());
        }
    }
}

fn start_resgate(dir: &Path, rules: &Path) -> Proc {
    let log = dir.join("resgate.stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_resgate"));
    let mut child = without_proxy(&mut cmd)
        .arg("serve")
        .arg("--rules")
        .arg(rules)
        .arg("--data")
        .arg(dir.join("data"))
        .args(["--listen", "127.0.0.1:0"])
        // Alertmanager repeats every 4 s here; a 5 s window makes the second
        // repeat a new decision (a collapse) instead of waiting out the 60 s default.
        .args(["--dedupe-window", "5s"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RESGATE_API_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(&log).expect("resgate log file"))
        .spawn()
        .expect("start resgate serve");
    let stdout = child.stdout.take().expect("resgate's stdout");
    let mut proc = Proc {
        name: "resgate",
        child,
        log,
        base_url: None,
    };

    // The first stdout line names the port; the rest is drained so the pipe never fills.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next());
        for _ in lines {}
    });
    let first = match rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        Ok(other) => panic!(
            "resgate serve printed no first line ({other:?}), exit: {:?}",
            proc.exited()
        ),
        Err(_) => panic!("resgate serve printed nothing within {START_TIMEOUT:?}"),
    };
    let url = first
        .strip_prefix("resgate listening on ")
        .filter(|u| u.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| {
            panic!(
                "the first stdout line is not `resgate listening on http://127.0.0.1:PORT`: {first:?}"
            )
        });
    proc.base_url = Some(url.trim_end_matches('/').to_owned());
    proc
}

fn start_alertmanager(bin: &Path, dir: &Path, config: &Path, port: u16) -> Proc {
    let log = dir.join("alertmanager.log");
    let out = File::create(&log).expect("alertmanager log file");
    let err = out.try_clone().expect("alertmanager log file");
    let mut cmd = Command::new(bin);
    let child = without_proxy(&mut cmd)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.path={}", dir.join("am-data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg(format!("--web.external-url=http://127.0.0.1:{port}/"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=debug")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    Proc {
        name: "alertmanager",
        child,
        log,
        base_url: None,
    }
}

/// Loopback traffic must not go through a proxy someone set in the environment.
fn without_proxy(cmd: &mut Command) -> &mut Command {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `$ALERTMANAGER_BIN`, else the Debian name, else upstream's, on PATH.
fn find_alertmanager() -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if let Some(bin) = std::env::var_os("ALERTMANAGER_BIN").filter(|b| !b.is_empty()) {
        let bin = PathBuf::from(bin);
        assert!(
            runnable(&bin),
            "ALERTMANAGER_BIN={} is not an executable file",
            bin.display()
        );
        return Some(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // Debian installs to /usr/bin; a trimmed PATH should not hide it.
    dirs.push(PathBuf::from("/usr/bin"));
    ["prometheus-alertmanager", "alertmanager"]
        .iter()
        .flat_map(|name| dirs.iter().map(move |d| d.join(name)))
        .find(|p| runnable(p))
}

/// A port that was free a moment ago (Alertmanager cannot be told to pick one).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

// ---- HTTP -----------------------------------------------------------------------

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into()
}

fn get(http: &ureq::Agent, url: &str) -> Result<(u16, String), String> {
    let mut resp = http
        .get(url)
        .call()
        .map_err(|e| format!("GET {url}: {e}"))?;
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("GET {url}: reading the body: {e}"))?;
    Ok((resp.status().as_u16(), body))
}

fn get_json(http: &ureq::Agent, url: &str) -> Result<Value, String> {
    let (status, body) = get(http, url)?;
    if status != 200 {
        return Err(format!("GET {url}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {url}: not JSON ({e}): {body}"))
}

/// `POST /api/v2/alerts`, as Prometheus does: firing without `ends_at`, resolved with it.
fn push_alert(
    http: &ureq::Agent,
    am_url: &str,
    starts_at: jiff::Timestamp,
    ends_at: Option<jiff::Timestamp>,
) {
    let mut alert = json!({
        "labels": api_down_labels(),
        "annotations": {"summary": "api-1 does not answer"},
        "startsAt": starts_at.to_string(),
        "generatorURL": "http://prometheus.invalid/graph?g0.expr=up%7Bjob%3D%22api%22%7D",
    });
    if let Some(ends_at) = ends_at {
        alert["endsAt"] = json!(ends_at.to_string());
    }
    let url = format!("{am_url}/api/v2/alerts");
    let body = json!([alert]).to_string();
    let mut resp = http
        .post(&url)
        .header("Content-Type", "application/json")
        .send(&body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    assert_eq!(status, 200, "POST {url} {body}: {text}");
}

/// Until `url` answers 200, or the process dies, or time runs out.
fn wait_ready(http: &ureq::Agent, url: &str, proc: &mut Proc) {
    let until = Instant::now() + START_TIMEOUT;
    loop {
        let last = match get(http, url) {
            Ok((200, _)) => return,
            Ok((status, body)) => format!("{status} {body}"),
            Err(e) => e,
        };
        if let Some(status) = proc.exited() {
            panic!(
                "{} exited ({status}) before {url} answered 200 (last answer: {last})",
                proc.name
            );
        }
        assert!(
            Instant::now() < until,
            "{} not ready at {url} within {START_TIMEOUT:?} (last answer: {last})",
            proc.name
        );
        std::thread::sleep(POLL_EVERY);
    }
}

// ---- what resgate says ------------------------------------------------------------

struct Observed {
    events: Vec<Value>,
    decisions: Vec<Value>,
}

impl Observed {
    fn fetch(http: &ureq::Agent, base: &str) -> Result<Observed, String> {
        let list = |url: String, key: &str| -> Result<Vec<Value>, String> {
            let v = get_json(http, &url)?;
            v.get(key)
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| format!("GET {url}: no `{key}` array in {v}"))
        };
        Ok(Observed {
            events: list(format!("{base}/api/v1/events"), "events")?,
            decisions: list(format!("{base}/api/v1/decisions"), "decisions")?,
        })
    }

    fn decisions_for(&self, remediation: &str) -> Vec<&Value> {
        self.decisions
            .iter()
            .filter(|d| str_field(d, "remediation") == Some(remediation))
            .collect()
    }

    fn fires(&self) -> Vec<&Value> {
        self.decisions_for(REMEDIATION)
            .into_iter()
            .filter(|d| str_field(d, "verdict") == Some("fire"))
            .collect()
    }

    /// The robo-hammer check, made on every look, not only at the end.
    fn at_most_one_fire(&self) -> Result<(), String> {
        if self.fires().len() > 1 {
            return Err(format!(
                "{REMEDIATION} fired more than once\n{}",
                self.summary()
            ));
        }
        Ok(())
    }

    fn event(&self, id: &str) -> Option<&Value> {
        self.events.iter().find(|e| str_field(e, "id") == Some(id))
    }

    /// One line per decision and event, for failure messages.
    fn summary(&self) -> String {
        let mut out = String::from("decisions:\n");
        for d in &self.decisions {
            out.push_str(&format!(
                "  {} {} {} {} reason={} event={}\n",
                str_field(d, "at").unwrap_or("?"),
                str_field(d, "remediation").unwrap_or("-"),
                str_field(d, "target").unwrap_or("-"),
                str_field(d, "verdict").unwrap_or("?"),
                str_field(d, "reason").unwrap_or("-"),
                str_field(d, "event").unwrap_or("-"),
            ));
        }
        out.push_str("events:\n");
        for e in &self.events {
            let history: Vec<&str> = e
                .get("history")
                .and_then(Value::as_array)
                .map(|h| h.iter().filter_map(|c| str_field(c, "state")).collect())
                .unwrap_or_default();
            out.push_str(&format!(
                "  {} {} {} state={} remote_id={} history={history:?}\n",
                str_field(e, "id").unwrap_or("?"),
                str_field(e, "remediation").unwrap_or("?"),
                str_field(e, "target").unwrap_or("?"),
                str_field(e, "state").unwrap_or("?"),
                e.get("remote_id").map(id_text).unwrap_or_default(),
            ));
        }
        out
    }
}

/// Polls `look` until it yields a value. `look` returns the value (or not yet)
/// and a description of what it saw; `Err` fails at once. (The processes' logs
/// are printed by their guards as the failure unwinds.)
fn wait_for<T>(
    what: &str,
    limit: Duration,
    mut look: impl FnMut() -> Result<(Option<T>, String), String>,
) -> T {
    let until = Instant::now() + limit;
    loop {
        let last = match look() {
            Ok((Some(v), _)) => return v,
            Ok((None, seen)) => seen,
            Err(e) => panic!("waiting for {what}: {e}"),
        };
        assert!(
            Instant::now() < until,
            "gave up waiting for {what} after {limit:?}; last seen:\n{last}"
        );
        std::thread::sleep(POLL_EVERY);
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// An ID as text, whether the API gives it as a string or a number.
fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `want` appears in `have` in order (not necessarily adjacent).
fn is_subsequence(want: &[&str], have: &[&str]) -> bool {
    let mut it = have.iter();
    want.iter().all(|w| it.any(|h| h == w))
}
