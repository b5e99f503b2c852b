//! README's `resgate serve` example runs exactly as written (issue 18: the
//! shipped rules pointed at `https://rundeck.example`, so a user had to edit
//! `rules/sources.yaml` first). The command is taken from README.md and run by
//! `sh` in a directory holding a copy of the shipped `rules/`, with a
//! Rundeck-shaped fake (tests/common/fake_remediator.rs, after Rundeck's API
//! v45 `POST /api/45/job/{id}/run` and `GET /api/45/execution/{id}`) listening
//! where the example says Rundeck is.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::request;
use common::fake_remediator::{Behaviour, FakeRemediator};

const README: &str = include_str!("../README.md");

/// The first ```sh block after `heading`, as one command (lines joined).
fn example_after(heading: &str) -> String {
    let (_, rest) = README
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"));
    let (_, block) = rest.split_once("```sh\n").expect("a sh block");
    let (block, _) = block.split_once("```").expect("a closed sh block");
    block.replace("\\\n", " ").trim().to_owned()
}

/// `VAR=value` words before `resgate`.
fn assignment(command: &str, name: &str) -> String {
    command
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{name}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("the example sets no {name}: {command}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn the_readme_serve_example_runs_as_written_and_calls_rundeck() {
    let command = example_after("## `resgate serve`");
    assert!(command.contains("resgate serve"), "{command}");
    let rundeck = assignment(&command, "RUNDECK_URL");
    let token = assignment(&command, "RUNDECK_TOKEN");
    let rundeck_addr = rundeck
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("RUNDECK_URL is not http://HOST:PORT: {rundeck}"));
    let fake = FakeRemediator::start_on(rundeck_addr, Behaviour::default());

    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_dir(&root.join("rules"), &dir.path().join("rules"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_resgate"))
        .parent()
        .unwrap()
        .to_owned();
    let path = std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let stderr = dir.path().join("stderr.log");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir.path())
        .env("PATH", path)
        .env("NO_COLOR", "1")
        .env_remove("RUNDECK_URL")
        .env_remove("RUNDECK_TOKEN")
        .env_remove("ALERTMANAGER_URL")
        // Its own process group: the test stops `sh` and resgate together.
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let stop = |child: &mut std::process::Child| {
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
    };
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().unwrap()).read_line(&mut line);
    let Some(addr) = line.trim().strip_prefix("resgate listening on http://") else {
        stop(&mut child);
        panic!(
            "`{command}` did not start; first line {line:?}; stderr:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
    };

    let payload = std::fs::read(root.join("fixtures/alertmanager/api-down.json")).unwrap();
    let (status, body) = request(
        addr,
        "POST",
        "/webhook/alertmanager",
        &[("Content-Type", "application/json")],
        &payload,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while fake.calls().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let calls = fake.calls();
    stop(&mut child);
    assert_eq!(status, 200, "{body}");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].path, "/api/45/job/restart-api/run");
    assert_eq!(
        calls[0].header("X-Rundeck-Auth-Token"),
        Some(token.as_str())
    );
}
