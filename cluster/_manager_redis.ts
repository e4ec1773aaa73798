// The objects of a Manager connected to Redis (`Manager.connect("redis://...")`): dicts, lists,
// namespaces, locks and queues kept in Redis, so that every process reaching the same server
// sees the same ones. ../ipc/manager.ts imports this module only when such a manager connects
// or a proxy of one is used, so local users never load it (nor npm:redis).
//
// The connection is the package's link to a broker (./_client.ts, as the queues use it): a
// broker that cannot be reached, refuses the password or stops fails a call with a BrokerError;
// a misuse fails as it does in a local manager (../ipc/_manager_server.ts), with the same error.
// Its connections keep the program alive only while a call is under way, as a local manager's
// do. The keys and scripts: ./_manager_scripts.ts; the calls that wait: ./_manager_waits.ts.
//
// Fields of a dict are its keys tagged by type ("s" string, "n" number, "i" bigint, "t"/"f",
// "z" null, "u" undefined); values are one kind byte then the package codec's bytes
// (../_core/_codec.ts). A named object lives until it is cleared; an unnamed one belongs to
// the manager that made it: deleted by its close(), and its keys expire TTL ms after that
// manager last refreshed them (every TTL/3) or anyone last wrote to it, so a crashed process
// leaves nothing behind for long.

import type { Buffer } from "node:buffer";
import { Link, type Script } from "./_client.ts";
import {
  CREATE,
  DICT_DELETE,
  DICT_ENTRIES,
  DICT_POP,
  DICT_SET_DEFAULT,
  DICT_UPDATE,
  keysOf,
  type Kind,
  LIST_INSERT,
  LIST_POP,
  LIST_PUSH,
  LIST_REVERSE,
  LIST_SET,
  NS_SET,
  TOUCH,
} from "./_manager_scripts.ts";
import {
  type Arg,
  Call,
  checkIndex,
  dec,
  enc,
  fieldOf,
  keyOf,
  outOfRange,
  type RedisState,
  TOMB,
} from "./_manager_call.ts";
import { acquire, get, put, release, releaseHolds } from "./_manager_waits.ts";

export type { Kind } from "./_manager_scripts.ts";
export type { RedisState } from "./_manager_call.ts";

/** How long an unnamed object's keys live after the last refresh or write. */
export const ANON_TTL = 30_000;
/** A lock's lease unless given. */
export const DEFAULT_LEASE = 10_000;
/** The most milliseconds that opening a connection (socket and handshake) takes. */
const CONNECT_TIMEOUT = 5000;

/** Checks a name given by the user. */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== "string" || name === "" || /[{}]/.test(name)) {
    throw new TypeError(`${what}: a name must be a non-empty string without '{' or '}'`);
  }
  return name;
}

/** Opens a link to the broker at `url` as the manager's objects use it. */
function openLink(url: string): Promise<Link> {
  return Link.open(url, { connectTimeout: CONNECT_TIMEOUT, hold: "busy" });
}

// ---- calls -----------------------------------------------------------------------------------

type Method = (c: Call, a: unknown[]) => unknown;

async function dictEntries(c: Call): Promise<[unknown, unknown][]> {
  const flat = await c.eval(DICT_ENTRIES, ["0"]) as Buffer[];
  const out: [unknown, unknown][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([keyOf(flat[i]), dec(flat[i + 1])]);
  return out;
}

/** Runs a list script that answers {length} for an index out of range. */
async function atIndex(c: Call, what: string, script: Script, i: unknown, argv: Arg[]) {
  const r = await c.eval(script, [c.ttl, String(checkIndex(i, what)), ...argv]);
  if (Array.isArray(r)) throw outOfRange(what, i, r[0]);
  return r;
}

const METHODS: Record<Kind, Record<string, Method>> = {
  dict: {
    async get(c, [k, d]) {
      const v = await c.send(["HGET", c.keys[1], fieldOf(k)]);
      return v === null ? d : dec(v);
    },
    set: (c, [k, v]) => c.eval(DICT_UPDATE, [c.ttl, fieldOf(k), enc(v, "value")]),
    has: async (c, [k]) => await c.send(["HEXISTS", c.keys[1], fieldOf(k)]) === 1,
    delete: async (c, [k]) => await c.eval(DICT_DELETE, ["0", fieldOf(k)]) === 1,
    async pop(c, [k, d]) {
      const v = await c.eval(DICT_POP, ["0", fieldOf(k)]);
      return v === null ? d : dec(v);
    },
    setDefault: async (c, [k, v]) =>
      dec(await c.eval(DICT_SET_DEFAULT, [c.ttl, fieldOf(k), enc(v, "value")])),
    update(c, [entries]) {
      const argv: Arg[] = [c.ttl];
      for (const [k, v] of entries as [unknown, unknown][]) argv.push(fieldOf(k), enc(v, "value"));
      return argv.length > 1 ? c.eval(DICT_UPDATE, argv) : undefined;
    },
    keys: async (c) => (await c.send(["ZRANGE", c.keys[2], "0", "-1"]) as Buffer[]).map(keyOf),
    values: async (c) => (await dictEntries(c)).map((e) => e[1]),
    entries: (c) => dictEntries(c),
    size: (c) => c.send(["HLEN", c.keys[1]]),
    clear: (c) => c.send(["DEL", c.keys[1], c.keys[2]]),
  },
  list: {
    async get(c, [i]) {
      const v = await c.send(["LINDEX", c.keys[1], String(checkIndex(i, "get"))]);
      if (v === null) throw outOfRange("get", i, await c.send(["LLEN", c.keys[1]]));
      return dec(v);
    },
    set: (c, [i, v]) => atIndex(c, "set", LIST_SET, i, [enc(v, "item")]),
    push: (c, items) =>
      items.length === 0
        ? c.send(["LLEN", c.keys[1]])
        : c.eval(LIST_PUSH, [c.ttl, ...items.map((v) => enc(v, "item"))]),
    pop: async (c, [i = -1]) => dec(await atIndex(c, "pop", LIST_POP, i, [TOMB])),
    insert: (c, [i, v]) =>
      c.eval(LIST_INSERT, [c.ttl, String(Math.trunc(Number(i)) || 0), enc(v, "item"), TOMB]),
    remove: async (c, [v]) => (await c.send(["LREM", c.keys[1], "1", enc(v, "item")])) === 1,
    async indexOf(c, [v]) {
      const i = await c.send(["LPOS", c.keys[1], enc(v, "item")]);
      return i === null ? -1 : i;
    },
    includes: async (c, [v]) => (await c.send(["LPOS", c.keys[1], enc(v, "item")])) !== null,
    length: (c) => c.send(["LLEN", c.keys[1]]),
    async slice(c, [start, end]) {
      const a = start === undefined ? 0 : Math.trunc(Number(start)) || 0;
      const e = end === undefined ? undefined : Math.trunc(Number(end)) || 0;
      if (e === 0) return [];
      const last = e === undefined ? -1 : e - 1;
      // LRANGE's end is inclusive, and a negative end counts from the end as slice's does
      if (a >= 0 && e !== undefined && e > 0 && e <= a) return [];
      const r = await c.send(["LRANGE", c.keys[1], String(a), String(last)]) as Buffer[];
      return r.map(dec);
    },
    reverse: (c) => c.eval(LIST_REVERSE, [c.ttl]),
    clear: (c) => c.send(["DEL", c.keys[1]]),
  },
  namespace: {
    async get(c, [k]) {
      const v = await c.send(["HGET", c.keys[1], String(k)]);
      return v === null ? undefined : dec(v);
    },
    set: (c, [k, v]) => c.eval(NS_SET, [c.ttl, String(k), enc(v, "value")]),
    has: async (c, [k]) => await c.send(["HEXISTS", c.keys[1], String(k)]) === 1,
    delete: async (c, [k]) => await c.send(["HDEL", c.keys[1], String(k)]) === 1,
    async toObject(c) {
      const flat = await c.send(["HGETALL", c.keys[1]]) as Buffer[];
      const out: Record<string, unknown> = {};
      for (let i = 0; i < flat.length; i += 2) out[flat[i].toString()] = dec(flat[i + 1]);
      return out;
    },
  },
  lock: {
    acquire: (c, [timeout]) => acquire(c, timeout),
    release: (c) => release(c),
    locked: async (c) => await c.send(["EXISTS", c.keys[1]]) === 1,
  },
  queue: {
    put: (c, [item, timeout]) => put(c, item, timeout),
    putNowait: (c, [item]) => put(c, item, 0),
    get: (c, [timeout]) => get(c, timeout),
    getNowait: (c) => get(c, 0),
    qsize: (c) => c.send(["LLEN", c.keys[1]]),
    empty: async (c) => await c.send(["LLEN", c.keys[1]]) === 0,
    full: async (c) => c.s.param > 0 && Number(await c.send(["LLEN", c.keys[1]])) >= c.s.param,
  },
};

/** Calls `method` of the object `s` through `link`. */
export async function redisCall(
  link: Link,
  s: RedisState,
  method: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  signal?.throwIfAborted();
  const m = METHODS[s.kind]?.[method];
  if (!m) throw new TypeError(`A Redis ${s.kind} has no method '${method}'`);
  return await m(new Call(link, s, method, signal), args);
}

// ---- managers --------------------------------------------------------------------------------

/** The Redis side of a `Manager.connect("redis://...")`: its link and unnamed objects. */
export class RedisManager {
  readonly link: Link;
  readonly url: string;
  #anon = new Map<string, RedisState>();
  #timer: ReturnType<typeof setInterval> | undefined;

  private constructor(link: Link, url: string) {
    this.link = link;
    this.url = url;
  }

  /**
   * Connects; fails at once when the server cannot be used.
   *
   * @throws {TypeError} when the URL is not one of the broker addresses (../_core/_address.ts).
   * @throws {import("./errors.ts").BrokerError} when the broker cannot be reached in time or
   * refuses the credentials.
   */
  static async connect(url: string): Promise<RedisManager> {
    const m = new RedisManager(await openLink(url), url);
    open.add(m);
    return m;
  }

  /**
   * Makes (or, for a name in use, finds) an object: `init` is stored only when it is new.
   *
   * @throws {TypeError} when the name belongs to an object of another kind.
   */
  async create(
    kind: Kind,
    name: string | undefined,
    init: unknown,
    param: number,
  ): Promise<RedisState> {
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
    const what = `make a ${kind} '${n}'`;
    const stored = await this.link.eval(CREATE, keysOf(kind, n), argv, what);
    if (Array.isArray(stored)) {
      throw new TypeError(`Cannot ${what}: the name is taken by a ${stored[0]}`);
    }
    const state: RedisState = { kind, url: this.url, name: n, ttl, param: Number(stored) };
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
        this.link.eval(TOUCH, keysOf(s.kind, s.name), [String(s.ttl)], "refresh an object")
          .catch(() => {});
      }
    }, ANON_TTL / 3);
    Deno.unrefTimer(this.#timer!);
  }

  /** Releases this process's locks, deletes the unnamed objects and closes the connection. */
  async close(): Promise<void> {
    open.delete(this);
    clearInterval(this.#timer);
    const tidy = (async () => {
      await releaseHolds(this.link);
      await Promise.all(
        [...this.#anon.values()].map((s) =>
          this.link.send(["DEL", ...keysOf(s.kind, s.name)], "delete an object").catch(() => {})
        ),
      );
    })().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([tidy, new Promise((r) => timer = setTimeout(r, 2000))]);
    clearTimeout(timer);
    await this.link.close();
  }
}

const open = new Set<RedisManager>();
const shared = new Map<string, Promise<Link>>();

/**
 * The link through which a proxy that reached this process (in `args`, or in a value) calls:
 * an open manager's for the same URL, else one this process opens once and keeps, unref'd, for
 * its lifetime.
 */
export function linkFor(url: string): Promise<Link> {
  for (const m of open) if (m.url === url) return Promise.resolve(m.link);
  let c = shared.get(url);
  if (!c) {
    c = openLink(url);
    shared.set(url, c);
    c.catch(() => shared.delete(url));
  }
  return c;
}
