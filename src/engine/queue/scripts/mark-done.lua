-- MARK_DONE: rows finished with for their batch join its done set; a tick wakes whoever waits for its outcomes.
-- KEYS: the batch's done set, its tick list (one element, short-lived). ARGV: the set's TTL s, then ≤ 1000 orderIds.
-- Returns 1. One command, so the set, its expiry and the tick move together; idempotent.
-- ledger/redis/scripts/record.lua copies these lines (the ledger may not include the engine's files): change both.
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 0)
redis.call('PEXPIRE', KEYS[2], 60000)
return 1
