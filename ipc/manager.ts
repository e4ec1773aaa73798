/**
 * `Manager`: a server of shared dicts, lists, namespaces, locks and queues, used through proxies
 * by any process that has its address and authkey, with the meaning of Python's
 * `multiprocessing.Manager()`.
 *
 * The server runs inside the process that calls `Manager.start()`, on its event loop (not in a
 * process of its own as in Python): it costs no start-up, it serves for as long as that process
 * runs, and it does not by itself keep that process alive. It ends with `shutdown()` (or
 * `await using`), which closes every connection and removes its Unix socket. Proxies in other
 * processes reach it through its socket; proxies in the starting process call it directly.
 * Either way values are copies: what a proxy returns is never the object the manager keeps.
 *
 * `Manager.connect("redis://host:6379")` makes the same proxies backed by a Redis server
 * instead, so that processes on different machines that share the URL share the objects; such
 * objects can be named, so that processes that never passed each other a proxy find the same
 * one (see {@link Manager.connect}).
 *
 * @module
 */

import { reduce, type Reduced, registerReviver } from "../process/_reduce.ts";
import {
  closeManagerLink,
  managerCall,
  managerConnect,
  type ManagerRef,
  managerRef,
  setLocalServer,
} from "./_manager_client.ts";
import { ManagerServer } from "./_manager_server.ts";
import { type Address, checkAddress, checkAuthkey } from "./_socket.ts";
import type { Link } from "../cluster/_client.ts";
import type { RedisManager } from "../cluster/_manager_redis.ts";

type RedisModule = typeof import("../cluster/_manager_redis.ts");
let redisModule: Promise<RedisModule> | undefined;
/** The Redis side, loaded (with npm:redis) only when a Redis manager or proxy is used. */
function loadRedis(): Promise<RedisModule> {
  return redisModule ??= import("../cluster/_manager_redis.ts");
}

/** A key of a manager dict. */
export type DictKey = string | number | bigint | boolean | null | undefined;

/** The kinds of objects a manager makes. */
export type ProxyKind = "dict" | "list" | "namespace" | "lock" | "queue";

/** What a proxy is made of; it travels to other processes as this. */
export interface ProxyState {
  /** The kind of object. */
  readonly kind: ProxyKind;
  /** The manager's address. */
  readonly address: Address;
  /** The manager's authkey. */
  readonly authkey: Uint8Array;
  /** The object's id in the manager. */
  readonly id: number;
}

/**
 * What a proxy of an object kept in Redis is made of (see {@link Manager.connect}); it travels
 * to other processes as this, and the copy connects to the URL by itself.
 */
export interface RedisProxyState {
  /** The kind of object. */
  readonly kind: ProxyKind;
  /** The Redis URL. */
  readonly url: string;
  /** The object's name in Redis. */
  readonly name: string;
  /** Milliseconds after which an unnamed object's keys expire unless refreshed; 0 if named. */
  readonly ttl: number;
  /** A queue's maxsize (0: no bound), or a lock's lease in milliseconds; else 0. */
  readonly param: number;
}

/** Options of a Redis manager's lock (see {@link Manager.lock}). */
export interface LockOptions {
  /**
   * For a manager connected to Redis: the milliseconds after which a holder that stopped
   * renewing its hold (its process died, or lost the server) loses the lock. A live holder's
   * process renews it every third of a lease by a timer. Fixed by whoever makes the lock first.
   * Ignored by a local manager, which frees a dead holder's lock at once.
   * @default {10000}
   */
  lease?: number;
}

/** Options of a proxy call that may wait. */
export interface ProxyWaitOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted (the call is cancelled in the manager too). @default {undefined} */
  signal?: AbortSignal;
}

const PROXY_TYPE = "ipc.ManagerProxy";
interface Ref {
  ref?: ManagerRef;
  state: ProxyState | RedisProxyState;
  /** A Redis proxy's link: its manager's, or this process's for its URL. */
  link?: Promise<Link>;
}
const refs = new WeakMap<ManagerProxy, Ref>();

function call(
  proxy: ManagerProxy,
  method: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  const r = refs.get(proxy)!;
  if (r.ref) return managerCall(r.ref, (r.state as ProxyState).id, method, args, signal);
  return redisCall(r, method, args, signal);
}

async function redisCall(r: Ref, method: string, args: unknown[], signal?: AbortSignal) {
  const m = await loadRedis();
  const state = r.state as RedisProxyState;
  r.link ??= m.linkFor(state.url);
  r.link.catch(() => r.link = undefined); // the next call tries again
  return await m.redisCall(await r.link, state, method, args, signal);
}

function checkTimeout(timeout: number | undefined, what: string): number | null {
  if (timeout === undefined || timeout === Infinity) return null;
  if (!(timeout >= 0)) throw new RangeError(`Cannot ${what}: timeout must be >= 0, got ${timeout}`);
  return timeout;
}

/**
 * What every manager proxy shares: it names one object of one manager, and it can be passed to
 * a child (of either start method) in `Process` args, or stored in another manager object; the
 * copy connects to the manager by itself.
 */
export abstract class ManagerProxy {
  /**
   * Makes a proxy of an existing object; `Manager` and a process receiving a proxy do this.
   *
   * @param state the manager's address and authkey, and the object's id, as a proxy travels;
   * or, for an object kept in Redis, its URL and name.
   */
  constructor(state: ProxyState | RedisProxyState) {
    if ("url" in state) {
      const { kind, url, name, ttl, param } = state;
      refs.set(this, { state: { kind, url, name, ttl, param } });
      return;
    }
    const authkey = new Uint8Array(state.authkey);
    const s = { kind: state.kind, address: state.address, authkey, id: state.id };
    refs.set(this, { ref: managerRef(state.address, authkey), state: s });
  }

  /** The object's id in its manager; -1 for an object kept in Redis (it has a name). */
  get id(): number {
    const s = refs.get(this)!.state;
    return "id" in s ? s.id : -1;
  }

  /** The object's name in Redis; undefined for a local manager's object. */
  get name(): string | undefined {
    const s = refs.get(this)!.state;
    return "name" in s ? s.name : undefined;
  }

  /** @ignore */
  [reduce](): Reduced {
    return { type: PROXY_TYPE, state: refs.get(this)!.state };
  }
}

/**
 * A proxy of a dict kept by a manager: each method is one round trip, and values come back as
 * copies. Updates of one value by several processes need a lock (`manager.lock()`).
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict({ count: 300 });
 * await d.set("count", (await d.get("count"))! - 1);
 * console.log(await d.get("count")); // 299
 * ```
 */
export class DictProxy<K extends DictKey = string, V = unknown> extends ManagerProxy {
  /**
   * Reads the value of a key.
   *
   * @param key the key.
   * @param fallback returned when the key is missing.
   * @returns the value of `key`, or `fallback`.
   */
  get(key: K, fallback?: V): Promise<V | undefined> {
    return call(this, "get", [key, fallback]) as Promise<V | undefined>;
  }

  /**
   * Stores a value under a key (Python's `d[k] = v`).
   *
   * @param key the key: a string, number, bigint, boolean or null.
   * @param value the value.
   * @returns once the manager has stored it.
   * @throws {TypeError} when the key or the value cannot be sent.
   */
  async set(key: K, value: V): Promise<void> {
    await call(this, "set", [key, value]);
  }

  /**
   * Tells whether a key is present (Python's `k in d`).
   *
   * @param key the key.
   * @returns whether the key is present.
   */
  has(key: K): Promise<boolean> {
    return call(this, "has", [key]) as Promise<boolean>;
  }

  /**
   * Removes a key (Python's `del d[k]`).
   *
   * @param key the key.
   * @returns whether there was such a key.
   */
  delete(key: K): Promise<boolean> {
    return call(this, "delete", [key]) as Promise<boolean>;
  }

  /**
   * Removes a key and returns its value.
   *
   * @param key the key.
   * @param fallback returned when the key is missing.
   * @returns the value removed, or `fallback`.
   */
  pop(key: K, fallback?: V): Promise<V | undefined> {
    return call(this, "pop", [key, fallback]) as Promise<V | undefined>;
  }

  /**
   * Sets `key` to `value` unless present.
   *
   * @param key the key.
   * @param value the value stored when the key is missing.
   * @returns the value of `key` afterwards.
   */
  setDefault(key: K, value: V): Promise<V> {
    return call(this, "setDefault", [key, value]) as Promise<V>;
  }

  /**
   * Stores many entries in one round trip.
   *
   * @param entries a plain object or an iterable of `[key, value]`.
   * @returns once stored.
   */
  async update(entries: Record<string, V> | Iterable<readonly [K, V]>): Promise<void> {
    await call(this, "update", [toEntries(entries)]);
  }

  /**
   * The keys, in insertion order.
   *
   * @returns the keys, in insertion order.
   */
  keys(): Promise<K[]> {
    return call(this, "keys", []) as Promise<K[]>;
  }

  /**
   * The values, in insertion order.
   *
   * @returns the values, in insertion order.
   */
  values(): Promise<V[]> {
    return call(this, "values", []) as Promise<V[]>;
  }

  /**
   * The `[key, value]` pairs, in insertion order.
   *
   * @returns the `[key, value]` pairs, in insertion order.
   */
  entries(): Promise<[K, V][]> {
    return call(this, "entries", []) as Promise<[K, V][]>;
  }

  /**
   * The number of keys (Python's `len(d)`).
   *
   * @returns the number of keys (Python's `len(d)`).
   */
  size(): Promise<number> {
    return call(this, "size", []) as Promise<number>;
  }

  /**
   * Once every key is removed.
   *
   * @returns once every key is removed.
   */
  async clear(): Promise<void> {
    await call(this, "clear", []);
  }

  /**
   * A local copy of the whole dict.
   *
   * @returns a local copy of the whole dict.
   */
  async copy(): Promise<Map<K, V>> {
    return new Map(await this.entries());
  }

  /**
   * A local copy as a plain object (keys turned into strings).
   *
   * @returns a local copy as a plain object (keys turned into strings).
   */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries((await this.entries()).map(([k, v]) => [String(k), v]));
  }
}

function toEntries<K, V>(init: Record<string, V> | Iterable<readonly [K, V]>): [unknown, V][] {
  if (init instanceof Map || Array.isArray(init)) return [...init] as [unknown, V][];
  if (typeof (init as Iterable<unknown>)[Symbol.iterator] === "function") {
    return [...(init as Iterable<[K, V]>)];
  }
  return Object.entries(init as Record<string, V>);
}

/**
 * A proxy of a list kept by a manager. Indices may be negative (from the end), as in Python.
 * `indexOf`, `includes` and `remove` compare as `===` does, which suits primitive items.
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const l = await manager.list([1, 2]);
 * await l.push(3);
 * console.log(await l.get(-1), await l.length()); // 3 3
 * ```
 */
export class ListProxy<T = unknown> extends ManagerProxy {
  /**
   * Reads an item (Python's `l[i]`).
   *
   * @param index the position; negative counts from the end.
   * @returns the item.
   * @throws {RangeError} when out of range.
   */
  get(index: number): Promise<T> {
    return call(this, "get", [index]) as Promise<T>;
  }

  /**
   * Replaces an item (Python's `l[i] = v`).
   *
   * @param index the position; negative counts from the end.
   * @param value the new item.
   * @returns once stored.
   * @throws {RangeError} when out of range.
   */
  async set(index: number, value: T): Promise<void> {
    await call(this, "set", [index, value]);
  }

  /**
   * Appends items (Python's `append` and `extend`).
   *
   * @param items the items.
   * @returns the new length.
   */
  push(...items: T[]): Promise<number> {
    return call(this, "push", items) as Promise<number>;
  }

  /**
   * Removes and returns an item.
   *
   * @param index the position; the last item when left out.
   * @returns the item.
   * @throws {RangeError} when the list is empty or the index out of range.
   */
  pop(index = -1): Promise<T> {
    return call(this, "pop", [index]) as Promise<T>;
  }

  /**
   * Inserts an item before a position.
   *
   * @param index where the item goes; negative counts from the end.
   * @param value the item.
   * @returns once inserted.
   */
  async insert(index: number, value: T): Promise<void> {
    await call(this, "insert", [index, value]);
  }

  /**
   * Removes the first item equal to `value`.
   *
   * @param value the item.
   * @returns whether one was found.
   */
  remove(value: T): Promise<boolean> {
    return call(this, "remove", [value]) as Promise<boolean>;
  }

  /**
   * Finds an item.
   *
   * @param value the item.
   * @returns its first position, or -1.
   */
  indexOf(value: T): Promise<number> {
    return call(this, "indexOf", [value]) as Promise<number>;
  }

  /**
   * Tells whether an item is in the list.
   *
   * @param value the item.
   * @returns whether it is in the list.
   */
  includes(value: T): Promise<boolean> {
    return call(this, "includes", [value]) as Promise<boolean>;
  }

  /**
   * The number of items (Python's `len(l)`).
   *
   * @returns the number of items (Python's `len(l)`).
   */
  length(): Promise<number> {
    return call(this, "length", []) as Promise<number>;
  }

  /**
   * Copies a part of the list.
   *
   * @param start first position; @default {0}
   * @param end position after the last; @default {the length}
   * @returns a local copy of the items between.
   */
  slice(start?: number, end?: number): Promise<T[]> {
    return call(this, "slice", [start, end]) as Promise<T[]>;
  }

  /**
   * Once the list is reversed in place.
   *
   * @returns once the list is reversed in place.
   */
  async reverse(): Promise<void> {
    await call(this, "reverse", []);
  }

  /**
   * Once every item is removed.
   *
   * @returns once every item is removed.
   */
  async clear(): Promise<void> {
    await call(this, "clear", []);
  }

  /**
   * A local copy of the whole list.
   *
   * @returns a local copy of the whole list.
   */
  toArray(): Promise<T[]> {
    return this.slice();
  }
}

/**
 * A proxy of a namespace kept by a manager: named fields (Python's attributes).
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const ns = await manager.namespace({ x: 1, y: "a" });
 * await ns.set("x", 2);
 * console.log(await ns.toObject()); // { x: 2, y: "a" }
 * ```
 */
export class NamespaceProxy<T extends Record<string, unknown> = Record<string, unknown>>
  extends ManagerProxy {
  /**
   * Reads a field (Python's `ns.name`).
   *
   * @param name the field.
   * @returns its value, or undefined.
   */
  get<N extends keyof T & string>(name: N): Promise<T[N]> {
    return call(this, "get", [name]) as Promise<T[N]>;
  }

  /**
   * Sets a field (Python's `ns.name = value`).
   *
   * @param name the field.
   * @param value its new value.
   * @returns once stored.
   */
  async set<N extends keyof T & string>(name: N, value: T[N]): Promise<void> {
    await call(this, "set", [name, value]);
  }

  /**
   * Tells whether a field is set.
   *
   * @param name the field.
   * @returns whether it is set.
   */
  has(name: string): Promise<boolean> {
    return call(this, "has", [name]) as Promise<boolean>;
  }

  /**
   * Removes a field.
   *
   * @param name the field.
   * @returns whether it was set.
   */
  delete(name: keyof T & string): Promise<boolean> {
    return call(this, "delete", [name]) as Promise<boolean>;
  }

  /**
   * A local copy of every field.
   *
   * @returns a local copy of every field.
   */
  toObject(): Promise<T> {
    return call(this, "toObject", []) as Promise<T>;
  }
}

/**
 * A proxy of a lock kept by a manager. Any process may release it (as Python's manager lock);
 * if the process holding it exits or loses its connection, the lock is released for it.
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const lock = await manager.lock();
 * await lock.acquire();
 * console.log(await lock.acquire({ timeout: 10 })); // false
 * await lock.release();
 * ```
 */
export class LockProxy extends ManagerProxy {
  /**
   * Waits for the lock.
   *
   * @param options `timeout` (0: do not wait) and `signal`.
   * @returns true once held; false when `timeout` passed first.
   * @throws {RangeError} when `timeout` is negative.
   * @throws {DOMException} the signal's reason when it aborts first.
   */
  async acquire(options: ProxyWaitOptions = {}): Promise<boolean> {
    const timeout = checkTimeout(options.timeout, "acquire the lock");
    return await call(this, "acquire", [timeout], options.signal) as boolean;
  }

  /**
   * Releases the lock.
   *
   * @returns once released.
   * @throws {RangeError} when the lock is not held.
   */
  async release(): Promise<void> {
    await call(this, "release", []);
  }

  /**
   * Whether some process holds the lock.
   *
   * @returns whether some process holds the lock.
   */
  locked(): Promise<boolean> {
    return call(this, "locked", []) as Promise<boolean>;
  }
}

/**
 * A proxy of a FIFO queue kept by a manager. Errors are those of `Queue`: `QueueFullError` and
 * `QueueEmptyError`.
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const q = await manager.queue<string>(2);
 * await q.put("a");
 * await q.putNowait("b");
 * console.log(await q.full(), await q.get()); // true a
 * ```
 */
export class QueueProxy<T = unknown> extends ManagerProxy {
  /**
   * Adds an item, waiting while the queue is full.
   *
   * @param item the item.
   * @param options `timeout` and `signal`.
   * @returns once queued.
   * @throws {QueueFullError} when still full after `timeout`.
   * @throws {DOMException} the signal's reason when it aborts first.
   */
  async put(item: T, options: ProxyWaitOptions = {}): Promise<void> {
    const timeout = checkTimeout(options.timeout, "put");
    await call(this, "put", [item, timeout], options.signal);
  }

  /**
   * Adds an item without waiting.
   *
   * @param item the item.
   * @returns once queued.
   * @throws {QueueFullError} when the queue is full.
   */
  async putNowait(item: T): Promise<void> {
    await call(this, "putNowait", [item]);
  }

  /**
   * Takes the oldest item, waiting while the queue is empty.
   *
   * @param options `timeout` and `signal`.
   * @returns the item.
   * @throws {QueueEmptyError} when still empty after `timeout`.
   * @throws {DOMException} the signal's reason when it aborts first.
   */
  async get(options: ProxyWaitOptions = {}): Promise<T> {
    const timeout = checkTimeout(options.timeout, "get");
    return await call(this, "get", [timeout], options.signal) as T;
  }

  /**
   * Takes the oldest item without waiting.
   *
   * @returns the oldest item.
   * @throws {QueueEmptyError} when the queue is empty.
   */
  getNowait(): Promise<T> {
    return call(this, "getNowait", []) as Promise<T>;
  }

  /**
   * The number of items.
   *
   * @returns the number of items.
   */
  qsize(): Promise<number> {
    return call(this, "qsize", []) as Promise<number>;
  }

  /**
   * Whether there is no item.
   *
   * @returns whether there is no item.
   */
  empty(): Promise<boolean> {
    return call(this, "empty", []) as Promise<boolean>;
  }

  /**
   * Whether the queue holds `maxsize` items.
   *
   * @returns whether the queue holds `maxsize` items.
   */
  full(): Promise<boolean> {
    return call(this, "full", []) as Promise<boolean>;
  }
}

const PROXIES: Record<ProxyKind, new (state: ProxyState | RedisProxyState) => ManagerProxy> = {
  dict: DictProxy,
  list: ListProxy,
  namespace: NamespaceProxy,
  lock: LockProxy,
  queue: QueueProxy,
};

registerReviver(PROXY_TYPE, (state) => {
  const s = state as ProxyState | RedisProxyState;
  return new PROXIES[s.kind](s);
});

/** Options of {@link Manager.start}. */
export interface ManagerOptions {
  /**
   * Where the manager listens: a Unix socket path, or `{ hostname, port }` to serve other
   * machines (port 0 picks a free one).
   * @default {a fresh Unix socket in a private temporary directory}
   */
  address?: Address;
  /**
   * The key every client must prove it knows; read `manager.authkey` to hand it to a client.
   * @default {32 random bytes}
   */
  authkey?: string | Uint8Array;
}

/** Options of {@link Manager.connect}. */
export interface ManagerConnectOptions {
  /** The manager's authkey. */
  authkey: string | Uint8Array;
}

/**
 * A manager: a server of shared objects, and the handle that makes them. Start one with
 * `Manager.start()` (the server runs in this process), or reach one started elsewhere with
 * `Manager.connect()`.
 *
 * @example Many processes decrement a shared count under a manager lock
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import { type DictProxy, type LockProxy, Manager } from "@mp/multiprocessing/ipc";
 *
 * export async function decrement(d: DictProxy<string, number>, lock: LockProxy): Promise<void> {
 *   await lock.acquire();
 *   try {
 *     await d.set("count", (await d.get("count"))! - 1);
 *   } finally {
 *     await lock.release();
 *   }
 * }
 *
 * if (import.meta.main) {
 *   await using manager = await Manager.start();
 *   const d = await manager.dict({ count: 3 });
 *   const lock = await manager.lock();
 *   const ps = [1, 2, 3].map(() => new Process({ target: decrement, args: [d, lock] }));
 *   for (const p of ps) p.start();
 *   for (const p of ps) await p.join();
 *   console.log(await d.get("count")); // 0
 * }
 * ```
 */
export class Manager implements AsyncDisposable {
  #ref: ManagerRef | undefined;
  #server: ManagerServer | undefined;
  #redis: RedisManager | undefined;
  #closed = false;

  private constructor(
    ref: ManagerRef | undefined,
    server: ManagerServer | undefined,
    redis?: RedisManager,
  ) {
    this.#ref = ref;
    this.#server = server;
    this.#redis = redis;
  }

  /**
   * Starts a manager whose server runs in this process.
   *
   * @param options the address and authkey.
   * @returns the manager; `shutdown()` it (or `await using` it).
   * @throws {TypeError} when the address or the authkey is malformed.
   * @throws {Deno.errors.AddrInUse} when the address is taken.
   * @throws {Deno.errors.NotCapable} without the permissions to listen, naming the missing flags
   * (the default address needs --allow-read, --allow-write and --allow-net).
   */
  static start(options: ManagerOptions = {}): Promise<Manager> {
    try {
      const what = "Cannot start manager";
      const address = options.address === undefined
        ? undefined
        : checkAddress(options.address, what);
      const authkey = checkAuthkey(options.authkey, what) ??
        crypto.getRandomValues(new Uint8Array(32));
      const server = new ManagerServer(address, authkey, what);
      const ref = managerRef(server.address, authkey);
      setLocalServer(ref, server);
      return Promise.resolve(new Manager(ref, server));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Connects to a Redis server that keeps the manager's objects, so that processes on any
   * machine that reach it with the same URL share them. The proxies are those of a local
   * manager, with the same methods and errors, and travel in `Process` args the same way (the
   * copy connects to the URL by itself).
   *
   * Naming: `dict("scores")`, `list("log")`, `lock("db")`... get or make the object of that
   * name: the first caller's initial contents (and a queue's maxsize, a lock's lease) are kept,
   * later callers find it as it is. Names are per kind: `dict("hits")` and `lock("hits")` are
   * two objects. A named object stays in Redis until cleared. Without a name the object is new
   * and belongs to this manager: `shutdown()` deletes it, and if this process dies its keys
   * expire within 30 seconds. Its keys are `mp:m:{KIND:NAME}:*`.
   *
   * A lock is held by the process that acquired it (an owner token) and only it may release
   * it; its lease is renewed by a timer in that process, and a holder that died loses the lock
   * when its lease runs out. `shutdown()` releases this process's locks.
   *
   * Errors: a misuse fails as it does in a local manager, with the same error (a list index out
   * of range is a `RangeError`, a full or empty queue a `QueueFullError` or `QueueEmptyError`).
   * A broker that cannot be reached, refuses the credentials or stops fails the call (or
   * `connect()`) within 5 seconds with a `BrokerError` (from `@mp/multiprocessing/cluster`), as
   * the queues on Redis do: it names the call, the address (without its password), why, and
   * what to check. The connections keep the program alive only while a call is under way.
   *
   * Loads the Redis client (`npm:@redis/client`) on the first call.
   *
   * @param url `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, or
   * `unix:///path/to/redis.sock[?db=N&password=P]` for a local server's socket.
   * @returns a handle that makes objects in Redis; `shutdown()` closes its connections.
   * @throws {TypeError} when the URL is not one of those forms.
   * @throws {import("../cluster/errors.ts").BrokerError} when nothing answers there within 5
   * seconds, or the server refuses the user or password.
   *
   * @example Two processes, anywhere, share a named dict
   * ```ts ignore
   * import { Manager } from "@mp/multiprocessing/ipc";
   *
   * await using m = await Manager.connect("redis://localhost:6379");
   * const hits = await m.dict<string, number>("hits");
   * const lock = await m.lock("hits");
   * await lock.acquire();
   * try {
   *   await hits.set("home", ((await hits.get("home")) ?? 0) + 1);
   * } finally {
   *   await lock.release();
   * }
   * ```
   */
  static connect(url: string): Promise<Manager>;
  /**
   * Connects to a manager started elsewhere (another process, another machine).
   *
   * @param address the manager's address.
   * @param options its authkey.
   * @returns a handle that makes objects in that manager; `shutdown()` closes only this
   * process's connection.
   * @throws {AuthenticationError} when the authkey is wrong.
   * @throws {Deno.errors.NotFound} or {Deno.errors.ConnectionRefused} when nobody listens there.
   *
   * @example
   * ```ts
   * import { Manager } from "@mp/multiprocessing/ipc";
   *
   * await using server = await Manager.start({ address: { port: 0 }, authkey: "k" });
   * await using remote = await Manager.connect(server.address, { authkey: "k" });
   * const d = await remote.dict({ a: 1 });
   * console.log(await d.get("a")); // 1
   * ```
   */
  static connect(address: Address, options: ManagerConnectOptions): Promise<Manager>;
  static async connect(address: Address, options?: ManagerConnectOptions): Promise<Manager> {
    if (typeof address === "string" && options === undefined && REDIS_URL.test(address)) {
      const redis = await (await loadRedis()).RedisManager.connect(address);
      return new Manager(undefined, undefined, redis);
    }
    const what = "Cannot connect to manager";
    const authkey = checkAuthkey(options?.authkey, what);
    if (authkey === undefined) throw new TypeError(`${what}: an authkey is required`);
    const ref = managerRef(checkAddress(address, what), authkey);
    await managerConnect(ref);
    return new Manager(ref, undefined);
  }

  /**
   * Where the manager listens: the socket path, or the host and the actual port; for a manager
   * connected to Redis, its URL.
   */
  get address(): Address {
    if (this.#redis) return this.#redis.url;
    const a = this.#ref!.address;
    return typeof a === "string" ? a : { ...a };
  }

  /** A copy of the manager's authkey (empty for a manager connected to Redis). */
  get authkey(): Uint8Array {
    return this.#ref?.authkey.slice() ?? new Uint8Array(0);
  }

  async #create<P extends ManagerProxy>(
    kind: ProxyKind,
    name: string | undefined,
    init: unknown,
    param = 0,
  ): Promise<P> {
    if (this.#closed) throw new TypeError(`Cannot make a ${kind}: the manager is shut down`);
    if (this.#redis) {
      const r = await loadRedis();
      if (name !== undefined) r.checkName(name, `Cannot make a ${kind}`);
      const state = await this.#redis.create(kind, name, init, param);
      const proxy = new PROXIES[kind](state) as P;
      refs.get(proxy)!.link = Promise.resolve(this.#redis.link);
      return proxy;
    }
    if (name !== undefined) {
      throw new TypeError(
        `Cannot make a ${kind} named '${name}': names are for a manager connected to Redis ` +
          "(Manager.connect(url)); pass a local manager's proxies to the processes instead",
      );
    }
    const id = await managerCall(this.#ref!, 0, "create", [kind, init]) as number;
    const { address, authkey } = this.#ref!;
    return new PROXIES[kind]({ kind, address, authkey, id }) as P;
  }

  /**
   * Makes a shared dict (Python's `manager.dict()`).
   *
   * @param init the first entries: a plain object or an iterable of `[key, value]`.
   * @returns its proxy.
   */
  dict<K extends DictKey = string, V = unknown>(
    init?: Record<string, V> | Iterable<readonly [K, V]>,
  ): Promise<DictProxy<K, V>>;
  /**
   * Gets or makes the dict of a name, in a manager connected to Redis.
   *
   * @param name the dict's name.
   * @param init the first entries, stored only when the dict is new.
   * @returns its proxy.
   * @throws {TypeError} for a local manager, or a name with `{` or `}`.
   */
  dict<K extends DictKey = string, V = unknown>(
    name: string,
    init?: Record<string, V> | Iterable<readonly [K, V]>,
  ): Promise<DictProxy<K, V>>;
  dict<K extends DictKey = string, V = unknown>(
    a?: string | Record<string, V> | Iterable<readonly [K, V]>,
    b?: Record<string, V> | Iterable<readonly [K, V]>,
  ): Promise<DictProxy<K, V>> {
    const [name, init] = typeof a === "string" ? [a, b] : [undefined, a];
    return this.#create("dict", name, toEntries(init ?? {}));
  }

  /**
   * Makes a shared list.
   *
   * @param items the first items.
   * @returns its proxy.
   */
  list<T = unknown>(items?: Iterable<T>): Promise<ListProxy<T>>;
  /**
   * Gets or makes the list of a name, in a manager connected to Redis.
   *
   * @param name the list's name.
   * @param items the first items, stored only when the list is new.
   * @returns its proxy.
   * @throws {TypeError} for a local manager, or a name with `{` or `}`.
   */
  list<T = unknown>(name: string, items?: Iterable<T>): Promise<ListProxy<T>>;
  list<T = unknown>(a?: string | Iterable<T>, b?: Iterable<T>): Promise<ListProxy<T>> {
    const [name, items] = typeof a === "string" ? [a, b] : [undefined, a];
    return this.#create("list", name, [...items ?? []]);
  }

  /**
   * Makes a shared namespace.
   *
   * @param init the first fields.
   * @returns its proxy.
   */
  namespace<T extends Record<string, unknown> = Record<string, unknown>>(
    init?: Partial<T>,
  ): Promise<NamespaceProxy<T>>;
  /**
   * Gets or makes the namespace of a name, in a manager connected to Redis.
   *
   * @param name the namespace's name.
   * @param init the first fields, stored only when the namespace is new.
   * @returns its proxy.
   * @throws {TypeError} for a local manager, or a name with `{` or `}`.
   */
  namespace<T extends Record<string, unknown> = Record<string, unknown>>(
    name: string,
    init?: Partial<T>,
  ): Promise<NamespaceProxy<T>>;
  namespace<T extends Record<string, unknown> = Record<string, unknown>>(
    a?: string | Partial<T>,
    b?: Partial<T>,
  ): Promise<NamespaceProxy<T>> {
    const [name, init] = typeof a === "string" ? [a, b] : [undefined, a];
    return this.#create("namespace", name, { ...init });
  }

  /**
   * Makes a shared lock.
   *
   * @param options the lease, for a manager connected to Redis.
   * @returns its proxy.
   * @throws {RangeError} when the lease is not a positive number.
   */
  lock(options?: LockOptions): Promise<LockProxy>;
  /**
   * Gets or makes the lock of a name, in a manager connected to Redis.
   *
   * @param name the lock's name.
   * @param options the lease, kept only when the lock is new.
   * @returns its proxy.
   * @throws {TypeError} for a local manager, or a name with `{` or `}`.
   * @throws {RangeError} when the lease is not a positive number.
   */
  lock(name: string, options?: LockOptions): Promise<LockProxy>;
  lock(a?: string | LockOptions, b?: LockOptions): Promise<LockProxy> {
    const [name, options] = typeof a === "string" ? [a, b] : [undefined, a];
    const lease = options?.lease ?? 10_000;
    if (!(lease > 0) || !Number.isFinite(lease)) {
      return Promise.reject(
        new RangeError(`Cannot make a lock: lease must be a finite number > 0, got ${lease}`),
      );
    }
    return this.#create("lock", name, undefined, Math.ceil(lease));
  }

  /**
   * Makes a shared FIFO queue.
   *
   * @param maxsize the most items it holds; 0 for no bound.
   * @returns its proxy.
   * @throws {RangeError} when `maxsize` is negative or not an integer.
   */
  queue<T = unknown>(maxsize?: number): Promise<QueueProxy<T>>;
  /**
   * Gets or makes the queue of a name, in a manager connected to Redis.
   *
   * @param name the queue's name.
   * @param maxsize the most items it holds, 0 for no bound; kept only when the queue is new.
   * @returns its proxy.
   * @throws {TypeError} for a local manager, or a name with `{` or `}`.
   * @throws {RangeError} when `maxsize` is negative or not an integer.
   */
  queue<T = unknown>(name: string, maxsize?: number): Promise<QueueProxy<T>>;
  queue<T = unknown>(a?: string | number, b?: number): Promise<QueueProxy<T>> {
    const [name, maxsize = 0] = typeof a === "string" ? [a, b] : [undefined, a];
    if (!Number.isInteger(maxsize) || maxsize < 0) {
      return Promise.reject(
        new RangeError(`Cannot make a queue: maxsize must be an integer >= 0, got ${maxsize}`),
      );
    }
    return this.#create("queue", name, maxsize, maxsize);
  }

  /**
   * Stops the server (for a manager started here) and closes this process's connection to it.
   * Calls still waiting in any process fail; the Unix socket is removed. For a manager
   * connected to Redis: releases the locks this process holds through it, deletes its unnamed
   * objects, and closes its connections (within about two seconds, even if Redis is gone).
   *
   * @returns once done; calling it again does nothing.
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#redis) return await this.#redis.close();
    if (this.#server) setLocalServer(this.#ref!, undefined);
    await closeManagerLink(this.#ref!);
    this.#server?.close();
  }

  /** Shuts the manager down. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

const REDIS_URL = /^(redis|rediss|unix|redis\+unix):/i;
