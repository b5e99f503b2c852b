//! Bytes per alert in state (issue 6: ≤ 50 MB RSS with 100k alerts in state).
//!
//! N generated Alertmanager webhooks of one alert each (6 labels: alertname,
//! severity, service, instance, job, env; an annotation, a group key, a
//! generator URL: the shape `benches/http.sh` posts) go the way `serve` sends
//! them: `map_payload` with the shipped `rules/`' Alertmanager source, serve's
//! dedupe table (`fresh`, then `record` once "journaled"), a copy handed to the
//! decision thread, `Engine::ingest` of that copy (one call per webhook, on a
//! virtual clock 0.1 ms apart: all N inside the 60 s dedupe window, as in a
//! burst). Never resolved, so every alert stays in state.
//!
//! A counting global allocator reports the live heap before and after, per
//! structure:
//! - `engine`: what the engine holds after the ingests (alert entries, their
//!   labels, Datalog facts and interned strings, deferrals, its dedupe keys);
//! - `keys`: of that, the engine's dedupe keys, freed once the window has passed
//!   (the clock is moved 61 s on and an empty batch ingested);
//! - `serve`: serve's own dedupe table (`src/serve/dedupe.rs`; kept for its
//!   window too, at most 200,000 keys);
//! - `steady`: engine − keys, what stays for as long as the alerts fire;
//! - `burst`: engine + serve, the peak right after the alerts arrived;
//! - `blocks`: live allocations per alert (burst), and `malloc`: the burst's
//!   bytes as glibc would round them (16-byte chunks of at least 32 bytes with
//!   an 8-byte header): closer to what RSS sees.
//!
//! Two workloads: alerts no remediation matches (`alertname: LoadTest`, as in
//! `benches/http.sh`) and alerts `restart-api` matches (`ApiDown`, critical,
//! one instance each: two fire, the others wait on `max_concurrent`).
//! `--quick` runs 2,000 alerts (CI keeps it compiling); `--alerts N` any number;
//! `--only unmatched|matched` one workload (for a heap profiler).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use resgate::engine::Engine;
use resgate::rules::RuleSet;
use resgate::serve::dedupe::Dedupe;
use resgate::source::{Alert, map_payload};

mod common;

/// The system allocator, counting live bytes and blocks (signed: a block freed
/// on one side of a measurement and allocated on the other may cross zero).
struct Counting;

static BYTES: AtomicIsize = AtomicIsize::new(0);
static BLOCKS: AtomicIsize = AtomicIsize::new(0);
static CHUNKS: AtomicIsize = AtomicIsize::new(0);

/// What glibc's malloc uses for a request of `size` bytes on 64-bit.
fn chunk(size: usize) -> isize {
    ((size + 8 + 15) & !15).max(32) as isize
}

fn count(size: usize, blocks: isize, sign: isize) {
    BYTES.fetch_add(sign * size as isize, Ordering::Relaxed);
    BLOCKS.fetch_add(sign * blocks, Ordering::Relaxed);
    CHUNKS.fetch_add(sign * chunk(size), Ordering::Relaxed);
}

// SAFETY: every call forwards to `System` with the caller's arguments
// unchanged; the counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size(), 1, 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size(), 1, 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) };
        count(layout.size(), 1, -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(layout.size(), 0, -1);
            count(new_size, 0, 1);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[derive(Debug, Clone, Copy, Default)]
struct Live {
    bytes: isize,
    blocks: isize,
    chunks: isize,
}

fn live() -> Live {
    Live {
        bytes: BYTES.load(Ordering::Relaxed),
        blocks: BLOCKS.load(Ordering::Relaxed),
        chunks: CHUNKS.load(Ordering::Relaxed),
    }
}

impl std::ops::Sub for Live {
    type Output = Live;
    fn sub(self, o: Live) -> Live {
        Live {
            bytes: self.bytes - o.bytes,
            blocks: self.blocks - o.blocks,
            chunks: self.chunks - o.chunks,
        }
    }
}

impl std::ops::AddAssign for Live {
    fn add_assign(&mut self, o: Live) {
        self.bytes += o.bytes;
        self.blocks += o.blocks;
        self.chunks += o.chunks;
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Unmatched,
    Matched,
}

/// One webhook of one alert, as Alertmanager sends it (and `benches/http.sh`).
fn webhook(w: Workload, i: usize) -> String {
    let (name, severity) = match w {
        Workload::Unmatched => ("LoadTest", "info"),
        Workload::Matched => ("ApiDown", "critical"),
    };
    let service = format!("svc-{}", i % 50);
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"{name}\"}}","truncatedAlerts":0,"status":"firing","receiver":"resgate","groupLabels":{{"alertname":"{name}"}},"commonLabels":{{"alertname":"{name}"}},"commonAnnotations":{{}},"externalURL":"http://alertmanager.example:9093","alerts":[{{"status":"firing","labels":{{"alertname":"{name}","severity":"{severity}","service":"{service}","instance":"10.1.{}.{}:9100","job":"node","env":"prod"}},"annotations":{{"summary":"{service} is not answering"}},"startsAt":"2026-11-29T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.example:9090/graph?g0.expr=up%3D%3D0","fingerprint":"{i:016x}"}}]}}"#,
        i / 256 % 256,
        i % 256,
    )
}

struct Row {
    engine: Live,
    keys: Live,
    serve: Live,
    alert: Live,
    secs: f64,
    decisions: usize,
}

fn run(rules: &Arc<RuleSet>, w: Workload, n: usize) -> Row {
    let Some(source) = rules.source("alertmanager") else {
        panic!("the shipped rules have no alertmanager source")
    };
    let start: Timestamp = "2026-11-29T10:00:00Z"
        .parse()
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let dedupe = Dedupe::new(Duration::from_secs(60));
    let mut engine = Engine::new(rules.clone(), start);
    let (mut engine_growth, mut serve_growth) = (Live::default(), Live::default());
    let mut decisions = 0;
    let mut secs = 0.0;
    let mut now = start;
    for i in 0..n {
        now = start
            .saturating_add(SignedDuration::from_micros(i as i64 * 100))
            .unwrap_or(start);
        let body = webhook(w, i);
        let alerts = match map_payload(source, body.as_bytes(), now) {
            Ok(a) => a,
            Err(e) => panic!("generated payload does not map: {e}"),
        };
        let fresh = dedupe.fresh(alerts);
        let for_decider = fresh.clone();
        let before = live();
        dedupe.record(&fresh);
        serve_growth += live() - before;
        drop(fresh);
        let before = live();
        let t = Instant::now();
        let out = engine.ingest(&for_decider, now);
        secs += t.elapsed().as_secs_f64();
        decisions += out.decisions.len();
        drop(out);
        engine_growth += live() - before;
        // Made before the measurement: freed outside it.
        drop(for_decider);
    }
    // The window passes: the engine forgets its dedupe keys on the next ingest.
    let before = live();
    let later = now
        .saturating_add(SignedDuration::from_secs(61))
        .unwrap_or(now);
    drop(engine.ingest(&[], later));
    let keys = before - live();
    assert_eq!(engine.state().alerts.len(), n, "every alert stays in state");
    drop(engine);
    drop(dedupe);
    // The mapped alerts alone, for reference.
    let before = live();
    let kept: Vec<Alert> = (0..n.min(10_000))
        .flat_map(|i| map_payload(source, webhook(w, i).as_bytes(), start).unwrap_or_default())
        .collect();
    let mut alert = live() - before;
    let per = kept.len().max(1) as isize;
    let slot = std::mem::size_of::<Alert>() as isize;
    // Per alert, without the Vec's spare capacity, as if each were boxed.
    alert = Live {
        bytes: (alert.bytes - kept.capacity() as isize * slot) / per + slot,
        blocks: (alert.blocks - 1) / per + 1,
        chunks: (alert.chunks - chunk(kept.capacity() * slot as usize)) / per
            + chunk(slot as usize),
    };
    drop(kept);
    Row {
        engine: engine_growth,
        keys,
        serve: serve_growth,
        alert,
        secs,
        decisions,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = common::alerts_arg(2_000, 100_000);
    let rules = common::shipped_rules();
    println!(
        "memory per alert in state: {n} never-resolved alerts, one per webhook, shipped rules/, as serve ingests them"
    );
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>10}",
        "B/alert",
        "alert",
        "engine",
        "keys",
        "steady",
        "serve",
        "burst",
        "blocks",
        "malloc",
        "steady·m",
        "ingest/s"
    );
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    for (name, w) in [
        ("unmatched", Workload::Unmatched),
        ("matched", Workload::Matched),
    ] {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let r = run(&rules, w, n);
        let per = |b: isize| b as f64 / n as f64;
        let steady = r.engine - r.keys;
        let burst_bytes = r.engine.bytes + r.serve.bytes;
        println!(
            "{name:<10} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>7.1} {:>8.0} {:>8.0} {:>10.0}",
            r.alert.bytes as f64,
            per(r.engine.bytes),
            per(r.keys.bytes),
            per(steady.bytes),
            per(r.serve.bytes),
            per(burst_bytes),
            per(r.engine.blocks + r.serve.blocks),
            per(r.engine.chunks + r.serve.chunks),
            per(steady.chunks),
            n as f64 / r.secs,
        );
        if r.decisions < n {
            eprintln!("{name}: {} decisions for {n} alerts", r.decisions);
            std::process::exit(1);
        }
    }
    println!(
        "alert: one mapped Alert value; engine: the engine's growth (keys: its dedupe keys, freed after the 60 s window; steady: what stays); serve: serve's dedupe table; burst: engine + serve; blocks: live allocations per alert; malloc: burst rounded to glibc chunks; steady·m: steady so rounded"
    );
}
