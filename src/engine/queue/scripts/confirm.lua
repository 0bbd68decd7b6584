-- CONFIRM: the granted request leaves now. A grant still held stays held; one whose hold ran out is taken again.
-- KEYS, ARGV: window.lua's, the member being the grant. Returns 0 = go now, n > 0 = ask again in n ms.
-- Atomic so that a lapsed grant is re-taken within the limit, like any other.
--- @include "window.lua"
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], 'XX', now + hold, ARGV[1])
  return 0
end
return take()
