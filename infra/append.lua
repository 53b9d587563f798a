#!lua
-- Atomic compare-and-append of a batch of events to one aggregate stream and its partition log.
-- KEYS: 1 aggregate stream, 2 partition log, 3 heads hash, 4 ids hash, 5 tenants hash
-- ARGV: 1 stream name, 2 expected version, 3 expected head hash, 4 new head hash, 5 tenant,
--       then for each event: id, content digest, JSON
-- Returns {"ok", log_id...} | {"dup", version, log_id, ...} | {"conflict", version, head_hash}
--       | {"chain", version, head_hash} | {"partial", event_id} | {"corrupt", head_version, last_version}
--       | {"taken", event_id, stored_stream, why} | {"tenant"} | {"unowned"}
-- An id's record is "<version> <log id> <digest> <stream>" (older records: "<version> <log id>").
-- The `#!lua` line makes Redis refuse the whole script up front when out of memory (no half batch).
local stream, expected, tenant = ARGV[1], tonumber(ARGV[2]), ARGV[5]
local n = (#ARGV - 5) / 3
local function arg(i, k) return ARGV[2 + 3 * i + k] end -- k: 1 id, 2 digest, 3 JSON

-- Tenancy, before anything else (even a retry's answer would tell another tenant that the stream
-- exists): the first event of a stream fixed its tenant. A stream written before tenants were recorded
-- is read from its first event once, and recorded.
local owner = redis.call('HGET', KEYS[5], stream)
if not owner then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #first > 0 then
    local fields = first[1][2]
    local decoded, doc = pcall(cjson.decode, fields[2])
    if fields[1] ~= 'event' or not decoded or type(doc) ~= 'table' or type(doc['tenant']) ~= 'string' then
      return {'unowned'}
    end
    owner = doc['tenant']
    redis.call('HSET', KEYS[5], stream, owner)
  end
end
if owner and owner ~= tenant then return {'tenant'} end

-- A retry of a batch that already landed: answer with the original positions, write nothing. Only a
-- batch that names the same stream and says the same thing is a retry; another one reusing its ids
-- is told so, never answered with someone else's positions.
local first = redis.call('HGET', KEYS[4], arg(1, 1))
if first then
  local out = {'dup'}
  for i = 1, n do
    local pos = redis.call('HGET', KEYS[4], arg(i, 1))
    if not pos then return {'partial', arg(i, 1)} end
    local version, log_id, digest, owner = string.match(pos, '^(%S+) (%S+) ?(%S*) ?(.*)$')
    if owner ~= '' and owner ~= stream then return {'taken', arg(i, 1), owner, 'stream'} end
    if digest ~= '' and digest ~= arg(i, 2) then return {'taken', arg(i, 1), owner, 'content'} end
    out[#out + 1] = version
    out[#out + 1] = log_id
  end
  return out
end
for i = 2, n do
  if redis.call('HEXISTS', KEYS[4], arg(i, 1)) == 1 then return {'partial', arg(i, 1)} end
end

local version, head = 0, '0000000000000000000000000000000000000000000000000000000000000000'
local stored = redis.call('HGET', KEYS[3], stream)
if stored then
  local sp = string.find(stored, ' ', 1, true)
  version, head = tonumber(string.sub(stored, 1, sp - 1)), string.sub(stored, sp + 1)
end
if version ~= expected then return {'conflict', version, head} end
if head ~= ARGV[3] then return {'chain', version, head} end
-- Refuse before writing anything if the aggregate stream disagrees with its head (tampering):
-- a script that fails halfway would leave half a batch.
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local last_version = 0
if #last > 0 then last_version = tonumber(string.match(last[1][1], '^(%d+)')) end
if last_version ~= version then return {'corrupt', version, last_version} end

local out = {'ok'}
for i = 1, n do
  local id, digest, json = arg(i, 1), arg(i, 2), arg(i, 3)
  local log_id = redis.call('XADD', KEYS[2], '*', 'event', json)
  redis.call('XADD', KEYS[1], (version + i) .. '-0', 'event', json)
  redis.call('HSET', KEYS[4], id, (version + i) .. ' ' .. log_id .. ' ' .. digest .. ' ' .. stream)
  out[#out + 1] = log_id
end
redis.call('HSET', KEYS[3], stream, (version + n) .. ' ' .. ARGV[4])
if not owner then redis.call('HSET', KEYS[5], stream, tenant) end
return out
