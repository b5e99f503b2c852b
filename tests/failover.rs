//! Failover: two `resgate serve` share a real PostgreSQL journal (one leads by
//! the lease, the other stands by) while a client posts alerts to both.
//!
//! - The leader is killed (`kill -9`) at random moments and started again (it
//!   comes back as the standby).
//! - The leader loses the database (a proxy between it and PostgreSQL is cut):
//!   it must step down (exit 75), the standby must take over.
//!
//! Then, against the client's record of acknowledged posts and the fake
//! remediator's record of calls:
//! - every acknowledged alert is in the journal, and decided;
//! - no remediation call was received twice, each belongs to one event, and
//!   each event was fired by one decision; every call carried a fencing token;
//! - every event reached a final state: the new leader resumed the polling;
//! - each takeover came within 15 s (the issue's bound for the default 10 s
//!   lease; these tests run a 2 s lease).
//!
//! Short mode (`cargo test`): 4 kills. Long mode:
//! `FAILOVER_ROUNDS=40 cargo test --test failover -- --nocapture`.
//! Loopback only; every wait is bounded.

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, alertmanager_payload};
use common::fake_remediator::FakeRemediator;
use common::load::{
    Acked, Lcg, all_final, assert_all_journaled, assert_one_call_per_event, kill_test_remediator,
    next_notification, post,
};
use common::postgres::Postgres;
use common::tcp_proxy::TcpProxy;
use serde_json::Value;

const TAKEOVER_BOUND: Duration = Duration::from_secs(15);

fn role(d: &Daemon) -> Option<String> {
    let (status, body) = d.request("GET", "/readyz", &[], b"");
    let v: Value = serde_json::from_str(&body).ok()?;
    (status == 200).then(|| v["role"].as_str().unwrap_or_default().to_owned())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A PostgreSQL server, a Rundeck-like fake remediator, the rules, and the
/// data directories of two instances.
struct Bench {
    pg: Postgres,
    url: String,
    fake: FakeRemediator,
    _dir: tempfile::TempDir,
    rules: PathBuf,
    data: [PathBuf; 2],
}

impl Bench {
    fn new(database: &str) -> Option<Bench> {
        let pg = Postgres::start()?;
        let url = pg.database(database);
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        // poll.timeout well over a takeover (about 2 s), so that the events a
        // new leader resumes have time to be polled to the end.
        let fake = kill_test_remediator(&rules, 3, "8s");
        let data = [dir.path().join("a"), dir.path().join("b")];
        Some(Bench {
            pg,
            url,
            fake,
            _dir: dir,
            rules,
            data,
        })
    }

    /// Instance `i`, reaching the database at `url`.
    fn start(&self, i: usize, url: &str) -> Daemon {
        Daemon::start(
            &self.rules,
            &self.data[i],
            &["--journal", url, "--lease", "2s"],
        )
    }

    /// The URL of this database through 127.0.0.1:`port`.
    fn url_via(&self, port: u16) -> String {
        self.url
            .replace(&format!(":{}/", self.pg.port), &format!(":{port}/"))
    }
}

/// Which of `daemons` leads, once exactly one of them says so, within the bound.
fn wait_for_leader(daemons: &[Daemon; 2], since: Instant) -> usize {
    loop {
        let roles: Vec<Option<String>> = daemons.iter().map(role).collect();
        let leaders: Vec<usize> = (0..2)
            .filter(|i| roles[*i].as_deref() == Some("leader"))
            .collect();
        assert!(leaders.len() < 2, "two leaders at once: {roles:?}");
        if let [one] = leaders[..] {
            return one;
        }
        assert!(
            since.elapsed() < TAKEOVER_BOUND,
            "no instance led within {TAKEOVER_BOUND:?}: {roles:?}\nlogs:\n{}\n{}",
            daemons[0].logs(),
            daemons[1].logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Posts ApiDown notifications to both instances (as Alertmanager in HA
/// does), trying the other when one is down, until stopped.
struct Client {
    addrs: Arc<Mutex<[String; 2]>>,
    acked: Arc<Mutex<Vec<Acked>>>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Client {
    fn start(daemons: &[Daemon; 2], seed: u64) -> Client {
        let addrs = Arc::new(Mutex::new([
            daemons[0].addr.clone(),
            daemons[1].addr.clone(),
        ]));
        let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (addrs, acked, stop) = (addrs.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut rng = Lcg(seed);
                let mut minute = 0u64;
                let mut posted = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let (instance, status, starts_at) =
                        next_notification(&mut rng, &mut minute, 200);
                    let labels = [
                        ("alertname", "ApiDown"),
                        ("severity", "critical"),
                        ("service", "api"),
                        ("instance", instance.as_str()),
                    ];
                    let body = alertmanager_payload(status, &labels, &starts_at);
                    posted += 1;
                    let targets = addrs.lock().map(|a| a.clone()).unwrap_or_default();
                    let first = (posted % 2) as usize;
                    let answered = [first, 1 - first]
                        .iter()
                        .find_map(|i| post(&targets[*i], &body).filter(|(s, _)| *s == 200));
                    if answered.is_some() {
                        if let Ok(mut a) = acked.lock() {
                            a.push(Acked {
                                instance,
                                status: status.to_owned(),
                                starts_at,
                            });
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        };
        Client {
            addrs,
            acked,
            stop,
            thread,
        }
    }

    fn retarget(&self, i: usize, addr: &str) {
        if let Ok(mut a) = self.addrs.lock() {
            a[i] = addr.to_owned();
        }
    }

    fn finish(self) -> Vec<Acked> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the client ends");
        self.acked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// Waits for the leader to decide everything and end every event, then checks
/// the journal against what was acknowledged and what the remediator got.
/// Returns a one-line summary.
fn check_the_end(
    bench: &Bench,
    daemons: &mut [Daemon; 2],
    leader: usize,
    acked: &[Acked],
) -> String {
    for d in daemons.iter_mut() {
        if let Some(status) = d.exit_status() {
            panic!("an instance exited ({status}):\n{}", d.logs());
        }
    }
    let daemons = &*daemons;
    let d = &daemons[leader];
    d.wait_for(
        "every acknowledged webhook to be decided",
        Duration::from_secs(60),
        |d| {
            d.request("GET", "/metrics", &[], b"")
                .1
                .contains("resgate_inbound_undecided 0")
        },
    );
    d.wait_for(
        "every event to reach a final state",
        Duration::from_secs(60),
        |d| all_final(&d.get_json("/api/v1/events?limit=10000")),
    );
    assert_eq!(wait_for_leader(daemons, Instant::now()), leader);
    let metrics = d.request("GET", "/metrics", &[], b"").1;
    assert!(metrics.contains("resgate_leader 1"), "{metrics}");
    let page = d.request("GET", "/", &[], b"").1;
    assert!(
        page.contains(r#"<strong id="role">leader</strong>"#),
        "{page}"
    );
    let page = daemons[1 - leader].request("GET", "/", &[], b"").1;
    assert!(
        page.contains(r#"<strong id="role">standby</strong>"#),
        "{page}"
    );
    assert!(metrics.contains("resgate_lease_age_seconds "), "{metrics}");
    let standby = &daemons[1 - leader];
    assert!(
        standby
            .request("GET", "/metrics", &[], b"")
            .1
            .contains("resgate_leader 0")
    );
    // A standby does not take operators' requests; it says who to ask.
    let (status, body) = standby.request(
        "POST",
        "/api/v1/pauses",
        &[("Content-Type", "application/json")],
        br#"{"remediation": "restart-api", "reason": "test"}"#,
    );
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("standby"), "{body}");

    let events = d.get_json("/api/v1/events?limit=10000")["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut journal = postgres::Client::connect(&bench.url, postgres::NoTls).expect("connect");
    // All of them (the API lists at most 10,000).
    let decisions: Vec<Value> = journal
        .query("SELECT verdict, event FROM decisions ORDER BY seq", &[])
        .expect("decisions")
        .iter()
        .map(|r| {
            serde_json::json!({"verdict": r.get::<_, String>(0), "event": r.get::<_, Option<String>>(1)})
        })
        .collect();
    let inbound: Vec<String> = journal
        .query("SELECT alerts FROM inbound", &[])
        .expect("inbound")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_all_journaled(acked, &inbound);
    let calls = bench.fake.calls();
    assert!(
        calls.iter().all(|c| c
            .header("Resgate-Fencing-Token")
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| t >= 1)),
        "every call carries the leader's fencing token"
    );
    let states = assert_one_call_per_event(&calls, &events, &decisions);
    let token: i64 = journal
        .query_one("SELECT token FROM lease", &[])
        .expect("lease")
        .get(0);
    assert!(
        !acked.is_empty() && !calls.is_empty(),
        "the load got through"
    );
    format!(
        "{} acknowledged, all journaled and decided; {} decisions, {} events {states:?}; \
         {} calls received, none twice; lease token {token}",
        acked.len(),
        decisions.len(),
        events.len(),
        calls.len()
    )
}

fn seconds(d: &[Duration]) -> String {
    let max = d.iter().max().copied().unwrap_or_default();
    let mean = d.iter().map(Duration::as_secs_f64).sum::<f64>() / d.len().max(1) as f64;
    format!("max {:.2} s, mean {mean:.2} s", max.as_secs_f64())
}

#[test]
fn the_standby_takes_over_a_killed_leader_and_nothing_is_lost_or_fired_twice() {
    let Some(bench) = Bench::new("failover") else {
        return;
    };
    let rounds: usize = env_or("FAILOVER_ROUNDS", 4);
    let seed: u64 = env_or("FAILOVER_SEED", 20_261_129);
    println!("failover test: {rounds} kills, FAILOVER_SEED={seed}");
    let url = bench.url.clone();
    let mut daemons = [bench.start(0, &url), bench.start(1, &url)];
    let mut leader = wait_for_leader(&daemons, Instant::now());
    assert_eq!(role(&daemons[1 - leader]).as_deref(), Some("standby"));
    let client = Client::start(&daemons, seed);

    let mut rng = Lcg(seed ^ 0x5eed);
    let begin = Instant::now();
    let mut takeovers = Vec::new();
    for _ in 0..rounds {
        std::thread::sleep(Duration::from_millis(300 + rng.next(1200)));
        // Kill the leader, mid-load, start it again, and time the takeover.
        let killed = std::mem::replace(&mut daemons[leader], bench.start(leader, &url));
        let t0 = Instant::now();
        killed.kill9();
        client.retarget(leader, &daemons[leader].addr);
        // Either instance may win the expired lease: still one leader.
        leader = wait_for_leader(&daemons, t0);
        takeovers.push(t0.elapsed());
    }
    std::thread::sleep(Duration::from_millis(300));
    let acked = client.finish();
    let summary = check_the_end(&bench, &mut daemons, leader, &acked);
    println!(
        "failover test: {rounds} kills in {:.1} s; takeover {}; {summary}",
        begin.elapsed().as_secs_f64(),
        seconds(&takeovers)
    );
}

#[test]
fn a_leader_cut_off_from_the_database_steps_down_and_the_standby_takes_over() {
    let Some(bench) = Bench::new("partition") else {
        return;
    };
    let seed: u64 = env_or("FAILOVER_SEED", 20_261_129);
    // Each instance reaches PostgreSQL through its own proxy: cutting one is
    // a partition between that instance and the database only.
    let proxies = [
        TcpProxy::start(bench.pg.port),
        TcpProxy::start(bench.pg.port),
    ];
    let urls = [
        bench.url_via(proxies[0].port),
        bench.url_via(proxies[1].port),
    ];
    let mut daemons = [bench.start(0, &urls[0]), bench.start(1, &urls[1])];
    let leader = wait_for_leader(&daemons, Instant::now());
    let client = Client::start(&daemons, seed);
    std::thread::sleep(Duration::from_millis(800));

    let t0 = Instant::now();
    proxies[leader].cut();
    // The standby leads within the bound, and the old leader, unable to renew,
    // has stepped down by exiting 75 (EX_TEMPFAIL).
    let standby = 1 - leader;
    loop {
        if role(&daemons[standby]).as_deref() == Some("leader") {
            break;
        }
        assert!(
            t0.elapsed() < TAKEOVER_BOUND,
            "the standby did not take over within {TAKEOVER_BOUND:?}; its log:\n{}",
            daemons[standby].logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let takeover = t0.elapsed();
    let exited = loop {
        if let Some(status) = daemons[leader].exit_status() {
            break status;
        }
        assert!(
            t0.elapsed() < TAKEOVER_BOUND,
            "the cut-off leader did not step down; its log:\n{}",
            daemons[leader].logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exited.code(), Some(75), "{}", daemons[leader].logs());
    assert!(
        daemons[leader].logs().contains("lost the lease"),
        "{}",
        daemons[leader].logs()
    );

    // The partition heals; its service manager starts it again: a standby.
    proxies[leader].heal();
    daemons[leader] = bench.start(leader, &urls[leader]);
    client.retarget(leader, &daemons[leader].addr);
    std::thread::sleep(Duration::from_millis(800));

    // Now the standby loses the database: it says it is not ready (its
    // webhooks could only get 503), the leader leads on; healed, it is ready.
    let (cut_off, leading) = (leader, standby);
    proxies[cut_off].cut();
    let t1 = Instant::now();
    loop {
        let (status, body) = daemons[cut_off].request("GET", "/readyz", &[], b"");
        if status == 503 {
            assert!(body.contains("shared journal is unreachable"), "{body}");
            break;
        }
        assert!(t1.elapsed() < TAKEOVER_BOUND, "still ready: {body}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(role(&daemons[leading]).as_deref(), Some("leader"));
    proxies[cut_off].heal();
    while role(&daemons[cut_off]).is_none() {
        assert!(
            t1.elapsed() < TAKEOVER_BOUND,
            "not ready again after healing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let acked = client.finish();
    let summary = check_the_end(&bench, &mut daemons, standby, &acked);
    println!(
        "partition test: takeover {:.2} s after the cut; {summary}",
        takeover.as_secs_f64()
    );
}

#[test]
fn a_leader_restoring_a_long_backlog_keeps_its_lease() {
    let Some(bench) = Bench::new("backlog") else {
        return;
    };
    // Webhooks that were taken while nobody led: 200 bodies of 100 alerts
    // (that no rule matches) undecided in the journal. Deciding them all is
    // the new leader's restore; on this machine's debug build it takes several
    // lease periods (1 s here), during which the lease must be renewed.
    let mut journal = postgres::Client::connect(&bench.url, postgres::NoTls).expect("connect");
    {
        let db = resgate::journal::Location::Postgres(bench.url.clone())
            .open_writer()
            .expect("migrate");
        drop(db);
    }
    let at = "2026-11-25T10:00:00.000000Z";
    for body in 0..200 {
        let alerts: Vec<Value> = (0..100)
            .map(|i| {
                let labels: std::collections::BTreeMap<String, String> = [
                    ("alertname".to_owned(), "Backlog".to_owned()),
                    ("instance".to_owned(), format!("host-{body}-{i}")),
                ]
                .into();
                serde_json::to_value(resgate::source::Alert {
                    source: "alertmanager".into(),
                    fingerprint: resgate::source::fingerprint(&labels),
                    status: resgate::source::AlertStatus::Firing,
                    labels,
                    annotations: Default::default(),
                    starts_at: at.parse().expect("time"),
                    ends_at: None,
                    group_key: None,
                    generator_url: None,
                })
                .expect("alert JSON")
            })
            .collect();
        journal
            .execute(
                "INSERT INTO inbound (received_at, source, body, alerts) VALUES ($1, 'alertmanager', '\\x7b7d', $2)",
                &[&at, &Value::Array(alerts).to_string()],
            )
            .expect("insert a webhook");
    }
    let args = ["--journal", bench.url.as_str(), "--lease", "1s"];
    let t0 = Instant::now();
    let mut daemons = [
        Daemon::start(&bench.rules, &bench.data[0], &args),
        Daemon::start(&bench.rules, &bench.data[1], &args),
    ];
    let decided = |journal: &mut postgres::Client| -> i64 {
        journal
            .query_one(
                // Decided: no longer listed in inbound_undecided (migration 007).
                "SELECT count(*) FROM inbound WHERE id NOT IN (SELECT id FROM inbound_undecided)",
                &[],
            )
            .expect("count")
            .get(0)
    };
    while decided(&mut journal) < 200 {
        for d in daemons.iter_mut() {
            if let Some(status) = d.exit_status() {
                panic!(
                    "an instance exited ({status}) during the restore:\n{}",
                    d.logs()
                );
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "the backlog was not decided"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let restore = t0.elapsed();
    let token: i64 = journal
        .query_one("SELECT token FROM lease", &[])
        .expect("lease")
        .get(0);
    assert_eq!(token, 1, "one leader for the whole restore, never deposed");
    wait_for_leader(&daemons, Instant::now());
    println!(
        "backlog test: 20,000 undecided alerts decided by the new leader in {:.1} s with a 1 s lease; lease token {token}",
        restore.as_secs_f64()
    );
}
