-- wrk script for POST /v2/enqueue (Events API v2).
--   BENCH_ROUTING_KEY  integration key of the service under load (required)
--   BENCH_MODE         "new":    every event has a fresh dedup_key (a new alert and incident each)
--                      "repeat": 90% of events repeat one of BENCH_OPEN_KEYS already-open keys
--                                ("open-1" .. "open-N", triggered beforehand), 10% are new
--   BENCH_OPEN_KEYS    how many open keys to repeat (default 300)
--   BENCH_MAX_EVENTS   stop after this many responses in total (0 = run for wrk's -d duration);
--                      needs BENCH_THREADS = wrk's -t
-- done() prints one machine-readable line starting with "BENCH " for scripts/bench-events.

local routing_key = os.getenv("BENCH_ROUTING_KEY") or error("BENCH_ROUTING_KEY is not set")
local mode = os.getenv("BENCH_MODE") or "new"
local open_keys = tonumber(os.getenv("BENCH_OPEN_KEYS") or "300")
local max_events = tonumber(os.getenv("BENCH_MAX_EVENTS") or "0")

local threads = {}
local counter = 0
local responses = 0
local quota = 0
local tag = ""

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  -- A run-unique prefix, so that two runs against the same server never share a "new" key.
  tag = string.format("%x%x", os.time(), math.random(0, 0xffffff))
  if max_events > 0 then
    -- Each thread stops after its share (wrk copies this script into every thread: BENCH_THREADS = -t).
    quota = math.ceil(max_events / tonumber(os.getenv("BENCH_THREADS") or "2"))
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

local template = '{"routing_key":"%s","event_action":"trigger","dedup_key":"%s",'
  .. '"payload":{"summary":"bench: %s","source":"bench-host-%d","severity":"error",'
  .. '"component":"bench","custom_details":{"n":%d,"mode":"%s"}},"client":"wrk"}'

function request()
  counter = counter + 1
  local key
  if mode == "repeat" and math.random() < 0.9 then
    key = "open-" .. math.random(1, open_keys)
  else
    key = string.format("new-%s-%d-%d", tag, tid, counter)
  end
  local body = string.format(template, routing_key, key, key, counter % 50, counter, mode)
  return wrk.format(nil, nil, nil, body)
end

if max_events > 0 then
  function response(status, headers, body)
    responses = responses + 1
    if responses >= quota then
      wrk.thread:stop()
    end
  end
end

function done(summary, latency, requests)
  print(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
