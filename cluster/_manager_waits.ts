// The calls of a Redis manager's proxies that may wait (./_manager_redis.ts): a lock's acquire
// and release, a queue's put and get.
//
// A lock is held by the process that acquired it (a token); its key expires a lease after the
// holder last renewed it (a timer, every lease/3, in the holder's process), so a crashed
// holder's lock frees. A wait sleeps in a BLPOP on the object's wake-up list (pushed by a
// release, or by a get that made room), for at most a second at a time, then looks again.

import type { Buffer } from "node:buffer";
import { QueueEmptyError, QueueFullError } from "../ipc/queue.ts";
import type { Link } from "./_client.ts";
import { type Call, dec, enc, type RedisState } from "./_manager_call.ts";
import {
  keysOf,
  LOCK_RELEASE,
  LOCK_RENEW,
  QUEUE_PUT,
  QUEUE_TAKE,
  SPACE_MADE,
} from "./_manager_scripts.ts";

/** Waits up to `ms` (at most 1 s at a time) for a wake-up pushed to `key`. */
async function waitOn(c: Call, key: string, ms: number): Promise<void> {
  const s = Math.max(0.01, Math.min(ms, 1000) / 1000);
  await c.blocking(["BLPOP", key, s.toFixed(3)]);
}

function deadlineOf(timeout: unknown): number {
  return timeout === null || timeout === undefined ? Infinity : performance.now() + Number(timeout);
}

// ---- locks held by this process --------------------------------------------------------------

interface Hold {
  token: string;
  timer: ReturnType<typeof setInterval>;
  link: Link;
  state: RedisState;
}
const holds = new Map<string, Hold>();
const holdKey = (s: RedisState) => `${s.url}\n${s.name}`;

/** Releases the lock `s` held by `token`, through `link`: 1 when it was held so. */
function unlock(link: Link, s: RedisState, token: string, what: string) {
  return link.eval(LOCK_RELEASE, keysOf("lock", s.name), ["0", token], what);
}

function renewTimer(c: Call, token: string): ReturnType<typeof setInterval> {
  const s = c.s;
  const timer = setInterval(() => {
    c.link.eval(LOCK_RENEW, c.keys, [c.ttl, token, String(s.param)], "renew the lock").then(
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

/** A lock's acquire(timeout): true once held, false when the timeout passed first. */
export async function acquire(c: Call, timeout: unknown): Promise<boolean> {
  const [, lockKey, wakeKey] = c.keys;
  const token = crypto.randomUUID();
  const deadline = deadlineOf(timeout);
  for (;;) {
    c.signal?.throwIfAborted();
    if (await c.send(["SET", lockKey, token, "NX", "PX", String(c.s.param)]) === "OK") {
      if (c.link.closed) { // closed while the answer travelled: hand it back at once
        await unlock(c.link, c.s, token, c.what).catch(() => {});
        throw new TypeError("Cannot acquire the lock: the manager is closed");
      }
      holds.set(holdKey(c.s), { token, link: c.link, state: c.s, timer: renewTimer(c, token) });
      return true;
    }
    const left = deadline - performance.now();
    if (left <= 0) return false;
    const pttl = Number(await c.send(["PTTL", lockKey]));
    await waitOn(c, wakeKey, Math.min(left, pttl > 0 ? pttl : 10));
  }
}

/** A lock's release(), by the process that holds it. */
export async function release(c: Call): Promise<void> {
  const h = holds.get(holdKey(c.s));
  if (!h) {
    const locked = await c.send(["EXISTS", c.keys[1]]);
    throw new RangeError(
      locked === 1
        ? "Cannot release the lock: another process holds it"
        : "Cannot release the lock: it is not locked",
    );
  }
  clearInterval(h.timer);
  holds.delete(holdKey(c.s));
  if (await unlock(c.link, c.s, h.token, c.what) !== 1) {
    throw new RangeError(
      "Cannot release the lock: its lease ran out before release (the holder was away longer " +
        "than the lease), so another process may have taken it",
    );
  }
}

/** Releases the locks this process holds through `link` (its manager is closing). */
export async function releaseHolds(link: Link): Promise<void> {
  const mine = [...holds.values()].filter((h) => h.link === link);
  for (const h of mine) {
    clearInterval(h.timer);
    holds.delete(holdKey(h.state));
  }
  await Promise.all(
    mine.map((h) => unlock(link, h.state, h.token, "release the lock").catch(() => {})),
  );
}

// ---- queue -----------------------------------------------------------------------------------

/** A queue's put(item, timeout): waits while `maxsize` items wait. */
export async function put(c: Call, item: unknown, timeout: unknown): Promise<void> {
  const v = enc(item, "item");
  const deadline = deadlineOf(timeout);
  for (;;) {
    c.signal?.throwIfAborted();
    if (await c.eval(QUEUE_PUT, [c.ttl, String(c.s.param), v]) === 1) return;
    const left = deadline - performance.now();
    if (left <= 0) throw new QueueFullError("Cannot put: the manager's queue is full");
    await waitOn(c, c.keys[2], Math.min(left, 250));
  }
}

/** A queue's get(timeout): the oldest item, once there is one. */
export async function get(c: Call, timeout: unknown): Promise<unknown> {
  const deadline = deadlineOf(timeout);
  for (;;) {
    c.signal?.throwIfAborted();
    const v = await c.eval(QUEUE_TAKE, [c.ttl, String(c.s.param)]);
    if (v !== null) return dec(v);
    const left = deadline - performance.now();
    if (left <= 0) throw new QueueEmptyError("Cannot get: the manager's queue is empty");
    // BLPOP takes the item itself; 0 waits without end (a lost server ends it with an error)
    const secs = left === Infinity ? "0" : Math.max(0.01, left / 1000).toFixed(3);
    const r = await c.blocking(["BLPOP", c.keys[1], secs]) as [Buffer, Buffer] | null;
    if (r !== null) {
      if (c.s.param > 0) c.eval(SPACE_MADE, ["0"]).catch(() => {});
      return dec(r[1]);
    }
  }
}
