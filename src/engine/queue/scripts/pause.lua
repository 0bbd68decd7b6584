-- PAUSE: every worker stops starting requests for at least ARGV[1] ms (the platform said it throttles).
-- KEYS: the pause key. ARGV: ms. Returns 1.
-- Atomic so that a pause is only ever extended, never shortened by a shorter one.
local left = redis.call('PTTL', KEYS[1])
if left < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
