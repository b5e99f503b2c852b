//! A small builder for CLI tests (after `just`'s): lay out files in a temp
//! directory, run the real `resgate` binary there, check the exit code and output.
#![allow(dead_code)]

pub mod browser;
pub mod daemon;
pub mod fake_remediator;
pub mod load;
pub mod postgres;
pub mod tcp_proxy;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

/// What a finished command printed: its standard output, then its standard error.
pub fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Says that the running test is skipped (a Debian package or a privilege is
/// missing) where `cargo test` shows it: libtest captures what the `print!`
/// macros write, not a direct write to `std::io::stderr()`, so a newcomer sees
/// the skip without `--nocapture`. `.ci/run` lists the lines that start with
/// `SKIPPED: `. The test's thread carries its name.
pub fn skipped(why: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
}

pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("temp dir"),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `text` at `rel` inside the test directory, creating folders.
    pub fn file(self, rel: &str, text: &str) -> Self {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dir");
        }
        std::fs::write(path, text).expect("write file");
        self
    }

    /// Copies a file of the repository into the test directory.
    pub fn copy(self, from_repo: &str, rel: &str) -> Self {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(from_repo))
            .expect("read repo file");
        self.file(rel, &text)
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn run(self) -> Run {
        let mut cmd = assert_cmd::Command::cargo_bin("resgate").expect("binary");
        cmd.current_dir(self.dir.path())
            .args(&self.args)
            .env("NO_COLOR", "1");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("run resgate");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            dir: self.dir.keep(),
        }
    }
}

impl Run {
    pub fn code(self, expected: i32) -> Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the resgate binary with `args` (paths in them absolute), without
/// colour and without the daemon-client variables a developer's shell may
/// carry (`RESGATE_URL`, `RESGATE_API_TOKEN`); `env` sets variables.
/// Returns the exit code, stdout and stderr.
pub fn resgate(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_resgate"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env_remove("RESGATE_URL")
        .env_remove("RESGATE_API_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run resgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replaces `from` with `to` in the file at `path`; `from` must be there (a
/// test that edits nothing would test the wrong rules).
pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read the file to edit");
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).expect("write the edited file");
}

/// An `ApiDown` alert (critical, service `api`) on `instance`, as the
/// Alertmanager source maps one: what the shipped `restart-api` matches.
pub fn api_down(
    instance: &str,
    status: resgate::source::AlertStatus,
    starts_at: jiff::Timestamp,
) -> resgate::source::Alert {
    let labels: std::collections::BTreeMap<String, String> = [
        ("alertname", "ApiDown"),
        ("severity", "critical"),
        ("service", "api"),
        ("instance", instance),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    resgate::source::Alert {
        source: "alertmanager".to_owned(),
        fingerprint: resgate::source::fingerprint(&labels),
        status,
        labels,
        annotations: std::collections::BTreeMap::new(),
        starts_at,
        ends_at: None,
        group_key: None,
        generator_url: None,
    }
}
