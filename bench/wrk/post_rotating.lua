-- POST one JSON body to paths that rotate over a list of ids, each request with its own
-- Idempotency-Key, so every request is a real write.
-- Set from the command line: PATHS (comma-separated), BODY, KEY (bearer).
local paths = {}
for p in string.gmatch(os.getenv("PATHS"), "[^,]+") do paths[#paths + 1] = p end
local body = os.getenv("BODY")
local key = os.getenv("KEY")
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  local path = paths[(counter % #paths) + 1]
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("bench-%d-%d-%d", tid or 0, counter, math.random(1e9)),
  }
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("JSON {\"requests\": %d, \"errors\": %d, \"non2xx\": %d, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"seconds\": %.3f}\n",
    summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
