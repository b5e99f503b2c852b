//! `resgate backtest --journal DATA --rules NEW_RULES`: what other rules would
//! have decided on the webhooks a journal recorded, as a diff against what was
//! decided. For reviewing a rules pull request in CI (`--fail-on-change`).

use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use super::{Exit, Output, report};
use crate::backtest::{self, Diff, Replay};
use crate::journal::{self, history};
use crate::rules;
use crate::scenario::Fake;
use crate::scenario::schema::FakeOutcome;
use crate::term::escape;
use crate::timeline::{Timeline, svg};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory of `resgate serve` (or its resgate.db), or a shared
    /// PostgreSQL journal's URL
    #[arg(long, value_name = "DATA")]
    pub journal: PathBuf,
    /// The rules to replay through (e.g. the pull request's rules directory)
    #[arg(long, default_value = "rules")]
    pub rules: PathBuf,
    /// Compare only decisions from this long ago (`7d`, `12h`) or this time (RFC 3339)
    #[arg(long)]
    pub since: Option<String>,
    /// Exit 1 when any decision would change
    #[arg(long)]
    pub fail_on_change: bool,
    /// How long a fire takes when the journal has no event of its remediation
    #[arg(long, default_value = "1m", value_name = "DURATION")]
    pub assume_takes: String,
    /// Output format: text, JSON, or Markdown for a pull-request comment
    #[arg(long, value_enum, default_value_t = BacktestFormat::Text)]
    pub format: BacktestFormat,
    /// Also draw the replayed timeline as an SVG picture into this file
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

/// `resgate backtest --format`: the shared formats and a PR comment body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BacktestFormat {
    #[default]
    Text,
    Json,
    /// GitHub Flavored Markdown: the diff as a table, for a pull-request comment
    Markdown,
}

pub fn run(args: &Args, out: &Output) -> Exit {
    let loaded = rules::load_path(&args.rules);
    out.diagnostics(&loaded.diagnostics, &loaded.sources);
    let errors = loaded.errors();
    let Some(rules) = loaded.rules.filter(|_| errors == 0) else {
        eprintln!(
            "error: the rules in {} do not load; fix them first (`resgate lint {}`)",
            args.rules.display(),
            args.rules.display()
        );
        return Exit::Failed;
    };
    let rules = Arc::new(rules);
    let Some(takes) = humantime::parse_duration(&args.assume_takes)
        .ok()
        .and_then(|d| SignedDuration::try_from(d).ok())
    else {
        eprintln!(
            "error: --assume-takes {:?} is not a duration (e.g. 90s, 5m)",
            args.assume_takes
        );
        return Exit::Usage;
    };
    let since = match args.since.as_deref().map(parse_since) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            eprintln!(
                "error: --since {:?} is neither a duration (7d, 12h) nor an RFC 3339 time",
                args.since.as_deref().unwrap_or_default()
            );
            return Exit::Usage;
        }
    };

    let at = journal::Location::parse(&args.journal.to_string_lossy());
    let recorded = match at.open_reader().and_then(|conn| history::recorded(&conn)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("help: --journal takes the directory `resgate serve --data` uses");
            return Exit::Usage;
        }
    };
    let assume = Fake {
        takes,
        then: FakeOutcome::Succeeded,
    };
    // On a terminal only (indicatif hides it otherwise): long journals take a while.
    let bar = indicatif::ProgressBar::new(recorded.inbound.len() as u64).with_style(
        indicatif::ProgressStyle::with_template(
            "replaying {bar:40} {pos}/{len} webhooks, {eta} left",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let ticker = bar.clone();
    let progress = Box::new(move |done: usize| {
        if done.is_multiple_of(256) {
            ticker.set_position(done as u64);
        }
    });
    let replayed = backtest::replay_with_progress(&rules, &recorded, assume, progress);
    bar.finish_and_clear();
    let Some(replay) = replayed else {
        eprintln!(
            "error: {} holds no webhook to replay (none received, or all pruned after the retention period)",
            at.describe()
        );
        return Exit::Usage;
    };
    // Decisions from before the first retained webhook cannot be compared:
    // the replay never saw what they were decided on.
    let from = since.unwrap_or(replay.start).max(replay.start);
    let after: Vec<history::RecordedDecision> = replay
        .trace
        .decisions
        .iter()
        .map(history::RecordedDecision::from)
        .collect();
    let diff = backtest::diff(&recorded.decisions, &after, from);

    if let Some(file) = &args.svg {
        let mut timeline = Timeline::from_trace(&replay.trace, replay.start);
        timeline.title = Some(format!("backtest of {}", args.rules.display()));
        if let Err(e) = std::fs::write(file, svg::render(&timeline)) {
            eprintln!("error: cannot write {}: {e}", file.display());
            return Exit::Usage;
        }
    }
    let alerts: usize = recorded.inbound.iter().map(|i| i.alerts.len()).sum();
    match args.format {
        BacktestFormat::Markdown => print!(
            "{}",
            report::markdown::render(
                &report::markdown::Summary {
                    rules: &args.rules.display().to_string(),
                    version: &rules.version,
                    webhooks: recorded.inbound.len(),
                    alerts,
                    from,
                    to: replay.end,
                },
                &diff
            )
        ),
        BacktestFormat::Json => {
            let report = serde_json::json!({
                "rules": args.rules.display().to_string(),
                "rules_version": rules.version,
                "webhooks": recorded.inbound.len(),
                "alerts": alerts,
                "from": from,
                "to": replay.end,
                "scripted": replay.scripted,
                "diff": diff,
            });
            println!("{report}");
        }
        BacktestFormat::Text => print!(
            "{}",
            render(
                args,
                &rules.version,
                recorded.inbound.len(),
                alerts,
                from,
                &replay,
                &diff
            )
        ),
    }
    if args.fail_on_change && !diff.is_empty() {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

/// `7d`, `12h` back from now, or an RFC 3339 time.
fn parse_since(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    let back = SignedDuration::try_from(humantime::parse_duration(s).ok()?).ok()?;
    Timestamp::now().checked_sub(back).ok()
}

fn render(
    args: &Args,
    version: &str,
    webhooks: usize,
    alerts: usize,
    from: Timestamp,
    replay: &Replay,
    diff: &Diff,
) -> String {
    let mut out = String::new();
    let s = replay.scripted;
    let _ = writeln!(
        out,
        "replayed {webhooks} webhooks ({alerts} alerts) received {} to {} through {} (version {version})",
        replay.start,
        replay.end,
        args.rules.display()
    );
    let _ = writeln!(
        out,
        "fires played as recorded: {} same event, {} same target at another time, {} remediation median, {} assumed ({} then succeeded)",
        s.same_event, s.same_target, s.remediation_median, s.assumed, args.assume_takes
    );
    let _ = writeln!(
        out,
        "compared {} alert/remediation pairs from {from}: {} decisions recorded, {} replayed",
        diff.compared, diff.decisions_before, diff.decisions_after
    );
    if diff.skipped_paused > 0 {
        let _ = writeln!(
            out,
            "left out {} pairs that were paused at the time (pauses are not replayed)",
            diff.skipped_paused
        );
    }
    out.push('\n');
    if diff.is_empty() {
        out.push_str("no decision would change\n");
        return out;
    }
    for group in &diff.groups {
        let name = group
            .remediation
            .as_deref()
            .unwrap_or("(no remediation matched)");
        let _ = writeln!(
            out,
            "{name}: {} alert{} would be decided differently",
            group.pairs_changed,
            if group.pairs_changed == 1 { "" } else { "s" }
        );
        for c in &group.changes {
            let _ = writeln!(
                out,
                "  {:<28} {} alert{}",
                c.change.describe(),
                c.alerts,
                if c.alerts == 1 { "" } else { "s" }
            );
            for e in &c.examples {
                let target = e
                    .target
                    .as_deref()
                    .map_or(String::new(), |t| format!(" {}", escape(t)));
                let show = |words: &[String]| {
                    if words.is_empty() {
                        "(nothing)".to_owned()
                    } else {
                        words.join(", ")
                    }
                };
                let _ = writeln!(
                    out,
                    "    {}{target}: {} -> {}",
                    escape(&e.alert),
                    escape(&show(&e.before)),
                    escape(&show(&e.after))
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} of {} alert/remediation pairs would be decided differently",
        diff.changed(),
        diff.compared
    );
    out
}
