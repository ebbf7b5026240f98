-- wrk script: random CHUNK-byte Range requests (4 KiB-aligned) over a file
-- of SIZE bytes at the URL's path (run.sh's cross-check of rangeload: wrk's
-- latency is the full response's, not the time to first byte). No response()
-- hook: with one, wrk hands every body to Lua, which costs more than the server.
--   SIZE=35573771 CHUNK=1048576 wrk -c32 -d10s -s bench/media/range.lua URL
local size = tonumber(os.getenv("SIZE"))
local chunk = tonumber(os.getenv("CHUNK") or "1048576")
local span = math.max(1, size - chunk)

function setup(thread)
  thread:set("seed", math.random(1, 1e9))
end

function init(args)
  math.randomseed(seed or os.time())
end

function request()
  local start = math.floor(math.random(0, span - 1) / 4096) * 4096
  local last = math.min(start + chunk, size) - 1
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. start .. "-" .. last })
end

function done(summary, latency, requests)
  io.write(string.format("wrk: %d requests, %.1f MB/s (response bytes, heads included), errors %d\n",
    summary.requests, summary.bytes / (summary.duration / 1e6) / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
