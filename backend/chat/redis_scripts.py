"""The Lua scripts and key names of ``redis_streams.RedisStreams`` (docs/scaling.md).

Each script is one atomic step on the server, so no two workers ever see a half-done change:
taking a block's lock and writing its answer's record, renewing both, ending an answer and
unlocking its block, and claiming a dead worker's answer to recover it. Times come from Redis
(``TIME``), never from a worker's clock, so hosts with skewed clocks agree on deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass

# The Redis server's clock in milliseconds (scripts run with effects replication, so TIME is allowed).
_NOW_MS = "local now = redis.call('TIME'); local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)"

# KEYS: active hash, record hash, deadlines zset. ARGV: lock ms, retain ms, block id, then field/value
# pairs. Returns nil when the lock was taken (and writes the record), else the holder's fields.
ACQUIRE = f"""
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HGETALL', KEYS[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('PEXPIRE', KEYS[2], ARGV[2])
{_NOW_MS}
redis.call('ZADD', KEYS[3], now_ms + ARGV[1], ARGV[3])
return false
"""

# KEYS: active hash, chunks, record, deadlines. ARGV: stream id, lock ms, retain ms, block id.
# 0 = lock lost, 1 = held, 2 = stop asked.
HEARTBEAT = f"""
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
{_NOW_MS}
redis.call('ZADD', KEYS[4], now_ms + ARGV[2], ARGV[4])
if redis.call('HEXISTS', KEYS[1], 'stop') == 1 then return 2 end
return 1
"""

# KEYS: active hash, chunks, record, deadlines. ARGV: stream id, the next entry number, finished ms,
# block id, then chunks to add before the end (a recovered answer's closing chunks). The end and the
# unlock in one step: whoever sees the block unlocked finds the end, and whoever sees the end finds
# it unlocked; the record goes with them (the answer is no longer anyone's to recover).
FINISH = """
local entry = tonumber(ARGV[2])
for index = 5, #ARGV do
  redis.call('XADD', KEYS[2], '0-' .. entry, 'c', ARGV[index])
  entry = entry + 1
end
redis.call('XADD', KEYS[2], '0-' .. entry, 'end', '1')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then redis.call('DEL', KEYS[1]) end
if redis.call('HGET', KEYS[3], 'id') == ARGV[1] then
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], ARGV[4])
end
return 1
"""

# KEYS: active hash, record hash. ARGV: stream id, the field to set (mark stop) or '' (release the
# lock and drop the record: the live worker saves the answer itself).
IF_HOLDER = """
if redis.call('HGET', KEYS[1], 'id') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
  if redis.call('HGET', KEYS[2], 'id') == ARGV[1] then redis.call('DEL', KEYS[2]) end
else
  redis.call('HSET', KEYS[1], ARGV[2], '1')
end
return 1
"""

# KEYS: active hash, record hash, deadlines. ARGV: lock ms, block id. An answer whose record outlived
# its lock belongs to a dead worker: take the lock in its name (same stream id, so its followers keep
# waiting for the end) and return the record; nil when the block is live or has nothing to recover.
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local fields = redis.call('HGETALL', KEYS[2])
if #fields == 0 then
  redis.call('ZREM', KEYS[3], ARGV[2])
  return false
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('HSET', KEYS[1], 'recovering', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return fields
"""

# KEYS: deadlines. ARGV: how many. The blocks whose lock deadline has passed (candidates to recover).
LAPSED = f"""
{_NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now_ms, 'LIMIT', 0, ARGV[1])
"""


@dataclass(frozen=True, slots=True)
class RedisKeys:
    prefix: str = "chatwire:"

    def active(self, key: str) -> str:
        """A block's lock (``key``: ``streams.stream_key``, owner and block): names its live answer,
        expires without heartbeats."""
        return f"{self.prefix}active:{key}"

    def record(self, key: str) -> str:
        """A block's answer until it ends: outlives the lock, so a dead worker's answer is found."""
        return f"{self.prefix}answer:{key}"

    def chunks(self, stream_id: str) -> str:
        return f"{self.prefix}chunks:{stream_id}"

    @property
    def deadlines(self) -> str:
        """Blocks with a live answer, scored by their lock's deadline (what the sweeper reads)."""
        return f"{self.prefix}deadlines"

    @property
    def stop_channel(self) -> str:
        return f"{self.prefix}stop"
