// A listening socket that hands out only connections that passed the authkey handshake. Each
// newcomer is checked on its own, under a time limit, so that a slow or wrong client neither
// holds up the others nor stops the server: it is simply closed.

import { type Address, addressLabel, bind, type BoundSocket, noDelay } from "./_socket.ts";
import { HANDSHAKE_TIMEOUT, serverHandshake } from "./_handshake.ts";
import { clearTimer, delay, setTimer, unrefTimer } from "../_core/_timers.ts";

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

interface Waiter {
  resolve(conn: Deno.Conn): void;
  reject(e: unknown): void;
}

/** Options of an {@link AuthServer}. */
export interface AuthServerOptions {
  /** Where to listen; a fresh private Unix socket when left out. */
  address?: Address;
  /** The shared key clients must prove they know; none when left out. */
  authkey?: Uint8Array;
  /** Whether the server and its connections let the program end (a manager's do). */
  unref?: boolean;
  /** What cannot be done when listening fails, for error messages. */
  what: string;
}

/** A server of authenticated connections. */
export class AuthServer {
  /** Where clients connect. */
  readonly address: Address;
  #bound: BoundSocket;
  #authkey: Uint8Array | undefined;
  #unref: boolean;
  #ready: Deno.Conn[] = [];
  #waiters: Waiter[] = [];
  #checking = new Set<Deno.Conn>();
  #running = false;
  #closed = false;

  /** @param options where and with which key. */
  constructor(options: AuthServerOptions) {
    this.#bound = bind(options.address, options.what);
    this.address = this.#bound.address;
    this.#authkey = options.authkey;
    this.#unref = options.unref ?? false;
    if (this.#unref) this.#bound.listener.unref();
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The next authenticated connection.
   *
   * @throws {Error} once the server is closed.
   */
  next(signal?: AbortSignal): Promise<Deno.Conn> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ready = this.#ready.shift();
    if (ready) return Promise.resolve(ready);
    this.#run();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        resolve: (conn) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(conn);
        },
        reject: (e) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Starts accepting (once); authenticated connections wait in line until taken. */
  start(): void {
    this.#run();
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#bound.listener.accept();
      } catch {
        if (this.#closed) break;
        await delay(10); // e.g. out of file descriptors: retry
        continue;
      }
      this.#admit(conn);
    }
  }

  async #admit(conn: Deno.Conn): Promise<void> {
    if (this.#unref) conn.unref();
    noDelay(conn);
    this.#checking.add(conn);
    const timer = setTimer(() => closeQuietly(conn), HANDSHAKE_TIMEOUT);
    if (this.#unref) unrefTimer(timer);
    let ok = false;
    try {
      ok = await serverHandshake(conn, this.#authkey);
    } catch {
      // a client that breaks the protocol or goes away is dropped like a wrong key
    } finally {
      clearTimer(timer);
      this.#checking.delete(conn);
    }
    if (!ok || this.#closed) {
      closeQuietly(conn);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(conn);
    else this.#ready.push(conn);
  }

  #closedError(): Error {
    return new Error(`The listener at ${addressLabel(this.address)} is closed`);
  }

  /** Stops listening, drops unclaimed connections and fails pending `next()` calls. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#bound.close();
    for (const conn of [...this.#ready, ...this.#checking]) closeQuietly(conn);
    this.#ready = [];
    const err = this.#closedError();
    for (const w of this.#waiters.splice(0)) w.reject(err);
  }
}
