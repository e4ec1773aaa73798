// What every manager proxy does with its object: the state it names it by (kept in a WeakMap,
// so that the proxy's own fields stay private), one call to its manager (./_manager_client.ts)
// or to Redis (../_core/_redis.ts, loaded only when a Redis proxy is used).

import { type Link, loadRedisManager } from "../_core/_redis.ts";
import { managerCall, type ManagerRef } from "./_manager_client.ts";
import type { ProxyState, RedisProxyState } from "./proxy.ts";

/** The reviver type of every manager proxy. */
export const PROXY_TYPE = "ipc.ManagerProxy";
/** What a proxy names, kept apart from it (its fields stay private). */
export interface Ref {
  ref?: ManagerRef;
  state: ProxyState | RedisProxyState;
  /** A Redis proxy's link: its manager's, or this process's for its URL. */
  link?: Promise<Link>;
}
/** Every proxy's {@link Ref}, set by its constructor. */
export const refs: WeakMap<object, Ref> = new WeakMap();

/** Calls `method` on the object `proxy` names, in its manager or in Redis. */
export function call(
  proxy: object,
  method: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  const r = refs.get(proxy)!;
  if (r.ref) return managerCall(r.ref, (r.state as ProxyState).id, method, args, signal);
  return redisCall(r, method, args, signal);
}

async function redisCall(r: Ref, method: string, args: unknown[], signal?: AbortSignal) {
  const m = await loadRedisManager();
  const state = r.state as RedisProxyState;
  r.link ??= m.linkFor(state.url);
  r.link.catch(() => r.link = undefined); // the next call tries again
  return await m.redisCall(await r.link, state, method, args, signal);
}

/** A wait's timeout as the manager takes it: null for none. */
export function checkTimeout(timeout: number | undefined, what: string): number | null {
  if (timeout === undefined || timeout === Infinity) return null;
  if (!(timeout >= 0)) throw new RangeError(`Cannot ${what}: timeout must be >= 0, got ${timeout}`);
  return timeout;
}

/** A dict's entries, from a plain object or an iterable of pairs. */
export function toEntries<K, V>(
  init: Record<string, V> | Iterable<readonly [K, V]>,
): [unknown, V][] {
  if (init instanceof Map || Array.isArray(init)) return [...init] as [unknown, V][];
  if (typeof (init as Iterable<unknown>)[Symbol.iterator] === "function") {
    return [...(init as Iterable<[K, V]>)];
  }
  return Object.entries(init as Record<string, V>);
}
