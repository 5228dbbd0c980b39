// The Lua scripts of the Redis backend: fair-share.ts's rules, run atomically inside Redis, so the
// bucket stays exact however many isolates call at once. Keep the two in step (one test suite runs both).
//
// One hash per channel (KEYS[1] = gw:rl:global:{channel}): fields `window`, `ur`, `ut` (units used
// in the window) and `t:{tenant}` = "weight|window|usedReq|usedTok|demandReq|demandTok|prevReq|prevTok".
// Tenant shares live inside the bucket's hash, not in keys of their own, so one script touches one
// declared key and a full scan of the active tenants costs a single HGETALL.

const HELPERS = `
local key = KEYS[1]
local function unpackShare(v)
  local p = {}
  for x in string.gmatch(v, '[^|]+') do p[#p + 1] = tonumber(x) end
  return { weight = p[1], window = p[2], used = {p[3], p[4]}, demand = {p[5], p[6]}, prev = {p[7], p[8]} }
end
local function pack(s)
  return string.format('%.17g|%d|%d|%d|%d|%d|%d|%d', s.weight, s.window, s.used[1], s.used[2], s.demand[1], s.demand[2], s.prev[1], s.prev[2])
end
`;

const PARSE = `${HELPERS}
local raw = redis.call('HGETALL', key)
local window, used, shares = -1, {0, 0}, {}
for i = 1, #raw, 2 do
  local f, v = raw[i], raw[i + 1]
  if f == 'window' then window = tonumber(v)
  elseif f == 'ur' then used[1] = tonumber(v)
  elseif f == 'ut' then used[2] = tonumber(v)
  elseif string.sub(f, 1, 2) == 't:' then shares[string.sub(f, 3)] = unpackShare(v)
  end
end
`;

/** ARGV: tenant, weight, now, windowMs, limitReq (-1 none), limitTok (-1 none), tokens, ttlMs. */
export const TAKE_SCRIPT = `${PARSE}
local tenant, weight, now, windowMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local limits, costs, ttl = {tonumber(ARGV[5]), tonumber(ARGV[6])}, {1, tonumber(ARGV[7])}, tonumber(ARGV[8])
local k = math.floor(now / windowMs)
if k > window then
  local stale = {}
  for id, s in pairs(shares) do
    if s.window < k - 1 then stale[#stale + 1] = 't:' .. id; shares[id] = nil end
  end
  for i = 1, #stale, 500 do redis.call('HDEL', key, unpack(stale, i, math.min(i + 499, #stale))) end
  window = k
  used = {0, 0}
end
k = window
local me = shares[tenant]
if me == nil then
  me = { weight = weight, window = k, used = {0, 0}, demand = {0, 0}, prev = {0, 0} }
  shares[tenant] = me
elseif me.window < k then
  if me.window == k - 1 then me.prev = me.demand else me.prev = {0, 0} end
  me.window = k
  me.used = {0, 0}
  me.demand = {0, 0}
end
me.weight = weight
me.demand[1] = me.demand[1] + costs[1]
me.demand[2] = me.demand[2] + costs[2]
local total = 0
for _, s in pairs(shares) do total = total + s.weight end
local reserved, guarantee, refused = {0, 0}, {0, 0}, 0
for d = 1, 2 do
  local limit = limits[d]
  if limit >= 0 then
    for id, s in pairs(shares) do
      if id ~= tenant then
        local demand, u = s.demand[d], 0
        if s.window == k then demand = math.max(s.demand[d], s.prev[d]); u = s.used[d] end
        local claim = math.min(math.floor(limit * s.weight / total), demand) - u
        if claim > 0 then reserved[d] = reserved[d] + claim end
      end
    end
    guarantee[d] = math.floor(limit * me.weight / total)
    local fits = used[d] + costs[d] <= limit and (me.used[d] + costs[d] <= guarantee[d] or used[d] + costs[d] + reserved[d] <= limit)
    if not fits and refused == 0 then refused = d end
  end
end
if refused == 0 then
  for d = 1, 2 do
    used[d] = used[d] + costs[d]
    me.used[d] = me.used[d] + costs[d]
  end
end
local remaining = {-1, -1}
for d = 1, 2 do
  if limits[d] >= 0 then
    local room = limits[d] - used[d]
    remaining[d] = math.max(0, math.min(room, math.max(guarantee[d] - me.used[d], room - reserved[d])))
  end
end
redis.call('HSET', key, 'window', string.format('%d', k), 'ur', string.format('%d', used[1]), 'ut', string.format('%d', used[2]), 't:' .. tenant, pack(me))
redis.call('PEXPIRE', key, ttl)
local retry = 0
if refused ~= 0 then retry = math.min(windowMs, math.max(1, (k + 1) * windowMs - now)) end
return {refused == 0 and 1 or 0, retry, k * windowMs, refused, remaining[1], remaining[2]}
`;

/** ARGV: tenant, windowStart, tokens, windowMs. Returns 1 when something was given back. */
export const REFUND_SCRIPT = `${HELPERS}
local tenant, windowStart, tokens, windowMs = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local k = windowStart / windowMs
local r = redis.call('HMGET', key, 'window', 'ur', 'ut', 't:' .. tenant)
if not r[1] or not r[4] or tonumber(r[1]) ~= k then return 0 end
local s, used = unpackShare(r[4]), {tonumber(r[2]) or 0, tonumber(r[3]) or 0}
if s.window ~= k then return 0 end
local costs = {1, tokens}
for d = 1, 2 do
  local back = math.min(costs[d], s.used[d])
  s.used[d] = s.used[d] - back
  used[d] = math.max(0, used[d] - back)
  s.demand[d] = math.max(0, s.demand[d] - costs[d])
end
redis.call('HSET', key, 'ur', string.format('%d', used[1]), 'ut', string.format('%d', used[2]), 't:' .. tenant, pack(s))
return 1
`;
