-- Continuity: progress reports rotating over started streams ("token session" lines).
dofile("bench/load/report.lua")
local streams = {}
local n = 0
local base = os.time() * 1000
function init(args)
  for line in io.lines(os.getenv("SESSIONS")) do
    local token, sid = line:match("^(%S+)%s+(%d+)$")
    if token then
      streams[#streams + 1] = { headers = {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Bearer " .. token }, sid = sid }
    end
  end
  n = math.random(0, #streams - 1)
end
function request()
  n = n + 1
  local s = streams[(n % #streams) + 1]
  local pos = 600000 + (n * 1000) % 3000000
  local body = string.format(
    '{"play_session_id":%s,"position_ms":%d,"paused":false,"sent_at":%d}', s.sid, pos, base + n)
  return wrk.format("POST", "/api/v1/playback/progress", s.headers, body)
end
