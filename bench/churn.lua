-- wrk script: profile edits of one account as fast as they go. Each changes the user's name,
-- so each moves the auth epoch and empties every instance's authentication cache: the
-- worst traffic for the cache (as a storm of logouts would be).
local n = 0
request = function()
  n = n + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. os.getenv("CHURN_TOKEN"),
  }
  return wrk.format("PATCH", "/api/v1/users/me", headers, string.format('{"full_name":"churn %d"}', n))
end
