//! Packaging (issue 23): the Debian package metadata for cargo-deb names only
//! files that exist and puts them where Debian looks; the package's systemd
//! unit is contrib's with the binary in /usr/bin; the Containerfile's last
//! stage tests the shipped rules with the binary it ships.
//!
//! systemd itself checks both units (`systemd-analyze verify`, and `security
//! --offline` for the sandbox's exposure) where it is installed; `.ci/run`
//! installs it.
//!
//! cargo-deb itself is not run here (it is not installed on the build
//! machines); its asset format is `[source, destination, mode]`, a
//! destination ending in `/` being a directory, `target/release/` paths
//! rewritten to the build's target dir, and globs in sources allowed
//! (cargo-deb's README, "[package.metadata.deb] options").

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use resgate::cli::Cli;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The files a source pattern names: a path, or `dir/*.ext`.
fn expand(source: &str) -> Vec<PathBuf> {
    match source.split_once('*') {
        None => vec![repo(source)],
        Some((prefix, suffix)) => {
            let (dir, start) = prefix.rsplit_once('/').unwrap_or((".", prefix));
            let mut files: Vec<PathBuf> = std::fs::read_dir(repo(dir))
                .unwrap_or_else(|e| panic!("{dir}: {e}"))
                .map(|e| e.expect("entry").path())
                .filter(|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    name.starts_with(start) && name.ends_with(suffix)
                })
                .collect();
            files.sort();
            files
        }
    }
}

fn deb_assets() -> Vec<(String, String, String)> {
    let manifest: toml_edit::Document<String> =
        toml_edit::Document::parse(read("Cargo.toml")).expect("Cargo.toml");
    let deb = manifest["package"]["metadata"]["deb"]
        .as_table()
        .expect("[package.metadata.deb]");
    for key in ["maintainer", "copyright", "section", "extended-description"] {
        assert!(deb.get(key).and_then(|v| v.as_str()).is_some(), "{key}");
    }
    deb["assets"]
        .as_array()
        .expect("assets")
        .iter()
        .map(|a| {
            let a = a.as_array().expect("an asset is [source, dest, mode]");
            let s: Vec<&str> = a.iter().map(|v| v.as_str().expect("a string")).collect();
            assert_eq!(s.len(), 3, "{s:?}");
            (s[0].to_owned(), s[1].to_owned(), s[2].to_owned())
        })
        .collect()
}

#[test]
fn every_deb_asset_exists_and_goes_where_debian_looks() {
    let assets = deb_assets();
    let mut installed: Vec<String> = Vec::new();
    for (source, dest, mode) in &assets {
        assert!(
            u32::from_str_radix(mode, 8).is_ok_and(|m| m <= 0o755),
            "{source}: mode {mode}"
        );
        assert!(
            !dest.starts_with('/') && !dest.starts_with("usr/local"),
            "{dest}"
        );
        if let Some(bin) = source.strip_prefix("target/release/") {
            // Built by cargo deb: the binary target of this crate.
            assert_eq!(bin, env!("CARGO_PKG_NAME"));
            assert_eq!((dest.as_str(), mode.as_str()), ("usr/bin/", "755"));
            installed.push(format!("{dest}{bin}"));
            continue;
        }
        let files = expand(source);
        assert!(!files.is_empty(), "{source} names no file");
        for file in files {
            assert!(file.is_file(), "{source}: {} is missing", file.display());
            let name = file.file_name().and_then(|n| n.to_str()).expect("a name");
            installed.push(if dest.ends_with('/') {
                format!("{dest}{name}")
            } else {
                dest.clone()
            });
        }
    }
    // Every man page, each shell's completions, the unit: in their places.
    for page in expand("man/*.1") {
        let name = page.file_name().and_then(|n| n.to_str()).expect("a name");
        assert!(
            installed.contains(&format!("usr/share/man/man1/{name}")),
            "{name}"
        );
    }
    for path in [
        "usr/bin/resgate",
        "usr/share/bash-completion/completions/resgate",
        "usr/share/zsh/vendor-completions/_resgate",
        "usr/share/fish/vendor_completions.d/resgate.fish",
        "lib/systemd/system/resgate.service",
    ] {
        assert!(
            installed.iter().any(|i| i == path),
            "{path} in {installed:?}"
        );
    }
}

/// The unit without its leading comment block.
fn unit_body(unit: &str) -> String {
    unit.lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_package_unit_is_contribs_with_the_binary_in_usr_bin() {
    let contrib = unit_body(&read("contrib/resgate.service"));
    let deb = unit_body(&read("contrib/deb/resgate.service"));
    assert!(contrib.contains("ExecStart=/usr/local/bin/resgate serve"));
    assert_eq!(
        deb,
        contrib.replace("/usr/local/bin/resgate", "/usr/bin/resgate")
    );
}

#[test]
fn the_containerfiles_last_stage_tests_the_shipped_rules() {
    let file = read("contrib/Containerfile");
    let (_, last) = file.rsplit_once("\nFROM ").expect("stages");
    // The instructions of the last stage, continuation lines joined.
    let joined = last.replace("\\\n", " ");
    let run = joined
        .lines()
        .find(|l| l.starts_with("RUN --mount=type=bind,from=build,source=/src,target=/src "))
        .expect("a RUN that mounts the build stage's /src");
    assert!(
        file.contains("WORKDIR /src\nCOPY . ."),
        "the build stage holds the repo in /src"
    );
    let commands: Vec<&str> = run
        .trim_start_matches("RUN ")
        .split_once(' ')
        .map(|(_, rest)| rest)
        .expect("a command")
        .split("&&")
        .map(str::trim)
        .collect();
    let tested: Vec<&str> = commands
        .iter()
        .filter_map(|c| c.strip_prefix("resgate test "))
        .collect();
    assert_eq!(tested, ["/src/rules", "/etc/resgate/rules"], "{commands:?}");
    for c in &commands {
        if let Err(e) = Cli::try_parse_from(c.split_whitespace()) {
            panic!("`{c}`: {e}");
        }
    }
    // What the mount holds: the shipped rules, whose tests read ../fixtures.
    assert!(repo("rules").is_dir() && repo("fixtures").is_dir());
    // The test runs before the image switches to its user and starts.
    let at = |needle: &str| last.find(needle).unwrap_or_else(|| panic!("{needle}"));
    assert!(at("RUN --mount") < at("USER ") && at("RUN --mount") > at("resgate init"));
}

#[test]
fn the_readme_installs_with_cargo_install_path() {
    let readme = read("README.md");
    assert!(
        readme.contains("cargo install --path ."),
        "README says how to install"
    );
    // `cargo install --path .` builds the [[bin]] named resgate with the
    // committed lock file's versions (`--locked` in the Containerfile).
    let manifest = read("Cargo.toml");
    assert!(manifest.contains("[[bin]]\nname = \"resgate\"\npath = \"src/main.rs\""));
    assert!(repo("Cargo.lock").is_file());
}

/// `systemd-analyze` (Debian package systemd); `None` after a skip notice,
/// a panic when `CI` is set.
fn systemd_analyze() -> Option<PathBuf> {
    let found = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but systemd-analyze was not found: install the Debian package \
             systemd (.ci/run does this)"
        );
        common::skipped("systemd-analyze was not found (`apt-get install -y systemd`)");
    }
    found
}

/// systemd's own checks of the units, as an operator's `systemctl` would
/// load them: `verify` (unknown or misspelt directives, a missing binary,
/// a Documentation= man page that does not exist) and the sandbox's
/// exposure score (`security --offline`, shown from 0 = locked down to 10 =
/// none; the unit scored 1.4 when this was written: fail above 2.0, which
/// `--threshold` takes on its own scale of 0 to 100, systemd-analyze(1)). The binary is the
/// one this build made and the man pages are this tree's, both where the unit
/// looks for them only in the copy given to systemd.
#[test]
fn systemd_accepts_both_units_and_their_sandbox() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man/man1");
    std::fs::create_dir_all(&man1).unwrap();
    for page in expand("man/*.1") {
        std::fs::copy(&page, man1.join(page.file_name().unwrap())).unwrap();
    }
    let binary = env!("CARGO_BIN_EXE_resgate");
    for (unit, installed) in [
        ("contrib/resgate.service", "/usr/local/bin/resgate"),
        ("contrib/deb/resgate.service", "/usr/bin/resgate"),
    ] {
        let text = read(unit);
        assert!(text.contains(installed), "{unit} runs {installed}");
        let copy = dir.path().join("resgate.service");
        std::fs::write(&copy, text.replace(installed, binary)).unwrap();
        let run = |args: &[&str]| {
            let out = Command::new(&analyze)
                .args(args)
                .arg(&copy)
                .env("MANPATH", dir.path().join("man"))
                .output()
                .expect("run systemd-analyze");
            let said = common::printed(&out);
            (out.status.success(), said)
        };
        let (ok, said) = run(&["verify"]);
        assert!(
            ok && said.trim().is_empty(),
            "{unit}: systemd-analyze verify:\n{said}"
        );
        let (ok, said) = run(&["security", "--offline=yes", "--threshold=20"]);
        assert!(ok, "{unit}: exposure above 2.0:\n{said}");
        assert!(said.contains("Overall exposure level"), "{said}");
    }
}
