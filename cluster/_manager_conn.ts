// A small private connection to Redis for the Redis-backed Manager (./_manager_redis.ts): one
// command connection, reopened on the next call once lost, and a few dedicated connections for
// blocking commands (BLPOP), each destroyed when its wait is aborted. npm:redis is imported only
// when the first connection opens, so local users of the package never load it. Every socket is
// unref'd while idle: a connection keeps its program alive only while a call is under way.
// (To be folded into the shared client in ./_client.ts.)

import { type Address, parseAddress, shownAddress } from "./_address.ts";
import type { Buffer } from "node:buffer";
import type { RedisClientType } from "@redis/client";
import { AuthenticationError } from "../ipc/_auth_error.ts";
import { EOFError } from "../ipc/connection.ts";

type Client = RedisClientType;
type RedisModule = typeof import("@redis/client");

/** A command argument. */
export type Arg = string | Buffer;

let redisModule: Promise<RedisModule> | undefined;
function loadRedis(): Promise<RedisModule> {
  return redisModule ??= import("@redis/client");
}

/** How a URL names a server: node-redis client options, and a label without the password. */
export interface Target {
  readonly url: string;
  readonly label: string;
  readonly options: Record<string, unknown>;
}

/**
 * Reads a broker URL, as every Redis handle of the package does (./_address.ts).
 *
 * @throws {TypeError} naming what is wrong.
 */
export function parseUrl(url: string, what: string): Target {
  let addr: Address;
  try {
    addr = parseAddress(url);
  } catch (e) {
    throw new TypeError(`${what}: ${(e as Error).message}`);
  }
  const socket = { reconnectStrategy: false as const, connectTimeout: 3000, ...addr.socket };
  return {
    url,
    label: shownAddress(url),
    options: {
      socket,
      database: addr.database,
      ...(addr.username !== undefined ? { username: addr.username } : {}),
      ...(addr.password !== undefined ? { password: addr.password } : {}),
    },
  };
}

function connectError(e: unknown, t: Target): Error {
  const err = e as Error & { code?: string };
  const msg = `${err?.message ?? err}`;
  const at = `Cannot connect to Redis at ${t.label}`;
  if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(msg)) {
    return new AuthenticationError(`${at}: wrong user or password (${msg})`);
  }
  if (err?.code === "ECONNREFUSED") {
    return new Deno.errors.ConnectionRefused(`${at}: nobody listens there`, { cause: e });
  }
  if (err?.code === "ENOENT") {
    return new Deno.errors.NotFound(`${at}: no such socket`, { cause: e });
  }
  if (err instanceof Deno.errors.TimedOut) return err;
  return new Deno.errors.ConnectionRefused(`${at}: ${msg}`, { cause: e });
}

/** Destroys a client, which node-redis refuses (throws) once it is closed. */
function destroy(c: Client): void {
  try {
    c.destroy();
  } catch {
    // closed already
  }
}

async function openClient(t: Target, base?: Client): Promise<Client> {
  const { createClient } = await loadRedis();
  const c = (base ? base.duplicate() : createClient(t.options)) as Client;
  c.on("error", () => {}); // reported by the command that fails
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      c.connect(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new Deno.errors.TimedOut(`Cannot connect to Redis at ${t.label}: no answer`)),
          4000,
        );
      }),
    ]);
  } catch (e) {
    destroy(c);
    throw connectError(e, t);
  } finally {
    clearTimeout(timer);
  }
  c.unref();
  return c;
}

/** One process's connection to a Redis server. */
export class RedisConn {
  readonly target: Target;
  #client: Promise<Client> | undefined;
  #busy = 0;
  #idle: Client[] = [];
  #blocking = new Set<Client>();
  #closed = false;

  private constructor(target: Target, client: Client) {
    this.target = target;
    this.#client = Promise.resolve(client);
  }

  /** Connects now, so that a wrong URL, password or a missing server shows at once. */
  static async open(url: string, what: string): Promise<RedisConn> {
    const t = parseUrl(url, what);
    return new RedisConn(t, await openClient(t));
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  #gone(e: unknown): Error {
    if (this.#closed) {
      return new EOFError(`The connection to Redis at ${this.target.label} is closed`);
    }
    const msg = (e as Error)?.message ?? String(e);
    return new EOFError(`Redis at ${this.target.label} is gone (${msg})`, { cause: e });
  }

  async #main(): Promise<Client> {
    if (this.#closed) throw this.#gone(undefined);
    const p = this.#client;
    if (p) {
      const c = await p.catch(() => undefined);
      if (c?.isOpen) return c;
    }
    const opening = openClient(this.target);
    this.#client = opening;
    opening.catch(() => {
      if (this.#client === opening) this.#client = undefined;
    });
    const c = await opening;
    if (this.#closed) {
      destroy(c);
      throw this.#gone(undefined);
    }
    return c;
  }

  #hold(c: Client): void {
    if (this.#busy++ === 0) c.ref();
  }

  #unhold(c: Client): void {
    if (--this.#busy === 0 && c.isOpen) c.unref();
  }

  /**
   * Sends one command; replies come as strings, or as Buffers when `buffers` is set. A Redis
   * error reply is thrown as an Error with its text; a lost server as an EOFError.
   */
  async send(args: Arg[], buffers = false): Promise<unknown> {
    const c = await this.#main();
    this.#hold(c);
    try {
      return await c.sendCommand(args, buffers ? { typeMapping: await bufferMapping() } : {});
    } catch (e) {
      throw replyError(e) ?? this.#gone(e);
    } finally {
      this.#unhold(c);
    }
  }

  /**
   * Runs a blocking command on a connection of its own; aborting `signal` destroys that
   * connection (the server forgets the wait) and throws the signal's reason.
   */
  async blocking(args: Arg[], signal?: AbortSignal): Promise<unknown> {
    signal?.throwIfAborted();
    let c = this.#idle.pop();
    if (!c?.isOpen) c = await openClient(this.target, await this.#main());
    if (this.#closed) {
      destroy(c);
      throw this.#gone(undefined);
    }
    this.#blocking.add(c);
    c.ref();
    const onAbort = () => destroy(c);
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await c.sendCommand(args, { typeMapping: await bufferMapping() });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      throw replyError(e) ?? this.#gone(e);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      this.#blocking.delete(c);
      if (c.isOpen && !this.#closed && this.#idle.length < 2) {
        c.unref();
        this.#idle.push(c);
      } else if (c.isOpen) destroy(c);
    }
  }

  /** Closes every connection at once; calls in flight fail. Calling it again does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of [...this.#idle, ...this.#blocking]) destroy(c);
    this.#idle = [];
    this.#blocking.clear();
    const c = await this.#client?.catch(() => undefined);
    this.#client = undefined;
    if (c?.isOpen) destroy(c);
  }
}

let mapping: Promise<Record<string, unknown>> | undefined;
function bufferMapping(): Promise<Record<string, unknown>> {
  return mapping ??= (async () => {
    const { RESP_TYPES } = await loadRedis();
    const { Buffer } = await import("node:buffer");
    return { [RESP_TYPES.BLOB_STRING]: Buffer };
  })();
}

/** A Redis error reply as an Error (RangeError when a script says "RANGE ..."), else undefined. */
function replyError(e: unknown): Error | undefined {
  const name = (e as Error)?.constructor?.name;
  if (name !== "SimpleError" && name !== "ErrorReply") return undefined;
  const msg = (e as Error).message;
  if (msg.startsWith("RANGE ")) return new RangeError(msg.slice(6));
  if (msg.startsWith("KIND ")) return new TypeError(msg.slice(5));
  return new Error(`Redis refused the command: ${msg}`, { cause: e });
}
