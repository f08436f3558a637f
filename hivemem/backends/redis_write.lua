-- hivemem: one Put or Delete, decided and written server-side (the common case, ONE round trip).
--
-- The engine (hivemem/engine/apply.py: _write_one, put, delete) is the reference; this script
-- does the same for the strategies latest-wins, first-wins and version. Whatever it does not
-- decide (a conflict, a full namespace) it answers {0} without writing anything, and the
-- backend runs the op through the engine instead, which produces the exact error and events.
--
-- KEYS: 1 config, 2 revision counter, 3 entry hash, 4 key index, 5 expiry index,
--       6 event stream[, 7 store-wide audit stream (single server only)]
-- ARGV[1]: JSON array of strings (one argument: cheaper to send than many)
--       1 "p" (put) or "d" (delete)   2 the config text the caller's permission check used
--       3 now                          4 expires_at ("" = none)
--       5 strategy: "l" latest-wins, "f" first-wins, "v" version
--       6 expected_version ("" = none) 7 max_entries ("" = none)
--       8 event retention              9 event JSON head: '"namespace":..,"timestamp":..,'
--       10 agent (JSON)                11 key (JSON)
--       12 owner                       13 key
--       14 native expiry of the key, ms ("" = persist)
--       15 audit retention             16 change channel   17 message published on it
-- ARGV[2]: the value (JSON text)
-- ARGV[3...]: audit records (JSON) appended to KEYS[7] once the op is done, in order
-- Returns {-1, config text or ""} when the config changed (the caller refreshes and retries),
-- {0} to hand the op to the engine (nothing written); after a put, the string
-- "rev version created_at expired_version_or_0" (one reply element: cheaper to parse), after
-- a delete {1, rev, outcome, version} (outcome 0: no entry, 1: it had expired, 2: deleted).

local P = cjson.decode(ARGV[1])
local cfg = redis.call("GET", KEYS[1])
if cfg ~= P[2] then
  return {-1, cfg or ""}
end

local now = tonumber(P[3])
local h = redis.call("HMGET", KEYS[3], "ver", "c", "x")
local exists = h[1] ~= false
local x = h[3] or ""
local live = exists and (x == "" or tonumber(x) > now)
local current = 0
if live then
  current = tonumber(h[1])
end
local expected = P[6]
if expected ~= "" and tonumber(expected) ~= current then
  return {0}
end

local head = P[9]
local function event(rev, json)
  redis.call("XADD", KEYS[6], "MAXLEN", P[8], "0-" .. rev, "d", json)
end
local function expired_event(rev)
  event(rev, '{"type":"memory:expired",' .. head .. '"agent_id":"system","key":' .. P[11]
    .. ',"value":null,"version":' .. h[1] .. ',"reason":null,"message":null}')
end
local function finish()
  for i = 3, #ARGV do
    redis.call("XADD", KEYS[7], "MAXLEN", P[15], "*", "d", ARGV[i])
  end
  if P[16] ~= "" then
    redis.call("PUBLISH", P[16], P[17])
  end
end

if P[1] == "d" then
  if not exists then
    finish()
    return {1, 0, 0, 0}
  end
  local rev = redis.call("INCR", KEYS[2])
  redis.call("DEL", KEYS[3])
  redis.call("ZREM", KEYS[4], P[13])
  redis.call("ZREM", KEYS[5], P[13])
  if not live then
    expired_event(rev)
    finish()
    return {1, rev, 1, tonumber(h[1])}
  end
  event(rev, '{"type":"memory:delete",' .. head .. '"agent_id":' .. P[10] .. ',"key":'
    .. P[11] .. ',"value":null,"version":' .. h[1] .. ',"reason":null,"message":null}')
  finish()
  return {1, rev, 2, current}
end

local strategy = P[5]
if (strategy == "v" and expected == "") or (strategy == "f" and live) then
  return {0}
end
if not live and P[7] ~= "" then
  local count = redis.call("ZCARD", KEYS[4])
  if exists then
    count = count - 1 -- the expired entry goes first
  end
  if count >= tonumber(P[7]) then
    return {0}
  end
end

local rev
local gone = 0
if exists and not live then
  rev = redis.call("INCRBY", KEYS[2], 2)
  expired_event(rev - 1)
  gone = tonumber(h[1])
else
  rev = redis.call("INCR", KEYS[2])
end
local version = current + 1
local created = P[3]
if live then
  created = h[2]
end
redis.call("HSET", KEYS[3], "v", ARGV[2], "o", P[12], "ver", version, "rev", rev,
  "c", created, "u", P[3], "x", P[4])
if not exists then
  redis.call("ZADD", KEYS[4], 0, P[13])
end
if P[4] ~= "" then
  redis.call("ZADD", KEYS[5], P[4], P[13])
  redis.call("PEXPIRE", KEYS[3], P[14])
elseif exists and x ~= "" then -- (a key without expires_at has no native expiry)
  redis.call("ZREM", KEYS[5], P[13])
  redis.call("PERSIST", KEYS[3])
end
event(rev, '{"type":"memory:write",' .. head .. '"agent_id":' .. P[10] .. ',"key":'
  .. P[11] .. ',"value":' .. ARGV[2] .. ',"version":' .. version
  .. ',"reason":null,"message":null}')
finish()
return rev .. " " .. version .. " " .. created .. " " .. gone
