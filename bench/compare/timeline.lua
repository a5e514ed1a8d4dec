-- wrk script for `npm run bench:compare`: counts responses, and responses
-- with a status >= 400 (what wrk reports as "Non-2xx or 3xx"), per time
-- bucket, so that the chart can show throughput over time. Socket errors are
-- not visible to Lua; wrk's totals have them.
--
--   wrk ... -s timeline.lua URL -- START_EPOCH_MS BUCKET_MS
--
-- done() prints one line per bucket: "TIMELINE <bucket> <responses> <errors>",
-- bucket 0 starting at START_EPOCH_MS.

local ok, ffi = pcall(require, "ffi")
local now_ms
if ok then
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  now_ms = function()
    ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME, comparable with Date.now()
    return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
  end
else
  now_ms = function() return os.time() * 1000 end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state).
start_ms = 0
bucket_ms = 1000
counts = {}
errors = {}

function init(args)
  start_ms = tonumber(args[1]) or now_ms()
  bucket_ms = tonumber(args[2]) or 1000
end

function response(status, headers, body)
  local b = math.floor((now_ms() - start_ms) / bucket_ms)
  counts[b] = (counts[b] or 0) + 1
  if status > 399 then
    errors[b] = (errors[b] or 0) + 1
  end
end

function done(summary, latency, requests)
  local c, e, last = {}, {}, -1
  for _, thread in ipairs(threads) do
    for b, n in pairs(thread:get("counts")) do
      c[b] = (c[b] or 0) + n
      if b > last then last = b end
    end
    for b, n in pairs(thread:get("errors")) do
      e[b] = (e[b] or 0) + n
      if b > last then last = b end
    end
  end
  for b = 0, last do
    io.write(string.format("TIMELINE %d %d %d\n", b, c[b] or 0, e[b] or 0))
  end
end
