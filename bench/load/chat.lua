-- Support chat: customers write in their open conversations ("token conversation" lines).
dofile("bench/load/report.lua")
local convs = {}
local n = 0
function init(args)
  for line in io.lines(os.getenv("CONVERSATIONS")) do
    local token, id = line:match("^(%S+)%s+(%d+)$")
    if token then
      convs[#convs + 1] = { token = token, id = id }
    end
  end
  n = math.random(0, #convs - 1)
end
function request()
  n = n + 1
  local c = convs[(n % #convs) + 1]
  return wrk.format("POST", "/api/v1/support/conversations/" .. c.id .. "/messages",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. c.token },
    string.format('{"body":"still buffering on the living-room tv (%d)"}', n))
end
