//! Values that came from outside (alert labels, pause reasons given to the API)
//! never reach the operator's terminal as control characters: `resgate events`,
//! `events ID`, `explain`, `pauses` and `simulate` print them escaped (`\x1b`,
//! `\n`, `\u{202e}`), and a newline in a label cannot forge a table row.
//! (Issue 19 item 4. The sequences are the classic ones: an OSC 0 window title
//! ending in BEL, a CSI clear-screen, a forged row after a newline, and the
//! "Trojan Source" bidi override of CVE-2021-42574.)

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::daemon::{Daemon, alertmanager_payload, api_down_on};
use common::edit;
use common::fake_remediator::{Behaviour, FakeRemediator};

const WAIT: Duration = Duration::from_secs(30);

/// An instance label that tries everything at once.
const HOSTILE: &str =
    "api-1\x1b]0;pwned\x07\x1b[2J\r\nev-99  rescued  forged-row\u{202e}1-ipa\u{2066}\x7f\u{9b}";

/// The resgate binary's exit code and raw stdout bytes (not made valid UTF-8:
/// the bytes are what a terminal would get).
fn run_raw(args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RESGATE_URL")
        .env_remove("RESGATE_API_TOKEN")
        .output()
        .expect("run resgate");
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No byte below 0x20 but the output's own newlines, no DEL, and none of the
/// C1 or bidi control characters.
fn assert_terminal_safe(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    for (i, b) in out.iter().enumerate() {
        assert!(
            (*b >= 0x20 && *b != 0x7f) || *b == b'\n',
            "{what}: byte {b:#04x} at {i} reaches the terminal:\n{text}"
        );
    }
    let bad = text.chars().find(|c| {
        c.is_control() && *c != '\n'
            || ('\u{202a}'..='\u{202e}').contains(c)
            || ('\u{2066}'..='\u{2069}').contains(c)
    });
    assert!(
        bad.is_none(),
        "{what}: {bad:?} reaches the terminal:\n{text}"
    );
}

/// The restart rules of the daemon tests, whose `instance` matcher also
/// takes a newline (`.` does not match one without `(?s)`).
fn write_rules(dir: &Path, fake: &FakeRemediator) {
    common::daemon::write_rules(dir, fake, "");
    edit(
        &dir.join("restart.yaml"),
        r#"instance: "=~.+""#,
        r#"instance: "=~(?s).+""#,
    );
}

fn data_arg(data: &Path) -> &str {
    data.to_str().expect("a UTF-8 temp path")
}

#[test]
fn label_values_and_pause_reasons_reach_the_terminal_escaped() {
    let fake = FakeRemediator::start(Behaviour::default());
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    write_rules(&rules, &fake);
    let data = dir.path().join("data");
    let d = Daemon::start(&rules, &data, &[]);
    let server = format!("http://{}", d.addr);

    let body = alertmanager_payload("firing", &api_down_on(HOSTILE), "2026-11-25T10:00:00Z");
    assert_eq!(d.post("/webhook/alertmanager", &body).0, 200);
    // Succeeds, warms up, and the alert still fires: a whole story.
    d.wait_for("ev-1 not rescued", WAIT, |d| {
        d.event_state("ev-1") == "not_rescued"
    });
    // The JSON keeps the value exactly (its encoder escapes it).
    let events = d.events();
    let target = events[0]["target"].as_str().expect("a target").to_owned();
    assert_eq!(target, format!("api/{HOSTILE}"));

    let reason = "db\x1b]0;pwned\x07 failover\nrestart-api  (every target)  forged";
    let (code, out, err) = run_raw(&[
        "pause",
        "restart-api",
        "--reason",
        reason,
        "--server",
        &server,
    ]);
    assert_eq!(code, 0, "{err}");
    let paused = out;

    // Tables: exactly a header and one row each, the value escaped inside it.
    let (code, out, err) = run_raw(&["events", "--data", data_arg(&data)]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("events", &out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2, "a forged row:\n{text}");
    assert!(
        text.contains("api/api-1\\x1b]0;pwned\\x07\\x1b[2J\\r\\nev-99  rescued  forged-row\\u{202e}1-ipa\\u{2066}\\x7f\\u{9b}"),
        "{text}"
    );

    assert_terminal_safe("pause", &paused);
    let (code, out, err) = run_raw(&["pauses", "--server", &server]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("pauses", &out);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 2, "a forged row:\n{text}");
    assert!(
        text.contains("db\\x1b]0;pwned\\x07 failover\\nrestart-api"),
        "{text}"
    );

    // Stories: every line is one the renderer wrote.
    for args in [
        vec!["events", "ev-1"],
        vec!["explain", "ev-1"],
        vec!["explain", "ev-1", "--no-payload"],
    ] {
        let mut all = args.clone();
        all.extend(["--data", data_arg(&data)]);
        let (code, out, err) = run_raw(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_terminal_safe(&args.join(" "), &out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.lines().any(|l| l.starts_with("ev-99")),
            "{args:?}: a forged line:\n{text}"
        );
    }
    // `events ID` draws each decision with its proof as `explain` does, not
    // as raw JSON (issue 18 item 8).
    let (_, out, _) = run_raw(&["events", "ev-1", "--data", data_arg(&data)]);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("\n    fire restart-api api/api-1\\x1b]0;pwned"),
        "{text}"
    );
    assert!(
        text.contains("\n      matched alertname=\"ApiDown\""),
        "{text}"
    );
    assert!(!text.contains("\"kind\""), "raw JSON proof:\n{text}");
    // The alert's own story (by fingerprint) holds the decisions' proofs.
    let fingerprint = events[0]["alert"].as_str().expect("the event's alert");
    let (code, out, err) = run_raw(&["explain", fingerprint, "--data", data_arg(&data)]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("explain FINGERPRINT", &out);
}

#[test]
fn simulate_prints_label_values_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules");
    let fake = FakeRemediator::start(Behaviour::default());
    write_rules(&rules, &fake);
    let payload = dir.path().join("hostile.json");
    std::fs::write(
        &payload,
        alertmanager_payload("firing", &api_down_on(HOSTILE), "2026-11-25T10:00:00Z"),
    )
    .unwrap();
    let rules = rules.to_str().unwrap();
    let (code, out, err) = run_raw(&["simulate", payload.to_str().unwrap(), "--rules", rules]);
    assert_eq!(code, 0, "{err}");
    assert_terminal_safe("simulate", &out);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("fire restart-api api/api-1\\x1b]0;pwned"),
        "{text}"
    );
    // JSON keeps the exact value.
    let (code, out, err) = run_raw(&[
        "simulate",
        payload.to_str().unwrap(),
        "--rules",
        rules,
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json[0]["decisions"][0]["target"], format!("api/{HOSTILE}"));
}
