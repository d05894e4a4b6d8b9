-- wrk script for scripts/bench-incidents: BENCH_EVENTS trigger events (POST /v2/enqueue), each with a
-- dedup_key of its own, spread round-robin over the services' routing keys, until every key is accepted.
--   BENCH_ROUTING_KEYS  comma-separated integration keys (required)
--   BENCH_EVENTS        how many keys (so incidents) in all (required)
--   BENCH_THREADS       wrk's -t: each thread sends its share of the keys
--   BENCH_OUT           a directory: each thread writes "thread-<n>" there once all its keys are accepted:
--                       "first_us last_us accepted refused resent" (CLOCK_REALTIME microseconds of its
--                       first request and of its last new 202)
--   BENCH_RESEND_MS     resend a key unanswered for this long (default 1000)
-- Each thread sends its keys 1..share once, in order; a 202 names its key (the answer's dedup_key), so a
-- key counts as accepted only when its own 202 arrives. Once every key has been sent, a key still without
-- its 202 after BENCH_RESEND_MS is sent again: wrk drops requests without an answer when a connection
-- fails, and refused events (429) must be retried. A resent key that was committed after all is only a repeat trigger of its open alert
-- (deduplicated), so exactly BENCH_EVENTS incidents are created. A connection with nothing to send asks
-- GET /healthz (answered 200, not counted). wrk sleeps for its whole -d: the caller interrupts it (SIGINT)
-- once every thread has written its file.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]])
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME, the clock the watcher's time.time() reads
  return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

local keys = {}
for k in string.gmatch(os.getenv("BENCH_ROUTING_KEYS") or "", "[^,]+") do
  table.insert(keys, k)
end
local total = tonumber(os.getenv("BENCH_EVENTS") or "0")
local out_dir = os.getenv("BENCH_OUT") or error("BENCH_OUT is not set")
local resend_after_us = tonumber(os.getenv("BENCH_RESEND_MS") or "1000") * 1000

local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local share, next_key, accepted, refused, resent = 0, 1, 0, 0, 0
local outstanding = {} -- key index -> when it was last sent, until its 202
local first_us, last_us = nil, nil
local tag, filler = "", nil
local headers = { ["Content-Type"] = "application/json" }
local template = '{"routing_key":"%s","event_action":"trigger","dedup_key":"%s",'
  .. '"payload":{"summary":"bench incident %s","source":"bench-host-%d","severity":"critical",'
  .. '"component":"bench"},"client":"wrk"}'

function init(args)
  if #keys == 0 or total <= 0 then
    error("BENCH_ROUTING_KEYS and BENCH_EVENTS are required")
  end
  local n = tonumber(os.getenv("BENCH_THREADS") or "2")
  share = math.floor(total / n) + ((tid <= total % n) and 1 or 0)
  math.randomseed(os.time() * 1000 + tid)
  tag = string.format("%x%x", os.time(), math.random(0, 0xffffff))
  filler = wrk.format("GET", "/healthz", {})
end

-- An unanswered key sent more than resend_after_us ago, if any (few are outstanding by then).
local function overdue(now)
  for i, at in pairs(outstanding) do
    if now - at > resend_after_us then
      return i
    end
  end
  return nil
end

local verified = false

function request()
  if tid == 1 and not verified then
    -- wrk calls request() once on its first thread before it starts, to check the script's requests, and
    -- never sends that one: give it the filler, so that no key waits for a resend.
    verified = true
    return filler
  end
  local now = now_us()
  if first_us == nil then
    first_us = now
  end
  local i
  if next_key <= share then
    i = next_key
    next_key = next_key + 1
  else
    i = overdue(now)
    if i == nil then
      return filler
    end
    resent = resent + 1
  end
  outstanding[i] = now
  local key = string.format("inc-%s-%d-%d", tag, tid, i)
  local body = string.format(template, keys[(i + tid) % #keys + 1], key, key, i % 50)
  return wrk.format("POST", "/v2/enqueue", headers, body)
end

function response(status, hdrs, body)
  if status == 200 then
    return -- a filler's answer
  end
  if status ~= 202 then
    refused = refused + 1 -- its key stays outstanding and is sent again
    return
  end
  local i = tonumber(string.match(body or "", '"dedup_key":"[^"]*%-(%d+)"'))
  if i == nil or outstanding[i] == nil then
    return -- a repeat of a key already accepted
  end
  outstanding[i] = nil
  accepted = accepted + 1
  if accepted >= share then
    last_us = now_us()
    local f = assert(io.open(out_dir .. "/thread-" .. tid, "w"))
    f:write(string.format("%d %d %d %d %d\n", first_us, last_us, accepted, refused, resent))
    f:close()
    wrk.thread:stop()
  end
end
