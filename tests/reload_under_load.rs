//! Hot reload under load: the rules directory is rewritten 100 times (two
//! rule sets in turn, written in place as an editor does, so the watcher also
//! sees half-written files) while a client posts alerts. No request may fail,
//! and every decision must come from one complete rule set: set A names its
//! remediation `restart-a` and renders targets `a/<instance>`, set B
//! `restart-b` and `b/<instance>`; a decision mixing them would show it.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::daemon::{Daemon, alertmanager_payload, request, rig};
use common::fake_remediator::Behaviour;

fn rule_set(name: &str) -> String {
    format!(
        r#"remediations:
  restart-{name}:
    match: {{alertname: ApiDown, instance: "=~.+"}}
    target: "{name}/{{{{ instance }}}}"
    remediator: rundeck
    vars: {{job: "restart"}}
    warmup: 1s
    budget: {{attempts: 100, within: 1h}}
    escalate: pager
"#
    )
}

#[test]
fn rewriting_the_rules_100_times_under_load_fails_no_request_and_mixes_no_rule_sets() {
    let (_fake, dir, rules) = rig(Behaviour::default(), "");
    let file = rules.join("restart.yaml");
    std::fs::write(&file, rule_set("a")).unwrap();
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);

    let stop = Arc::new(AtomicBool::new(false));
    let posted = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let client = {
        let (addr, stop, posted, failures) = (
            d.addr.clone(),
            stop.clone(),
            posted.clone(),
            failures.clone(),
        );
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let instance = format!("api-{}", n % 50);
                let starts = format!("2026-11-25T{:02}:{:02}:00Z", (n / 60) % 24, n % 60);
                let body = alertmanager_payload(
                    "firing",
                    &[("alertname", "ApiDown"), ("instance", &instance)],
                    &starts,
                );
                let (status, answer) = request(
                    &addr,
                    "POST",
                    "/webhook/alertmanager",
                    &[("Content-Type", "application/json")],
                    &body,
                );
                posted.fetch_add(1, Ordering::SeqCst);
                if status != 200
                    && let Ok(mut f) = failures.lock()
                {
                    f.push((status, answer));
                }
            }
        })
    };

    // In bursts of ten quick rewrites, then a pause longer than the watcher's
    // 500 ms debounce, so that reloads really happen between the bursts.
    for i in 0..100 {
        // Bursts end on A and B in turn: the set live after each pause alternates.
        let name = if (i + i / 10) % 2 == 0 { "b" } else { "a" };
        std::fs::write(&file, rule_set(name)).unwrap();
        let pause = if i % 10 == 9 { 700 } else { 15 };
        std::thread::sleep(Duration::from_millis(pause));
    }
    stop.store(true, Ordering::SeqCst);
    client.join().expect("the client ends");

    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    assert!(
        failures.is_empty(),
        "requests failed during reloads: {failures:?}"
    );
    let metrics = d.request("GET", "/metrics", &[], b"").1;
    let reloads: u64 = metrics
        .lines()
        .find(|l| l.starts_with("resgate_rules_reloads_total{result=\"ok\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        reloads >= 5,
        "the rules were reloaded only {reloads} times:\n{metrics}"
    );

    let decisions = d.get_json("/api/v1/decisions?limit=10000")["decisions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut by_set = [0usize; 2];
    for x in &decisions {
        let remediation = x["remediation"].as_str().unwrap_or_default();
        let target = x["target"].as_str().unwrap_or_default();
        let set = match remediation {
            "restart-a" => 0,
            "restart-b" => 1,
            other => panic!("a decision of no rule set: {other:?} in {x}"),
        };
        let prefix = ["a/", "b/"][set];
        assert!(
            target.starts_with(prefix),
            "{remediation} rendered target {target:?}: two rule sets mixed in {x}"
        );
        by_set[set] += 1;
    }
    assert!(
        by_set[0] > 0 && by_set[1] > 0,
        "both rule sets decided: {by_set:?}"
    );
    println!(
        "{} posts during 100 rewrites, 0 failed; {reloads} reloads; decisions by set A {} / B {}",
        posted.load(Ordering::SeqCst),
        by_set[0],
        by_set[1]
    );
}
