-- rampart-limits: settle a reservation (replace reserved tokens and cost with the
-- actual ones) and release its concurrency leases.
-- KEYS[i]: the key of entry i.
-- ARGV[1]: now in microseconds since the epoch, or "0" for Redis TIME;
-- ARGV[2]: the lease id; then three per entry: kind, a, b:
--   g      rate bucket: a = µs to charge (> 0, may go into debt) or refund (< 0)
--   c      concurrency: a = the entry number the lease was taken under
--   d, m   budget per UTC day / month: a = micro-USD to charge or refund, b = the
--          window the reservation was made in. While it is current the adjustment
--          lands there; once it has closed, a refund is dropped and a charge lands in
--          the current window.
local now = tonumber(ARGV[1])
if now == nil or now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local day = math.floor(now / 86400000000)

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

for i = 1, #KEYS do
  local key = KEYS[i]
  local kind = ARGV[3 * i]
  local a = tonumber(ARGV[3 * i + 1])
  local b = tonumber(ARGV[3 * i + 2])
  if kind == 'g' then
    local tat = tonumber(redis.call('GET', key) or '0') or 0
    if a > 0 then
      if tat < now then tat = now end
      tat = tat + a
    elseif tat > now then
      tat = tat + a
      if tat < now then tat = now end
    end
    if tat > now then
      local ttl = math.floor((tat - now) / 1000) + 1000
      redis.call('SET', key, string.format('%d', tat), 'PX', string.format('%d', ttl))
    else
      redis.call('DEL', key)
    end
  elseif kind == 'c' then
    redis.call('ZREM', key, ARGV[2] .. '#' .. string.format('%d', a))
  else
    local window = day
    local ttl = 2 * 86400000
    if kind == 'm' then
      window = month_of(day)
      ttl = 32 * 86400000
    end
    local h = redis.call('HMGET', key, 'w', 's')
    local spent = 0
    if tonumber(h[1]) == window then spent = tonumber(h[2]) or 0 end
    local apply = true
    if b == window then
      spent = spent + a
      if spent < 0 then spent = 0 end
    elseif a > 0 then
      spent = spent + a
    else
      apply = false
    end
    if apply then
      redis.call('HSET', key, 'w', string.format('%d', window), 's', string.format('%d', spent))
      redis.call('PEXPIRE', key, ttl)
    end
  end
end
return 1
