-- hivemem: commit one op's writes atomically, if what the op read is unchanged.
--
-- KEYS: every key the program touches (all in one namespace's hash slot).
-- ARGV[1]: JSON program {pre = [...], nrev = n, rev = keyindex, w = [...]}
--   pre: {kind, keyindex, expected[, field]}; kind "get" compares GET, "hget" compares HGET
--        of a field, "exists" compares EXISTS (0/1). An expected value of false means absent.
--   nrev: how many revisions the op takes; KEYS[rev] is the namespace's revision counter.
--   w: {command, keyindex, args...}; an argument {"r": i} becomes the op's i-th revision
--      (base + i), {"id": i} becomes the stream id "0-<base + i>", {"sub": text} becomes
--      text with each "@R<i>@" (quotes included) replaced by base + i.
--   pub (optional): {channel, message} published once the op took revisions (wakes the
--      watchers of every replica).
-- Returns {1, base} on success, {0, index of the failed precondition} otherwise.

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

local base = 0
if prog.nrev > 0 then
  base = redis.call("INCRBY", KEYS[prog.rev], prog.nrev) - prog.nrev
end

for _, w in ipairs(prog.w) do
  local args = {}
  for j = 3, #w do
    local a = w[j]
    if type(a) == "table" then
      if a.r then
        a = tostring(base + a.r)
      elseif a.id then
        a = "0-" .. tostring(base + a.id)
      else
        a = string.gsub(a.sub, '"@R(%d+)@"', function(i) return tostring(base + tonumber(i)) end)
      end
    end
    args[#args + 1] = a
  end
  redis.call(w[1], KEYS[w[2]], unpack(args))
end

if prog.nrev > 0 and prog.pub then
  redis.call("PUBLISH", prog.pub[1], prog.pub[2])
end

return {1, base}
