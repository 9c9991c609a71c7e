-- wrk script of bench/noisy-neighbour.ts, one of two roles (ROLE):
--   victims:  bench/tasks.lua as it is (TASKS_LUA, with its SCENARIO, BENCH_DATA, WRK_THREADS), answers
--             counted by status class;
--   attacker: one user's token (ATTACK_TOKEN) and a list of paths (ATTACK_PATHS, one per line), sent in
--             turn by every connection, as fast as the answers come back.
-- done() prints one BENCH_NOISY line of JSON: requests, latency percentiles and the status counts.
local role = os.getenv("ROLE")
local request_of

if role == "victims" then
  dofile(os.getenv("TASKS_LUA"))
else
  local token = os.getenv("ATTACK_TOKEN")
  local paths = {}
  for line in io.lines(os.getenv("ATTACK_PATHS")) do
    if line ~= "" then table.insert(paths, line) end
  end
  local headers = { ["Authorization"] = "Bearer " .. token }
  local n = 0
  request_of = function()
    n = n + 1
    return wrk.format("GET", paths[(n % #paths) + 1], headers)
  end
  function init(args) end
end

local threads = {}
local inner_setup = setup
function setup(thread)
  table.insert(threads, thread)
  if inner_setup then inner_setup(thread) end
end

-- Globals, so done() can read each thread's counts with thread:get.
ok, r429, r5xx, other = 0, 0, 0, 0
if request_of then request = request_of end

function response(status, headers, body)
  if status >= 200 and status <= 299 then ok = ok + 1
  elseif status == 429 then r429 = r429 + 1
  elseif status >= 500 then r5xx = r5xx + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local c = { ok = 0, r429 = 0, r5xx = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for k in pairs(c) do c[k] = c[k] + thread:get(k) end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_NOISY {"requests":%d,"duration_us":%d,"ok":%d,"r429":%d,"r5xx":%d,"other":%d,"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, c.ok, c.r429, c.r5xx, c.other, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
