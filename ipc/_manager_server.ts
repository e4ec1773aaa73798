// The server behind a Manager: it keeps dicts, lists, namespaces, locks and queues, and runs the
// calls that proxies send over authenticated sockets. Values are kept as they arrived (the
// encoded form, with manager proxies as markers) and sent back as they are: the server never
// needs the classes of what it stores.
//
// Wire: a request `{ t: "q", c, o, m, a }` (call id, object id, method, arguments) is answered
// by `{ t: "r", c, ok, v }`, `ok: false` carrying an error as data (`x: true` when the call was
// cancelled). `{ t: "x", c }` cancels a call that waits (lock.acquire, queue.put, queue.get).
// Object 0 is the server itself: `create(kind, init)` makes an object and returns its id.

import { SocketLink } from "../_core/_link.ts";
import type { ProxyKind } from "./proxy.ts";
import { errorToData } from "../_core/_rpc.ts";
import { hold, unhold } from "../_core/_wait.ts";
import { AuthServer } from "./_auth_server.ts";
import { type Address, addressLabel } from "./_socket.ts";
import { EOFError } from "./connection.ts";
import { QueueEmptyError, QueueFullError } from "./queue.ts";
import { clearTimer, setTimer, type Timer } from "../_core/_timers.ts";

/** Who calls: a connection, or this process itself; what it holds is freed when it goes. */
interface Caller {
  readonly held: Set<Holdable>;
}

/** An object that a caller may hold (a lock), and that is freed when that caller goes. */
interface Holdable {
  ownerGone(caller: Caller): void;
}

/** What a request may use besides its arguments. */
interface CallContext {
  caller: Caller;
  signal: AbortSignal | undefined;
}

type Method = (args: unknown[], ctx: CallContext) => unknown;

/** An object the server keeps. */
interface Served {
  /** Its methods, by name (a table without a prototype: no `constructor`, no `__proto__`). */
  readonly methods: Readonly<Record<string, Method>>;
  /** The methods that may wait, and so take a cancellation signal. */
  readonly waiting?: ReadonlySet<string>;
}

function table(methods: Record<string, Method>): Readonly<Record<string, Method>> {
  return Object.freeze(Object.assign(Object.create(null), methods));
}

function namedError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

function timeoutOf(value: unknown): number {
  if (value === null || value === undefined) return Infinity;
  if (typeof value === "number" && value >= 0) return value;
  throw new RangeError(`timeout must be a number >= 0, got ${String(value)}`);
}

const CANCELLED = "@mp$cancelled";

/** A first-come first-served line of calls that wait for something. */
class WaitLine<T, D> {
  #line: { data: D; resolve(v: T): void }[] = [];

  get length(): number {
    return this.#line.length;
  }

  /** Data of the first in line. */
  first(): D | undefined {
    return this.#line[0]?.data;
  }

  /**
   * Waits for {@link grant}, at most `timeout` ms, after which `onTimeout()` gives the result (or
   * throws).
   */
  wait(data: D, timeout: number, signal: AbortSignal | undefined, onTimeout: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: Timer | undefined;
      const entry = {
        data,
        resolve: (v: T) => {
          clearTimer(timer);
          signal?.removeEventListener("abort", onAbort);
          resolve(v);
        },
      };
      const leave = () => {
        const i = this.#line.indexOf(entry);
        if (i >= 0) this.#line.splice(i, 1);
        clearTimer(timer);
      };
      const onAbort = () => {
        leave();
        reject(namedError(CANCELLED, "The call was cancelled"));
      };
      if (timeout !== Infinity) {
        timer = setTimer(() => {
          leave();
          signal?.removeEventListener("abort", onAbort);
          try {
            resolve(onTimeout());
          } catch (e) {
            reject(e);
          }
        }, timeout);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#line.push(entry);
    });
  }

  /** Lets the first in line go on with `value`; returns its data, or undefined if none. */
  grant(value: T): D | undefined {
    const entry = this.#line.shift();
    entry?.resolve(value);
    return entry?.data;
  }
}

type Key = string | number | bigint | boolean | null | undefined;

function checkKey(key: unknown): Key {
  const t = typeof key;
  if (key === null || t === "string" || t === "number" || t === "bigint" || t === "boolean") {
    return key as Key;
  }
  if (t === "undefined") return undefined;
  throw new TypeError(`A dict key must be a string, number, bigint, boolean or null, not ${t}`);
}

function makeDict(init: unknown): Served {
  const map = new Map<Key, unknown>();
  const update = (entries: unknown) => {
    for (const [k, v] of entries as [unknown, unknown][]) map.set(checkKey(k), v);
  };
  update(init ?? []);
  return {
    methods: table({
      get: ([k, d]) => map.has(k as Key) ? map.get(k as Key) : d,
      set: ([k, v]) => void map.set(checkKey(k), v),
      has: ([k]) => map.has(k as Key),
      delete: ([k]) => map.delete(k as Key),
      pop: ([k, d]) => {
        if (!map.has(k as Key)) return d;
        const v = map.get(k as Key);
        map.delete(k as Key);
        return v;
      },
      setDefault: ([k, v]) => {
        if (!map.has(k as Key)) map.set(checkKey(k), v);
        return map.get(k as Key);
      },
      update: ([entries]) => update(entries),
      keys: () => [...map.keys()],
      values: () => [...map.values()],
      entries: () => [...map.entries()],
      size: () => map.size,
      clear: () => map.clear(),
    }),
  };
}

function makeList(init: unknown): Served {
  let items = [...(init as unknown[] ?? [])];
  const at = (i: unknown, what: string, end = items.length): number => {
    if (!Number.isInteger(i)) throw new TypeError(`Cannot ${what}: index must be an integer`);
    const j = (i as number) < 0 ? (i as number) + items.length : (i as number);
    if (j < 0 || j >= end) {
      throw new RangeError(`Cannot ${what}: index ${i} is out of range (length ${items.length})`);
    }
    return j;
  };
  return {
    methods: table({
      get: ([i]) => items[at(i, "get")],
      set: ([i, v]) => void (items[at(i, "set")] = v),
      push: (vs) => items.push(...vs),
      pop: ([i = -1]) => items.splice(at(i, "pop"), 1)[0],
      insert: ([i, v]) => {
        const n = Math.trunc(Number(i));
        items.splice(n < 0 ? Math.max(0, n + items.length) : n, 0, v);
      },
      remove: ([v]) => {
        const i = items.indexOf(v);
        if (i >= 0) items.splice(i, 1);
        return i >= 0;
      },
      indexOf: ([v]) => items.indexOf(v),
      includes: ([v]) => items.includes(v),
      length: () => items.length,
      slice: ([s, e]) => items.slice(s as number | undefined, e as number | undefined),
      reverse: () => void items.reverse(),
      clear: () => void (items = []),
    }),
  };
}

function makeNamespace(init: unknown): Served {
  const fields = new Map(Object.entries((init ?? {}) as Record<string, unknown>));
  return {
    methods: table({
      get: ([k]) => fields.get(String(k)),
      set: ([k, v]) => void fields.set(String(k), v),
      has: ([k]) => fields.has(String(k)),
      delete: ([k]) => fields.delete(String(k)),
      toObject: () => Object.fromEntries(fields),
    }),
  };
}

function makeLock(): Served {
  let owner: Caller | undefined;
  let locked = false;
  const line = new WaitLine<boolean, Caller>();
  const self: Served & Holdable = {
    waiting: new Set(["acquire"]),
    methods: table({
      acquire: ([timeout], { caller, signal }) => {
        if (!locked) {
          locked = true;
          owner = caller;
          caller.held.add(self);
          return true;
        }
        const t = timeoutOf(timeout);
        if (t === 0) return false;
        return line.wait(caller, t, signal, () => false);
      },
      release: () => {
        if (!locked) throw new RangeError("Cannot release the lock: it is not locked");
        owner?.held.delete(self);
        owner = line.grant(true);
        owner?.held.add(self);
        locked = owner !== undefined;
      },
      locked: () => locked,
    }),
    /** The process that held the lock is gone: the lock passes on rather than stay held. */
    ownerGone(caller: Caller): void {
      if (owner === caller) self.methods.release([], { caller, signal: undefined });
    },
  };
  return self;
}

function makeQueue(init: unknown): Served {
  const maxsize = Number(init ?? 0) > 0 ? Number(init) : Infinity;
  const items: unknown[] = [];
  const getters = new WaitLine<unknown, undefined>();
  const putters = new WaitLine<void, unknown>();
  const full = () => items.length >= maxsize;
  const put = (v: unknown) => {
    if (getters.length > 0) getters.grant(v);
    else items.push(v);
  };
  const take = () => {
    const v = items.shift();
    if (putters.length > 0) {
      items.push(putters.first());
      putters.grant();
    }
    return v;
  };
  const fullError = () => new QueueFullError("Cannot put: the manager's queue is full");
  const emptyError = () => new QueueEmptyError("Cannot get: the manager's queue is empty");
  return {
    waiting: new Set(["put", "get"]),
    methods: table({
      put: ([v, timeout], { signal }) => {
        if (!full()) return put(v);
        const t = timeoutOf(timeout);
        if (t === 0) throw fullError();
        return putters.wait(v, t, signal, () => {
          throw fullError();
        });
      },
      putNowait: ([v]) => {
        if (full()) throw fullError();
        put(v);
      },
      get: ([timeout], { signal }) => {
        if (items.length > 0) return take();
        const t = timeoutOf(timeout);
        if (t === 0) throw emptyError();
        return getters.wait(undefined, t, signal, () => {
          throw emptyError();
        });
      },
      getNowait: () => {
        if (items.length === 0) throw emptyError();
        return take();
      },
      qsize: () => items.length,
      empty: () => items.length === 0,
      full: () => full(),
    }),
  };
}

const MAKERS: Record<ProxyKind, (init: unknown) => Served> = {
  dict: makeDict,
  list: makeList,
  namespace: makeNamespace,
  lock: makeLock,
  queue: makeQueue,
};

interface Request {
  t: "q";
  c: number;
  o: number;
  m: string;
  a: unknown[];
}

/** One client connection as the server sees it. */
class ServerConn implements Caller {
  readonly held = new Set<Holdable>();
  readonly #link: SocketLink;
  readonly #calls = new Map<number, AbortController>();
  readonly #server: ManagerServer;

  constructor(conn: Deno.Conn, server: ManagerServer) {
    this.#server = server;
    this.#link = new SocketLink(conn);
    this.#link.onmessage = (msg) => {
      if (msg.t === "q") this.#serve(msg as Request);
      else if (msg.t === "x") this.#calls.get((msg as { c: number }).c)?.abort();
    };
    this.#link.onclose = () => {
      for (const ac of this.#calls.values()) ac.abort();
      for (const obj of [...this.held]) obj.ownerGone(this);
      server.forget(this);
    };
  }

  #serve(req: Request): void {
    let result: unknown;
    let ac: AbortController | undefined;
    try {
      const { method, waits } = this.#server.method(req.o, req.m);
      if (waits) {
        ac = new AbortController();
        this.#calls.set(req.c, ac);
      }
      result = method(req.a, { caller: this, signal: ac?.signal });
    } catch (e) {
      this.#fail(req.c, e);
      return;
    }
    if (result instanceof Promise) {
      result.then(
        (v) => this.#link.post({ t: "r", c: req.c, ok: true, v }),
        (e) => this.#fail(req.c, e),
      ).finally(() => this.#calls.delete(req.c));
    } else {
      if (ac) this.#calls.delete(req.c);
      this.#link.post({ t: "r", c: req.c, ok: true, v: result });
    }
  }

  #fail(c: number, e: unknown): void {
    const x = e instanceof Error && e.name === CANCELLED;
    this.#link.post({ t: "r", c, ok: false, v: errorToData(e), x });
  }

  close(): void {
    this.#link.close();
  }
}

/** The server of one manager, in the process that started it. */
export class ManagerServer {
  #auth: AuthServer;
  #objects = new Map<number, Served>();
  #conns = new Set<ServerConn>();
  #nextId = 1;
  #local: Caller = { held: new Set() };
  #closing = new AbortController();

  /**
   * Starts listening and serving at once. The server does not keep the program alive by itself:
   * it serves while the program runs, until {@link close}.
   */
  constructor(address: Address | undefined, authkey: Uint8Array, what: string) {
    this.#auth = new AuthServer({ address, authkey, unref: true, what });
    this.#objects.set(0, {
      methods: table({
        create: ([kind, init]) => {
          if (!Object.hasOwn(MAKERS, String(kind))) {
            throw new TypeError(`A manager cannot make a '${String(kind)}'`);
          }
          const id = this.#nextId++;
          this.#objects.set(id, MAKERS[kind as ProxyKind](init));
          return id;
        },
      }),
    });
    this.#acceptLoop();
  }

  /** Where clients connect. */
  get address(): Address {
    return this.#auth.address;
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await this.#auth.next();
      } catch {
        return; // closed
      }
      this.#conns.add(new ServerConn(conn, this));
    }
  }

  /** Method `name` of object `id`, and whether it may wait. */
  method(id: number, name: string): { method: Method; waits: boolean } {
    const obj = this.#objects.get(id);
    if (!obj) throw new ReferenceError(`The manager has no object ${id}`);
    const method = obj.methods[name];
    if (!method) throw new TypeError(`The manager's object ${id} has no method '${name}'`);
    return { method, waits: obj.waiting?.has(name) ?? false };
  }

  /**
   * Runs a call made in this process, without a socket; arguments and result are copied as a
   * socket would copy them.
   */
  call(id: number, name: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    try {
      if (this.#auth.closed) throw this.#gone();
      const { method, waits } = this.method(id, name);
      const s = waits
        ? (signal ? AbortSignal.any([signal, this.#closing.signal]) : this.#closing.signal)
        : undefined;
      const result = method(structuredClone(args), { caller: this.#local, signal: s });
      if (!(result instanceof Promise)) return Promise.resolve(structuredClone(result));
      // A call that waits (a queue's get) holds this process's event loop, as Queue.get() does:
      // what would end the wait may come from a child, which holds no event loop.
      hold();
      result.then(unhold, unhold);
      return result.then(structuredClone, (e) => {
        if (e instanceof Error && e.name === CANCELLED) {
          throw signal?.aborted ? signal.reason : this.#gone();
        }
        throw e;
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #gone(): Error {
    return new EOFError(`The manager at ${addressLabel(this.address)} is shut down`);
  }

  /** A connection ended. */
  forget(conn: ServerConn): void {
    this.#conns.delete(conn);
  }

  /** Stops listening, closes every connection and drops every object. */
  close(): void {
    this.#auth.close();
    this.#closing.abort();
    for (const conn of [...this.#conns]) conn.close();
    this.#objects.clear();
  }
}
