-- REPLACE_IF_SAME: compare-and-set of one entry. The rules (observations, merges) live in TypeScript, shared with the
-- local ledger; this only makes sure nobody changed the entry in between.
-- KEYS: the entries hash. ARGV: orderId, the entry JSON as read, the new entry JSON.
-- Returns 1 written, 0 changed meanwhile (read again and retry).
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
