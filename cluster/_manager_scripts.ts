// The keys and Lua scripts of a Manager connected to Redis (./_manager_redis.ts), each script
// atomic on the server.
//
// Layout: an object is a kind and a name (a dict and a lock may share a name); its keys share
// the prefix `mp:m:{KIND:NAME}:` (one hash tag, so one cluster slot: multi-key scripts stay
// legal there):
//   meta   hash: kind ("dict", ...), param (a queue's maxsize, a lock's lease in ms), seq (dict)
//   dict       h: hash field -> value; o: zset field -> insertion number (the keys' order)
//   list       l: list of values
//   namespace  h: hash field name -> value
//   lock       lock: string, the holder's token, PX lease; wake: list, a release's wake-up
//   queue      q: list of items (RPUSH / LPOP); space: list, a get's wake-up for waiting puts
// Every script takes the object's keys (meta first) and ARGV[1], the milliseconds after which
// an unnamed object's keys expire (0 for a named one); a write refreshes that expiry (touch).
// A misuse is not an error reply (which the client reports as a broker failure) but a reply of
// its own shape, an array, that ./_manager_redis.ts turns into the local manager's error.

import { Script } from "./_client.ts";
import { IN_CHUNKS_LUA } from "./_lua.ts";

/** The kinds of objects. */
export type Kind = "dict" | "list" | "namespace" | "lock" | "queue";

const PREFIX = "mp:m:";
const SUFFIXES: Record<Kind, string[]> = {
  dict: ["meta", "h", "o"],
  list: ["meta", "l"],
  namespace: ["meta", "h"],
  lock: ["meta", "lock", "wake"],
  queue: ["meta", "q", "space"],
};

/** The keys of an object: meta first, then those of its kind. */
export function keysOf(kind: Kind, name: string): string[] {
  return SUFFIXES[kind].map((s) => `${PREFIX}{${kind}:${name}}:${s}`);
}

const PRELUDE = IN_CHUNKS_LUA + `local ttl = tonumber(ARGV[1])
local function touch(n) if ttl > 0 then for i = 1, n do redis.call('PEXPIRE', KEYS[i], ttl) end end end
`;

/** Leaves one wake-up (for two seconds) in the list `key`, for a BLPOP waiting on it. */
const WAKE = `local function wake(key)
  redis.call('RPUSH', key, '1') redis.call('LTRIM', key, -1, -1) redis.call('PEXPIRE', key, 2000)
end
`;

/**
 * The list's index ARGV[2], counted from the end when negative, and the list's length; the
 * index is nil when out of range (the script then answers {length}).
 */
const INDEX = `local function at()
  local n = redis.call('LLEN', KEYS[2])
  local i = tonumber(ARGV[2])
  if i < 0 then i = i + n end
  if i < 0 or i >= n then return nil, n end
  return i, n
end
`;

const script = (body: string, ...helpers: string[]) =>
  new Script(PRELUDE + helpers.join("") + body);

/**
 * Makes an object unless one of that name exists; returns its param (the stored one when it
 * existed), or {kind} when the name belongs to another kind. ARGV: ttl, kind, param, init...
 */
export const CREATE: Script = script(`local k = redis.call('HGET', KEYS[1], 'kind')
if k then
  if k ~= ARGV[2] then return {k} end
  return tonumber(redis.call('HGET', KEYS[1], 'param') or '0')
end
redis.call('HSET', KEYS[1], 'kind', ARGV[2], 'param', ARGV[3])
if ARGV[2] == 'dict' then
  local seq = 0
  for i = 4, #ARGV, 2 do
    if redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
      seq = seq + 1
      redis.call('ZADD', KEYS[3], seq, ARGV[i])
    end
  end
  redis.call('HSET', KEYS[1], 'seq', seq)
elseif ARGV[2] == 'namespace' then
  for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
elseif ARGV[2] == 'list' and #ARGV >= 4 then
  in_chunks('RPUSH', KEYS[2], ARGV, 4, #ARGV)
end
touch(#KEYS)
return tonumber(ARGV[3])`);

/** Refreshes the expiry of an unnamed object's keys. */
export const TOUCH: Script = script(`touch(#KEYS) return 1`);

// ---- dict: KEYS meta h o --------------------------------------------------------------------

/** Sets fields, new ones last in order. ARGV: ttl, field, value, field, value... */
export const DICT_UPDATE: Script = script(`for i = 2, #ARGV, 2 do
  if redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[i])
  end
end
touch(3) return 1`);

/** Deletes a field; 1 when it was there. ARGV: ttl, field. */
export const DICT_DELETE: Script = script(
  `local n = redis.call('HDEL', KEYS[2], ARGV[2]) redis.call('ZREM', KEYS[3], ARGV[2]) return n`,
);

/** Deletes a field and returns its value (nil when none). ARGV: ttl, field. */
export const DICT_POP: Script = script(`local v = redis.call('HGET', KEYS[2], ARGV[2])
if v then redis.call('HDEL', KEYS[2], ARGV[2]) redis.call('ZREM', KEYS[3], ARGV[2]) end
return v`);

/** Sets a field unless it is there; returns its value. ARGV: ttl, field, value. */
export const DICT_SET_DEFAULT: Script = script(
  `if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 1 then
  redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[2])
  touch(3)
end
return redis.call('HGET', KEYS[2], ARGV[2])`,
);

/** Field, value, field, value... in insertion order. ARGV: ttl. */
export const DICT_ENTRIES: Script = script(`local out = {}
for _, f in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local v = redis.call('HGET', KEYS[2], f)
  if v then out[#out + 1] = f out[#out + 1] = v end
end
return out`);

// ---- list: KEYS meta l -----------------------------------------------------------------------

/** Appends values; returns the new length. ARGV: ttl, values... */
export const LIST_PUSH: Script = script(
  `in_chunks('RPUSH', KEYS[2], ARGV, 2, #ARGV) touch(2) return redis.call('LLEN', KEYS[2])`,
);

/** Sets the value at an index; {length} when out of range. ARGV: ttl, index, value. */
export const LIST_SET: Script = script(
  `local i, n = at()
if not i then return {n} end
redis.call('LSET', KEYS[2], i, ARGV[3]) touch(2) return 1`,
  INDEX,
);

/**
 * Takes out the value at an index; {length} when out of range. ARGV: ttl, index, tombstone (a
 * value no encoded value equals, put in place before LREM takes it out).
 */
export const LIST_POP: Script = script(
  `local i, n = at()
if not i then return {n} end
if i == 0 then return redis.call('LPOP', KEYS[2]) end
if i == n - 1 then return redis.call('RPOP', KEYS[2]) end
local v = redis.call('LINDEX', KEYS[2], i)
redis.call('LSET', KEYS[2], i, ARGV[3]) redis.call('LREM', KEYS[2], 1, ARGV[3])
return v`,
  INDEX,
);

/** Inserts a value before an index (clamped, as Array.splice does). ARGV: ttl, index, value, tombstone. */
export const LIST_INSERT: Script = script(`local n = redis.call('LLEN', KEYS[2])
local i = tonumber(ARGV[2])
if i < 0 then i = math.max(0, i + n) end
if i >= n then redis.call('RPUSH', KEYS[2], ARGV[3])
elseif i == 0 then redis.call('LPUSH', KEYS[2], ARGV[3])
else
  local pivot = redis.call('LINDEX', KEYS[2], i)
  redis.call('LSET', KEYS[2], i, ARGV[4])
  redis.call('LINSERT', KEYS[2], 'BEFORE', ARGV[4], ARGV[3])
  redis.call('LSET', KEYS[2], i + 1, pivot)
end
touch(2) return 1`);

/** Reverses the list in place. ARGV: ttl. */
export const LIST_REVERSE: Script = script(`local a = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
for i = #a, 1, -1 do redis.call('RPUSH', KEYS[2], a[i]) end
touch(2) return 1`);

// ---- namespace: KEYS meta h ------------------------------------------------------------------

/** Sets a field. ARGV: ttl, name, value. */
export const NS_SET: Script = script(
  `redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) touch(2) return 1`,
);

// ---- lock: KEYS meta lock wake ---------------------------------------------------------------

/**
 * Releases the lock if `token` holds it (1), waking a waiter; else 0 when another holds it, -1
 * when nobody does. ARGV: ttl, token.
 */
export const LOCK_RELEASE: Script = script(
  `if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
  wake(KEYS[3])
  return 1
end
return redis.call('EXISTS', KEYS[2]) - 1`,
  WAKE,
);

/** Renews the lease if `token` holds the lock (1); else 0. ARGV: ttl, token, lease ms. */
export const LOCK_RENEW: Script = script(`if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3]) touch(1) return 1
end
return 0`);

// ---- queue: KEYS meta q space ----------------------------------------------------------------

/** Appends an item unless `maxsize` wait (1; else -1). ARGV: ttl, maxsize (0: none), item. */
export const QUEUE_PUT: Script = script(`local max = tonumber(ARGV[2])
if max > 0 and redis.call('LLEN', KEYS[2]) >= max then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[3]) touch(2) return 1`);

/** Takes the oldest item (nil when none), waking a waiting put. ARGV: ttl, maxsize. */
export const QUEUE_TAKE: Script = script(
  `local v = redis.call('LPOP', KEYS[2])
if v and tonumber(ARGV[2]) > 0 then wake(KEYS[3]) end
return v`,
  WAKE,
);

/** Wakes a waiting put (a BLPOP took an item). ARGV: ttl. */
export const SPACE_MADE: Script = script(`wake(KEYS[3]) return 1`, WAKE);
