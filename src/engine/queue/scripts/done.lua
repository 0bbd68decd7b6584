-- DONE: the request's answer came `ago` ms before this call was sent: its place stays held one window from then
-- ("now − ago" on Redis's clock is never before the answer).
-- KEYS, ARGV: window.lua's, the member being the grant, then `ago`. Returns 0. One command: place and expiry together.
--- @include "window.lua"
redis.call('ZADD', KEYS[1], now - math.max(0, tonumber(ARGV[5]) or 0), ARGV[1])
redis.call('PEXPIRE', KEYS[1], window + hold + 1000)
return 0
