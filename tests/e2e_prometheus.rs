//! End to end with a real Prometheus (the Debian package `prometheus`;
//! `.ci/run` installs it): a guard reads a queue depth that Prometheus scrapes
//! from a tiny exporter this test serves (DESIGN.md §8).
//!
//! 1. The exporter says `queue_depth{service="api"} 5000`; Prometheus scrapes
//!    it every second; `resgate serve` refreshes `queue_depth` every second.
//! 2. An `ApiDown` alert for api is deferred with `backlog`.
//! 3. The exporter lowers the depth to 10: the next refresh frees the
//!    deferred alert, which fires without a new notification.
//! 4. Prometheus is killed: the relation goes stale (`stale_after: 3s`),
//!    `/readyz` names it (still 200), and a new alert defers `stale_facts`.
//!    Nothing fires blind.
//!
//! The instant query API is prometheus.io/docs/prometheus/latest/querying/api/.
//! Without the binary: skipped with a message, or a failure when `CI` is set.
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::daemon::{Daemon, alertmanager_payload, api_down_on, write_rules};
use common::fake_remediator::{Behaviour, FakeRemediator};

/// Bounds on waits on real processes, not claims about speed.
const WAIT: Duration = Duration::from_secs(60);

const PROMETHEUS: &str = "/usr/bin/prometheus";

struct Killed(Option<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `/metrics` in the text exposition format, with the depth the test sets.
fn exporter(depth: Arc<AtomicU64>) -> (u16, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("listen"));
    let port = server.server_addr().to_ip().expect("ip").port();
    let s = server.clone();
    std::thread::spawn(move || {
        for req in s.incoming_requests() {
            let body = format!(
                "# HELP queue_depth Messages ready.\n# TYPE queue_depth gauge\nqueue_depth{{service=\"api\"}} {}\n",
                depth.load(Ordering::SeqCst)
            );
            let _ = req.respond(tiny_http::Response::from_string(body));
        }
    });
    (port, server)
}

fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn decisions_of<'a>(
    d: &'a [serde_json::Value],
    instance_target: &str,
) -> Vec<&'a serde_json::Value> {
    d.iter()
        .filter(|x| x["target"] == instance_target)
        .collect()
}

#[test]
fn a_guard_reads_prometheus_defers_then_fires_and_goes_stale_when_it_dies() {
    if !Path::new(PROMETHEUS).exists() {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but {PROMETHEUS} is missing: `apt-get install -y prometheus` (.ci/run does this)"
            );
        }
        common::skipped(
            "the Prometheus binary is not installed (`apt-get install -y prometheus` to run this test)",
        );
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let depth = Arc::new(AtomicU64::new(5000));
    let (exporter_port, exporter_server) = exporter(depth.clone());

    // 1. Prometheus scraping the exporter every second.
    let prom_port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n"
        ),
    )
    .expect("config");
    let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
    let mut cmd = Command::new(PROMETHEUS);
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
    let child = cmd
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let mut prometheus = Killed(Some(child));
    let prom_url = format!("http://127.0.0.1:{prom_port}");
    let agent = ureq::Agent::new_with_defaults();
    wait_until("Prometheus to have scraped the exporter", || {
        agent
            .get(format!("{prom_url}/api/v1/query?query=queue_depth"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .is_some_and(|b| b.contains("\"5000\""))
    });

    // 2. resgate, its guard reading the queue depth through Prometheus.
    let fake = FakeRemediator::start(Behaviour {
        running_polls: 1_000_000,
        ..Behaviour::default()
    });
    let rules = dir.path().join("rules");
    write_rules(&rules, &fake, "");
    std::fs::write(
        rules.join("restart.yaml"),
        format!(
            r#"remediations:
  restart-api:
    match: {{alertname: ApiDown, service: "=~.+", instance: "=~.+"}}
    target: "{{{{ service }}}}/{{{{ instance }}}}"
    remediator: rundeck
    vars: {{job: "restart-{{{{ service }}}}"}}
    unless:
      backlog: "queue_depth($service, D), D > 1000"
    warmup: 1s
    budget: {{attempts: 3, within: 1h}}
    escalate: pager
facts:
  queue_depth:
    prometheus: "{prom_url}"
    query: max by (service) (queue_depth)
    columns: [service, value]
    every: 1s
    stale_after: 3s
"#
        ),
    )
    .expect("rules");
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);
    d.wait_for("the first refresh", WAIT, |d| {
        let (_, metrics) = d.request("GET", "/metrics", &[], b"");
        metrics.contains("resgate_fact_source_up{relation=\"queue_depth\"} 1")
            && metrics.contains("resgate_fact_source_rows{relation=\"queue_depth\"} 1")
    });

    // 3. The backlog defers the restart.
    let first = alertmanager_payload("firing", &api_down_on("api-1:8080"), "2026-12-07T10:00:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &first).0, 200);
    d.wait_for("a backlog deferral", WAIT, |d| {
        decisions_of(&d.decisions(), "api/api-1:8080")
            .iter()
            .any(|x| x["verdict"] == "defer" && x["reason"] == "backlog")
    });
    assert!(
        fake.calls().is_empty(),
        "nothing fires while the queue is backed up"
    );

    // 4. The queue drains: the deferred alert fires, with no new notification.
    depth.store(10, Ordering::SeqCst);
    d.wait_for("the deferred alert to fire", WAIT, |d| {
        decisions_of(&d.decisions(), "api/api-1:8080")
            .iter()
            .any(|x| x["verdict"] == "fire")
    });
    d.wait_for("the remediator call", WAIT, |_| fake.calls().len() == 1);

    // 5. Prometheus dies: stale after 3 s; a new alert defers, never fires.
    if let Some(mut c) = prometheus.0.take() {
        let _ = c.kill();
        let _ = c.wait();
    }
    d.wait_for("/readyz to name the stale source", WAIT, |d| {
        let (status, body) = d.request("GET", "/readyz", &[], b"");
        status == 200 && body.contains("\"relation\":\"queue_depth\"")
    });
    let second = alertmanager_payload("firing", &api_down_on("api-2:8080"), "2026-12-07T10:05:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &second).0, 200);
    d.wait_for("a stale_facts deferral", WAIT, |d| {
        decisions_of(&d.decisions(), "api/api-2:8080")
            .iter()
            .any(|x| x["verdict"] == "defer" && x["reason"] == "stale_facts")
    });
    let all = d.decisions();
    assert!(
        decisions_of(&all, "api/api-2:8080")
            .iter()
            .all(|x| x["verdict"] != "fire"),
        "{all:#?}"
    );
    assert_eq!(
        fake.calls().len(),
        1,
        "one call in all: nothing fired blind"
    );
    let (_, metrics) = d.request("GET", "/metrics", &[], b"");
    assert!(
        metrics.contains("resgate_fact_source_up{relation=\"queue_depth\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("resgate_fact_source_stale{relation=\"queue_depth\"} 1"),
        "{metrics}"
    );
    // The failure is logged once, not at every refresh.
    let logs = d.logs();
    assert_eq!(logs.matches("fact source failed").count(), 1, "{logs}");
    // The journal holds only the changes: the first rows, then the drain,
    // however many refreshes ran between them.
    let db =
        rusqlite::Connection::open(dir.path().join("data").join("resgate.db")).expect("journal");
    let mut q = db
        .prepare("SELECT relation, added, removed FROM fact_changes ORDER BY seq")
        .expect("query");
    let changes: Vec<(String, String, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        changes,
        [
            (
                "queue_depth".to_owned(),
                r#"[["api",5000.0]]"#.to_owned(),
                "[]".to_owned()
            ),
            (
                "queue_depth".to_owned(),
                r#"[["api",10.0]]"#.to_owned(),
                r#"[["api",5000.0]]"#.to_owned()
            ),
        ]
    );
    exporter_server.unblock();
}
