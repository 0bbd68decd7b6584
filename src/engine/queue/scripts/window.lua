-- The shared limiter's sliding window, included by acquire, confirm and done (not a command itself).
-- KEYS: window (sorted set: grant → held until), pause key, settings hash (`rate` per second, `marginMs`).
-- ARGV: a unique member (the grant), default window ms, fallback rate, hold ms.
-- Defines `now` (Redis's clock: machines' clocks disagree), `window`, `hold`, and `take()`: 0 = the member holds a
-- place (for `hold`, until its answer), n > 0 = full or paused, ask again in n ms.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local margin = redis.call('HGET', KEYS[3], 'marginMs')
local window = margin and (1000 + tonumber(margin)) or tonumber(ARGV[2])
local hold = tonumber(ARGV[4])
local function take()
  local paused = redis.call('PTTL', KEYS[2])
  if paused > 0 then return paused end
  local rate = tonumber(redis.call('HGET', KEYS[3], 'rate') or ARGV[3])
  if (not rate) or rate <= 0 then return 0 end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  if redis.call('ZCARD', KEYS[1]) < rate then
    redis.call('ZADD', KEYS[1], now + hold, ARGV[1])
    redis.call('PEXPIRE', KEYS[1], window + hold + 1000)
    return 0
  end
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, math.min(tonumber(oldest[2]) + window - now + 1, window))
end
