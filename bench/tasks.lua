-- wrk script for one scenario of the tasks API. Environment: SCENARIO (get, list, create, update, mix,
-- delete, create-key, or hello for the bare Bun.serve ceiling), BENCH_DATA (a Lua file written by
-- bench/seed.ts), WRK_THREADS, BENCH_RUN (unique per wrk run, so idempotency keys never repeat).
-- Every request picks a user at random and uses that user's token and task ids, so the server verifies
-- many tokens and reads and writes real rows; any answer outside 2xx is counted (see done()).
local scenario = os.getenv("SCENARIO")
local data = scenario == "hello" and { users = {} } or dofile(os.getenv("BENCH_DATA"))
local nthreads = tonumber(os.getenv("WRK_THREADS"))
local users = data.users
local nusers = #users

-- setup() runs in the main Lua state once per thread; done() reads each thread's counters back.
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

local statuses = { "pending", "in_progress", "completed" }
bad = 0 -- a global, so done() can read it with thread:get
local seq = 0

function init(args)
  math.randomseed(os.time() * 7919 + tid)
  for _, u in ipairs(users) do
    u.headers = { ["Authorization"] = "Bearer " .. u.token, ["Content-Type"] = "application/json" }
  end
end

local function any_user() return users[math.random(nusers)] end
local function any_task(u) return u.ids[math.random(#u.ids)] end

local function get()
  local u = any_user()
  return wrk.format("GET", "/api/tasks/" .. any_task(u), u.headers)
end
local function list()
  local u = any_user()
  return wrk.format("GET", "/api/tasks?limit=20", u.headers)
end
local function create()
  local u = any_user()
  return wrk.format("POST", "/api/tasks", u.headers, '{"title":"bench task","description":"created by the benchmark"}')
end
-- A fresh Idempotency-Key on every request: each one is a first attempt that stores its answer.
local run = os.getenv("BENCH_RUN") or ""
local function create_key()
  local u = any_user()
  seq = seq + 1
  local headers = { ["Authorization"] = u.headers["Authorization"], ["Content-Type"] = "application/json", ["Idempotency-Key"] = run .. "-" .. tid .. "-" .. seq }
  return wrk.format("POST", "/api/tasks", headers, '{"title":"bench task","description":"created by the benchmark"}')
end
local function update()
  local u = any_user()
  local body = '{"title":"updated ' .. math.random(1000000) .. '","status":"' .. statuses[math.random(3)] .. '"}'
  return wrk.format("PUT", "/api/tasks/" .. any_task(u), u.headers, body)
end
-- Each id of the delete pool is deleted once: thread t takes requests t, t+T, t+2T, ... in a global
-- order that walks the users round-robin and each user's contiguous id range in turn.
local function delete()
  local g = seq * nthreads + tid
  seq = seq + 1
  local u = users[g % nusers + 1]
  return wrk.format("DELETE", "/api/tasks/" .. (u.del_lo + math.floor(g / nusers)), u.headers)
end
local function mix()
  local r = math.random(100)
  if r <= 60 then return get() elseif r <= 80 then return list() elseif r <= 90 then return create() else return update() end
end

local function hello() return wrk.format("GET", "/") end

request = ({ hello = hello, get = get, list = list, create = create, ["create-key"] = create_key, update = update, delete = delete, mix = mix })[scenario]
if request == nil then error("unknown SCENARIO " .. tostring(scenario)) end

function response(status, headers, body)
  if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, thread in ipairs(threads) do non2xx = non2xx + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"timeouts":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, non2xx, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
