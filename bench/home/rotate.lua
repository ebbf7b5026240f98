-- Rotates requests over the logged-in demo viewers (bench/home/setup.py).
-- ENDPOINT: home (GET /api/v1/profiles/{id}/home), recommendations
-- (GET /api/v1/profiles/{id}/recommendations?n=20), page (GET /, the HTML home page).
local viewers = {}
local endpoint = os.getenv("ENDPOINT") or "home"
local file = (os.getenv("PROFILES_FILE") or "bench/home/results/profiles.json") .. ".txt"
for line in io.lines(file) do
  local token, pid = line:match("(%S+) (%S+)")
  viewers[#viewers + 1] = { token = token, pid = pid }
end
-- RATE (requests/s over all connections, with CONNECTIONS set to wrk's -c):
-- each connection waits CONNECTIONS*1000/RATE ms before each request, so the
-- offered load is about RATE (a little less: the wait does not count latency).
local rate = tonumber(os.getenv("RATE") or "0")
local conns = tonumber(os.getenv("CONNECTIONS") or "8")
if rate > 0 then
  delay = function()
    return math.floor(conns * 1000 / rate)
  end
end
local i = 0
request = function()
  i = i % #viewers + 1
  local v = viewers[i]
  local path
  if endpoint == "home" then
    path = "/api/v1/profiles/" .. v.pid .. "/home"
  elseif endpoint == "recommendations" then
    path = "/api/v1/profiles/" .. v.pid .. "/recommendations?n=20"
  else
    path = "/"
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. v.token })
end
response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. "\n")
  end
end
