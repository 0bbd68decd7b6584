-- RELEASE: give up a claim whose order was not sent; the entry goes back to what it was before the claim.
-- KEYS: the entries hash, the claims hash. ARGV: orderId, token.
-- Returns 1 released, 0 the token does not own the claim.
-- Atomic so that only the claim's owner can undo it.
local claimJson = redis.call('HGET', KEYS[2], ARGV[1])
if not claimJson then return 0 end
local c = cjson.decode(claimJson)
if c.token ~= ARGV[2] then return 0 end
if c.previous then
  redis.call('HSET', KEYS[1], ARGV[1], c.previous)
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
