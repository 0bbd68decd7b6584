-- CANCEL: a grant that will not be used (its row needs no POST after all) frees its place at once.
-- KEYS, ARGV: window.lua's; only the window and the grant are read. Returns 0.
redis.call('ZREM', KEYS[1], ARGV[1])
return 0
