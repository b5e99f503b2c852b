#!/usr/bin/env python3
"""Helper for benches/http.sh: runs one wrk phase and measures around it, reads
the journal, prints the report. Standard library only (no sqlite3 binary needed).

  probe.py freeport
  probe.py smoke URL                      one alert, twice: journaled 1, then 0
  probe.py rss PID                        VmRSS and VmHWM in KiB, as JSON
  probe.py phase --out F --label L ...    one wrk run; appends a JSON line to F
  probe.py journal DB                     row counts of a (stopped) journal, as JSON
  probe.py meta F KEY VALUE               appends {KEY: VALUE} (JSON if it parses) to F
  probe.py report F                       the markdown tables
"""

import argparse
import json
import os
import re
import resource
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- /proc probes

def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
    except OSError:
        pass
    return out


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def rss_tree(pid):
    """VmRSS of pid plus its children (nginx: master + workers), KiB."""
    total = proc_status(pid).get("VmRSS", 0)
    for c in children(pid):
        total += proc_status(c).get("VmRSS", 0)
    return total


def thread_group(comm):
    if comm.startswith("track-"):
        return "trackers"
    m = re.fullmatch(r"(.*?)-?\d+", comm)
    if m and m.group(1):
        return m.group(1)  # http-3 -> http, nginx workers keep their name
    return comm


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def thread_ticks(pid):
    """CPU ticks (user+system) per thread-name group, over pid and its children.
    Threads that kept the process's own name: the main thread is "main", the
    others (tiny_http's connection threads, unnamed) "unnamed"."""
    groups = {}
    main_comm = comm_of(pid)
    for p in [pid] + children(pid):
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/stat") as f:
                    s = f.read()
            except OSError:
                continue
            comm = s[s.index("(") + 1 : s.rindex(")")]
            fields = s[s.rindex(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime
            if p == pid and comm == main_comm:
                g = "main" if int(tid) == pid else "unnamed"
            else:
                g = thread_group(comm)
            groups[g] = groups.get(g, 0) + ticks
    # The processes' own totals include threads that have exited since (a
    # connection's thread ends with its connection): the rest is theirs.
    total = 0
    for p in [pid] + children(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    groups["_process"] = total
    return groups


def all_ticks():
    """CPU ticks of every process on the machine: {pid: (comm, ticks)}."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rindex(")") + 2 :].split()
        out[int(d)] = (s[s.index("(") + 1 : s.rindex(")")], int(fields[11]) + int(fields[12]))
    return out


def cpu_stat():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = (v + [0] * 8)[:8]
    return {
        "total": user + nice + system + idle + iowait + irq + softirq + steal,
        "idle": idle,
        "iowait": iowait,
        "softirq": softirq + irq,
        "steal": steal,
    }


# ------------------------------------------------------------- resgate probes

def scrape(url):
    """The Prometheus text of /metrics, summed by metric name and by name{labels}."""
    out = {}
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            v = float(value)
        except ValueError:
            continue
        out[key] = out.get(key, 0) + v
        name = key.split("{", 1)[0]
        if name != key:
            out[name] = out.get(name, 0) + v
    return out


def db_connect(path):
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def is_postgres(db):
    return db.startswith("postgres://") or db.startswith("postgresql://")


def db_rows(db, sql):
    """Rows of a query on the SQLite file or the PostgreSQL URL `db` (psql)."""
    if is_postgres(db):
        out = subprocess.run(["psql", "-X", "-At", "-F", "\t", "-d", db, "-c", sql],
                             check=True, capture_output=True, text=True).stdout
        return [tuple(int(x) if x.lstrip("-").isdigit() else x for x in line.split("\t"))
                for line in out.splitlines() if line]
    c = db_connect(db)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def db_counts(db):
    q = lambda sql: db_rows(db, sql)[0][0]
    out = {
        "inbound": q("SELECT count(*) FROM inbound"),
        "inbound_pending": pending(db),
        "alerts": q("SELECT count(*) FROM alerts"),
        "decisions": q("SELECT count(*) FROM decisions"),
        "events": q("SELECT count(*) FROM events"),
    }
    cast = "::json" if is_postgres(db) else ""
    try:
        out["inbound_alerts"] = q(
            f"SELECT coalesce(sum(json_array_length(alerts{cast})), 0) FROM inbound")
    except (sqlite3.Error, subprocess.CalledProcessError):
        pass  # an SQLite without JSON functions
    out["verdicts"] = dict(db_rows(db, "SELECT verdict, count(*) FROM decisions GROUP BY verdict"))
    return out


def pending(db):
    """Webhooks journaled and not decided: listed in inbound_undecided since
    journal schema 7 (migrations/sqlite/007-local-writes.sql), marked by a
    NULL done_at before (a RESGATE_BIN older than that)."""
    try:
        return db_rows(db, "SELECT count(*) FROM inbound_undecided")[0][0]
    except (sqlite3.Error, subprocess.CalledProcessError):
        return db_rows(db, "SELECT count(*) FROM inbound WHERE done_at IS NULL")[0][0]


# ---------------------------------------------------------------- subcommands

def cmd_freeport(_):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_smoke(a):
    body = json.dumps({
        "version": "4", "groupKey": '{}:{alertname="LoadTest"}', "status": "firing",
        "receiver": "resgate", "groupLabels": {"alertname": "LoadTest"},
        "commonLabels": {"alertname": "LoadTest"}, "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093", "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing", "labels": {"alertname": "LoadTest", "seq": "smoke"},
            "annotations": {}, "startsAt": "2026-11-20T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "", "fingerprint": "5a0b1e0000000001",
        }],
    }).encode()
    got = []
    for _ in range(2):
        req = urllib.request.Request(a.url + "/webhook/alertmanager", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            got.append((r.status, json.loads(r.read())))
    print(json.dumps(got))
    ok = got[0][0] == 200 and got[0][1].get("journaled") == 1 \
        and got[1][0] == 200 and got[1][1].get("journaled") == 0
    if not ok:
        sys.exit("smoke test: expected journaled 1 then 0 (dedupe), got %r" % got)


def cmd_rss(a):
    print(json.dumps(proc_status(a.pid)))


def cmd_journal(a):
    print(json.dumps(db_counts(a.db)))


def cmd_meta(a):
    try:
        v = json.loads(a.value)
    except ValueError:
        v = a.value
    with open(a.file, "a") as f:
        f.write(json.dumps({a.key: v}) + "\n")


def parse_wrk(text):
    m = re.search(r"^WRKSTAT (.*)$", text, re.M)
    if not m:
        return None
    stats = {k: int(float(v)) for k, v in (kv.split("=") for kv in m.group(1).split())}
    n = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    stats["non2xx"] = int(n.group(1)) if n else 0
    return stats


def status_codes(rec):
    """Answers by HTTP status during the run, from resgate's own counters."""
    out = {}
    for k, v in rec.get("metrics", {}).items():
        m = re.match(r'resgate_ingest_requests_total\{.*code="(\d+)"', k)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + int(v)
    return out


def cmd_phase(a):
    env = dict(os.environ, BATCH=str(a.batch), RUN_ID=str(a.run_id), POOL=str(a.pool))
    cmd = ["wrk", f"-t{min(a.threads, a.conns)}", f"-c{a.conns}", f"-d{a.duration}s",
           "--timeout", "5s", "--latency", "-s", a.lua, a.url + "/webhook/alertmanager"]
    metrics_url = a.url + "/metrics" if a.target == "resgate" else None

    rec = {"label": a.label, "target": a.target, "conns": a.conns, "batch": a.batch,
           "duration": a.duration, "workers": a.workers, "cmd": " ".join(cmd)}
    rec["rss_before"] = rss_tree(a.pid)
    m0 = scrape(metrics_url) if metrics_url else {}
    db0 = pending_total = None
    if a.db:
        c = db_counts(a.db)
        db0 = c["inbound"]
    # Sample RSS during the run (peak of what we saw; VmHWM is the process peak).
    peak = [rec["rss_before"]]
    stop = threading.Event()

    def sampler():
        while not stop.wait(0.25):
            peak[0] = max(peak[0], rss_tree(a.pid))
    th = threading.Thread(target=sampler, daemon=True)

    t0 = thread_ticks(a.pid)
    p0 = all_ticks()
    s0 = cpu_stat()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    w0 = time.monotonic()
    th.start()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=a.duration + 60)
        out = p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += "\nwrk did not finish in time"
    wall = time.monotonic() - w0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    s1 = cpu_stat()
    t1 = thread_ticks(a.pid)
    p1 = all_ticks()
    stop.set()
    th.join()

    rec["wall"] = wall
    rec["wrk"] = parse_wrk(out)
    rec["wrk_text"] = out
    rec["wrk_cpu_s"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    process = (t1.pop("_process") - t0.pop("_process")) / CLK_TCK
    rec["threads_cpu_s"] = {g: (t1.get(g, 0) - t0.get(g, 0)) / CLK_TCK
                            for g in set(t0) | set(t1) if t1.get(g, 0) - t0.get(g, 0) > 0}
    # A thread that ended during the run took its per-thread figures with it.
    gone = process - sum(rec["threads_cpu_s"].values())
    if gone > 0.01:
        rec["threads_cpu_s"]["(exited threads)"] = gone
    tot = s1["total"] - s0["total"] or 1
    rec["machine"] = {
        "busy_pct": 100.0 * (tot - (s1["idle"] - s0["idle"]) - (s1["iowait"] - s0["iowait"])) / tot,
        "iowait_pct": 100.0 * (s1["iowait"] - s0["iowait"]) / tot,
        "irq_pct": 100.0 * (s1["softirq"] - s0["softirq"]) / tot,
        "steal_pct": 100.0 * (s1["steal"] - s0["steal"]) / tot,
        "cores": os.cpu_count(),
    }
    # Who else used the CPU (a disturbed run shows here): by process name.
    mine = {a.pid, os.getpid()} | set(children(a.pid))
    others = {}
    for pid, (comm, ticks) in p1.items():
        if pid in mine or comm == "wrk":
            continue
        d = ticks - p0.get(pid, (comm, 0))[1]
        if d > 0:
            others[comm] = others.get(comm, 0) + d / CLK_TCK
    rec["others_cpu_s"] = dict(sorted(others.items(), key=lambda kv: -kv[1])[:4])
    rec["rss_after"] = rss_tree(a.pid)
    rec["rss_peak_sampled"] = max(peak[0], rec["rss_after"])
    st = proc_status(a.pid)
    rec["vmhwm"] = st.get("VmHWM")
    rec["threads"] = st.get("Threads")

    if a.db:
        rec["backlog_at_end"] = pending(a.db)
        d0 = time.monotonic()
        left = rec["backlog_at_end"]
        while left and time.monotonic() - d0 < a.drain_timeout:
            time.sleep(0.2)
            left = pending(a.db)
        rec["drain_s"] = time.monotonic() - d0
        rec["backlog_after_drain"] = left
        c = db_counts(a.db)
        rec["inbound_delta"] = c["inbound"] - db0
        rec["rss_after_drain"] = rss_tree(a.pid)
        st = proc_status(a.pid)
        rec["vmhwm_after_drain"] = st.get("VmHWM")
        rec["threads_after_drain"] = st.get("Threads")
    if metrics_url:
        m1 = scrape(metrics_url)
        rec["metrics"] = {k: m1.get(k, 0) - m0.get(k, 0) for k in m1
                          if m1.get(k, 0) - m0.get(k, 0)}

    with open(a.out, "a") as f:
        f.write(json.dumps(rec) + "\n")
    w = rec["wrk"]
    if not w:
        sys.stderr.write(out)
        sys.exit(f"{a.label}: no statistics from wrk")
    rps = (w["requests"] - w["non2xx"]) / (w["duration_us"] / 1e6)
    extra = ""
    codes = status_codes(rec)
    if codes:
        extra += ", answers " + " ".join(f"{k}:{v}" for k, v in sorted(codes.items()))
    if a.db:
        extra = (f", journal +{rec['inbound_delta']} rows, backlog {rec['backlog_at_end']}"
                 f" drained in {rec['drain_s']:.1f}s")
    # Where the decision thread's time went over the run and its drain.
    stages = {k.split('"')[1]: v for k, v in rec.get("metrics", {}).items()
              if k.startswith("resgate_decider_seconds_total{")}
    if stages:
        extra += ", decider s: " + " ".join(f"{k} {v:.2f}" for k, v in stages.items())
    print(f"  {a.label}: {w['requests']} req, {rps:,.0f} 2xx/s, p50 {w['p50_us']/1000:.2f} ms, "
          f"p99 {w['p99_us']/1000:.2f} ms, non-2xx {w['non2xx']}, socket errors "
          f"{w['err_connect'] + w['err_read'] + w['err_write'] + w['err_timeout']}{extra}",
          flush=True)


# --------------------------------------------------------------------- report

def ms(us):
    return f"{us / 1000:.2f}"


def ok_rps(r):
    """Answered 2xx per second (a 503 is fast and journals nothing: not throughput)."""
    w = r["wrk"]
    return (w["requests"] - w["non2xx"]) / (w["duration_us"] / 1e6) if w else 0


def payload(r):
    return "1 alert" if r["batch"] == 1 else f"{r['batch']} alerts"


def sock_errors(w):
    return w["err_connect"] + w["err_read"] + w["err_write"] + w["err_timeout"]


def codes_cell(r):
    codes = status_codes(r)
    return " ".join(f"{k}×{v}" for k, v in sorted(codes.items()) if k != "200") or "–"


def cpu_cell(r):
    wall = r["wall"]
    th = sorted(r["threads_cpu_s"].items(), key=lambda kv: -kv[1])
    total = sum(v for _, v in th)
    parts = ", ".join(f"{g} {100 * v / wall:.0f}" for g, v in th if 100 * v / wall >= 1)
    return f"**{100 * total / wall:.0f}**: {parts}"


def others(r):
    """CPU (% of one core) used by neither resgate nor wrk: kernel softirq work for
    the loopback traffic, and anything else running on the machine (a disturbance)."""
    busy = r["machine"]["busy_pct"] * r["machine"]["cores"]
    mine = 100 * (sum(r["threads_cpu_s"].values()) + r["wrk_cpu_s"]) / r["wall"]
    return max(0.0, busy - mine)


def others_cell(r):
    items = [(n, 100 * v / r["wall"]) for n, v in r.get("others_cpu_s", {}).items()]
    m = r["machine"]
    items += [("irq+softirq", m.get("irq_pct", 0) * m["cores"]),
              ("steal", m.get("steal_pct", 0) * m["cores"])]
    top = ", ".join(f"{n} {v:.0f}" for n, v in sorted(items, key=lambda kv: -kv[1]) if v >= 2)
    return f"{others(r):.0f}" + (f" ({top})" if top else "")


def inflight(r):
    """Requests in flight on average (Little's law: answers/s x mean latency)."""
    w = r["wrk"] if r else None
    if not w or "mean_us" not in w:
        return "?"
    return f"{w['requests'] / (w['duration_us'] / 1e6) * w['mean_us'] / 1e6:.1f}"


def cmd_report(a):
    recs = [json.loads(l) for l in open(a.file) if l.strip()]
    meta = {}
    if a.meta and os.path.exists(a.meta):
        for l in open(a.meta):
            if l.strip():
                meta.update(json.loads(l))

    def key(r):
        return (r["conns"], r["batch"])

    main = [r for r in recs if r["target"] == "resgate" and r["label"].startswith("main")]
    ceil = {key(r): r for r in recs if r["target"] != "resgate"}
    ceil_name = next((r["target"] for r in recs if r["target"] != "resgate"), None)

    print("\n### Throughput and latency: resgate vs a no-op ceiling\n")
    print(f"resgate --max-connections {meta.get('workers', '?')}; wrk -t{meta.get('threads', 2)} "
          f"(-t1 at 1 connection), {meta.get('duration')} s per run; ceiling: "
          f"{ceil_name or 'none'}{' (WEAK)' if ceil_name == 'python' else ''}. "
          "req/s counts 2xx answers only; p50/p99 are wrk's over all answers "
          "(they include any fast 503s). in flight: requests being served on average "
          "(Little's law: answers/s × mean latency).\n")
    print("| payload | conns | resgate 2xx req/s | alerts/s | p50 ms | p99 ms | non-2xx "
          "(resgate's counts) | sock err | ceiling req/s | ceiling p50 / p99 ms | in flight: resgate / ceiling "
          "| resgate/ceiling |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in main:
        w = r["wrk"]
        c = ceil.get(key(r))
        cr = ok_rps(c) if c and c["wrk"] else None
        non2 = f"{w['non2xx']:,}" + (f" ({codes_cell(r)})" if w["non2xx"] else "")
        print(f"| {payload(r)} | {r['conns']} | {ok_rps(r):,.0f} | {ok_rps(r) * r['batch']:,.0f} | "
              f"{ms(w['p50_us'])} | {ms(w['p99_us'])} | {non2} | {sock_errors(w)} | "
              + (f"{cr:,.0f} | {ms(c['wrk']['p50_us'])} / {ms(c['wrk']['p99_us'])} | "
                 f"{inflight(r)} / {inflight(c)} | {ok_rps(r) / cr:.1%} |" if cr
                 else f"– | – | {inflight(r)} / – | – |"))

    print("\n### Where the time goes (the resgate runs above)\n")
    print("CPU: % of one core over the run, per thread group (http-conn: resgate's "
          "thread per connection; journal-writer: the group commit; decider: the decision "
          "thread; main/unnamed: threads without a name of their own; (exited threads): "
          "threads that ended before the run's end, i.e. connection threads). "
          "other processes: CPU the machine spent outside resgate and wrk (softirq for loopback, "
          "and any other load: a large figure means a disturbed run). commits: every journal transaction "
          "(ingest and decisions) from resgate_journal_commit_seconds. backlog: webhooks "
          "journaled but not yet decided when wrk stopped, and how long the decider took "
          "to catch up.\n")
    print("| payload | conns | in flight | resgate CPU % by thread | wrk CPU % | other processes CPU % | iowait % "
          "| commits/s | 2xx webhooks/commit | mean commit ms | backlog | drain s "
          "| threads after | RSS before → after MiB |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in main:
        wall = r["wall"]
        m = r.get("metrics", {})
        commits = m.get("resgate_journal_commit_seconds_count", 0)
        csum = m.get("resgate_journal_commit_seconds_sum", 0)
        reqs = r["inbound_delta"]
        drain = f"{r['drain_s']:.1f}"
        left = r.get("backlog_after_drain", 0)
        if left:
            drain = f"**not drained**: {left} left after {r['drain_s']:.0f}"
        if r["backlog_at_end"] and r["drain_s"] > 0.5:
            done = r["backlog_at_end"] - left
            drain += f" (≈{done * r['batch'] / r['drain_s']:,.0f} alerts/s)"
        print(f"| {payload(r)} | {r['conns']} | {inflight(r)} | {cpu_cell(r)} | "
              f"{100 * r['wrk_cpu_s'] / wall:.0f} | {others_cell(r)} | "
              f"{r['machine']['iowait_pct']:.0f} | {commits / wall:,.0f} | "
              f"{reqs / commits if commits else 0:.1f} | "
              f"{1000 * csum / commits if commits else 0:.2f} | {r['backlog_at_end']} | "
              f"{drain} | {r['threads']} | {r['rss_before'] / 1024:.1f} → "
              f"{r['rss_after_drain'] / 1024:.1f} |")

    sweep = [r for r in recs if r["target"] == "resgate" and r["label"].startswith("workers")]
    if sweep:
        print("\n### --max-connections at 64 connections, 1 alert per webhook (a fresh resgate and "
              "journal each)\n")
        print("| --max-connections | 2xx req/s | p50 ms | p99 ms | non-2xx | resgate CPU % by thread "
              "| threads after | 2xx webhooks/commit | RSS after MiB |")
        print("|---:|---:|---:|---:|---|---|---:|---:|---:|")
        for r in sweep:
            w = r["wrk"]
            m = r.get("metrics", {})
            commits = m.get("resgate_journal_commit_seconds_count", 0)
            non2 = f"{w['non2xx']:,}" + (f" ({codes_cell(r)})" if w["non2xx"] else "")
            print(f"| {r['workers']} | {ok_rps(r):,.0f} | {ms(w['p50_us'])} | "
                  f"{ms(w['p99_us'])} | {non2} | {cpu_cell(r)} | {r['threads']} | "
                  f"{r['inbound_delta'] / commits if commits else 0:.1f} | "
                  f"{r['rss_after_drain'] / 1024:.1f} |")

    print("\n### Memory and journal check\n")
    for k, v in meta.items():
        if k.startswith("note"):
            print(f"- {v}")
    if main:
        last = main[-1]
        print(f"- resgate RSS idle after start: {meta.get('idle_rss_kib', 0) / 1024:.1f} MiB; "
              f"after all runs: {last['rss_after_drain'] / 1024:.1f} MiB; "
              f"peak (VmHWM): {(last.get('vmhwm_after_drain') or 0) / 1024:.1f} MiB; "
              f"threads: {meta.get('idle_threads', '?')} idle, "
              f"{last.get('threads_after_drain')} after")
        ok_total = sum(r["wrk"]["requests"] - r["wrk"]["non2xx"] for r in main)
        alerts_total = sum((r["wrk"]["requests"] - r["wrk"]["non2xx"]) * r["batch"] for r in main)
        delta = sum(r["inbound_delta"] for r in main)
        print(f"- wrk got 2xx for {ok_total:,} webhooks ({alerts_total:,} alerts); the journal "
              f"grew by {delta:,} inbound rows during those runs (+{delta - ok_total}: "
              f"requests already sent when wrk stopped, which wrk does not count; at most "
              f"the connection count per run)")
        j = meta.get("journal")
        if isinstance(j, dict):
            print(f"- journal after shutdown: {j.get('inbound'):,} inbound rows (incl. 1 "
                  f"smoke-test row) holding {j.get('inbound_alerts', '?'):,} alerts, "
                  f"{j.get('alerts'):,} distinct alerts, {j.get('decisions'):,} decisions "
                  f"{j.get('verdicts')}, {j.get('events')} events (remediator calls), "
                  f"{j.get('inbound_pending')} undecided")
        for r in main + sweep:
            ok = r["wrk"]["requests"] - r["wrk"]["non2xx"]
            extra = r["inbound_delta"] - ok
            if extra < 0 or extra > r["conns"]:
                print(f"- **MISMATCH** {r['label']}: wrk got {ok} 2xx, journal "
                      f"+{r['inbound_delta']} rows")
            journaled = r.get("metrics", {}).get("resgate_ingest_alerts_total", 0)
            if journaled != r["inbound_delta"] * r["batch"]:
                print(f"- **MISMATCH** {r['label']}: {r['inbound_delta']} rows × {r['batch']} "
                      f"alerts, but resgate_ingest_alerts_total +{journaled:.0f} (dedupe?)")
    non2xx = sum(r["wrk"]["non2xx"] for r in recs if r["wrk"])
    sock = sum(sock_errors(r["wrk"]) for r in recs if r["wrk"])
    print(f"- non-2xx answers over every run (ceiling and sweep included): {non2xx:,}; "
          f"socket errors/timeouts: {sock:,}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    p = sub.add_parser("smoke"); p.add_argument("url")
    p = sub.add_parser("rss"); p.add_argument("pid", type=int)
    p = sub.add_parser("journal"); p.add_argument("db")
    p = sub.add_parser("phase")
    for name, typ, default in [("out", str, None), ("label", str, None), ("target", str, None),
                               ("url", str, None), ("pid", int, None), ("lua", str, None),
                               ("db", str, ""), ("conns", int, 1), ("threads", int, 2),
                               ("batch", int, 1), ("duration", int, 10), ("run-id", int, 1),
                               ("pool", int, 0), ("workers", str, ""),
                               ("drain-timeout", float, 120)]:
        p.add_argument("--" + name, type=typ, default=default, required=default is None)
    p = sub.add_parser("meta"); p.add_argument("file"); p.add_argument("key"); p.add_argument("value")
    p = sub.add_parser("report"); p.add_argument("file"); p.add_argument("--meta")
    a = ap.parse_args()
    {"freeport": cmd_freeport, "smoke": cmd_smoke, "rss": cmd_rss, "journal": cmd_journal,
     "phase": cmd_phase, "meta": cmd_meta, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
