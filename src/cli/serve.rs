//! `resgate serve`: run the webhook daemon until SIGTERM/SIGINT.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use super::Exit;
use crate::serve::{self, Options};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rules directory (watched: changes that pass lint go live)
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Data directory: the journal `resgate.db` lives here
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Address to listen on (port 0: any free port, printed on start)
    #[arg(long, default_value = "127.0.0.1:9095")]
    pub listen: String,
    /// Open connections at most (a thread each); more are answered 503
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Open connections from one client address at most (loopback included);
    /// more are answered 503. A quarter of the default --max-connections: one
    /// client cannot take them all, and local tools have room
    #[arg(long, default_value_t = 256)]
    pub max_connections_per_ip: usize,
    /// A kept-alive connection idle this long is closed
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// The request line and headers must arrive within this (for a new
    /// connection's first request, counted from the connect)
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub head_timeout: Duration,
    /// Largest webhook body accepted, in bytes
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_body: usize,
    /// A whole request body must arrive within this
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub body_timeout: Duration,
    /// How long decided webhook bodies, and notifications sent or failed, are
    /// kept in the journal
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    pub retention: Duration,
    /// Repeats of the same alert inside this window are journaled once
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub dedupe_window: Duration,
    /// Tries of a call the remediator did not accept (refused, 5xx), same Idempotency-Key
    #[arg(long, default_value_t = 3)]
    pub call_attempts: u32,
    /// First wait between those tries (doubles each time)
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub call_backoff: Duration,
    /// Tries of a notification a receiver did not take (down, 5xx, 429)
    /// before it is counted failed
    #[arg(long, default_value_t = 10)]
    pub notify_attempts: u32,
    /// First wait between those tries (doubles each time, at most 5m; a
    /// longer Retry-After wins)
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub notify_backoff: Duration,
    /// Largest a SQLite journal may grow (`512MiB`, `10GiB`; `0`: no cap;
    /// default 1GiB). Webhooks get 503 (the sender retries) once it is 90%
    /// full, until pruning frees room or the cap is raised; the rest is kept
    /// for decisions
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub journal_max_size: Option<u64>,
    /// Alerts one webhook may carry; more are refused with 413 (set
    /// Alertmanager's `max_alerts` at or below this to have it truncate instead)
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_alerts_per_request: usize,
    /// Alerts held at most (firing, and resolved within the last hour); webhooks
    /// with alerts not held yet get 503 (the sender retries) while full
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub max_alerts: usize,
    /// Bytes of labels and annotations of the alerts held at most (`128MiB`);
    /// beyond, webhooks with alerts not held yet get 503 likewise
    #[arg(long, value_name = "SIZE", default_value = "128MiB", value_parser = parse_size)]
    pub max_alert_bytes: u64,
    /// A PostgreSQL journal shared by several instances
    /// (`postgres://user@host:5432/db`; the password from the URL or
    /// PGPASSWORD); without it, the SQLite file in --data. All instances take
    /// webhooks; the one holding the lease decides and fires.
    #[arg(
        long,
        value_name = "URL",
        env = "RESGATE_JOURNAL",
        hide_env_values = true
    )]
    pub journal: Option<String>,
    /// With a shared journal: how long the leader's lease lasts without
    /// renewal; a standby takes over within about this after the leader dies
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub lease: Duration,
    /// A name of this server that requests may use (`Host`) and writes may
    /// come from (`Origin`), besides IP addresses, `localhost` and the
    /// --listen name; repeat it, or comma-separate in the variable. A leading
    /// `.` allows the domain and every name under it
    #[arg(
        long = "allowed-host",
        value_name = "NAME",
        env = "RESGATE_ALLOWED_HOSTS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub allowed_hosts: Vec<String>,
    /// Listen beyond loopback without RESGATE_API_TOKEN (refused otherwise):
    /// only when a firewall or an authenticating proxy guards the API
    #[arg(long)]
    pub insecure_no_api_token: bool,
    /// The URL people reach this server at (e.g. behind a proxy):
    /// notifications link to its event pages, `URL/events/ID`
    #[arg(
        long,
        value_name = "URL",
        env = "RESGATE_EXTERNAL_URL",
        hide_env_values = true
    )]
    pub external_url: Option<String>,
    /// Do not watch the rules directory
    #[arg(long)]
    pub no_watch: bool,
    /// Log lines as JSON
    #[arg(long)]
    pub log_json: bool,
}

/// `--journal-max-size` of a SQLite journal when not given: about a million
/// webhook bodies of a few alerts, or a week of a busy Alertmanager, and far
/// below any disk a daemon is given; reached only by a flood, which then gets
/// 503 instead of filling the disk (docs/operations.md, "Limits").
const DEFAULT_JOURNAL_MAX_SIZE: u64 = 1 << 30;

pub fn run(args: &Args) -> Exit {
    init_logging(args.log_json);
    if let Some(url) = &args.journal
        && !crate::journal::postgres::is_url(url)
    {
        eprintln!(
            "error: --journal takes a PostgreSQL URL (postgres://…), not {url:?}\n  help: a SQLite journal lives in --data DIR"
        );
        return Exit::Usage;
    }
    if args.lease < Duration::from_secs(1) {
        eprintln!("error: --lease must be at least 1s");
        return Exit::Usage;
    }
    if let Some(url) = &args.external_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        eprintln!(
            "error: --external-url must be an http(s) URL, not {url:?}\n  help: e.g. --external-url https://resgate.example.com"
        );
        return Exit::Usage;
    }
    let options = Options {
        rules: args.rules.clone(),
        data: args.data.clone(),
        listen: args.listen.clone(),
        max_connections: args.max_connections,
        max_connections_per_ip: args.max_connections_per_ip,
        idle_timeout: args.idle_timeout,
        head_timeout: args.head_timeout,
        max_body: args.max_body,
        body_timeout: args.body_timeout,
        retention: args.retention,
        dedupe_window: args.dedupe_window,
        // Not a flag: a token on the command line would show in `ps`.
        api_token: std::env::var("RESGATE_API_TOKEN")
            .ok()
            .filter(|t| !t.is_empty()),
        call_attempts: args.call_attempts,
        call_backoff: args.call_backoff,
        watch: !args.no_watch,
        journal_max_bytes: match (args.journal_max_size, &args.journal) {
            (Some(0), _) => None,
            (Some(max), _) => Some(max),
            (None, None) => Some(DEFAULT_JOURNAL_MAX_SIZE),
            // A PostgreSQL database is capped by its own quotas.
            (None, Some(_)) => None,
        },
        max_alerts_per_request: args.max_alerts_per_request,
        max_alerts: args.max_alerts,
        max_alert_bytes: args.max_alert_bytes,
        journal: args.journal.clone(),
        lease: args.lease,
        allowed_hosts: args.allowed_hosts.clone(),
        insecure_no_api_token: args.insecure_no_api_token,
        external_url: args.external_url.clone(),
        notify_attempts: args.notify_attempts,
        notify_backoff: args.notify_backoff,
    };
    let result = serve::run(options, |addr| {
        // The first line on stdout, for scripts and tests that asked for port 0.
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "resgate listening on http://{addr}");
        let _ = stdout.flush();
    });
    match result {
        Ok(()) => Exit::Ok,
        Err(e) => {
            // Once, as a log line like everything `serve` says (stderr).
            tracing::error!("{e}");
            match e {
                serve::ServeError::Rules(_) => Exit::Failed,
                _ => Exit::Usage,
            }
        }
    }
}

fn init_logging(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(false);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// `1048576`, `512KiB`, `64MiB`, `10GiB` (also `KB`/`MB`/`GB` as powers of 1000).
fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: write e.g. 512MiB or 10GiB"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown size unit {other:?}: use KiB, MiB, GiB or TiB"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5XB").unwrap_err().contains("unknown size unit"));
        assert!(
            parse_size("99999999999TiB")
                .unwrap_err()
                .contains("too large")
        );
    }
}
