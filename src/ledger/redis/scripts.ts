/**
 * The Redis ledger's check-and-set steps as Lua: each runs atomically on the server, so two workers (or a stalled job
 * and its re-run) can never both see "free" and both POST. KEYS[1] is the hash of entries (orderId → LedgerEntry JSON),
 * KEYS[2] the hash of open claims (orderId → {token, until, previous}).
 */

/**
 * Lua that marks orders done for their batch (queue mode): they join the done set `set` (kept `ttlSeconds`), and a tick
 * is pushed to the one-element list `tick` (short-lived) to wake whoever waits for the batch's outcomes. The arguments
 * are Lua expressions (`KEYS[3]`, `unpack(ARGV, 2)` …): the record script and queue-batch's MARK_DONE share it.
 */
export function markDoneLua(set: string, tick: string, ttlSeconds: string, members: string): string {
  return `redis.call('SADD', ${set}, ${members})
redis.call('EXPIRE', ${set}, ${ttlSeconds})
redis.call('LPUSH', ${tick}, '1')
redis.call('LTRIM', ${tick}, 0, 0)
redis.call('PEXPIRE', ${tick}, 60000)`;
}

/**
 * ARGV: orderId, fresh SENDING entry JSON, token, nowMs, leaseMs, retryUncertain ('1'|'0'). → {'claimed'|'refused',
 * entryJson|false}. Run twice with the same token, it answers the same 'claimed' (a resent command). Optionally (queue
 * workers) KEYS[3]: the hash of the row's batch — a batch stopped or aborted gets no new claim ({'stopped', state}),
 * checked in the same step so no claim slips in after the stop.
 */
export const CLAIM = `
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
`;

/**
 * ARGV: orderId, token, outcome fields JSON (its `attempts` are this claim's POSTs, added to the total, as the local
 * ledger does; its `updatedAt` is the call's own). → 1 recorded (or this very record already was, sent again after a
 * reconnect), 0 the token no longer owns the order. Optionally (queue workers) KEYS[3], KEYS[4] and
 * ARGV[4]: the batch's done set, its tick list and the set's TTL — keys outside the ledger's hash slot, as queue mode
 * runs on one Redis (BullMQ's keys carry no hash tag either).
 */
export const RECORD = `
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
  -- The job ends with this answer: the row is done for its batch (KEYS[3], kept ARGV[4] s), and a tick (KEYS[4]) wakes
  -- whoever waits for the batch's outcomes — in the same step, so nobody sees the row done with its claim still open.
  ${markDoneLua('KEYS[3]', 'KEYS[4]', 'ARGV[4]', 'ARGV[1]')}
end
return 1
`;

/** ARGV: orderId, token. Puts back the entry as it was before the claim. → 1 released, 0 not the owner. */
export const RELEASE = `
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
`;

/** ARGV: orderId, token, nowMs, leaseMs. Extends a live claim. → 1 still ours, 0 lost. */
export const RENEW = `
local claimJson = redis.call('HGET', KEYS[2], ARGV[1])
if not claimJson then return 0 end
local c = cjson.decode(claimJson)
if c.token ~= ARGV[2] then return 0 end
c['until'] = tonumber(ARGV[3]) + tonumber(ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(c))
return 1
`;

/**
 * ARGV: orderId, the entry JSON as read, the new entry JSON. Compare-and-set: the observation rules live in TypeScript
 * (applyObservation, shared with the local ledger); this only makes sure nobody changed the entry in between.
 * → 1 written, 0 changed meanwhile (read again and retry).
 */
export const REPLACE_IF_SAME = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;
