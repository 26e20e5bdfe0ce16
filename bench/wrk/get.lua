-- GET rotating paths with a bearer key or a cookie. PATHS, KEY or COOKIE from the environment.
local paths = {}
for p in string.gmatch(os.getenv("PATHS"), "[^,]+") do paths[#paths + 1] = p end
local key = os.getenv("KEY")
local cookie = os.getenv("COOKIE")
local counter = 0

function request()
  counter = counter + 1
  local headers = {}
  if key and key ~= "" then headers["Authorization"] = "Bearer " .. key end
  if cookie and cookie ~= "" then headers["Cookie"] = cookie end
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"errors\": %d, \"non2xx\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"seconds\": %.3f}\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
