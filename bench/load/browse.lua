-- Browsing: demo viewers' home rows, recommendations, the HTML home page and
-- title pages, in turn (viewers from bench/home/setup.py).
dofile("bench/load/report.lua")
local viewers = {}
for line in io.lines(os.getenv("PROFILES_FILE") .. ".txt") do
  local token, pid = line:match("(%S+) (%S+)")
  viewers[#viewers + 1] = { token = token, pid = pid }
end
local i = 0
request = function()
  i = i + 1
  local v = viewers[i % #viewers + 1]
  local k = i % 4
  local path
  if k == 0 then
    path = "/api/v1/profiles/" .. v.pid .. "/home"
  elseif k == 1 then
    path = "/api/v1/profiles/" .. v.pid .. "/recommendations?n=20"
  elseif k == 2 then
    path = "/"
  else
    path = "/api/v1/titles/" .. (1 + (i * 7) % 500)
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. v.token })
end
