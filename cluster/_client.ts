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

import { Buffer } from "node:buffer";
import { parseAddress, shownAddress } from "./_address.ts";
import { BrokerError } from "./errors.ts";

/** A reply as the link returns it: bulk strings as Buffers. */
export type Reply = null | number | Buffer | string | Reply[];

/** The part of a node-redis client that the link uses. */
interface Conn {
  isOpen: boolean;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: "error", fn: (e: Error) => void): unknown;
  duplicate(): Conn;
  unref(): void;
  sendCommand(
    args: ReadonlyArray<string | Buffer>,
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
   * Whether the connections leave the event loop free to end (a pool's: while it has tasks
   * pending, the pool itself keeps the program alive). @default {false}
   */
  unref?: boolean;
}

const RECONNECTS = 3;

/**
 * When the last reconnect backoff that node-redis sleeps ends: it cannot be cancelled (a
 * destroyed client wakes and stops), so `close()` waits it out, leaving no timer behind.
 */
let backoffEnds = 0;

let loaded: Promise<typeof import("@redis/client")> | undefined;

/** Opens a node-redis connection to `url`, within `timeout` ms. */
async function openConn(
  url: string,
  options: LinkOptions,
  reconnect: boolean,
): Promise<Conn> {
  const timeout = options.connectTimeout;
  const address = parseAddress(url);
  const redis = await (loaded ??= import("@redis/client"));
  BUFFERS ??= { typeMapping: { [redis.RESP_TYPES.BLOB_STRING]: Buffer } };
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
        if (!reconnect || !up || retries >= RECONNECTS) return cause;
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
    if (options.unref) conn.unref();
    return conn;
  } catch (e) {
    try {
      conn.destroy();
    } catch {
      // never opened
    }
    throw brokerError(url, "connect", e);
  } finally {
    clearTimeout(timer);
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
  send(args: ReadonlyArray<string | Buffer>, what: string): Promise<Reply>;
  /** Makes the blocked command on this connection return as if it timed out. */
  unblock(): Promise<void>;
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
      this.#main.destroy();
      throw new TypeError(`Cannot ${what}: the connection to Redis is closed`);
    }
    return this.#main;
  }

  /** Sends one command on the main connection; `what` names the call in errors. */
  async send(args: ReadonlyArray<string | Buffer>, what: string): Promise<Reply> {
    const conn = await this.#conn(what);
    try {
      return await conn.sendCommand(args, BUFFERS) as Reply;
    } catch (e) {
      throw brokerError(this.url, what, e);
    }
  }

  /** Runs a Lua script (by its SHA1, sending its text when the server lacks it). */
  async eval(script: Script, keys: string[], args: (string | Buffer)[], what: string) {
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
      conn.destroy();
      throw new TypeError(`Cannot ${what}: the connection to Redis is closed`);
    }
    this.#blocking.push(conn);
    const id = String(await conn.sendCommand(["CLIENT", "ID"], BUFFERS));
    return {
      get open() {
        return conn.isOpen;
      },
      send: async (args, what) => {
        try {
          return await conn.sendCommand(args, BUFFERS) as Reply;
        } catch (e) {
          throw brokerError(this.url, what, e);
        }
      },
      unblock: async () => {
        await this.send(["CLIENT", "UNBLOCK", id, "TIMEOUT"], "cancel a wait");
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
    for (const conn of all) {
      try {
        conn.destroy(); // blocked commands would keep close() waiting
      } catch {
        // closed already (it gave up reconnecting)
      }
    }
    if (opening) await opening.then((c) => c.destroy(), () => {});
    const left = backoffEnds - performance.now();
    if (left > 0) await new Promise((r) => setTimeout(r, left + 5));
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
