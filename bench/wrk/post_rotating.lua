-- POST one JSON body to paths that rotate over a list of ids, each request with its own
-- Idempotency-Key, so every request is a real write.
-- Set from the command line: PATHS (comma-separated), BODY, KEY (bearer), RUN (unique to
-- this run: wrk's random numbers repeat from run to run, so keys made from them alone
-- were replayed answers in the run after the warm-up, not writes).
local paths = {}
for p in string.gmatch(os.getenv("PATHS"), "[^,]+") do paths[#paths + 1] = p end
local body = os.getenv("BODY")
local key = os.getenv("KEY")
local run = os.getenv("RUN")
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function request()
  counter = counter + 1
  -- Each thread starts at its own place in the list: threads that walked it in step
  -- would send the same member's calls at the same moment and wait on each other's lock.
  local path = paths[((counter + (tid or 0) * 7919) % #paths) + 1]
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, tid or 0, counter),
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
