//! `resgate init`: the starter it writes passes `lint` and `test` as written, and
//! it never overwrites anything without `--force`.

use std::path::Path;

use resgate::cli::init::FILES;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the built binary in `dir`.
fn resgate(dir: &Path, args: &[&str]) -> Out {
    let output = assert_cmd::Command::cargo_bin("resgate")
        .expect("binary")
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run resgate");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn expect_code(out: &Out, code: i32) {
    assert_eq!(
        out.code, code,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_starter_lints_clean_and_its_tests_pass() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let init = resgate(tmp.path(), &["init"]);
    expect_code(&init, 0);
    for (rel, text) in FILES {
        let path = tmp.path().join("rules").join(rel);
        assert_eq!(&read(&path), text, "{rel} as written");
        assert!(
            init.stdout.contains(&format!("created rules/{rel}\n")),
            "{rel} not reported:\n{}",
            init.stdout
        );
    }

    // Clean even when warnings count as errors: a first run shows no noise.
    let lint = resgate(tmp.path(), &["lint", "--deny", "warnings", "rules"]);
    expect_code(&lint, 0);
    assert_eq!(
        lint.stdout,
        "ok: 1 source, 2 remediators, 1 remediation; 0 warnings\n"
    );
    assert_eq!(lint.stderr, "");

    let test = resgate(tmp.path(), &["test", "rules"]);
    expect_code(&test, 0);
    assert!(
        test.stdout.ends_with("\n3 passed, 0 failed\n"),
        "{}",
        test.stdout
    );
    assert!(!test.stdout.contains("FAIL"), "{}", test.stdout);
}

#[test]
fn the_starter_tests_catch_a_missing_guard() {
    let tmp = tempfile::tempdir().expect("temp dir");
    expect_code(&resgate(tmp.path(), &["init", "starter"]), 0);
    // A guard that asks about the wrong label never holds, so the restart
    // fires during a deploy: a starter test must say so.
    let rule = tmp.path().join("starter/restart.yaml");
    let unguarded = read(&rule).replace("deploying($service)", "deploying($instance)");
    assert_ne!(
        unguarded,
        read(&rule),
        "the guard was not found in restart.yaml"
    );
    std::fs::write(&rule, unguarded).expect("write");
    let test = resgate(tmp.path(), &["test", "starter"]);
    expect_code(&test, 1);
    assert!(
        test.stdout.contains(
            "FAIL starter/restart.test.yaml :: a deploy of the same service defers the restart"
        ),
        "{}",
        test.stdout
    );
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().expect("temp dir");
    expect_code(&resgate(tmp.path(), &["init", "rules"]), 0);
    let rule = tmp.path().join("rules/restart.yaml");
    std::fs::write(&rule, "# my own edits\n").expect("write");

    let again = resgate(tmp.path(), &["init", "rules"]);
    expect_code(&again, 2);
    assert_eq!(again.stdout, "");
    assert!(
        again.stderr.contains("rules/sources.yaml already exists"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(read(&rule), "# my own edits\n", "an edit was overwritten");

    let forced = resgate(tmp.path(), &["init", "--force", "rules"]);
    expect_code(&forced, 0);
    assert!(
        forced.stdout.contains("replaced rules/restart.yaml\n"),
        "{}",
        forced.stdout
    );
    let starter = FILES
        .iter()
        .find(|(rel, _)| *rel == "restart.yaml")
        .map(|(_, text)| *text);
    assert_eq!(Some(read(&rule).as_str()), starter);
}

#[test]
fn init_refuses_a_directory_that_holds_other_rules() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("mine");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("api.yaml"), "remediations: {}\n").expect("write");

    let init = resgate(tmp.path(), &["init", "mine"]);
    expect_code(&init, 2);
    assert!(
        init.stderr.contains("mine already holds rule files"),
        "{}",
        init.stderr
    );
    assert!(init.stderr.contains("mine/api.yaml"), "{}", init.stderr);
    for (rel, _) in FILES {
        assert!(!dir.join(rel).exists(), "{rel} was written anyway");
    }
}

#[test]
fn init_creates_missing_parent_directories() {
    let tmp = tempfile::tempdir().expect("temp dir");
    expect_code(&resgate(tmp.path(), &["init", "ops/resgate/rules"]), 0);
    let test = resgate(tmp.path(), &["test", "ops/resgate/rules"]);
    expect_code(&test, 0);
}

/// The commented-out fact source in the starter restart.yaml is valid as
/// written: uncommented, with the guard its comment gives, the rules lint
/// clean (DESIGN.md §8), and the starter tests then say the unscripted
/// relation is unknown rather than firing blind.
#[test]
fn the_commented_fact_source_is_valid_once_uncommented() {
    let tmp = tempfile::tempdir().expect("temp dir");
    expect_code(&resgate(tmp.path(), &["init", "starter"]), 0);
    let rule = tmp.path().join("starter/restart.yaml");
    let text = read(&rule);
    let (head, tail) = text
        .split_once("# facts:\n")
        .expect("a commented facts: section");
    let uncommented: String = tail
        .lines()
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .map(|l| format!("{l}\n"))
        .collect();
    let guarded = head.replace(
        "      deploying: \"deploying($service)\"\n",
        "      deploying: \"deploying($service)\"\n      bad_release: \"error_ratio($service, R), R > 0.5\"\n",
    );
    assert_ne!(guarded, head, "the unless: block was not found");
    std::fs::write(&rule, format!("{guarded}facts:\n{uncommented}")).expect("write");
    let lint = resgate(tmp.path(), &["lint", "--deny", "warnings", "starter"]);
    expect_code(&lint, 0);
    let test = resgate(tmp.path(), &["test", "starter"]);
    expect_code(&test, 1);
    assert!(test.stdout.contains("stale_facts"), "{}", test.stdout);
}
