-- wrk script: POST /api/v1/playback/progress, rotating over the streams in
-- sessions.txt (one "token play_session_id" per line), positions moving forward.
local streams = {}
local n = 0
local base = os.time() * 1000

function init(args)
  for line in io.lines(os.getenv("SESSIONS") or "sessions.txt") do
    local token, sid = line:match("^(%S+)%s+(%d+)$")
    if token then
      streams[#streams + 1] = { headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token }, sid = sid }
    end
  end
  -- Threads start at different offsets so that they do not march in step.
  n = math.random(0, #streams - 1)
end

function request()
  n = n + 1
  local s = streams[(n % #streams) + 1]
  -- 10 to 60 minutes into a film of 85+ minutes: always a resume point.
  local pos = 600000 + (n * 1000) % 3000000
  local body = string.format(
    '{"play_session_id":%s,"position_ms":%d,"paused":false,"sent_at":%d}',
    s.sid, pos, base + n)
  return wrk.format("POST", "/api/v1/playback/progress", s.headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  local failed = e.connect + e.read + e.write + e.timeout + e.status
  io.write(string.format(
    "RESULT requests=%d acked=%d non2xx=%d sockerr=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, summary.requests - e.status, e.status, e.connect + e.read + e.write + e.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
