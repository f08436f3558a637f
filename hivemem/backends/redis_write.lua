-- hivemem: one Put or Delete, decided and written server-side (the common case, ONE round trip).
--
-- What a write does is decided by hivemem/engine/decide.py (decide_put, decide_delete). This
-- script cannot call it, so it transcribes its cases, in the same order and under the same
-- names (P0-P5, D1-D4), for the ops hivemem/engine/fast.py qualifies. A case it hands on (a
-- refusal, a value to resolve, a full namespace) answers {0} without writing anything, and
-- the backend runs the op through the engine, which words the error and emits the events.
-- tests/test_fast_paths.py compares this script with the engine for every strategy and case.
--
-- KEYS: 1 config, 2 revision counter, 3 entry hash, 4 key index, 5 expiry index,
--       6 event stream[, 7 store-wide audit stream (single server only)]
-- ARGV[1]: the argument table, JSON (built by RedisBackend._write_call); absent = none:
--   schema      its version: ARGS_SCHEMA below, checked first
--   op          "put" or "delete"
--   config      the config text the caller's permission check used
--   now         the op's time (text, stored as is)
--   strategy    (put) the namespace's conflict strategy
--   expected    the compare-and-set condition (0: must not exist)
--   cap         (put) the most entries the namespace may hold
--   expires_at  (put) the entry's expiry (text); pexpire: the key's native expiry, ms
--   owner       the writing agent;  member: the key, as a member of the key indexes
--   retention   MAXLEN of the event stream;  audit_retention: of the audit stream
--   slots       JSON text of the events' fields: namespace, timestamp, agent_id, key
--   channel, message  published once the op is done
-- ARGV[2]: the value (JSON text)
-- ARGV[3...]: audit records (JSON) appended to KEYS[7] once the op is done, in order
-- Returns {-1, config text or ""} when the config changed (the caller refreshes and retries),
-- {0} to hand the op to the engine (nothing written); after a put, the string
-- "rev version created_at expired_version_or_0" (one reply element: cheaper to parse), after
-- a delete {1, rev, outcome, version} (outcome as decide.py's: 0 absent, 1 expired, 2 deleted).

local ARGS_SCHEMA = 2
-- Each event's JSON as Event.to_dict renders it: a function of the fields' JSON texts, made
-- by RedisBackend from an Event rendered with marks in the fields' places when it loads
-- this script.
local EVENTS = EVENT_TEMPLATES

local A = cjson.decode(ARGV[1])
if A.schema ~= ARGS_SCHEMA then
  return redis.error_reply("hivemem: redis_write.lua takes argument table " .. ARGS_SCHEMA
    .. ", got " .. tostring(A.schema))
end
local cfg = redis.call("GET", KEYS[1])
if cfg ~= A.config then
  return {-1, cfg or ""}
end

local now = tonumber(A.now)
local h = redis.call("HMGET", KEYS[3], "ver", "c", "x")
local stored = h[1] ~= false
local x = h[3] or ""
local expired = stored and x ~= "" and tonumber(x) <= now -- P0 / D3
local live = stored and not expired
local current = 0
if live then
  current = tonumber(h[1])
end
if A.expected ~= nil and A.expected ~= current then -- P1 / D1: refuse
  return {0}
end

local slots = A.slots
local function event(name, rev, version)
  slots.version = version
  redis.call("XADD", KEYS[6], "MAXLEN", A.retention, "0-" .. rev, "d", EVENTS[name](slots))
end
local function finish()
  for i = 3, #ARGV do
    redis.call("XADD", KEYS[7], "MAXLEN", A.audit_retention, "*", "d", ARGV[i])
  end
  if A.channel then
    redis.call("PUBLISH", A.channel, A.message)
  end
end

if A.op == "delete" then
  if not stored then -- D2
    finish()
    return {1, 0, 0, 0}
  end
  local rev = redis.call("INCR", KEYS[2])
  redis.call("DEL", KEYS[3])
  redis.call("ZREM", KEYS[4], A.member)
  redis.call("ZREM", KEYS[5], A.member)
  if expired then -- D3
    event("memory:expired", rev, h[1])
    finish()
    return {1, rev, 1, tonumber(h[1])}
  end
  event("memory:delete", rev, h[1]) -- D4
  finish()
  return {1, rev, 2, current}
end

local strategy = A.strategy
if strategy ~= "latest-wins" then
  if strategy == "version" and A.expected == nil then -- P2: refuse
    return {0}
  end
  if live and strategy ~= "version" then -- P3 first-wins refuses, P4 resolves: the engine's
    return {0}
  end
end
if not live and A.cap ~= nil then -- P5 adds an entry: the cap must leave room
  local count = redis.call("ZCARD", KEYS[4])
  if stored then
    count = count - 1 -- the expired entry goes first
  end
  if count >= A.cap then
    return {0}
  end
end

local rev
local gone = 0
if expired then -- P0
  rev = redis.call("INCRBY", KEYS[2], 2)
  event("memory:expired", rev - 1, h[1])
  gone = tonumber(h[1])
else
  rev = redis.call("INCR", KEYS[2])
end
local version = current + 1
local created = A.now
if live then
  created = h[2]
end
local expires_at = A.expires_at or ""
redis.call("HSET", KEYS[3], "v", ARGV[2], "o", A.owner, "ver", version, "rev", rev,
  "c", created, "u", A.now, "x", expires_at)
if not stored then
  redis.call("ZADD", KEYS[4], 0, A.member)
end
if expires_at ~= "" then
  redis.call("ZADD", KEYS[5], expires_at, A.member)
  redis.call("PEXPIRE", KEYS[3], A.pexpire)
elseif stored and x ~= "" then -- (a key without expires_at has no native expiry)
  redis.call("ZREM", KEYS[5], A.member)
  redis.call("PERSIST", KEYS[3])
end
slots.value = ARGV[2]
event("memory:write", rev, string.format("%d", version))
finish()
return rev .. " " .. version .. " " .. created .. " " .. gone
