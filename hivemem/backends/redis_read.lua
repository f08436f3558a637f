-- hivemem: one entry and whether the namespace config is still the one the caller cached.
--
-- KEYS: 1 config, 2 entry hash.  ARGV: 1 the cached config text.
-- Returns {state, meta, value, owner}: state 1 when the config is unchanged, 0 when the
-- namespace is gone, else the config text; meta "ver rev created updated expires" (one
-- string: fewer reply elements to parse), "" when the entry is absent.

local cfg = redis.call("GET", KEYS[1])
local h = redis.call("HMGET", KEYS[2], "ver", "rev", "c", "u", "x", "v", "o")
local state = cfg
if cfg == ARGV[1] then
  state = 1
elseif not cfg then
  state = 0
end
if not h[1] then
  return {state, ""}
end
return {state, h[1] .. " " .. h[2] .. " " .. h[3] .. " " .. h[4] .. " " .. (h[5] or ""), h[6], h[7]}
