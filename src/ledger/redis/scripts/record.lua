-- RECORD: write the answer of a claim's POST into its entry and close the claim.
-- KEYS: entries hash, claims hash; queue workers add the batch's done set and tick list (see below).
-- ARGV: orderId, token, outcome JSON (its attempts are added to the total); with the done set, its TTL in seconds.
-- Returns 1 recorded (or already was: a resend after a reconnect), 0 the token no longer owns the claim.
-- Atomic: only the claim's owner records, and no row is seen done for its batch with its claim still open.
local claimJson = redis.call('HGET', KEYS[2], ARGV[1])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
local e = cjson.decode(cur)
local o = cjson.decode(ARGV[3])
if not claimJson then
  -- This very record, sent again: ioredis resends a command left unanswered when the connection dropped (a Redis
  -- restart), and Redis may have run it before going away. Then the entry holds this outcome, stamped with this call's
  -- own updatedAt, and its claim is closed: recorded, not "no longer ours".
  if e.state == 'SENDING' or e.state ~= o.state or e.updatedAt ~= o.updatedAt or e.paymentOrderId ~= o.paymentOrderId or e.errorCode ~= o.errorCode then return 0 end
else
  local c = cjson.decode(claimJson)
  if c.token ~= ARGV[2] then return 0 end
  e.paymentOrderId = nil
  e.paymentURL = nil
  e.paymentOrderStatus = nil
  e.statusChangedAt = nil
  e.errorCode = nil
  e.errorMessage = nil
  e.detailedErrorCode = nil
  e.payment = nil
  e.resolution = nil
  local before = tonumber(e.attempts) or 0
  for k, v in pairs(o) do e[k] = v end
  e.attempts = before + (tonumber(o.attempts) or 0)
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
  redis.call('HDEL', KEYS[2], ARGV[1])
end
if KEYS[3] then
  -- The job ends with this answer: the row joins its batch's done set (KEYS[3], kept ARGV[4] s) and a tick (KEYS[4])
  -- wakes whoever waits for the batch's outcomes. These are the lines of engine/queue/scripts/mark-done.lua, which
  -- owns the done set and tick; copied, not included, because the ledger does not reach into the engine's folder.
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('EXPIRE', KEYS[3], ARGV[4])
  redis.call('LPUSH', KEYS[4], '1')
  redis.call('LTRIM', KEYS[4], 0, 0)
  redis.call('PEXPIRE', KEYS[4], 60000)
end
return 1
