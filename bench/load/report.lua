-- Shared by the load scenario's wrk scripts: pacing and the RESULT line.
-- RATE: requests/s over all of this wrk's connections (CONNECTIONS = -c);
-- each connection waits CONNECTIONS*1000/RATE ms before each request.
local rate = tonumber(os.getenv("RATE") or "0")
local conns = tonumber(os.getenv("CONNECTIONS") or "4")
if rate > 0 then
  delay = function()
    return math.floor(conns * 1000 / rate)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT route=%s requests=%d non2xx=%d sockerr=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    os.getenv("ROUTE") or "?", summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
