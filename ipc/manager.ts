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

import { registerReviver } from "../_core/_reduce.ts";
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
import { PROXY_TYPE, refs, toEntries } from "./_proxy_call.ts";
import { loadRedisManager, type RedisManager } from "../_core/_redis.ts";
import type { ManagerProxy, ProxyKind, ProxyState, RedisProxyState } from "./proxy.ts";
import { type DictKey, DictProxy } from "./dict_proxy.ts";
import { ListProxy } from "./list_proxy.ts";
import { NamespaceProxy } from "./namespace_proxy.ts";
import { LockProxy } from "./lock_proxy.ts";
import { QueueProxy } from "./queue_proxy.ts";

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
      const redis = await (await loadRedisManager()).RedisManager.connect(address);
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
      const r = await loadRedisManager();
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
