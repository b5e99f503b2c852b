//! A throwaway PostgreSQL server for one test: `initdb` into a temp directory,
//! `pg_ctl start` on a free loopback port (as the `postgres` user when the
//! test runs as root, since PostgreSQL refuses to run as root), and
//! `pg_ctl stop -m immediate` when dropped, also when the test panics.
//!
//! The binaries come from `$PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's `postgresql` package, installed by `.ci/run`). Without them the
//! test is skipped with a loud line, except under `CI`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: Option<String>,
    pub port: u16,
}

fn binaries() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("PG_BIN") {
        return Some(PathBuf::from(bin));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Postgres {
    /// A fresh server, or `None` (with a message) when PostgreSQL is not
    /// installed and this is not CI.
    pub fn start() -> Option<Postgres> {
        Self::start_with(false)
    }

    /// As [`Postgres::start`], with TLS on: a certificate for 127.0.0.1 signed
    /// by a throwaway CA (made with `openssl`) at [`Postgres::certificate`].
    pub fn start_tls() -> Option<Postgres> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Option<Postgres> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is not installed (apt-get install postgresql, or set PG_BIN); CI must run this test"
            );
            super::skipped(
                "PostgreSQL is not installed (set PG_BIN or `apt-get install -y postgresql`)",
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let run_as = is_root().then(|| "postgres".to_owned());
        let data = dir.path().join("pg");
        std::fs::create_dir(&data).expect("pg dir");
        if run_as.is_some() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&data)
                .status()
                .expect("chown");
            assert!(status.success(), "chown the PostgreSQL directory");
        }
        let mut pg = Postgres {
            dir,
            bin,
            run_as,
            port: 0,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                "resgate",
                "--auth=trust",
                "--locale=C",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        pg.port = free_port();
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=200",
            pg.port,
            data.display()
        );
        if tls {
            let dir = pg.dir.path().to_owned();
            let (cert, key) = (data.join("server.crt"), data.join("server.key"));
            std::fs::write(
                dir.join("server.ext"),
                "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
            )
            .expect("extensions file");
            let ca = pg.certificate();
            let ca_key = dir.join("ca.key");
            let csr = dir.join("server.csr");
            let openssl = |args: &[&std::ffi::OsStr]| {
                let made = Command::new("openssl")
                    .args(args)
                    .output()
                    .expect("run openssl");
                assert!(
                    made.status.success(),
                    "openssl {args:?}: {}",
                    String::from_utf8_lossy(&made.stderr)
                );
            };
            let os = |s: &str| std::ffi::OsString::from(s);
            // A CA, and a certificate for 127.0.0.1 that it signs.
            openssl(&[
                &os("req"),
                &os("-x509"),
                &os("-newkey"),
                &os("rsa:2048"),
                &os("-nodes"),
                &os("-days"),
                &os("1"),
                &os("-subj"),
                &os("/CN=resgate test CA"),
                &os("-keyout"),
                ca_key.as_os_str(),
                &os("-out"),
                ca.as_os_str(),
            ]);
            openssl(&[
                &os("req"),
                &os("-newkey"),
                &os("rsa:2048"),
                &os("-nodes"),
                &os("-subj"),
                &os("/CN=127.0.0.1"),
                &os("-keyout"),
                key.as_os_str(),
                &os("-out"),
                csr.as_os_str(),
            ]);
            openssl(&[
                &os("x509"),
                &os("-req"),
                &os("-in"),
                csr.as_os_str(),
                &os("-CA"),
                ca.as_os_str(),
                &os("-CAkey"),
                ca_key.as_os_str(),
                &os("-CAcreateserial"),
                &os("-days"),
                &os("1"),
                &os("-extfile"),
                dir.join("server.ext").as_os_str(),
                &os("-out"),
                cert.as_os_str(),
            ]);
            if pg.run_as.is_some() {
                let owned = Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&key)
                    .arg(&cert)
                    .status()
                    .expect("chown");
                assert!(owned.success());
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                cert.display(),
                key.display()
            ));
        }
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &data.join("server.log").to_string_lossy(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Some(pg)
    }

    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd.args(args).output().expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.data().join("server.log")).unwrap_or_default()
        );
    }

    /// The CA that signed the server's certificate, with TLS on.
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("pg")
    }

    /// A new empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = format!("postgres://resgate@127.0.0.1:{}/postgres", self.port);
        let mut client =
            postgres::Client::connect(&admin, postgres::NoTls).expect("connect to PostgreSQL");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        format!("postgres://resgate@127.0.0.1:{}/{name}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data().join("server.log")).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let exe = self.bin.join("pg_ctl");
        let data = self.data();
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let _ = cmd
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
