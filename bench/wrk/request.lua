-- One request shape for a whole wrk run, from the environment set by harness.py;
-- done() prints the summary as one JSON line the harness parses.
--   BENCH_METHOD, BENCH_BODY, BENCH_AUTH, BENCH_CLOSE  the request
--   BENCH_HEADERS      more headers, one "Name: value" a line
--   BENCH_REQUEST_ID   "1": a fresh UUID in X-Request-ID on every request
--   BENCH_POOL         a file of "body<TAB>DPoP proof" lines, each sent once
--                      (signed JWTs with unique jti that Lua cannot make);
--                      BENCH_THREADS threads take every n-th line, and a
--                      thread that runs out stops early.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local pool_file = os.getenv("BENCH_POOL") or ""
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
end
if wrk.body or pool_file ~= "" then
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
if os.getenv("BENCH_CLOSE") == "1" then
  wrk.headers["Connection"] = "close"
end
for line in (os.getenv("BENCH_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  wrk.headers[name] = value
end

local fresh_ids = os.getenv("BENCH_REQUEST_ID") == "1"
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

if pool_file ~= "" or fresh_ids then
  local pool, used, prefix, counter = {}, 0, "", 0

  function init(args)
    local n = tonumber(os.getenv("BENCH_THREADS") or "1")
    if pool_file ~= "" then
      local i = 0
      for line in io.lines(pool_file) do
        if i % n == id - 1 then
          local b, proof = line:match("^([^\t]*)\t(.*)$")
          table.insert(pool, { b, proof })
        end
        i = i + 1
      end
    end
    -- Unique per thread and run: random high bits, the thread, a counter.
    math.randomseed(os.time() * 1000 + id)
    prefix = string.format("%08x-%04x-4%03x-8%03x-", math.random(0, 0x7fffffff),
                           math.random(0, 0xffff), id % 0x1000, math.random(0, 0xfff))
  end

  function request()
    local headers = wrk.headers
    local b = wrk.body
    if pool_file ~= "" then
      used = used + 1
      local entry = pool[used]
      if entry == nil then
        exhausted = 1
        wrk.thread:stop()
        entry = pool[#pool]
      end
      b = entry[1]
      headers["DPoP"] = entry[2]
    end
    if fresh_ids then
      counter = counter + 1
      headers["X-Request-ID"] = prefix .. string.format("%012x", counter)
    end
    return wrk.format(nil, nil, headers, b)
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local exhausted = 0
  for _, t in ipairs(threads) do
    exhausted = exhausted + (t:get("exhausted") or 0)
  end
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"p50_us":%d,"p99_us":%d,' ..
    '"pool_exhausted_threads":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), exhausted))
end
