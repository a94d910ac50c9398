-- wrk script: POST /auth/login with the benchmark user's credentials; counts answers by status
-- across threads (done() runs in its own Lua state, so it asks each thread).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"correct horse battery staple"}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do total[status] = (total[status] or 0) + count end
  end
  io.write("statuses:")
  for status, count in pairs(total) do io.write(string.format(" %d=%d", status, count)) end
  io.write("\n")
end
