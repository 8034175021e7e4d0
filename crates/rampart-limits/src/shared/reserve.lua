-- rampart-limits: check and reserve every dimension of every bucket of one request,
-- all or none, in one call.
-- KEYS[i]: the key of entry i.
-- ARGV[1]: now in microseconds since the epoch, or "0" for Redis TIME (the clock all
-- instances share); ARGV[2]: the lease id; ARGV[3]: the lease TTL in microseconds;
-- then three per entry: kind, a, b:
--   g      rate bucket (GCRA): a = cost in µs, b = one minute in µs;
--          the key holds the theoretical arrival time (µs since the epoch)
--   c      concurrency: a = the most in flight; the key is a sorted set of lease ids
--          scored by expiry (µs); expired leases are pruned here
--   d, m   budget per UTC day / month: a = cost, b = limit (micro-USD);
--          the key is a hash {w = window index, s = spent in it}
-- Returns {1, now, v1, ..., vn}, per entry the used µs, leases or spend after, or
-- {0, now, i, v} for the first entry i that refused, with the used µs, leases or
-- spend before.
local now = tonumber(ARGV[1])
if now == nil or now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local day = math.floor(now / 86400000000)

-- year * 12 + month - 1 of a day count (H. Hinnant's civil_from_days)
local function month_of(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local m
  if mp < 10 then m = mp + 3 else m = mp - 9 end
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y * 12 + m - 1
end

local lease_ttl = tonumber(ARGV[3])
local n = #KEYS
-- the state each key will have, so a key named twice is counted twice
local pending = {}
local out = {1, now}
for i = 1, n do
  local key = KEYS[i]
  local kind = ARGV[3 * i + 1]
  local a = tonumber(ARGV[3 * i + 2])
  local b = tonumber(ARGV[3 * i + 3])
  if kind == 'g' then
    local tat = pending[key]
    if tat == nil then tat = tonumber(redis.call('GET', key) or '0') or 0 end
    if tat < now then tat = now end
    if tat + a - now > b then return {0, now, i, tat - now} end
    pending[key] = tat + a
    out[i + 2] = tat + a - now
  elseif kind == 'c' then
    local count = pending[key]
    if count == nil then
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      count = redis.call('ZCARD', key)
    end
    if count >= a then return {0, now, i, count} end
    pending[key] = count + 1
    out[i + 2] = count + 1
  else
    local window = day
    if kind == 'm' then window = month_of(day) end
    local spent = pending[key]
    if spent == nil then
      local h = redis.call('HMGET', key, 'w', 's')
      spent = 0
      if tonumber(h[1]) == window then spent = tonumber(h[2]) or 0 end
    end
    if spent >= b or spent + a > b then return {0, now, i, spent} end
    pending[key] = spent + a
    out[i + 2] = spent + a
  end
end

local done = {}
for i = 1, n do
  local key = KEYS[i]
  local kind = ARGV[3 * i + 1]
  if kind == 'c' then
    redis.call('ZADD', key, string.format('%d', now + lease_ttl), ARGV[2] .. '#' .. i)
    redis.call('PEXPIRE', key, string.format('%d', math.floor(lease_ttl / 1000) + 1000))
  elseif not done[key] then
    done[key] = true
    local value = pending[key]
    if kind == 'g' then
      local ttl = math.floor((value - now) / 1000) + 1000
      redis.call('SET', key, string.format('%d', value), 'PX', string.format('%d', ttl))
    else
      local window = day
      local ttl = 2 * 86400000
      if kind == 'm' then
        window = month_of(day)
        ttl = 32 * 86400000
      end
      redis.call('HSET', key, 'w', string.format('%d', window), 's', string.format('%d', value))
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
return out
