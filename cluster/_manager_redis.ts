// The objects of a Manager connected to Redis (`Manager.connect("redis://...")`): dicts, lists,
// namespaces, locks and queues kept in Redis, so that every process reaching the same server
// sees the same ones. ../ipc/manager.ts imports this module only when such a manager connects
// or a proxy of one is used, so local users never load it (nor npm:redis, ./_manager_conn.ts).
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
// Fields of a dict are its keys tagged by type ("s" string, "n" number, "i" bigint, "t"/"f",
// "z" null, "u" undefined); values are one kind byte then the package codec's bytes
// (../process/_codec.ts). A named object lives until it is cleared; an unnamed one belongs to
// the manager that made it: deleted by its close(), and its keys expire TTL ms after that
// manager last refreshed them (every TTL/3) or anyone last wrote to it, so a crashed process
// leaves nothing behind for long. A lock's key expires a lease after its holder last renewed it
// (a timer, every lease/3, in the holder's process), so a crashed holder's lock frees.

import { Buffer } from "node:buffer";
import { decodeItem, encodeItem } from "../process/_codec.ts";
import { QueueEmptyError, QueueFullError } from "../ipc/queue.ts";
import { type Arg, RedisConn } from "./_manager_conn.ts";

/** The kinds of objects. */
export type Kind = "dict" | "list" | "namespace" | "lock" | "queue";

/** What a proxy of a Redis object is made of; it travels to other processes as this. */
export interface RedisState {
  readonly kind: Kind;
  /** The broker URL. */
  readonly url: string;
  /** The object's name. */
  readonly name: string;
  /** Milliseconds after which an unnamed object's keys expire unless refreshed; 0 when named. */
  readonly ttl: number;
  /** A queue's maxsize (0: no bound), a lock's lease in milliseconds; else 0. */
  readonly param: number;
}

/** How long an unnamed object's keys live after the last refresh or write. */
export const ANON_TTL = 30_000;
/** A lock's lease unless given. */
export const DEFAULT_LEASE = 10_000;

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

/** Checks a name given by the user. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name === "" || /[{}]/.test(name)) {
    throw new TypeError(`${what}: a name must be a non-empty string without '{' or '}'`);
  }
  return name;
}

// ---- scripts -------------------------------------------------------------------------------

const PRELUDE = `local ttl = tonumber(ARGV[1])
local function touch(n) if ttl > 0 then for i = 1, n do redis.call('PEXPIRE', KEYS[i], ttl) end end end
local function push(cmd, key, from, to)
  for i = from, to, 1000 do redis.call(cmd, key, unpack(ARGV, i, math.min(i + 999, to))) end
end
`;
const TOMB = Buffer.from([0xff, 0x6d, 0x70]); // no encoded value starts with 0xff

const S = {
  // ARGV: ttl, kind, param, init...
  create: `local k = redis.call('HGET', KEYS[1], 'kind')
if k then
  if k ~= ARGV[2] then return redis.error_reply('KIND the name is taken by a ' .. k) end
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
  push('RPUSH', KEYS[2], 4, #ARGV)
end
touch(#KEYS)
return tonumber(ARGV[3])`,
  touch: `touch(#KEYS) return 1`,
  // dict: KEYS meta h o
  dictUpdate: `for i = 2, #ARGV, 2 do
  if redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[i])
  end
end
touch(3) return 1`,
  dictDelete:
    `local n = redis.call('HDEL', KEYS[2], ARGV[2]) redis.call('ZREM', KEYS[3], ARGV[2]) return n`,
  dictPop: `local v = redis.call('HGET', KEYS[2], ARGV[2])
if v then redis.call('HDEL', KEYS[2], ARGV[2]) redis.call('ZREM', KEYS[3], ARGV[2]) end
return v`,
  dictSetDefault: `if redis.call('HSETNX', KEYS[2], ARGV[2], ARGV[3]) == 1 then
  redis.call('ZADD', KEYS[3], redis.call('HINCRBY', KEYS[1], 'seq', 1), ARGV[2])
  touch(3)
end
return redis.call('HGET', KEYS[2], ARGV[2])`,
  dictEntries: `local out = {}
for _, f in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  local v = redis.call('HGET', KEYS[2], f)
  if v then out[#out + 1] = f out[#out + 1] = v end
end
return out`,
  // list: KEYS meta l
  listPush: `push('RPUSH', KEYS[2], 2, #ARGV) touch(2) return redis.call('LLEN', KEYS[2])`,
  listSet: `local n = redis.call('LLEN', KEYS[2])
local i = tonumber(ARGV[2])
if i < 0 then i = i + n end
if i < 0 or i >= n then
  return redis.error_reply('RANGE Cannot set: index ' .. ARGV[2] .. ' is out of range (length ' .. n .. ')')
end
redis.call('LSET', KEYS[2], i, ARGV[3]) touch(2) return 1`,
  listPop: `local n = redis.call('LLEN', KEYS[2])
local i = tonumber(ARGV[2])
if i < 0 then i = i + n end
if i < 0 or i >= n then
  return redis.error_reply('RANGE Cannot pop: index ' .. ARGV[2] .. ' is out of range (length ' .. n .. ')')
end
if i == 0 then return redis.call('LPOP', KEYS[2]) end
if i == n - 1 then return redis.call('RPOP', KEYS[2]) end
local v = redis.call('LINDEX', KEYS[2], i)
redis.call('LSET', KEYS[2], i, ARGV[3]) redis.call('LREM', KEYS[2], 1, ARGV[3])
return v`,
  listInsert: `local n = redis.call('LLEN', KEYS[2])
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
touch(2) return 1`,
  listReverse: `local a = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[2])
for i = #a, 1, -1 do redis.call('RPUSH', KEYS[2], a[i]) end
touch(2) return 1`,
  // namespace: KEYS meta h
  nsSet: `redis.call('HSET', KEYS[2], ARGV[2], ARGV[3]) touch(2) return 1`,
  // lock: KEYS meta lock wake; ARGV ttl token lease
  lockRelease: `if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('DEL', KEYS[2])
  redis.call('RPUSH', KEYS[3], '1') redis.call('LTRIM', KEYS[3], -1, -1) redis.call('PEXPIRE', KEYS[3], 2000)
  return 1
end
return redis.call('EXISTS', KEYS[2]) - 1`,
  lockRenew: `if redis.call('GET', KEYS[2]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[2], ARGV[3]) touch(1) return 1
end
return 0`,
  // queue: KEYS meta q space; ARGV ttl maxsize [item]
  queuePut: `local max = tonumber(ARGV[2])
if max > 0 and redis.call('LLEN', KEYS[2]) >= max then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[3]) touch(2) return 1`,
  queueTake: `local v = redis.call('LPOP', KEYS[2])
if v and tonumber(ARGV[2]) > 0 then
  redis.call('RPUSH', KEYS[3], '1') redis.call('LTRIM', KEYS[3], -1, -1) redis.call('PEXPIRE', KEYS[3], 2000)
end
return v`,
  spaceMade:
    `redis.call('RPUSH', KEYS[3], '1') redis.call('LTRIM', KEYS[3], -1, -1) redis.call('PEXPIRE', KEYS[3], 2000) return 1`,
};
type ScriptName = keyof typeof S;
const BODIES = Object.fromEntries(
  Object.entries(S).map(([k, v]) => [k, PRELUDE + v]),
) as Record<ScriptName, string>;

function script(
  conn: RedisConn,
  name: ScriptName,
  keys: string[],
  argv: Arg[],
  buffers = false,
): Promise<unknown> {
  return conn.send(["EVAL", BODIES[name], String(keys.length), ...keys, ...argv], buffers);
}

// ---- values --------------------------------------------------------------------------------

function enc(value: unknown, what: string): Buffer {
  const { kind, bytes } = encodeItem(value, what);
  const b = Buffer.allocUnsafe(bytes.length + 1);
  b[0] = kind;
  b.set(bytes, 1);
  return b;
}

function dec(b: unknown): unknown {
  const buf = b as Buffer;
  // a plain view: decodeItem copies a Uint8Array item with slice(), which a Buffer shares
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset + 1, buf.length - 1);
  return decodeItem(buf[0], bytes, false);
}

function fieldOf(key: unknown): string {
  switch (typeof key) {
    case "string":
      return "s" + key;
    case "number":
      return "n" + (Object.is(key, -0) ? "0" : String(key));
    case "bigint":
      return "i" + key;
    case "boolean":
      return key ? "t" : "f";
    case "undefined":
      return "u";
  }
  if (key === null) return "z";
  throw new TypeError(
    `A dict key must be a string, number, bigint, boolean or null, not ${typeof key}`,
  );
}

function keyOf(field: string): unknown {
  const rest = field.slice(1);
  switch (field[0]) {
    case "s":
      return rest;
    case "n":
      return Number(rest);
    case "i":
      return BigInt(rest);
    case "t":
      return true;
    case "f":
      return false;
    case "z":
      return null;
    case "u":
      return undefined;
  }
  throw new Error(`Corrupt dict key in Redis: '${field}'`);
}

function checkIndex(i: unknown, what: string): number {
  if (!Number.isInteger(i)) throw new TypeError(`Cannot ${what}: index must be an integer`);
  return i as number;
}

// ---- waiting -------------------------------------------------------------------------------

/** Waits up to `ms` (at most 1 s at a time) for a wake-up pushed to `key`. */
async function waitOn(conn: RedisConn, key: string, ms: number, signal?: AbortSignal) {
  const s = Math.max(0.01, Math.min(ms, 1000) / 1000);
  await conn.blocking(["BLPOP", key, s.toFixed(3)], signal);
}

function deadlineOf(timeout: unknown): number {
  return timeout === null || timeout === undefined ? Infinity : performance.now() + Number(timeout);
}

// ---- locks held by this process ------------------------------------------------------------

interface Hold {
  token: string;
  timer: ReturnType<typeof setInterval>;
  conn: RedisConn;
  state: RedisState;
}
const holds = new Map<string, Hold>();
const holdKey = (s: RedisState) => `${s.url}\n${s.name}`;

function renewTimer(
  conn: RedisConn,
  s: RedisState,
  token: string,
): ReturnType<typeof setInterval> {
  const keys = keysOf("lock", s.name);
  const timer = setInterval(() => {
    script(conn, "lockRenew", keys, [String(s.ttl), token, String(s.param)]).then(
      (ok) => {
        const h = holds.get(holdKey(s));
        if (ok === 0 && h?.token === token) { // the lease ran out: someone else may hold it
          clearInterval(h.timer);
          holds.delete(holdKey(s));
        }
      },
      () => {}, // the server is away: the next tick tries again; the lease may run out
    );
  }, Math.max(10, s.param / 3));
  Deno.unrefTimer(timer);
  return timer;
}

async function acquire(
  conn: RedisConn,
  s: RedisState,
  timeout: unknown,
  signal?: AbortSignal,
): Promise<boolean> {
  const [, lockKey, wakeKey] = keysOf("lock", s.name);
  const token = crypto.randomUUID();
  const deadline = deadlineOf(timeout);
  for (;;) {
    signal?.throwIfAborted();
    const ok = await conn.send(["SET", lockKey, token, "NX", "PX", String(s.param)]);
    if (ok === "OK") {
      if (conn.closed) { // closed while the answer travelled: hand it back at once
        await script(conn, "lockRelease", keysOf("lock", s.name), ["0", token]).catch(() => {});
        throw new TypeError("Cannot acquire the lock: the manager is closed");
      }
      holds.set(holdKey(s), { token, conn, state: s, timer: renewTimer(conn, s, token) });
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const pttl = Number(await conn.send(["PTTL", lockKey]));
    await waitOn(conn, wakeKey, Math.min(left, pttl > 0 ? pttl : 10), signal);
  }
}

async function release(conn: RedisConn, s: RedisState): Promise<void> {
  const h = holds.get(holdKey(s));
  if (!h) {
    const locked = await conn.send(["EXISTS", keysOf("lock", s.name)[1]]);
    throw new RangeError(
      locked === 1
        ? "Cannot release the lock: another process holds it"
        : "Cannot release the lock: it is not locked",
    );
  }
  clearInterval(h.timer);
  holds.delete(holdKey(s));
  const r = await script(conn, "lockRelease", keysOf("lock", s.name), ["0", h.token]);
  if (r !== 1) {
    throw new RangeError(
      "Cannot release the lock: its lease ran out before release (the holder was away longer " +
        "than the lease), so another process may have taken it",
    );
  }
}

/** Releases the locks this process holds through `conn` (its manager is closing). */
export async function releaseHolds(conn: RedisConn): Promise<void> {
  const mine = [...holds.values()].filter((h) => h.conn === conn);
  for (const h of mine) {
    clearInterval(h.timer);
    holds.delete(holdKey(h.state));
  }
  await Promise.all(
    mine.map((h) =>
      script(conn, "lockRelease", keysOf("lock", h.state.name), ["0", h.token]).catch(() => {})
    ),
  );
}

// ---- queue ---------------------------------------------------------------------------------

async function put(
  conn: RedisConn,
  s: RedisState,
  item: unknown,
  timeout: unknown,
  signal?: AbortSignal,
) {
  const keys = keysOf("queue", s.name);
  const v = enc(item, "item");
  const deadline = deadlineOf(timeout);
  for (;;) {
    signal?.throwIfAborted();
    if (await script(conn, "queuePut", keys, [String(s.ttl), String(s.param), v]) === 1) return;
    const left = deadline - performance.now();
    if (left <= 0) throw new QueueFullError("Cannot put: the manager's queue is full");
    await waitOn(conn, keys[2], Math.min(left, 250), signal);
  }
}

async function get(conn: RedisConn, s: RedisState, timeout: unknown, signal?: AbortSignal) {
  const keys = keysOf("queue", s.name);
  const deadline = deadlineOf(timeout);
  for (;;) {
    signal?.throwIfAborted();
    const v = await script(conn, "queueTake", keys, [String(s.ttl), String(s.param)], true);
    if (v !== null) return dec(v);
    const left = deadline - performance.now();
    if (left <= 0) throw new QueueEmptyError("Cannot get: the manager's queue is empty");
    // BLPOP takes the item itself; 0 waits without end (a lost server ends it with an error)
    const secs = left === Infinity ? "0" : Math.max(0.01, left / 1000).toFixed(3);
    const r = await conn.blocking(["BLPOP", keys[1], secs], signal) as [Buffer, Buffer] | null;
    if (r !== null) {
      if (s.param > 0) script(conn, "spaceMade", keys, ["0"]).catch(() => {});
      return dec(r[1]);
    }
  }
}

// ---- calls ---------------------------------------------------------------------------------

type Method = (conn: RedisConn, s: RedisState, a: unknown[], signal?: AbortSignal) => unknown;

const ttlOf = (s: RedisState) => String(s.ttl);
const dk = (s: RedisState) => keysOf("dict", s.name);
const lk = (s: RedisState) => keysOf("list", s.name);
const nk = (s: RedisState) => keysOf("namespace", s.name);

async function dictEntries(c: RedisConn, s: RedisState): Promise<[unknown, unknown][]> {
  const flat = await script(c, "dictEntries", dk(s), ["0"], true) as Buffer[];
  const out: [unknown, unknown][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([keyOf(flat[i].toString()), dec(flat[i + 1])]);
  return out;
}

const METHODS: Record<Kind, Record<string, Method>> = {
  dict: {
    async get(c, s, [k, d]) {
      const v = await c.send(["HGET", dk(s)[1], fieldOf(k)], true);
      return v === null ? d : dec(v);
    },
    set: (c, s, [k, v]) => script(c, "dictUpdate", dk(s), [ttlOf(s), fieldOf(k), enc(v, "value")]),
    has: async (c, s, [k]) => await c.send(["HEXISTS", dk(s)[1], fieldOf(k)]) === 1,
    delete: async (c, s, [k]) => await script(c, "dictDelete", dk(s), ["0", fieldOf(k)]) === 1,
    async pop(c, s, [k, d]) {
      const v = await script(c, "dictPop", dk(s), ["0", fieldOf(k)], true);
      return v === null ? d : dec(v);
    },
    setDefault: async (c, s, [k, v]) =>
      dec(await script(c, "dictSetDefault", dk(s), [ttlOf(s), fieldOf(k), enc(v, "value")], true)),
    update(c, s, [entries]) {
      const argv: Arg[] = [ttlOf(s)];
      for (const [k, v] of entries as [unknown, unknown][]) argv.push(fieldOf(k), enc(v, "value"));
      return argv.length > 1 ? script(c, "dictUpdate", dk(s), argv) : undefined;
    },
    keys: async (c, s) => (await c.send(["ZRANGE", dk(s)[2], "0", "-1"]) as string[]).map(keyOf),
    values: async (c, s) => (await dictEntries(c, s)).map((e) => e[1]),
    entries: (c, s) => dictEntries(c, s),
    size: (c, s) => c.send(["HLEN", dk(s)[1]]),
    clear: (c, s) => c.send(["DEL", dk(s)[1], dk(s)[2]]),
  },
  list: {
    async get(c, s, [i]) {
      const v = await c.send(["LINDEX", lk(s)[1], String(checkIndex(i, "get"))], true);
      if (v === null) {
        const n = await c.send(["LLEN", lk(s)[1]]);
        throw new RangeError(`Cannot get: index ${i} is out of range (length ${n})`);
      }
      return dec(v);
    },
    set: (c, s, [i, v]) =>
      script(c, "listSet", lk(s), [ttlOf(s), String(checkIndex(i, "set")), enc(v, "item")]),
    push: (c, s, items) =>
      items.length === 0
        ? c.send(["LLEN", lk(s)[1]])
        : script(c, "listPush", lk(s), [ttlOf(s), ...items.map((v) => enc(v, "item"))]),
    pop: async (c, s, [i = -1]) =>
      dec(await script(c, "listPop", lk(s), ["0", String(checkIndex(i, "pop")), TOMB], true)),
    insert: (c, s, [i, v]) =>
      script(c, "listInsert", lk(s), [
        ttlOf(s),
        String(Math.trunc(Number(i)) || 0),
        enc(v, "item"),
        TOMB,
      ]),
    remove: async (c, s, [v]) => (await c.send(["LREM", lk(s)[1], "1", enc(v, "item")])) === 1,
    async indexOf(c, s, [v]) {
      const i = await c.send(["LPOS", lk(s)[1], enc(v, "item")]);
      return i === null ? -1 : i;
    },
    includes: async (c, s, [v]) => (await c.send(["LPOS", lk(s)[1], enc(v, "item")])) !== null,
    length: (c, s) => c.send(["LLEN", lk(s)[1]]),
    async slice(c, s, [start, end]) {
      const a = start === undefined ? 0 : Math.trunc(Number(start)) || 0;
      const e = end === undefined ? undefined : Math.trunc(Number(end)) || 0;
      if (e === 0) return [];
      const last = e === undefined ? -1 : e - 1;
      // LRANGE's end is inclusive, and a negative end counts from the end as slice's does
      if (a >= 0 && e !== undefined && e > 0 && e <= a) return [];
      const r = await c.send(["LRANGE", lk(s)[1], String(a), String(last)], true) as Buffer[];
      return r.map(dec);
    },
    reverse: (c, s) => script(c, "listReverse", lk(s), [ttlOf(s)]),
    clear: (c, s) => c.send(["DEL", lk(s)[1]]),
  },
  namespace: {
    async get(c, s, [k]) {
      const v = await c.send(["HGET", nk(s)[1], String(k)], true);
      return v === null ? undefined : dec(v);
    },
    set: (c, s, [k, v]) => script(c, "nsSet", nk(s), [ttlOf(s), String(k), enc(v, "value")]),
    has: async (c, s, [k]) => await c.send(["HEXISTS", nk(s)[1], String(k)]) === 1,
    delete: async (c, s, [k]) => await c.send(["HDEL", nk(s)[1], String(k)]) === 1,
    async toObject(c, s) {
      const flat = await c.send(["HGETALL", nk(s)[1]], true) as Buffer[];
      const out: Record<string, unknown> = {};
      for (let i = 0; i < flat.length; i += 2) out[flat[i].toString()] = dec(flat[i + 1]);
      return out;
    },
  },
  lock: {
    acquire: (c, s, [timeout], signal) => acquire(c, s, timeout, signal),
    release: (c, s) => release(c, s),
    locked: async (c, s) => await c.send(["EXISTS", keysOf("lock", s.name)[1]]) === 1,
  },
  queue: {
    put: (c, s, [item, timeout], signal) => put(c, s, item, timeout, signal),
    putNowait: (c, s, [item]) => put(c, s, item, 0),
    get: (c, s, [timeout], signal) => get(c, s, timeout, signal),
    getNowait: (c, s) => get(c, s, 0),
    qsize: (c, s) => c.send(["LLEN", keysOf("queue", s.name)[1]]),
    empty: async (c, s) => await c.send(["LLEN", keysOf("queue", s.name)[1]]) === 0,
    full: async (c, s) =>
      s.param > 0 && Number(await c.send(["LLEN", keysOf("queue", s.name)[1]])) >= s.param,
  },
};

/** Calls `method` of the object `s` through `conn`. */
export async function redisCall(
  conn: RedisConn,
  s: RedisState,
  method: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  signal?.throwIfAborted();
  const m = METHODS[s.kind]?.[method];
  if (!m) throw new TypeError(`A Redis ${s.kind} has no method '${method}'`);
  return await m(conn, s, args, signal);
}

// ---- managers ------------------------------------------------------------------------------

/** The Redis side of a `Manager.connect("redis://...")`: its connection and unnamed objects. */
export class RedisManager {
  readonly conn: RedisConn;
  readonly url: string;
  #anon = new Map<string, RedisState>();
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(conn: RedisConn, url: string) {
    this.conn = conn;
    this.url = url;
  }

  /** Connects; fails at once with a clear error when the server cannot be used. */
  static async connect(url: string): Promise<RedisManager> {
    const conn = await RedisConn.open(url, "Cannot connect to the manager");
    try {
      await conn.send(["PING"]);
    } catch (e) {
      await conn.close();
      throw e;
    }
    const m = new RedisManager(conn, url);
    open.add(m);
    return m;
  }

  /**
   * Makes (or, for a name in use, finds) an object: `init` is stored only when it is new.
   *
   * @throws {TypeError} when the name belongs to an object of another kind.
   */
  async create(kind: Kind, name: string | undefined, init: unknown, param: number) {
    const ttl = name === undefined ? ANON_TTL : 0;
    const n = name ?? `anon-${crypto.randomUUID()}`;
    const argv: Arg[] = [String(ttl), kind, String(param)];
    if (kind === "dict") {
      for (const [k, v] of init as [unknown, unknown][]) argv.push(fieldOf(k), enc(v, "value"));
    } else if (kind === "namespace") {
      for (const [k, v] of Object.entries(init as object)) argv.push(k, enc(v, "value"));
    } else if (kind === "list") {
      for (const v of init as unknown[]) argv.push(enc(v, "item"));
    }
    let stored: number;
    try {
      stored = Number(await script(this.conn, "create", keysOf(kind, n), argv));
    } catch (e) {
      if (e instanceof TypeError) throw new TypeError(`Cannot make a ${kind} '${n}': ${e.message}`);
      throw e;
    }
    const state: RedisState = { kind, url: this.url, name: n, ttl, param: stored };
    if (ttl > 0) {
      this.#anon.set(n, state);
      this.#refresh();
    }
    return state;
  }

  #refresh(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      for (const s of this.#anon.values()) {
        script(this.conn, "touch", keysOf(s.kind, s.name), [String(s.ttl)]).catch(() => {});
      }
    }, ANON_TTL / 3);
    Deno.unrefTimer(this.#timer!);
  }

  /** Releases this process's locks, deletes the unnamed objects and closes the connection. */
  async close(): Promise<void> {
    open.delete(this);
    clearInterval(this.#timer);
    const tidy = (async () => {
      await releaseHolds(this.conn);
      await Promise.all(
        [...this.#anon.values()].map((s) =>
          this.conn.send(["DEL", ...keysOf(s.kind, s.name)]).catch(() => {})
        ),
      );
    })().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([tidy, new Promise((r) => timer = setTimeout(r, 2000))]);
    clearTimeout(timer);
    await this.conn.close();
  }
}

const open = new Set<RedisManager>();
const shared = new Map<string, Promise<RedisConn>>();

/**
 * The connection through which a proxy that reached this process (in `args`, or in a value)
 * calls: an open manager's for the same URL, else one this process opens once and keeps,
 * unref'd, for its lifetime.
 */
export function connFor(url: string): Promise<RedisConn> {
  for (const m of open) if (m.url === url) return Promise.resolve(m.conn);
  let c = shared.get(url);
  if (!c) {
    c = RedisConn.open(url, "Cannot reach the manager's Redis");
    shared.set(url, c);
    c.catch(() => shared.delete(url));
  }
  return c;
}
