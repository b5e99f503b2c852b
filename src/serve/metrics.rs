//! `/metrics` in the Prometheus text format (version 0.0.4).
//!
//! Counters with labels live in small maps behind a mutex: a handful of series,
//! touched once per request, so contention is not worth lock-free structures.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the commit latency histogram, in seconds.
const COMMIT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Series shown at 0 from the start. Prometheus's `increase()` and `rate()`
/// cannot see the first sample of a series, so a counter that only appears
/// when it becomes 1 (the first refused reload, the first journal error) would
/// never fire the alerts of contrib/prometheus/resgate.rules.yml. These are the
/// label sets those alerts select, known before anything happens.
const ZERO: &[(&str, &str)] = &[
    ("resgate_journal_errors_total", ""),
    ("resgate_rules_reloads_total", "result=\"ok\""),
    ("resgate_rules_reloads_total", "result=\"refused\""),
    ("resgate_remediator_calls_total", "result=\"accepted\""),
    ("resgate_remediator_calls_total", "result=\"refused\""),
    ("resgate_remediator_calls_total", "result=\"unknown\""),
    ("resgate_remediator_calls_total", "result=\"not_sent\""),
    (
        "resgate_remediator_calls_total",
        "result=\"escalation_accepted\"",
    ),
    (
        "resgate_remediator_calls_total",
        "result=\"escalation_refused\"",
    ),
    (
        "resgate_remediator_calls_total",
        "result=\"escalation_unknown\"",
    ),
    (
        "resgate_remediator_calls_total",
        "result=\"escalation_not_sent\"",
    ),
    ("resgate_remediator_polls_total", "result=\"ok\""),
    ("resgate_remediator_polls_total", "result=\"unrecognised\""),
    ("resgate_remediator_polls_total", "result=\"error\""),
    ("resgate_event_transitions_total", "to=\"rescued\""),
    ("resgate_event_transitions_total", "to=\"not_rescued\""),
    ("resgate_event_transitions_total", "to=\"failed\""),
    ("resgate_event_transitions_total", "to=\"timed_out\""),
    ("resgate_event_transitions_total", "to=\"refused\""),
    ("resgate_event_transitions_total", "to=\"expired\""),
];

#[derive(Default)]
pub struct Metrics {
    /// (metric name, label string) → count.
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// Event state → how many events are in it now.
    events: Mutex<BTreeMap<String, u64>>,
    commit_buckets: [AtomicU64; 12],
    commit_count: AtomicU64,
    commit_micros: AtomicU64,
    rules_loaded_at: AtomicU64,
    /// Bytes of the journal in use after the last commit, plus one (0: not known,
    /// a PostgreSQL journal or no commit yet).
    journal_used: AtomicU64,
    /// Notifier → (notifications queued, age in seconds of the oldest).
    outbox: Mutex<BTreeMap<String, (u64, f64)>>,
    /// Microseconds the decision thread spent in each of [`DECIDER_STAGES`].
    decider_micros: [AtomicU64; 4],
    /// Fact sources' health (DESIGN.md §8).
    pub facts: super::facts::Board,
}

/// Where the decision thread's time goes, for `resgate_decider_seconds_total`:
/// running the engine, encoding a step's JSON, waiting for the step's commit,
/// and acting on it (log lines, metrics, starting calls).
pub const DECIDER_STAGES: [&str; 4] = ["decide", "encode", "journal_wait", "act"];

impl Metrics {
    fn add(&self, name: &'static str, labels: String, n: u64) {
        if let Ok(mut c) = self.counters.lock() {
            *c.entry((name, labels)).or_default() += n;
        }
    }

    pub fn ingest(&self, source: &str, code: u16, alerts: usize) {
        self.add(
            "resgate_ingest_requests_total",
            format!("source=\"{}\",code=\"{code}\"", escape(source)),
            1,
        );
        if alerts > 0 {
            self.add(
                "resgate_ingest_alerts_total",
                format!("source=\"{}\"", escape(source)),
                alerts as u64,
            );
        }
    }

    /// A connection refused at accept with 503: `max_connections` or `per_ip`.
    pub fn connection_refused(&self, reason: &str) {
        self.add(
            "resgate_http_connections_refused_total",
            format!("reason=\"{}\"", escape(reason)),
            1,
        );
    }

    /// A request refused before any route: `foreign_host` (403, DNS
    /// rebinding), `malformed_host` (400) or `foreign_origin` (403, a
    /// cross-site write). A page probing the daemon shows here.
    pub fn request_refused(&self, reason: &str) {
        self.add(
            "resgate_http_requests_refused_total",
            format!("reason=\"{}\"", escape(reason)),
            1,
        );
    }

    /// An accept that failed (out of file descriptors, most likely).
    pub fn accept_error(&self) {
        self.add("resgate_http_accept_errors_total", String::new(), 1);
    }

    /// A fire that `mode: shadow` kept from calling: what the remediation
    /// would have done had it been trusted.
    pub fn shadow_fire(&self, remediation: &str) {
        self.add(
            "resgate_shadow_fires_total",
            format!("remediation=\"{}\"", escape(remediation)),
            1,
        );
    }

    pub fn decision(&self, verdict: &str, remediation: Option<&str>) {
        self.add(
            "resgate_decisions_total",
            format!(
                "verdict=\"{}\",remediation=\"{}\"",
                escape(verdict),
                escape(remediation.unwrap_or(""))
            ),
            1,
        );
    }

    pub fn transition(&self, to: &str) {
        self.add(
            "resgate_event_transitions_total",
            format!("to=\"{}\"", escape(to)),
            1,
        );
    }

    pub fn call(&self, result: &str) {
        self.add(
            "resgate_remediator_calls_total",
            format!("result=\"{}\"", escape(result)),
            1,
        );
    }

    pub fn poll(&self, result: &str) {
        self.add(
            "resgate_remediator_polls_total",
            format!("result=\"{}\"", escape(result)),
            1,
        );
    }

    pub fn reload(&self, ok: bool) {
        let result = if ok { "ok" } else { "refused" };
        self.add(
            "resgate_rules_reloads_total",
            format!("result=\"{result}\""),
            1,
        );
        if ok {
            self.rules_loaded_at.store(
                jiff::Timestamp::now().as_second().max(0) as u64,
                Ordering::Relaxed,
            );
        }
    }

    pub fn journal_error(&self) {
        self.add("resgate_journal_errors_total", String::new(), 1);
    }

    pub fn commit_latency(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in COMMIT_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.commit_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.commit_count.fetch_add(1, Ordering::Relaxed);
        self.commit_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    /// Time the decision thread spent in stage `DECIDER_STAGES[stage]`.
    pub fn decider_time(&self, stage: usize, d: Duration) {
        if let Some(total) = self.decider_micros.get(stage) {
            let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
            total.fetch_add(micros, Ordering::Relaxed);
        }
    }

    /// The writer publishes the journal's size after each commit.
    pub fn set_journal_used(&self, bytes: Option<u64>) {
        let stored = bytes.map_or(0, |b| b.saturating_add(1));
        self.journal_used.store(stored, Ordering::Relaxed);
    }

    /// Bytes of the journal in use, if known (SQLite).
    pub fn journal_used(&self) -> Option<u64> {
        self.journal_used.load(Ordering::Relaxed).checked_sub(1)
    }

    /// A webhook refused by a bound of [`super::limits`].
    pub fn refused(&self, source: &str, reason: &str) {
        self.add(
            "resgate_ingest_refused_total",
            format!("source=\"{}\",reason=\"{reason}\"", escape(source)),
            1,
        );
    }

    /// Notifications of `notifier` that came to `result` (`sent`, `retried`,
    /// `failed`); `n = 0` makes the series exist (DESIGN.md §9).
    pub fn notifications(&self, notifier: &str, result: &str, n: u64) {
        let labels = |r: &str| format!("notifier=\"{}\",result=\"{r}\"", escape(notifier));
        if n == 0 {
            // Every result of a known notifier from the start, as ZERO does
            // for fixed series: `increase()` cannot see a series' first sample.
            if let Ok(mut c) = self.counters.lock() {
                for r in ["sent", "retried", "failed"] {
                    c.entry(("resgate_notifications_total", labels(r)))
                        .or_default();
                }
            }
            return;
        }
        self.add("resgate_notifications_total", labels(result), n);
    }

    /// The outbox thread publishes each notifier's queue.
    pub fn set_outbox(&self, queues: BTreeMap<String, (u64, f64)>) {
        if let Ok(mut o) = self.outbox.lock() {
            *o = queues;
        }
    }

    /// The decision thread publishes how many events are in each state.
    pub fn set_events(&self, by_state: BTreeMap<String, u64>) {
        if let Ok(mut e) = self.events.lock() {
            *e = by_state;
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let help: &[(&str, &str, &str)] = &[
            (
                "resgate_ingest_requests_total",
                "counter",
                "Webhook requests by source and HTTP status.",
            ),
            (
                "resgate_ingest_alerts_total",
                "counter",
                "Alerts journaled from webhooks, by source.",
            ),
            (
                "resgate_ingest_refused_total",
                "counter",
                "Webhooks refused by a limit before they were journaled: alerts_per_request (413), alerts_held or journal_full (503).",
            ),
            (
                "resgate_decisions_total",
                "counter",
                "Decisions by verdict and remediation.",
            ),
            (
                "resgate_shadow_fires_total",
                "counter",
                "Fires that mode: shadow recorded without calling the remediator.",
            ),
            (
                "resgate_event_transitions_total",
                "counter",
                "Event state changes by the state entered.",
            ),
            (
                "resgate_remediator_calls_total",
                "counter",
                "Calls to remediators by result.",
            ),
            (
                "resgate_remediator_polls_total",
                "counter",
                "Status polls of remediators by result.",
            ),
            (
                "resgate_rules_reloads_total",
                "counter",
                "Rule reloads: ok, or refused because the new rules fail lint or use unresolved secrets.",
            ),
            (
                "resgate_journal_errors_total",
                "counter",
                "Journal transactions that failed (answered 503).",
            ),
            (
                "resgate_http_connections_refused_total",
                "counter",
                "Connections answered 503 at once: max_connections, or per_ip (--max-connections-per-ip).",
            ),
            (
                "resgate_notifications_total",
                "counter",
                "Notifications by notifier and result: sent, retried (a try that failed; tried again later), failed (given up).",
            ),
            (
                "resgate_http_requests_refused_total",
                "counter",
                "Requests refused before any route: foreign_host (403: a Host this daemon does not answer for, DNS rebinding), malformed_host (400), foreign_origin (403: a cross-site write).",
            ),
            (
                "resgate_http_accept_errors_total",
                "counter",
                "Accepts that failed (out of file descriptors?); the daemon backs off 50 ms each.",
            ),
        ];
        let mut counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        for (name, labels) in ZERO {
            counters.entry((name, (*labels).to_owned())).or_insert(0);
        }
        for (name, kind, text) in help {
            let _ = writeln!(out, "# HELP {name} {text}\n# TYPE {name} {kind}");
            for ((n, labels), v) in &counters {
                if n == name {
                    if labels.is_empty() {
                        let _ = writeln!(out, "{name} {v}");
                    } else {
                        let _ = writeln!(out, "{name}{{{labels}}} {v}");
                    }
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP resgate_events Events by current state.\n# TYPE resgate_events gauge"
        );
        for (state, n) in self.events.lock().map(|e| e.clone()).unwrap_or_default() {
            let _ = writeln!(out, "resgate_events{{state=\"{}\"}} {n}", escape(&state));
        }
        let outbox = self.outbox.lock().map(|o| o.clone()).unwrap_or_default();
        let _ = writeln!(
            out,
            "# HELP resgate_notifications_queued Notifications journaled and not yet sent or failed, by notifier.\n# TYPE resgate_notifications_queued gauge"
        );
        for (name, (queued, _)) in &outbox {
            let _ = writeln!(
                out,
                "resgate_notifications_queued{{notifier=\"{}\"}} {queued}",
                escape(name)
            );
        }
        let _ = writeln!(
            out,
            "# HELP resgate_notifications_oldest_queued_seconds Age of the oldest queued notification, by notifier (0: none queued).\n# TYPE resgate_notifications_oldest_queued_seconds gauge"
        );
        for (name, (_, age)) in &outbox {
            let _ = writeln!(
                out,
                "resgate_notifications_oldest_queued_seconds{{notifier=\"{}\"}} {age}",
                escape(name)
            );
        }
        let _ = writeln!(
            out,
            "# HELP resgate_journal_commit_seconds Time to commit one group of journal writes.\n# TYPE resgate_journal_commit_seconds histogram"
        );
        for (i, bound) in COMMIT_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "resgate_journal_commit_seconds_bucket{{le=\"{bound}\"}} {}",
                self.commit_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.commit_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "resgate_journal_commit_seconds_bucket{{le=\"+Inf\"}} {count}\nresgate_journal_commit_seconds_sum {}\nresgate_journal_commit_seconds_count {count}",
            self.commit_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(
            out,
            "# HELP resgate_decider_seconds_total Time the decision thread spent per stage.\n# TYPE resgate_decider_seconds_total counter"
        );
        for (stage, micros) in DECIDER_STAGES.iter().zip(&self.decider_micros) {
            let _ = writeln!(
                out,
                "resgate_decider_seconds_total{{stage=\"{stage}\"}} {}",
                micros.load(Ordering::Relaxed) as f64 / 1e6
            );
        }
        let _ = writeln!(
            out,
            "# HELP resgate_rules_loaded_timestamp_seconds When the live rules were loaded.\n# TYPE resgate_rules_loaded_timestamp_seconds gauge\nresgate_rules_loaded_timestamp_seconds {}",
            self.rules_loaded_at.load(Ordering::Relaxed)
        );
        self.facts.render(jiff::Timestamp::now(), &mut out);
        out
    }
}

/// Label values are user data (source and remediation names): escape them as
/// the exposition format requires so that nothing can forge a series.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}
