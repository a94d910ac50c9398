-- wrk script: POST /auth/login with the benchmark user's credentials.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench","password":"correct horse battery staple"}'

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write("statuses:")
  for status, count in pairs(statuses) do io.write(string.format(" %d=%d", status, count)) end
  io.write("\n")
end
