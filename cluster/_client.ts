// The package's link to a Redis broker, over node-redis (npm:@redis/client, imported when the
// first link opens, so that programs without a broker never load it).
//
// - Connecting is bounded: `connectTimeout` covers the socket and the handshake (AUTH, SELECT)
//   together, so an unreachable host, a server that does not answer or a wrong password fails
//   within it with a BrokerError.
// - The main connection reconnects a few times (RECONNECTS, backoff) and then gives up; a call
//   made after that opens a new connection once, bounded the same way. A call in flight when the
//   connection drops fails at once (node-redis rejects it), never hangs.
// - Each blocking reader gets a connection of its own (`blocking()`), which never reconnects, and
//   which another connection can wake with CLIENT UNBLOCK (how a wait is cancelled without
//   losing what the blocked command may have taken).
// - `close()` ends every connection; node-redis leaves no timer once a client is closed or
//   destroyed.
// - `hold` says when a connection keeps the program alive: while open (the default), only while
//   a command on it is under way (a manager's, as a local manager's connection does: a handle the
//   program forgets does not hold it), or never (a pool's, which holds the program itself while
//   it has tasks pending).

import type { Buffer } from "node:buffer";
import { parseAddress, shownAddress } from "../_core/_address.ts";
import { BrokerError } from "./errors.ts";

/** A reply as the link returns it: bulk strings as Buffers. */
export type Reply = null | number | Buffer | string | Reply[];

/** The part of a node-redis client that the link uses. */
interface Conn {
  isOpen: boolean;
  unref(): void;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: "error", fn: (e: Error) => void): unknown;
  duplicate(): Conn;
  sendCommand(
    args: ReadonlyArray<string | Uint8Array>,
    options: { typeMapping: Record<number, unknown> },
  ): Promise<unknown>;
}

/** Bulk strings as Buffers (items are bytes), the rest as node-redis gives them. */
let BUFFERS: { typeMapping: Record<number, unknown> };

/** Options of a link. */
export interface LinkOptions {
  /** The most milliseconds that opening a connection (socket and handshake) takes. */
  connectTimeout: number;
  /**
   * When a connection keeps the program alive: `"always"` while it is open; `"busy"` only while
   * a command on it is under way (a manager's: a handle the program forgets does not hold it);
   * `"never"` (a pool's: while it has tasks pending, the pool itself keeps the program alive).
   * @default {"always"}
   */
  hold?: "always" | "busy" | "never";
}

const RECONNECTS = 3;

/**
 * When the last reconnect backoff that node-redis sleeps ends: it cannot be cancelled (a
 * destroyed client wakes and stops), so `close()` waits it out, leaving no timer behind.
 */
let backoffEnds = 0;

let loaded: Promise<typeof import("@redis/client")> | undefined;
/** `node:buffer`'s Buffer, loaded with the client (importing it costs every process ~6 ms). */
let BufferClass: typeof Buffer;

/** Opens a node-redis connection to `url`, within `options.connectTimeout` ms. */
async function openConn(url: string, options: LinkOptions, reconnect: boolean): Promise<Conn> {
  const timeout = options.connectTimeout;
  const address = parseAddress(url);
  const redis = await (loaded ??= Promise.all([import("@redis/client"), import("node:buffer")])
    .then(([redis, node]) => {
      BufferClass = node.Buffer;
      return redis;
    }));
  BUFFERS ??= { typeMapping: { [redis.RESP_TYPES.BLOB_STRING]: BufferClass } };
  const socket = "path" in address.socket
    ? { path: address.socket.path }
    : { host: address.socket.host, port: address.socket.port, tls: address.socket.tls as false };
  let up = false;
  const conn = redis.createClient({
    socket: {
      ...socket,
      connectTimeout: timeout,
      // Only a connection that was up reconnects (a few times): a first connect fails at once.
      reconnectStrategy: (retries: number, cause: Error) => {
        // A connection ended by destroy() never sleeps again (no timer after close()).
        if (!reconnect || !up || retries >= RECONNECTS || ended.has(conn)) return cause;
        const delay = 50 << retries;
        backoffEnds = Math.max(backoffEnds, performance.now() + delay);
        return delay;
      },
    },
    username: address.username,
    password: address.password,
    database: address.database,
  }) as unknown as Conn;
  let last: Error | undefined;
  conn.on("error", (e) => void (last = e)); // reported through the calls that fail
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no answer within ${timeout} ms${last ? ` (${last.message})` : ""}`));
    }, timeout);
  });
  try {
    // A PING proves the server answers, and that this client may talk (NOAUTH otherwise).
    await Promise.race([conn.connect().then(() => conn.sendCommand(["PING"], BUFFERS)), timedOut]);
    up = true;
    if (options.hold === "busy" || options.hold === "never") conn.unref();
    return conn;
  } catch (e) {
    destroy(conn); // never opened, or half-way
    throw brokerError(url, "connect", e);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * How many commands are under way on connections that are unref'd while idle, and the timer
 * that keeps the program alive meanwhile (a socket cannot: node-redis makes a new one, unref'd,
 * each time it reconnects).
 */
let holding = 0;
let holder: ReturnType<typeof setInterval> | undefined;

/** Sends one command on `conn`, holding the program alive meanwhile when it is unref'd. */
async function command(
  conn: Conn,
  options: LinkOptions,
  bytesArgs: ReadonlyArray<string | Uint8Array>,
): Promise<Reply> {
  // node-redis takes Buffers: views over the same bytes
  const args = bytesArgs.map((a) =>
    typeof a === "string" || a instanceof BufferClass
      ? a
      : BufferClass.from(a.buffer, a.byteOffset, a.byteLength)
  );
  if (options.hold !== "busy") return await conn.sendCommand(args, BUFFERS) as Reply;
  if (holding++ === 0) holder = setInterval(() => {}, 1 << 30);
  try {
    return await conn.sendCommand(args, BUFFERS) as Reply;
  } finally {
    if (--holding === 0) clearInterval(holder);
  }
}

/** What to check, by what the client reported. */
function advice(message: string): string {
  if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(message)) {
    return "check the user and password in the address";
  }
  if (/ECONNREFUSED|ENOENT|ENOTFOUND|EAI_AGAIN|no answer|timeout/i.test(message)) {
    return "check that redis-server runs at that address and that this host can reach it";
  }
  if (/closed|ECONNRESET|EPIPE/i.test(message)) {
    return "the connection was lost (the server stopped, or the network failed); " +
      "retry once the server is back";
  }
  return "see the cause";
}

/** Wraps a client error: what failed, at which address, why, and what to do. */
export function brokerError(url: string, what: string, e: unknown): Error {
  if (e instanceof BrokerError || e instanceof TypeError || e instanceof RangeError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new BrokerError(
    `Cannot ${what}: the Redis broker at ${shownAddress(url)} failed: ${message}; ${
      advice(message)
    }`,
    { cause: e },
  );
}

/** A connection that one blocking reader uses, and how to wake it. */
export interface Blocking {
  /** Whether the connection still works (it never reconnects). */
  readonly open: boolean;
  /** Sends a command on this connection. */
  send(args: ReadonlyArray<string | Uint8Array>, what: string): Promise<Reply>;
  /** Makes the blocked command on this connection return as if it timed out. */
  unblock(): Promise<void>;
  /** Ends this connection (the link's `close()` ends it otherwise); a command on it fails. */
  close(): void;
}

/** When a blocking command is woken (see {@link sendWoken}). */
export interface WakeOptions {
  /** Wakes it when aborted; the caller sees the abort. @default {undefined} */
  signal?: AbortSignal;
  /** Wakes it after this many milliseconds. @default {Infinity} */
  wakeAfter?: number;
}

/** How often a wake-up is sent again until the blocked command returns. */
const KICK_MS = 100;

/**
 * Sends a blocking command (BLPOP, BLMOVE…) on `blocking`, and wakes it as if it timed out
 * (CLIENT UNBLOCK … TIMEOUT, atomic on the server: an item it took meanwhile is still returned)
 * when `signal` aborts or `wakeAfter` ms have passed. The wake-up is sent again every KICK_MS
 * until the command returns: one that reaches the server before the command does nothing.
 *
 * @throws the signal's reason when it was aborted before the command was sent.
 */
export async function sendWoken(
  blocking: Blocking,
  args: ReadonlyArray<string | Uint8Array>,
  what: string,
  options: WakeOptions = {},
): Promise<Reply> {
  const { signal, wakeAfter = Infinity } = options;
  signal?.throwIfAborted();
  let kicks: ReturnType<typeof setInterval> | undefined;
  const wake = () => {
    if (kicks !== undefined) return;
    const kick = () => void blocking.unblock().catch(() => {});
    kicks = setInterval(kick, KICK_MS);
    kick();
  };
  const timer = wakeAfter === Infinity ? undefined : setTimeout(wake, wakeAfter);
  signal?.addEventListener("abort", wake, { once: true });
  try {
    return await blocking.send(args, what);
  } finally {
    clearTimeout(timer);
    clearInterval(kicks);
    signal?.removeEventListener("abort", wake);
  }
}

/** The connections that destroy() ended: their reconnect strategy gives up. */
const ended = new WeakSet<Conn>();

/** Ends a node-redis connection, which throws once it is closed already. */
function destroy(conn: Conn): void {
  ended.add(conn);
  try {
    conn.destroy();
  } catch {
    // closed already (it gave up reconnecting)
  }
}

/** The package's connections to one broker. */
export class Link {
  readonly url: string;
  readonly #options: LinkOptions;
  #main: Conn | undefined;
  #opening: Promise<Conn> | undefined;
  #blocking: Conn[] = [];
  #closed = false;

  private constructor(url: string, options: LinkOptions) {
    this.url = url;
    this.#options = options;
  }

  /** Opens a link (its main connection). */
  static async open(url: string, options: LinkOptions): Promise<Link> {
    const link = new Link(url, options);
    await link.#conn("connect");
    return link;
  }

  async #conn(what: string): Promise<Conn> {
    if (this.#closed) throw new TypeError(`Cannot ${what}: the connection to Redis is closed`);
    if (this.#main?.isOpen) return this.#main;
    const opening = this.#opening ??= openConn(this.url, this.#options, true);
    try {
      this.#main = await opening;
    } catch (e) {
      throw brokerError(this.url, what, e);
    } finally {
      if (this.#opening === opening) this.#opening = undefined;
    }
    if (this.#closed) {
      destroy(this.#main);
      throw new TypeError(`Cannot ${what}: the connection to Redis is closed`);
    }
    return this.#main;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one command on the main connection; `what` names the call in errors. */
  async send(args: ReadonlyArray<string | Uint8Array>, what: string): Promise<Reply> {
    const conn = await this.#conn(what);
    try {
      return await command(conn, this.#options, args);
    } catch (e) {
      throw brokerError(this.url, what, e);
    }
  }

  /** Runs a Lua script (by its SHA1, sending its text when the server lacks it). */
  async eval(script: Script, keys: string[], args: (string | Uint8Array)[], what: string) {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await this.send(["EVALSHA", await script.sha(), ...tail], what);
    } catch (e) {
      if (!/NOSCRIPT/.test((e as Error).message)) throw e;
      return await this.send(["EVAL", script.source, ...tail], what);
    }
  }

  /** A new connection for one blocking reader, closed by `close()`. */
  async blocking(what: string): Promise<Blocking> {
    if (this.#closed) throw new TypeError(`Cannot ${what}: the connection to Redis is closed`);
    const conn = await openConn(this.url, this.#options, false);
    if (this.#closed) {
      destroy(conn);
      throw new TypeError(`Cannot ${what}: the connection to Redis is closed`);
    }
    this.#blocking.push(conn);
    const id = String(await command(conn, this.#options, ["CLIENT", "ID"]));
    return {
      get open() {
        return conn.isOpen;
      },
      send: async (args, what) => {
        try {
          return await command(conn, this.#options, args);
        } catch (e) {
          throw brokerError(this.url, what, e);
        }
      },
      unblock: async () => {
        await this.send(["CLIENT", "UNBLOCK", id, "TIMEOUT"], "cancel a wait");
      },
      close: () => {
        this.#blocking = this.#blocking.filter((c) => c !== conn);
        destroy(conn);
      },
    };
  }

  /** Closes every connection; calls still waiting fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const opening = this.#opening;
    const all = [...this.#blocking, ...(this.#main ? [this.#main] : [])];
    this.#blocking = [];
    for (const conn of all) destroy(conn); // blocked commands would keep close() waiting
    if (opening) await opening.then(destroy, () => {});
    // A backoff sleep already begun cannot be cancelled: wait it out (again, if one began meanwhile).
    for (
      let left = backoffEnds - performance.now();
      left > 0;
      left = backoffEnds - performance.now()
    ) {
      await new Promise((r) => setTimeout(r, left + 5));
    }
  }
}

/** A Lua script, loaded on first use. */
export class Script {
  readonly source: string;
  #sha: Promise<string> | undefined;

  constructor(source: string) {
    this.source = source;
  }

  /** Its SHA1, as EVALSHA wants it. */
  sha(): Promise<string> {
    return this.#sha ??= crypto.subtle.digest("SHA-1", new TextEncoder().encode(this.source))
      .then((d) => Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join(""));
  }
}
