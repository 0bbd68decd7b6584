-- RENEW: extend a live claim's lease (a worker does before a POST when its claim is no longer fresh).
-- KEYS: the entries hash, the claims hash. ARGV: orderId, token, nowMs, leaseMs.
-- Returns 1 still ours, 0 lost (then do not POST).
-- Atomic so that a claim taken over meanwhile is never extended by its former owner.
local claimJson = redis.call('HGET', KEYS[2], ARGV[1])
if not claimJson then return 0 end
local c = cjson.decode(claimJson)
if c.token ~= ARGV[2] then return 0 end
c['until'] = tonumber(ARGV[3]) + tonumber(ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(c))
return 1
