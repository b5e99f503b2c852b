//! The packaging files in `contrib/` say what they mean: Alertmanager accepts the
//! example config, systemd accepts the unit, and the command lines of the unit and
//! the Containerfile only use subcommands and flags resgate has.
//!
//! `amtool` comes from the Debian package prometheus-alertmanager (.ci/run
//! installs it): without it the check is skipped with a notice, or fails when
//! `CI` is set. `systemd-analyze verify` runs where systemd-analyze exists (it
//! works without a running systemd, e.g. in a container).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// An executable on PATH (or in /usr/bin, where Debian puts amtool).
fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.push(PathBuf::from("/usr/bin"));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Runs the built resgate with `args` and `--help`: clap accepts that only when
/// the subcommand and every flag before `--help` exist.
fn accepts(args: &[String], what: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_resgate"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run resgate");
    assert!(
        out.status.success(),
        "{what}: `resgate {}` is not a valid command line:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn alertmanager_example_passes_amtool() {
    let config = read("contrib/alertmanager.yml");
    assert!(config.contains("url: http://127.0.0.1:9095/webhook/alertmanager\n"));
    assert!(config.contains("send_resolved: true\n"));
    assert!(config.contains("max_alerts: "));
    // The webhook path names the starter's source.
    let sources = resgate::cli::init::FILES
        .iter()
        .find(|(rel, _)| *rel == "sources.yaml")
        .map_or("", |(_, text)| *text);
    assert!(sources.contains("  alertmanager: {kind: alertmanager}\n"));

    let Some(amtool) = find("amtool") else {
        if std::env::var_os("CI").is_some() {
            panic!(
                "CI is set but amtool was not found: install the Debian package \
                 prometheus-alertmanager (.ci/run does this)"
            );
        }
        common::skipped(
            "amtool was not found (`apt-get install -y prometheus-alertmanager` \
             to check contrib/alertmanager.yml)",
        );
        return;
    };
    let out = Command::new(amtool)
        .arg("check-config")
        .arg(repo("contrib/alertmanager.yml"))
        .output()
        .expect("run amtool");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("SUCCESS"),
        "amtool check-config failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" - 2 receivers"), "{stdout}");
}

/// The words of the unit's `ExecStart=` line.
fn exec_start(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("an ExecStart= line");
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn service_unit_starts_serve_with_real_flags_in_a_sandbox() {
    let unit = read("contrib/resgate.service");
    let words = exec_start(&unit);
    assert!(words[0].ends_with("/resgate"), "{words:?}");
    let args = &words[1..];
    assert_eq!(args[0], "serve");
    for pair in [
        ["--rules", "/etc/resgate/rules"],
        ["--data", "/var/lib/resgate"],
    ] {
        assert!(
            args.windows(2).any(|w| w == pair),
            "ExecStart lacks {pair:?}: {args:?}"
        );
    }
    accepts(args, "ExecStart");
    // Rules hot-reload: a reload command would only suggest otherwise.
    assert!(!unit.lines().any(|l| l.starts_with("ExecReload=")));
    for key in [
        "DynamicUser=yes",
        "StateDirectory=resgate",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.lines().any(|l| l == key), "the unit lacks `{key}`");
    }
}

#[test]
fn ha_drop_in_replaces_exec_start_with_real_flags() {
    let drop_in = read("contrib/resgate-ha.conf");
    // The empty `ExecStart=` resets the unit's; the next one is the command.
    let lines: Vec<&str> = drop_in
        .lines()
        .filter(|l| l.starts_with("ExecStart="))
        .collect();
    assert_eq!(lines.first(), Some(&"ExecStart="), "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    let words = exec_start(lines[1]);
    assert!(words[0].ends_with("/resgate"), "{words:?}");
    assert!(words[1..].windows(2).any(|w| w == ["--lease", "10s"]));
    accepts(&words[1..], "the drop-in's ExecStart");
    assert!(drop_in.lines().any(|l| l == "Restart=always"));
}

#[test]
fn service_unit_passes_systemd_analyze_verify() {
    let Some(analyze) = find("systemd-analyze") else {
        common::skipped("systemd-analyze was not found (`apt-get install -y systemd`)");
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    // verify checks that ExecStart's binary exists and that `man:` links in
    // Documentation= resolve: point both at what this build made.
    let unit = read("contrib/resgate.service");
    let binary = exec_start(&unit)[0].clone();
    let unit = unit.replace(&binary, env!("CARGO_BIN_EXE_resgate"));
    std::fs::write(tmp.path().join("resgate.service"), unit).expect("write unit");
    let man1 = tmp.path().join("man/man1");
    std::fs::create_dir_all(&man1).expect("create man1");
    for entry in std::fs::read_dir(repo("man")).expect("man/") {
        let path = entry.expect("man entry").path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, man1.join(name)).expect("copy a man page");
        }
    }
    let out = Command::new(analyze)
        .arg("verify")
        .arg(tmp.path().join("resgate.service"))
        .env("MANPATH", tmp.path().join("man"))
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Unknown or misspelt keys are only warnings, so any output is a failure.
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The JSON array of a Containerfile instruction (`CMD ["a", "b"]`).
fn exec_form(containerfile: &str, instruction: &str) -> Vec<String> {
    let prefix = format!("{instruction} [");
    let line = containerfile
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no exec-form {instruction}"));
    serde_json::from_str(&line[instruction.len()..])
        .unwrap_or_else(|e| panic!("{instruction}: {e}"))
}

#[test]
fn containerfile_runs_serve_as_a_user_with_real_flags() {
    let file = read("contrib/Containerfile");
    assert_eq!(exec_form(&file, "ENTRYPOINT"), ["resgate"]);
    let cmd = exec_form(&file, "CMD");
    assert_eq!(cmd[0], "serve");
    accepts(&cmd, "CMD");
    let listen = cmd
        .windows(2)
        .find(|w| w[0] == "--listen")
        .map(|w| w[1].clone())
        .expect("CMD sets --listen");
    let port = listen.rsplit(':').next().unwrap_or_default();
    assert!(
        file.lines().any(|l| l == format!("EXPOSE {port}")),
        "EXPOSE does not match --listen {listen}"
    );
    assert!(file.contains("FROM docker.io/library/rust:1-bookworm AS build"));
    assert!(file.contains("FROM docker.io/library/debian:bookworm-slim"));
    let user = file
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "runs as {user}"
    );
    // The health check asks the port the daemon listens on.
    assert!(file.contains(&format!("/dev/tcp/127.0.0.1/{port}")));
}

/// Issue 18: skip notices written with `println!` were captured by libtest and
/// only seen under `--nocapture`, so a newcomer believed the browser tests ran.
/// This runs this very test binary on [`skip_notice_probe`] without
/// `--nocapture`, as `cargo test` does, and looks for the notice.
#[test]
fn a_skip_notice_is_shown_without_nocapture() {
    let out = Command::new(std::env::current_exe().expect("this test binary"))
        .args(["--exact", "skip_notice_probe", "--test-threads", "1"])
        .env("RESGATE_SKIP_PROBE", "1")
        .output()
        .expect("run the probe");
    let shown = common::printed(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.lines().any(|l| l
            == "SKIPPED: skip_notice_probe: the probe of a_skip_notice_is_shown_without_nocapture"),
        "{shown}"
    );
}

/// Skips itself (through the helper every skipping test uses) when
/// `RESGATE_SKIP_PROBE` is set; otherwise there is nothing to do.
#[test]
fn skip_notice_probe() {
    if std::env::var_os("RESGATE_SKIP_PROBE").is_some() {
        common::skipped("the probe of a_skip_notice_is_shown_without_nocapture");
    }
}
