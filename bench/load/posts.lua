-- Social listening: batches of BATCH posts through the ingest API, unique ids.
dofile("bench/load/report.lua")
local token = os.getenv("INGEST_TOKEN")
local batch = tonumber(os.getenv("BATCH") or "50")
local texts = {
  "loving the new season of the show, best thing on tv",
  "the price hike is ridiculous, cancelling my subscription",
  "app keeps buffering on my tv tonight",
  "just finished the finale, wow",
  "why did they rename the kids section, it is confusing",
}
local n = 0
local tag = tostring(os.time()) .. "-" .. tostring(math.random(1, 1000000))
function request()
  local parts = {}
  local now = os.time() * 1000
  for k = 1, batch do
    n = n + 1
    parts[k] = string.format(
      '{"source":"load","external_id":"%s-%d","author":"@fan%d@x.social","text":"%s","created_at":%d}',
      tag, n, n % 997, texts[n % #texts + 1], now)
  end
  return wrk.format("POST", "/api/v1/posts",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    "[" .. table.concat(parts, ",") .. "]")
end
