// The Lua scripts of a queue on Redis, each one atomic on the server. The keys of queue NAME
// (the braces are a hash tag: a Redis Cluster keeps them in one slot) are
//   mp:queue:{NAME}:items      LIST   the items not yet taken, oldest first (RPUSH, LPOP/BLMOVE)
//   mp:queue:{NAME}:maxsize    STRING the queue's maxsize (0: none), set by the first handle
//                                     that connected
//   mp:queue:{NAME}:unfinished STRING JoinableQueue: items put and not yet marked done
//   mp:queue:{NAME}:leases     ZSET   JoinableQueue: consumer id -> when its lease ends (ms,
//                                     the server's clock)
//   mp:queue:{NAME}:held:ID    LIST   JoinableQueue: the items consumer ID took and has not
//                                     marked done, oldest first
// An item is one byte of codec kind (_core/_codec.ts) followed by its payload. Every live
// handle refreshes the keys' expiry (TICK): the keys of a queue whose every user is gone expire.

import { Script } from "./_client.ts";

/**
 * Puts up to ARGV[4..] (in order) while fewer than maxsize items wait; returns how many it put.
 * KEYS: items, unfinished. ARGV: maxsize (0: none), expiry ms, joinable ("1"/"0"), items...
 */
export const PUT: Script = new Script(`
local n = #ARGV - 3
local max = tonumber(ARGV[1])
if max > 0 then
  local room = max - redis.call('LLEN', KEYS[1])
  if room < n then n = math.max(room, 0) end
end
if n > 0 then
  redis.call('RPUSH', KEYS[1], unpack(ARGV, 4, 3 + n))
  if ARGV[3] == '1' then redis.call('INCRBY', KEYS[2], n) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if ARGV[3] == '1' then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return n
`);

/**
 * Records the queue's maxsize unless one is recorded; returns the recorded one.
 * KEYS: maxsize. ARGV: the handle's maxsize ('' when it gave none: 0 is recorded), expiry ms.
 */
export const SIZE: Script = new Script(`
local have = redis.call('GET', KEYS[1])
if not have then
  have = ARGV[1] ~= '' and ARGV[1] or '0'
  redis.call('SET', KEYS[1], have, 'PX', ARGV[2])
end
return tonumber(have)
`);

/**
 * Takes the oldest item now, for a joinable queue into the consumer's held list; nil when none.
 * KEYS: items, held. ARGV: joinable ("1"/"0").
 */
export const TAKE: Script = new Script(`
local it = redis.call('LPOP', KEYS[1])
if it and ARGV[1] == '1' then redis.call('RPUSH', KEYS[2], it) end
return it
`);

/**
 * Marks the oldest item that the consumer holds done; returns the items left unfinished, or -1
 * when the consumer holds none (its lease ended and its items were given back).
 * KEYS: held, unfinished.
 */
export const DONE: Script = new Script(`
if not redis.call('LPOP', KEYS[1]) then return -1 end
local left = redis.call('DECR', KEYS[2])
if left < 0 then redis.call('SET', KEYS[2], 0) return 0 end
return left
`);

/**
 * A handle's heartbeat: refreshes the keys' expiry (the maxsize's too, when given as KEYS[5]);
 * for a joinable queue also renews this consumer's lease and gives the items of consumers whose
 * lease ended back to the head of the queue, in their order. Returns how many items it gave
 * back.
 * KEYS: items, unfinished, leases, held[, maxsize]. ARGV: expiry ms, consumer id ('' for a
 * plain queue), lease ms, prefix of the held lists.
 */
export const TICK: Script = new Script(`
local back = 0
if ARGV[2] ~= '' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[2])
  for _, c in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
    local held = ARGV[4] .. c
    while redis.call('LMOVE', held, KEYS[1], 'RIGHT', 'LEFT') do back = back + 1 end
    redis.call('ZREM', KEYS[3], c)
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[4], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if KEYS[5] then redis.call('PEXPIRE', KEYS[5], ARGV[1]) end
return back
`);

/**
 * Ends a consumer's lease at once (a handle that closes): its items go back to the head of the
 * queue. KEYS: items, leases, held. ARGV: consumer id, expiry ms.
 */
export const LEAVE: Script = new Script(`
while redis.call('LMOVE', KEYS[3], KEYS[1], 'RIGHT', 'LEFT') do end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
`);

/** The key names of queue `name`. */
export interface QueueKeys {
  items: string;
  maxsize: string;
  unfinished: string;
  leases: string;
  heldPrefix: string;
  held: string;
}

/** The keys of queue `name`, and the held list of consumer `id`. */
export function queueKeys(name: string, id: string): QueueKeys {
  const base = `mp:queue:{${name}}:`;
  return {
    items: base + "items",
    maxsize: base + "maxsize",
    unfinished: base + "unfinished",
    leases: base + "leases",
    heldPrefix: base + "held:",
    held: base + "held:" + id,
  };
}
