//! Journal faults on real file systems made inside the test (issue 7): the
//! daemon's data directory on a disk that fills up, and on a file system the
//! kernel turns read-only under it. Each time ingest must answer 503 with
//! Retry-After (never 500, never a hang), the daemon must stay up and keep
//! serving reads, nothing it acknowledged may be lost, every fire decided
//! before the fault must still be called (once), and webhooks must be taken
//! again once the fault clears.
//!
//! - Disk full: a 4 MiB tmpfs, grown to 64 MiB while the daemon runs.
//! - Read-only: Linux refuses `mount -o remount,ro` (EBUSY) while a process
//!   holds a file open for writing, and SQLite holds the journal open, so an
//!   operator cannot make the daemon's file system read-only under it. The
//!   kernel can: ext4 mounted `errors=remount-ro` (the usual root file system
//!   option) turns read-only at its first error, which `trigger_fs_error`
//!   raises here on an ext4 image on a loop device. That fault does not clear
//!   while the file system is mounted (a remount rw leaves it read-only): the
//!   operator stops resgate, checks the file system and starts resgate again,
//!   which is what the test does.
//!
//! `/readyz` stays 200 through a fault as long as the decision thread keeps
//! going round (on a full disk its small writes often still fit): it reports
//! webhooks acknowledged but not decided, and a journal fault acknowledges
//! nothing. Both tests accept that or the decision thread's 503.
//!
//! Mounting needs root. Without it the tests say loudly that they were
//! skipped, unless `CI` is set: CI must run them, so there they fail.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::daemon::{Daemon, alertmanager_payload, api_down_on, write_rules};
use common::fake_remediator::{Behaviour, FakeRemediator};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);
/// Webhook senders posting at once while the disk fills.
const SENDERS: usize = 4;
/// Each sender stops after this many 503s.
const REFUSALS: usize = 20;
/// Alerts whose jobs are running when the file system turns read-only.
const BEFORE_READ_ONLY: usize = 20;

/// A file system mounted for one test, unmounted when dropped. Declare it
/// before the daemon that uses it: locals drop in reverse order, so the
/// daemon is killed first, even when the test panics.
struct Mount {
    dir: PathBuf,
    /// The ext4 image behind the mount, if it is one.
    image: Option<PathBuf>,
}

impl Mount {
    /// A tmpfs of `size` (`4m`) at `dir`; `None` when this test is skipped.
    fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let mounted = run(
            "mount",
            &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"],
            dir,
        );
        required(mounted.map(|()| Mount {
            dir: dir.to_owned(),
            image: None,
        }))
    }

    /// A fresh ext4 image of `size` mounted at `dir` with `errors=remount-ro`;
    /// `None` when this test is skipped.
    fn ext4(image: &Path, dir: &Path, size: &str) -> Option<Mount> {
        std::fs::create_dir_all(dir).unwrap();
        let made = run("truncate", &["-s", size], image)
            .and_then(|()| run("mkfs.ext4", &["-q", "-F"], image))
            .and_then(|()| mount_ext4(image, dir))
            .map(|()| Mount {
                dir: dir.to_owned(),
                image: Some(image.to_owned()),
            });
        let mount = required(made)?;
        let trigger = mount.ext4_sysfs().map(|d| d.join("trigger_fs_error"));
        required(match trigger {
            Some(t) if t.exists() => Ok(mount),
            _ => Err("this kernel's ext4 has no trigger_fs_error".to_owned()),
        })
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Changes the mount's options while it is in use (`size=64m`).
    fn remount(&self, options: &str) {
        run("mount", &["-o", &format!("remount,{options}")], &self.dir)
            .unwrap_or_else(|e| panic!("cannot remount {}: {e}", self.dir.display()));
    }

    /// `/sys/fs/ext4/<device>/` of this mount.
    fn ext4_sysfs(&self) -> Option<PathBuf> {
        let dir = self.dir.canonicalize().ok()?;
        let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
        let source = mounts.lines().rev().find_map(|line| {
            let mut fields = line.split(' ');
            let (source, target) = (fields.next()?, fields.next()?);
            (Path::new(target) == dir).then_some(source)
        })?;
        let device = Path::new(source).file_name()?;
        Some(Path::new("/sys/fs/ext4").join(device))
    }

    /// Raises an ext4 error: the kernel turns the file system read-only under
    /// whoever is using it.
    fn fail(&self) {
        let trigger = self
            .ext4_sysfs()
            .expect("an ext4 mount")
            .join("trigger_fs_error");
        std::fs::write(&trigger, "resgate test: journal fault")
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", trigger.display()));
    }

    /// What the operator does once nothing uses the file system any more:
    /// unmount, check, mount again.
    fn repair(&self) {
        run("umount", &[], &self.dir).unwrap_or_else(|e| panic!("{e}"));
        let image = self.image.as_deref().expect("an image mount");
        let fsck = Command::new("e2fsck")
            .args(["-f", "-y"])
            .arg(image)
            .output()
            .unwrap();
        // 0: clean; 1: errors corrected (the error the test raised).
        assert!(
            matches!(fsck.status.code(), Some(0 | 1)),
            "e2fsck: {fsck:?}"
        );
        mount_ext4(image, &self.dir).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy: a process the test lost track of must not keep the mount.
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.dir)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Mounts the ext4 `image` at `dir`, read-only at its first error.
fn mount_ext4(image: &Path, dir: &Path) -> Result<(), String> {
    let image = image.to_string_lossy();
    let options = ["-t", "ext4", "-o", "loop,errors=remount-ro", &image];
    run("mount", &options, dir)
}

/// Runs `program args... path`; its stderr as the error.
fn run(program: &str, args: &[&str], path: &Path) -> Result<(), String> {
    match Command::new(program).args(args).arg(path).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{program} {} {}: {}",
            args.join(" "),
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Err(format!("cannot run {program}: {e}")),
    }
}

/// The mount, or `None` (the test is skipped) when this machine cannot mount;
/// under CI a failure.
fn required(mount: Result<Mount, String>) -> Option<Mount> {
    match mount {
        Ok(m) => Some(m),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!(
                "the journal fault tests need root to mount file systems, and CI must run them: {why}"
            )
        }
        Err(why) => {
            common::skipped(&format!(
                "needs mount privileges (root, loop devices, mkfs.ext4); \
                 set CI to make this a failure: {why}"
            ));
            None
        }
    }
}

/// One firing `ApiDown` on its own instance: every one is a new alert.
fn alert(instance: &str) -> Vec<u8> {
    alertmanager_payload("firing", &api_down_on(instance), "2026-11-25T10:00:00Z")
}

/// Posts `instance`'s alert; 2xx must mean journaled, anything else must be
/// the journal's 503 with Retry-After. True when it was taken.
fn post(d: &Daemon, instance: &str) -> bool {
    let (status, head, body) = d.post_with_head("/webhook/alertmanager", &alert(instance));
    if status == 200 {
        return true;
    }
    assert_eq!(
        status,
        503,
        "{instance}: {head}\n\n{body}\n\nlogs:\n{}",
        d.logs()
    );
    assert!(body.contains("journal unavailable; retry"), "{body}");
    assert!(
        head.to_ascii_lowercase().contains("\r\nretry-after: "),
        "{head}"
    );
    false
}

fn metric(d: &Daemon, line_start: &str) -> Option<String> {
    let (status, text) = d.request("GET", "/metrics", &[], b"");
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .map(|v| v.trim().to_owned())
}

/// Every event, newest first.
fn all_events(d: &Daemon) -> Vec<Value> {
    d.get_json("/api/v1/events?limit=10000")["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn wait_until_all_decided(d: &Daemon) {
    d.wait_for("every journaled webhook to be decided", WAIT, |d| {
        metric(d, "resgate_inbound_undecided ").as_deref() == Some("0")
    });
}

/// Every acknowledged instance is in the journal at `db`, and every inbound
/// row holding one is decided and has its decision.
fn assert_journaled_and_decided(db: &Path, acked: &[String]) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT alerts, id NOT IN (SELECT id FROM inbound_undecided),
                    (SELECT count(*) FROM decisions WHERE inbound_id = inbound.id)
             FROM inbound",
        )
        .unwrap();
    let mut journaled = BTreeSet::new();
    let mut undecided = Vec::new();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (alerts, done, decisions) = row.unwrap();
        let alerts: Vec<Value> = serde_json::from_str(&alerts).unwrap();
        for a in alerts {
            let instance = a["labels"]["instance"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !done || decisions == 0 {
                undecided.push(instance.clone());
            }
            journaled.insert(instance);
        }
    }
    let lost: Vec<&String> = acked.iter().filter(|a| !journaled.contains(*a)).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(
        undecided.is_empty(),
        "journaled but not decided: {undecided:?}"
    );
}

/// What must hold while the journal cannot write: the process is up, says it
/// is alive, still serves reads, counts the journal's errors, and `/readyz`
/// answers (see the module comment). Returns `/readyz`'s answer to print.
fn assert_serving_through_the_fault(d: &mut Daemon) -> String {
    assert!(d.is_running(), "the daemon exited:\n{}", d.logs());
    assert_eq!(d.request("GET", "/healthz", &[], b"").0, 200);
    all_events(d);
    let errors = metric(d, "resgate_journal_errors_total ")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(errors > 0, "journal errors not counted:\n{}", d.logs());
    let (ready, why) = d.request("GET", "/readyz", &[], b"");
    assert!(
        ready == 200 || (ready == 503 && why.contains("decision thread")),
        "/readyz: {ready} {why}"
    );
    format!("{ready} {why}")
}

/// No remediation was called twice (one Idempotency-Key, one call), and no
/// fire was given up because the journal failed.
fn assert_no_call_twice_and_no_fire_dropped(d: &Daemon, fake: &FakeRemediator) {
    let calls = fake.calls();
    let keys: BTreeSet<&str> = calls
        .iter()
        .filter_map(|c| c.header("Idempotency-Key"))
        .collect();
    assert_eq!(keys.len(), calls.len(), "a call sent twice: {calls:#?}");
    let events = all_events(d);
    let refused: Vec<&Value> = events.iter().filter(|e| e["state"] == "refused").collect();
    assert!(
        refused.is_empty(),
        "fires dropped by the fault: {refused:#?}\nlogs:\n{}",
        d.logs()
    );
}

#[test]
fn a_full_disk_answers_503_loses_nothing_and_resumes_once_it_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let fake = FakeRemediator::start(Behaviour::default());
    let rules = dir.path().join("rules");
    write_rules(&rules, &fake, "");
    let Some(disk) = Mount::tmpfs(&dir.path().join("disk"), "4m") else {
        return;
    };
    let data = disk.path().join("data");
    let mut d = Daemon::start_logging_in(&rules, &data, &dir.path().join("logs"), &[]);

    // Several senders at once, as in an incident: when the disk fills, some
    // webhooks are being journaled and some fires are about to be called.
    let (mut acked, refused) = std::thread::scope(|s| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|t| {
                let d = &d;
                s.spawn(move || {
                    let mut acked = Vec::new();
                    let mut refusals = 0;
                    for i in 0.. {
                        let instance = format!("full-{t}-{i}:8080");
                        // As Alertmanager does: the same body again after a
                        // 503. On a full disk some retries fit in the space
                        // a failed write left.
                        while !post(d, &instance) {
                            refusals += 1;
                            if refusals == REFUSALS {
                                return (acked, instance);
                            }
                        }
                        acked.push(instance);
                    }
                    unreachable!("the disk never filled up")
                })
            })
            .collect();
        let mut all = (Vec::new(), Vec::new());
        for sender in senders {
            let (acked, refused) = sender.join().expect("a sender");
            all.0.extend(acked);
            all.1.push(refused);
        }
        all
    });
    assert!(!acked.is_empty(), "the disk took some webhooks first");
    let ready = assert_serving_through_the_fault(&mut d);
    eprintln!("/readyz while the disk is full: {ready}");

    // Room again, without a restart: the senders' retries are taken, and so
    // is a new alert.
    disk.remount("size=64m");
    for instance in refused {
        assert!(post(&d, &instance), "{instance} after the disk grew");
        acked.push(instance);
    }
    assert!(post(&d, "after-the-fault:8080"));
    acked.push("after-the-fault:8080".to_owned());
    wait_until_all_decided(&d);
    // Every fire is called, including those decided just before the disk
    // filled whose call could not be journaled then.
    d.wait_for("every fire's call", WAIT, |d| {
        all_events(d).iter().all(|e| e["state"] != "pending")
    });
    assert_no_call_twice_and_no_fire_dropped(&d, &fake);
    assert_eq!(
        fake.calls().len(),
        all_events(&d).len(),
        "one call per fire"
    );
    assert_eq!(d.request("GET", "/readyz", &[], b"").0, 200);
    assert!(d.is_running(), "the daemon exited:\n{}", d.logs());
    let waited = d.logs().matches("retrying before sending it").count();
    assert!(d.terminate().success(), "SIGTERM exits 0 after the fault");
    assert_journaled_and_decided(&data.join("resgate.db"), &acked);
    eprintln!(
        "disk full: {} webhooks acknowledged, all journaled and decided; \
         {waited} call(s) waited for the journal",
        acked.len()
    );
}

#[test]
fn a_file_system_turned_read_only_under_the_daemon_answers_503_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The jobs run until the test lets them finish: their events are in
    // flight through the fault and the restart.
    let fake = FakeRemediator::start(Behaviour {
        running_polls: usize::MAX,
        ..Behaviour::default()
    });
    let rules = dir.path().join("rules");
    write_rules(&rules, &fake, "");
    let Some(disk) = Mount::ext4(
        &dir.path().join("disk.img"),
        &dir.path().join("disk"),
        "32M",
    ) else {
        return;
    };
    let data = disk.path().join("data");
    let logs = dir.path().join("logs");
    let mut d = Daemon::start_logging_in(&rules, &data, &logs, &[]);

    let mut acked = Vec::new();
    for i in 0..BEFORE_READ_ONLY {
        let instance = format!("before-{i}:8080");
        assert!(post(&d, &instance), "{instance} refused before the fault");
        acked.push(instance);
    }
    // The fault comes when the journal is quiet: every job is called and
    // polled. (At the instant ext4 aborts, this kernel can drop writes whose
    // fsync had already succeeded: nothing above the file system can keep a
    // promise made in that instant, so the test does not race it.)
    d.wait_for("every job to run", WAIT, |d| {
        let events = all_events(d);
        events.len() == BEFORE_READ_ONLY && events.iter().all(|e| e["state"] == "running")
    });
    // What the kernel's flusher does within seconds anyway: the journal's
    // pages are clean when the fault comes, as after a quiet spell.
    run("sync", &["-f"], &data).unwrap();
    disk.fail();

    let refused = "during-the-fault:8080";
    for _ in 0..3 {
        assert!(!post(&d, refused), "taken on a read-only file system?");
    }
    // The jobs finish while the journal cannot say so.
    fake.set_behaviour(Behaviour::default());
    let polls = fake.polls();
    // A tracker stops polling once it has seen its job finish.
    d.wait_for("the trackers to see the jobs finish", WAIT, |_| {
        fake.polls() >= polls + BEFORE_READ_ONLY
    });
    let ready = assert_serving_through_the_fault(&mut d);
    eprintln!("/readyz while the file system is read-only: {ready}");

    // The fault does not clear while mounted: stop, repair, start again.
    assert!(d.terminate().success(), "SIGTERM exits 0 during the fault");
    disk.repair();
    let d = Daemon::start_logging_in(&rules, &data, &logs, &[]);
    assert!(post(&d, refused), "the sender's retry after the repair");
    acked.push(refused.to_owned());
    wait_until_all_decided(&d);
    d.wait_for("every event to settle", WAIT, |d| {
        let events = all_events(d);
        events.len() == BEFORE_READ_ONLY + 1
            && events.iter().all(|e| {
                !matches!(
                    e["state"].as_str(),
                    Some("pending" | "accepted" | "running")
                )
            })
    });
    assert_no_call_twice_and_no_fire_dropped(&d, &fake);
    assert_eq!(
        fake.calls().len(),
        BEFORE_READ_ONLY + 1,
        "one call per fire"
    );
    assert!(d.terminate().success());
    assert_journaled_and_decided(&data.join("resgate.db"), &acked);
    eprintln!(
        "read-only: {} webhooks acknowledged, all journaled and decided",
        acked.len()
    );
}
