-- CLAIM: take an order for sending, unless it is sent, in flight, or (without retry) uncertain.
-- KEYS: entries hash, claims hash (orderId → {token, until, previous}); queue workers add the batch hash.
-- ARGV: orderId, fresh SENDING entry JSON, token, nowMs, leaseMs, retryUncertain ('1'|'0').
-- Returns {'claimed', previous entry JSON | false}, {'refused', entry JSON} or {'stopped', batch state}.
-- Atomic: two workers never both see "free" and both POST, and no claim slips in after a batch's stop.
if KEYS[3] then
  local st = redis.call('HGET', KEYS[3], 'state')
  if st == '"stopped"' or st == '"aborted"' then return {'stopped', st} end
end
local prevJson = redis.call('HGET', KEYS[1], ARGV[1])
local now = tonumber(ARGV[4])
local retry = ARGV[6] == '1'
local prev = nil
if prevJson then
  prev = cjson.decode(prevJson)
  local st = prev.state
  if st == 'CREATED' then return {'refused', prevJson} end
  if st == 'UNCERTAIN' and not retry then return {'refused', prevJson} end
  if st == 'SENDING' then
    local claimJson = redis.call('HGET', KEYS[2], ARGV[1])
    local c = claimJson and cjson.decode(claimJson)
    -- This very claim, sent again: ioredis resends a command left unanswered when the connection dropped (a Redis
    -- restart), and Redis may have run it before going away. It is the same claim, not a second claimer.
    if c and c.token == ARGV[3] then return {'claimed', c.previous or false} end
    if not retry then return {'refused', prevJson} end
    if c and now < tonumber(c['until']) then return {'refused', prevJson} end
  end
end
local entry = cjson.decode(ARGV[2])
if prev then
  entry.attempts = prev.attempts or 0
  if prev.firstSentAt then entry.firstSentAt = prev.firstSentAt end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
local claim = { token = ARGV[3], ['until'] = now + tonumber(ARGV[5]) }
if prevJson then claim.previous = prevJson end
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(claim))
return {'claimed', prevJson or false}
