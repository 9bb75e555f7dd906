-- wrk script for benches/http_load.sh: PATCH membership metadata with a varying merge patch.
-- Each request sets one of 100 keys and replaces a nested value, so the stored object stays
-- bounded (about 2 KiB) while every request really merges and writes.
local counter = 0

wrk.method = "PATCH"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("METAMERGE_SECRET_KEY")
wrk.headers["Content-Type"] = "application/json"

request = function()
  counter = counter + 1
  local body = string.format(
    '{"public_metadata":{"k%d":%d,"nested":{"last":%d,"gone":null}},"private_metadata":{"n":%d}}',
    counter % 100, counter, counter, counter)
  return wrk.format(nil, nil, nil, body)
end
