-- wrk script for benches/http.sh: every request is an Alertmanager v4 webhook
-- whose alerts were never sent before, so resgate journals every one (an
-- identical alert re-sent inside --dedupe-window is answered 200 unjournaled).
--
-- Environment:
--   BATCH   alerts per webhook (default 1)
--   RUN_ID  a number distinct for each wrk run against the same server (default:
--           the clock), so two runs never send the same alert
--   POOL    0 (default): every alert is a new one (new labels, new fingerprint),
--           so the set of firing alerts grows with the run. N > 0: each wrk
--           thread cycles over N fingerprints and varies startsAt instead,
--           i.e. the same alerts notified again and again (bounded state).
--   FINGERPRINTS  hashed (default): each fingerprint is the 64-bit tuple
--           (run, thread, position in batch, request) put through a bijective
--           mix, so fingerprints are distinct and spread over the whole key
--           space, as Alertmanager's are (a 64-bit FNV-1a hash of the label
--           set, printed as 16 hex digits: prometheus/common model/signature.go
--           LabelsToSignature, alertmanager types.Alert.Fingerprint).
--           sequential: the tuple itself, which sorts in the order alerts are
--           sent; before 2026-12-07 every run did this, and a journal keyed by
--           fingerprint then only appends, which real alerts never allow.
--
-- The alertname is LoadTest: no shipped remediation matches it, so resgate
-- ingests, journals and decides (discard) and never calls a remediator.

local batch = tonumber(os.getenv("BATCH") or "1")
local run_id = tonumber(os.getenv("RUN_ID") or "") or (os.time() % 65536)
local pool = tonumber(os.getenv("POOL") or "0")
local hashed = (os.getenv("FINGERPRINTS") or "hashed") ~= "sequential"

tid = 0 -- set per thread by setup()
local threads = {}
local next_id = 0

function setup(thread)
   thread:set("tid", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local counter = 0
local base = 1795000000 -- 2026-11-18T…Z: startsAt seconds base

local function stamp(secs, ms)
   return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. string.format(".%03dZ", ms)
end

-- A 4-round Feistel network over two 32-bit halves: a bijection, so distinct
-- tuples stay distinct fingerprints. The round function only multiplies 16-bit
-- halves (exact in LuaJIT's doubles) and xors; it need not be a good hash,
-- only scatter neighbouring tuples over the key space.
local bit = require("bit")
local function round(x, k)
   local lo, hi = bit.band(x, 0xffff), bit.rshift(x, 16)
   local y = bit.tobit(lo * 0x9e37 + hi * 0x85eb + k)
   y = bit.bxor(y, bit.rshift(y, 13))
   y = bit.tobit(bit.band(y, 0xffff) * 0xc2b2 + bit.rshift(y, 16) * 0x27d4 + k)
   return bit.bxor(y, bit.rshift(y, 16))
end
local function mix(hi, lo)
   for k = 1, 4 do
      hi, lo = lo, bit.bxor(hi, round(lo, k * 0x3c6ef372))
   end
   return bit.tohex(hi, 8) .. bit.tohex(lo, 8)
end

local function alert(i, n)
   -- i: this thread's request number, n: index inside the batch
   local slot = i
   local starts = stamp(base + run_id, 0)
   if pool > 0 then
      slot = i % pool
      -- a distinct startsAt per notification of the same fingerprint
      starts = stamp(base + run_id * 10000 + math.floor(i / 1000), i % 1000)
   end
   local fp
   if hashed then
      fp = mix(bit.tobit((run_id % 65536) * 65536 + (tid % 256) * 256 + n % 256), bit.tobit(slot % 4294967296))
   else
      fp = string.format("%04x%02x%02x%08x", run_id % 65536, tid % 256, n % 256, slot % 4294967296)
   end
   return string.format(
      '{"status":"firing","labels":{"alertname":"LoadTest","service":"load",' ..
      '"instance":"load-%d:9100","severity":"info","seq":"%d-%d-%d-%d"},' ..
      '"annotations":{"summary":"resgate ingest benchmark"},' ..
      '"startsAt":"%s","endsAt":"0001-01-01T00:00:00Z",' ..
      '"generatorURL":"http://prometheus.example:9090/graph","fingerprint":"%s"}',
      tid, run_id, tid, n, slot, starts, fp)
end

local head = '{"version":"4","groupKey":"{}:{alertname=\\"LoadTest\\"}","truncatedAlerts":0,' ..
   '"status":"firing","receiver":"resgate","groupLabels":{"alertname":"LoadTest"},' ..
   '"commonLabels":{"alertname":"LoadTest","service":"load","severity":"info"},' ..
   '"commonAnnotations":{"summary":"resgate ingest benchmark"},' ..
   '"externalURL":"http://alertmanager.example:9093","alerts":['

local headers = { ["Content-Type"] = "application/json" }

function request()
   counter = counter + 1
   local parts = {}
   for n = 1, batch do
      parts[n] = alert(counter, n)
   end
   local body = head .. table.concat(parts, ",") .. "]}"
   return wrk.format("POST", "/webhook/alertmanager", headers, body)
end

-- One line for benches/http.sh to parse (latencies in microseconds).
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WRKSTAT requests=%d duration_us=%d bytes=%d mean_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d batch=%d\n",
      summary.requests, summary.duration, summary.bytes, latency.mean,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      e.connect, e.read, e.write, e.status, e.timeout, batch))
end
