//! `resgate pause`, `pauses` and `unpause` against a real `resgate serve` on
//! loopback: the pause reaches the decision thread (an alert on the paused
//! target is deferred), and every failure says what to do.

mod common;

use std::time::Duration;

use common::daemon::{API_DOWN, Daemon, alertmanager_payload, rig};
use common::fake_remediator::Behaviour;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn resgate(args: &[&str], token: Option<&str>) -> (i32, String, String) {
    match token {
        Some(t) => common::resgate(args, &[("RESGATE_API_TOKEN", t)]),
        None => common::resgate(args, &[]),
    }
}

#[test]
fn pause_list_and_unpause_through_the_daemon() {
    let (fake, dir, rules) = rig(Behaviour::default(), "");
    let d = Daemon::start(&rules, &dir.path().join("data"), &[]);
    let server = format!("http://{}", d.addr);
    let at = |args: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(["--server".to_owned(), server.clone()]);
        all
    };
    let run = |args: &[&str]| {
        let args = at(args);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        resgate(&refs, None)
    };

    let (code, out, err) = run(&["pauses"]);
    assert_eq!((code, out.trim()), (0, "no pauses"), "{err}");

    let scope = "restart-api/api/api-1:8080";
    let (code, out, err) = run(&["pause", scope, "--for", "2h", "--reason", "db failover"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("paused {scope} for 2h: db failover"));

    let (code, out, _) = run(&["pauses"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("REMEDIATION  TARGET"), "{out}");
    assert!(
        lines[1].starts_with("restart-api  api/api-1:8080") && lines[1].ends_with("db failover"),
        "{out}"
    );
    let (_, json, _) = run(&["pauses", "--format", "json"]);
    let listed: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(listed["pauses"][0]["reason"], "db failover");

    // The decision thread has it: the alert on that target is deferred.
    let firing = alertmanager_payload("firing", API_DOWN, "2026-11-25T10:00:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &firing).0, 200);
    d.wait_for("a paused deferral", WAIT, |d| {
        d.decisions().iter().any(|x| x["reason"] == "paused")
    });
    assert!(fake.calls().is_empty());

    let (code, out, err) = run(&["unpause", scope]);
    assert_eq!(
        (code, out.trim()),
        (0, format!("unpaused {scope}").as_str()),
        "{err}"
    );
    // Unpausing re-decides the deferred alert: now it fires.
    d.wait_for("the fire after unpause", WAIT, |d| {
        d.decisions().iter().any(|x| x["verdict"] == "fire")
    });
    let (code, _, err) = run(&["unpause", scope]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no pause on restart-api/api/api-1:8080 is in force"),
        "{err}"
    );

    let (code, _, err) = run(&["pause", "nope", "--reason", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown remediation \"nope\""), "{err}");
    let (code, _, err) = run(&["pause", "restart-api", "--for", "soon", "--reason", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("`for` is not a duration"), "{err}");
}

#[test]
fn a_daemon_with_a_token_wants_it_and_an_absent_daemon_is_named() {
    let (_fake, dir, rules) = rig(Behaviour::default(), "");
    let d = Daemon::start_env(
        &rules,
        &dir.path().join("data"),
        &[],
        &[("RESGATE_API_TOKEN", "s3cret")],
    );
    let server = format!("http://{}", d.addr);
    let args = [
        "pause",
        "restart-api",
        "--reason",
        "freeze",
        "--server",
        &server,
    ];

    let (code, _, err) = resgate(&args, None);
    assert_eq!(code, 2);
    assert!(
        err.contains("wants its API token") && err.contains("RESGATE_API_TOKEN"),
        "{err}"
    );
    let (code, _, err) = resgate(&args, Some("wrong"));
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = resgate(&args, Some("s3cret"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "paused restart-api until unpaused: freeze");

    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let (code, _, err) = resgate(
        &["pauses", "--server", &format!("http://127.0.0.1:{port}")],
        None,
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot reach resgate at") && err.contains("--server"),
        "{err}"
    );
}
