-- DONE: the request's answer came ARGV[5] ms ago (the worker's clock, when it sent this call): its place stays held
-- one window from then. Redis runs the call after it was sent, so "now − ago" is never before the answer.
-- KEYS, ARGV: window.lua's, the member being the grant, then the ms since the answer. Returns 0.
-- One command, so that the place's new time and the window's expiry move together.
--- @include "window.lua"
redis.call('ZADD', KEYS[1], now - math.max(0, tonumber(ARGV[5]) or 0), ARGV[1])
redis.call('PEXPIRE', KEYS[1], window + hold + 1000)
return 0
