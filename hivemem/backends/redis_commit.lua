-- hivemem: commit one op's writes atomically, if what the op read is unchanged.
--
-- KEYS: every key the program touches (all in one hash slot on a cluster).
-- ARGV[1]: JSON program {pre = [...], revs = [...], w = [...]}
--   pre: {kind, keyindex, expected[, field]}; kind "get" compares GET, "hget" compares HGET
--        of a field, "exists" compares EXISTS (0/1). An expected value of false means absent.
--   revs: {keyindex, n} per namespace the op takes revisions in (the j-th, from 0): n
--      revisions of the counter KEYS[keyindex], whose base is the value before.
--   w: {command, keyindex, args...}; an argument {"r": o} becomes revision o (o = j * 2^32
--      + i: base_j + i), {"id": o} becomes the stream id "0-<revision o>", {"sub": text}
--      becomes text with each "@R<o>@" (quotes included) replaced by revision o.
--   pub (optional): {channel, message} published once the op took revisions (wakes the
--      watchers of every replica).
-- Returns {1, base_0, base_1, ...} on success, {0, index of the failed precondition}
-- otherwise.

local prog = cjson.decode(ARGV[1])

for i, p in ipairs(prog.pre) do
  local kind, key, expected = p[1], KEYS[p[2]], p[3]
  local actual
  if kind == "get" then
    actual = redis.call("GET", key)
  elseif kind == "hget" then
    actual = redis.call("HGET", key, p[4])
  else
    actual = redis.call("EXISTS", key)
  end
  if expected == false or expected == cjson.null then
    if actual ~= false then
      return {0, i}
    end
  elseif tostring(actual) ~= tostring(expected) then
    return {0, i}
  end
end

local bases = {}
for j, r in ipairs(prog.revs) do
  bases[j] = redis.call("INCRBY", KEYS[r[1]], r[2]) - r[2]
end
local STRIDE = 4294967296
local function rev(o)
  local j = math.floor(o / STRIDE)
  return bases[j + 1] + (o - j * STRIDE)
end

for _, w in ipairs(prog.w) do
  local args = {}
  for j = 3, #w do
    local a = w[j]
    if type(a) == "table" then
      if a.r then
        a = string.format("%d", rev(a.r))
      elseif a.id then
        a = "0-" .. string.format("%d", rev(a.id))
      else
        a = string.gsub(a.sub, '"@R(%d+)@"', function(o) return string.format("%d", rev(tonumber(o))) end)
      end
    end
    args[#args + 1] = a
  end
  redis.call(w[1], KEYS[w[2]], unpack(args))
end

if #prog.revs > 0 and prog.pub then
  redis.call("PUBLISH", prog.pub[1], prog.pub[2])
end

return {1, unpack(bases)}
