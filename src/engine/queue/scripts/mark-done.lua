-- MARK_DONE: rows of a batch are finished with (their job ended, or they needed none): they join the batch's done
-- set, and a tick wakes whoever waits for the batch's outcomes. Idempotent.
-- KEYS: the batch's done set, its tick list (kept at one element, short-lived).
-- ARGV: the done set's TTL in seconds, then the orderIds (at most a thousand: Lua's unpack has a limit).
-- Returns 1. One script, so the set, its expiry and the tick move together in one command.
-- ledger/redis/scripts/record.lua does the same step for a row its worker records (same lines on its own keys): the
-- ledger may not include a file of the engine's, so the lines are copied there; change both together.
redis.call('SADD', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('LPUSH', KEYS[2], '1')
redis.call('LTRIM', KEYS[2], 0, 0)
redis.call('PEXPIRE', KEYS[2], 60000)
return 1
