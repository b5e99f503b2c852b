#!/usr/bin/env python3
"""RSS of `resgate serve` with N never-resolved alerts in state (issue 6).

  python3 benches/http/rss.py [--bin target/release/resgate] [--alerts 100000]
                              [--batch 1] [--conns 8] [--settle 0]

Starts `resgate serve` on 127.0.0.1 with a copy of the shipped rules (remediator
URLs sent to 127.0.0.1:9, as benches/http.sh does) and a temp journal, reads
VmRSS idle, posts N unique Alertmanager alerts (benches/http/alertmanager.lua's
shape: `alertname: LoadTest`, which no remediation matches; `--matched` sends
`ApiDown`/critical alerts on 50 services, one instance each, which restart-api
matches), waits until every webhook is decided, and reads VmRSS again. With
`--settle S` it waits S seconds more (past the 60 s dedupe windows), posts one
more alert so both dedupe tables expire their keys, and reads it once more.
Standard library only.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import probe  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEAD = ('{"version":"4","groupKey":"{}:{alertname=\\"%s\\"}","truncatedAlerts":0,'
        '"status":"firing","receiver":"resgate","groupLabels":{"alertname":"%s"},'
        '"commonLabels":{"alertname":"%s"},"commonAnnotations":{"summary":"resgate ingest benchmark"},'
        '"externalURL":"http://alertmanager.example:9093","alerts":[')


def alert(i, matched):
    if matched:
        labels = ('"alertname":"ApiDown","service":"svc-%d","instance":"10.%d.%d.%d:9100",'
                  '"severity":"critical","job":"node"' % (i % 50, i >> 16 & 255, i >> 8 & 255, i & 255))
    else:
        labels = ('"alertname":"LoadTest","service":"load","instance":"load-%d:9100",'
                  '"severity":"info","seq":"1-%d-0-%d"' % (i % 8, i % 8, i))
    return ('{"status":"firing","labels":{%s},"annotations":{"summary":"resgate ingest benchmark"},'
            '"startsAt":"2026-11-29T10:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",'
            '"generatorURL":"http://prometheus.example:9090/graph","fingerprint":"%016x"}' % (labels, i))


def body(first, n, matched):
    name = "ApiDown" if matched else "LoadTest"
    return (HEAD % (name, name, name) + ",".join(alert(first + k, matched) for k in range(n)) + "]}").encode()


def status(pid):
    """VmRSS, VmHWM, RssAnon, RssFile and Threads of /proc/PID/status (KiB)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "Threads"):
                out[k] = int(v.split()[0])
    return out


def post_all(port, total, batch, conns, matched):
    errors = []
    lock = threading.Lock()
    cursor = [0]

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                first = cursor[0]
                if first >= total:
                    break
                cursor[0] = first + batch
            n = min(batch, total - first)
            for attempt in range(20):
                try:
                    c.request("POST", "/webhook/alertmanager", body(first, n, matched),
                              {"Content-Type": "application/json"})
                    r = c.getresponse()
                    r.read()
                    if r.status == 200:
                        break
                    if r.status != 503:
                        errors.append(r.status)
                        break
                except (OSError, http.client.HTTPException):
                    c.close()
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                time.sleep(0.05 * (attempt + 1))
        c.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/release/resgate"))
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--settle", type=float, default=0)
    ap.add_argument("--matched", action="store_true")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="resgate-rss.")
    rules = os.path.join(tmp, "rules")
    os.makedirs(rules)
    for f in os.listdir(os.path.join(ROOT, "rules")):
        if f.endswith(".test.yaml"):
            continue
        text = open(os.path.join(ROOT, "rules", f)).read()
        text = re.sub(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?", "http://127.0.0.1:9", text)
        open(os.path.join(rules, f), "w").write(text)
    out = open(os.path.join(tmp, "stdout"), "w+")
    err = open(os.path.join(tmp, "stderr"), "w")
    p = subprocess.Popen([a.bin, "serve", "--rules", rules, "--data", os.path.join(tmp, "data"),
                          "--listen", "127.0.0.1:0"], stdout=out, stderr=err)
    try:
        port = None
        for _ in range(300):
            out.seek(0)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", out.read())
            if m:
                port = int(m.group(1))
                break
            if p.poll() is not None:
                sys.exit("resgate exited at start; see " + err.name)
            time.sleep(0.1)
        if port is None:
            sys.exit("resgate did not say where it listens")
        time.sleep(1)
        idle = status(p.pid)
        t0 = time.monotonic()
        errors = post_all(port, a.alerts, a.batch, a.conns, a.matched)
        posted = time.monotonic() - t0
        db = os.path.join(tmp, "data", "resgate.db")
        while probe.pending(db):
            time.sleep(0.2)
        decided = time.monotonic() - t0
        time.sleep(1)
        full = status(p.pid)
        rec = {
            "alerts": a.alerts, "batch": a.batch, "conns": a.conns, "matched": a.matched,
            "post_s": round(posted, 1), "decided_s": round(decided, 1), "errors": len(errors),
            "idle_rss_kib": idle.get("VmRSS"), "rss_kib": full.get("VmRSS"),
            "hwm_kib": full.get("VmHWM"), "anon_kib": full.get("RssAnon"),
            "file_kib": full.get("RssFile"), "threads": full.get("Threads"),
        }
        if a.settle:
            time.sleep(a.settle)
            post_all(port, 1, 1, 1, a.matched)  # a repeat: journaled 0, expires keys
            while probe.pending(db):
                time.sleep(0.2)
            time.sleep(1)
            rec["settled_rss_kib"] = status(p.pid).get("VmRSS")
        counts = probe.db_counts(db)
        rec["journal_alerts"] = counts["alerts"]
        rec["verdicts"] = counts["verdicts"]
        per = (rec["rss_kib"] - rec["idle_rss_kib"]) * 1024 / a.alerts
        print(json.dumps(rec))
        print(f"idle {rec['idle_rss_kib'] / 1024:.1f} MiB, with {a.alerts} alerts "
              f"{rec['rss_kib'] / 1024:.1f} MiB ({per:.0f} B/alert over idle)"
              + (f", after the dedupe window {rec['settled_rss_kib'] / 1024:.1f} MiB"
                 if a.settle else ""))
    finally:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
