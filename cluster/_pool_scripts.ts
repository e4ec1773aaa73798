// The keys and Lua scripts of pools on Redis, each script atomic on the server.
//   mp:pool:tasks         STREAM every pool's tasks, one entry each: fields p (pool id), i (task
//                                id), m (max deliveries), f (export name), k (kind), d (payload)
//                                read by the consumer group `workers`, one consumer per worker
//   mp:pool:dead          STREAM tasks delivered maxDeliveries times, their workers lost each
//                                time (capped, MAXLEN ~ DEAD_MAX), kept for an operator to see
//   mp:workers            ZSET   worker -> when its registration ends (ms, the server's clock);
//                                a member is "PROCESSES:NAME"
//   mp:pool:{ID}:config   STRING the pool's options (wire form, ./_wire.ts), read once by a
//                                worker that meets the pool
//   mp:pool:{ID}:alive    STRING present while the caller lives (PX expireAfter, refreshed)
//   mp:pool:{ID}:results  LIST   outcomes for the caller: the task id (float64, little-endian),
//                                then [ok, value] in wire form, or LOST and "<deliveries> <dead
//                                entry id>" for a task given up
// The scripts that name a pool's keys from inside (RECLAIM) address keys not passed in KEYS: a
// Redis Cluster would need the pool's keys and the stream in one slot, which this layout does
// not promise.

import { type Link, Script } from "./_client.ts";
import { IN_CHUNKS_LUA } from "./_lua.ts";

export const TASKS = "mp:pool:tasks";
export const GROUP = "workers";
export const DEAD = "mp:pool:dead";
export const WORKERS = "mp:workers";
/** The lease (ms) that every worker of the broker uses, set by the first one. */
export const LEASE = "mp:pool:lease";
/** About how many entries the dead-letter stream keeps. */
export const DEAD_MAX = 10_000;
/** The byte after the task id of a results element that reports a task given up (no codec kind). */
export const LOST = 0xff;

/** The keys of pool `id`. */
export interface PoolKeys {
  config: string;
  alive: string;
  results: string;
}

/** The keys of pool `id`. */
export function poolKeys(id: string): PoolKeys {
  const base = `mp:pool:{${id}}:`;
  return { config: base + "config", alive: base + "alive", results: base + "results" };
}

/**
 * Lua: `workers_group(key)`, the XINFO GROUPS fields of the group `workers` of stream `key` by
 * name (an empty table when there is none); `id_parts(id)`, an entry id's two numbers;
 * `id_after(a, b)`, whether entry id `a` comes after `b`; and `in_chunks` (./_lua.ts).
 */
const GROUP_LUA = IN_CHUNKS_LUA + `
local function workers_group(key)
  for _, g in ipairs(redis.call('XINFO', 'GROUPS', key)) do
    local h = {}
    for j = 1, #g, 2 do h[g[j]] = g[j + 1] end
    if h.name == 'workers' then return h end
  end
  return {}
end
local function id_parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function id_after(a, b)
  local am, as = id_parts(a)
  local bm, bs = id_parts(b)
  return am > bm or (am == bm and as > bs)
end
`;

/**
 * Adds a batch of tasks, in order; returns the first and the last entry id (the script is
 * atomic: the batch's entries are every entry between them).
 * KEYS: tasks. ARGV: pool id, max deliveries, then (task id, name, kind, payload) per task
 * (as arguments: Redis makes them Lua strings faster than Lua would split one packed string).
 */
export const SUBMIT: Script = new Script(`
local first, last
for i = 3, #ARGV, 4 do
  last = redis.call('XADD', KEYS[1], '*', 'p', ARGV[1], 'i', ARGV[i], 'm', ARGV[2],
    'f', ARGV[i + 1], 'k', ARGV[i + 2], 'd', ARGV[i + 3])
  first = first or last
end
return {first, last}
`);

/**
 * The caller's heartbeat: keeps the pool alive and its keys from expiring; returns the
 * processes of the workers registered now, or -1, refreshing nothing, when the pool's keys are
 * gone (its config; its alive key too, but for the first beat, ARGV[2] "0"): they expired (the
 * caller stalled longer than expireAfter) or were removed (FLUSHALL, eviction).
 * KEYS: alive, config, results, workers. ARGV: expiry ms, "1" to check the alive key.
 */
export const BEAT: Script = new Script(`
if redis.call('EXISTS', KEYS[2]) == 0 or (ARGV[2] == '1' and redis.call('EXISTS', KEYS[1]) == 0) then
  return -1
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[1])
local t = redis.call('TIME')
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', tonumber(t[1]) * 1000)
local total = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[4], 0, -1)) do
  total = total + tonumber(string.match(m, '^(%d+)'))
end
return total
`);

/**
 * Ends a pool: deletes its keys and the entries of the batches given (those with tasks not
 * settled), each batch as its first and last entry id (SUBMIT).
 * KEYS: tasks, config, alive, results. ARGV: pool id, then (first, last) per batch.
 */
export const END: Script = new Script(
  GROUP_LUA + `
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
local newest
for i = 2, #ARGV - 1, 2 do
  local ids = {}
  for _, e in ipairs(redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i + 1])) do
    if e[2][1] == 'p' and e[2][2] == ARGV[1] then ids[#ids + 1] = e[1] end
  end
  in_chunks('XDEL', KEYS[1], ids, 1, #ids)
  if #ids > 0 and (not newest or id_after(ids[#ids], newest)) then newest = ids[#ids] end
end
local g = newest and workers_group(KEYS[1])
if g and id_after(newest, g['last-delivered-id']) then
  -- Entries no worker took were deleted. Redis 7.0 counts a read past such a gap as one entry
  -- read, whatever the gap: the group's lag would stay too high for good, and FINISH would keep
  -- that many more finished entries behind a long task. The count is made unknown here (SETID
  -- to the same id): Redis counts it again, exactly, or reports no lag.
  redis.call('XGROUP', 'SETID', KEYS[1], 'workers', g['last-delivered-id'])
end
return 0
`,
);

/**
 * A worker meets a pool: its config, nil when its caller is gone, or "" when the pool is alive
 * but its config is gone (removed).
 * KEYS: config, alive.
 */
export const MEET: Script = new Script(`
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
return redis.call('GET', KEYS[1]) or ''
`);

/**
 * How many acknowledged entries the task stream may keep behind its oldest pending one before
 * FINISH deletes them one by one (a task held for hours keeps the stream from being trimmed).
 */
export const RETAIN = 20_000;

/**
 * Tasks done: acknowledges the entries, and hands the caller the outcome of each entry that this
 * call acknowledged (not one that another delivery finished first), while the caller lives. An
 * empty outcome drops the entry. Returns how many outcomes it handed over.
 * Acknowledged entries are trimmed from the stream's head (XTRIM MINID: every entry before the
 * oldest one still pending, or up to the last one delivered when none is): XDEL of each entry
 * costs the server several times more, as it seeks the stream's first live entry again. While
 * more than RETAIN acknowledged entries wait behind an old pending one (or where the server
 * cannot count them: no `lag`, before Redis 7), they are deleted one by one instead.
 * KEYS: tasks, results, alive. ARGV: expiry ms, then (entry id, outcome) per task.
 */
export const FINISH: Script = new Script(
  GROUP_LUA + `
local out, acked = {}, {}
for i = 2, #ARGV, 2 do
  if redis.call('XACK', KEYS[1], 'workers', ARGV[i]) == 1 then
    acked[#acked + 1] = ARGV[i]
    if ARGV[i + 1] ~= '' then out[#out + 1] = ARGV[i + 1] end
  end
end
if #acked > 0 then
  local p, g = redis.call('XPENDING', KEYS[1], 'workers'), workers_group(KEYS[1])
  local last, lag = g['last-delivered-id'], g.lag
  local floor = p[2]
  if not floor then -- none pending: every entry up to the last one delivered is acknowledged
    local ms, seq = id_parts(last)
    floor = string.format('%d-%d', ms, seq + 1)
  end
  redis.call('XTRIM', KEYS[1], 'MINID', floor)
  if not lag or redis.call('XLEN', KEYS[1]) - p[1] - lag > ${RETAIN} then
    in_chunks('XDEL', KEYS[1], acked, 1, #acked)
  end
end
if #out > 0 and redis.call('EXISTS', KEYS[3]) == 1 then
  in_chunks('RPUSH', KEYS[2], out, 1, #out)
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  return #out
end
return 0
`,
);

/**
 * A worker's lease renewal: resets the idle time of the entries it holds that are still its
 * own (JUSTID: the delivery count stays). Returns how many it renewed.
 * KEYS: tasks. ARGV: consumer, entry ids.
 */
export const RENEW: Script = new Script(`
local mine = {}
for i = 2, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[1] then mine[#mine + 1] = ARGV[i] end
end
local n = #mine
if n == 0 then return 0 end
mine[n + 1] = 'JUSTID'
redis.call('XCLAIM', KEYS[1], 'workers', ARGV[1], 0, unpack(mine))
return n
`);

/**
 * A worker's timer: registers it (ZADD, until now + ttl) and takes over up to n entries whose
 * lease ended (idle past `lease`): an entry delivered max times already goes to the dead-letter
 * stream and its caller is told; the others are claimed for this worker (a new delivery) and
 * returned, as XREADGROUP returns entries. The caller's results list lives as long as its alive
 * key (PTTL). A malformed entry (fields missing) counts as delivered once at most.
 * It also keeps the broker's lease key (the workers' one lease) as long as the registration.
 * KEYS: tasks, dead, workers, lease. ARGV: consumer, lease ms, n, member, ttl ms.
 */
export const RECLAIM: Script = new Script(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[4])
redis.call('SET', KEYS[4], ARGV[2], 'NX', 'PX', ARGV[5])
redis.call('PEXPIRE', KEYS[4], ARGV[5])
if tonumber(ARGV[3]) == 0 then return {} end
local claim = {}
for _, p in ipairs(redis.call('XPENDING', KEYS[1], 'workers', 'IDLE', ARGV[2], '-', '+', ARGV[3])) do
  local id, owner, count = p[1], p[2], p[4]
  local e = redis.call('XRANGE', KEYS[1], id, id)[1]
  if not e then
    redis.call('XACK', KEYS[1], 'workers', id)
  else
    local f = {}
    for j = 1, #e[2], 2 do f[e[2][j]] = e[2][j + 1] end
    if count >= (tonumber(f.m) or 1) then
      local dead = redis.call('XADD', KEYS[2], 'MAXLEN', '~', '${DEAD_MAX}', '*',
        'pool', f.p or '', 'task', f.i or '', 'fn', f.f or '', 'deliveries', count,
        'lastConsumer', owner, 'reason', 'its worker was lost at each delivery',
        'k', f.k or '', 'd', f.d or '')
      redis.call('XACK', KEYS[1], 'workers', id)
      redis.call('XDEL', KEYS[1], id)
      local base = 'mp:pool:{' .. (f.p or '') .. '}:'
      local ttl = redis.call('PTTL', base .. 'alive')
      if f.p and tonumber(f.i) and ttl ~= -2 then
        redis.call('RPUSH', base .. 'results',
          struct.pack('<d', tonumber(f.i)) .. '\\255' .. count .. ' ' .. dead)
        if ttl > 0 then redis.call('PEXPIRE', base .. 'results', ttl) end
      end
    else
      claim[#claim + 1] = id
    end
  end
end
if #claim == 0 then return {} end
return redis.call('XCLAIM', KEYS[1], 'workers', ARGV[1], ARGV[2], unpack(claim))
`);

/** Creates the consumer group and its stream, unless they exist. */
export async function ensureGroup(link: Link): Promise<void> {
  try {
    await link.send(["XGROUP", "CREATE", TASKS, GROUP, "0", "MKSTREAM"], "create the task stream");
  } catch (e) {
    if (!/BUSYGROUP/.test((e as Error).message)) throw e;
  }
}

/**
 * The lease that the broker's workers use: the one already recorded, or ARGV[1] (or, when it
 * is '', ARGV[2], the default), recorded for ARGV[3] ms. Returns the lease in force.
 * KEYS: lease. ARGV: wanted ms or '', default ms, ttl ms.
 */
export const AGREE_LEASE: Script = new Script(`
local cur = redis.call('GET', KEYS[1])
if cur then return tonumber(cur) end
local lease = ARGV[1] ~= '' and ARGV[1] or ARGV[2]
redis.call('SET', KEYS[1], lease, 'PX', ARGV[3])
return tonumber(lease)
`);
