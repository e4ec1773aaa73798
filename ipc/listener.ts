/**
 * `Listener` and `Client`: connections between any two processes, through a Unix socket or TCP,
 * guarded by a shared authkey, with the meaning of Python's `multiprocessing.connection`.
 *
 * @module
 */

import { AuthServer } from "./_auth_server.ts";
import { connectAuthenticated } from "./_handshake.ts";
import { type Address, checkAddress, checkAuthkey, checkMaxMessageSize } from "./_socket.ts";
import { SocketConnection } from "./_socket_connection.ts";
import type { Connection } from "./connection.ts";

export { AuthenticationError } from "./_auth_error.ts";
export type { Address, TcpAddress } from "./_socket.ts";

/** Options of a {@link Listener}. */
export interface ListenerOptions {
  /**
   * A Unix socket path, or `{ hostname, port }` for TCP (port 0 picks a free one). A Unix socket
   * is made readable and writable by its owner alone, and removed by `close()`.
   * @default {a fresh socket in a private temporary directory}
   */
  address?: Address;
  /**
   * The key a client must prove it knows (HMAC-SHA256 challenge and response, both ways); the
   * key itself never crosses the wire.
   * @default {undefined} (no authentication)
   */
  authkey?: string | Uint8Array;
  /**
   * The longest message, in encoded bytes (a `sendBytes` payload plus a few bytes), that a
   * connection accepts from its client. A longer one is refused as soon as its length arrives:
   * that connection's `recv()` rejects with a `RangeError` and it is closed, while the listener
   * goes on serving. Memory is only ever taken for bytes that arrive, never for a length a
   * message merely claims. Python has no such limit; `Infinity` lifts it. The default bounds
   * what a peer (one without an authkey, above all) can make this process hold per connection,
   * far above ordinary messages.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
}

/** Options of an `accept()` call. */
export interface AcceptOptions {
  /** Stops waiting when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * A server socket that hands out a {@link Connection} for each client that connects with the
 * right authkey. A client with a wrong key is refused (it gets an `AuthenticationError`) and
 * the listener goes on serving the others.
 *
 * @example A server and a client in one program
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/ipc";
 *
 * await using listener = new Listener({ authkey: "secret" });
 * const [server, client] = await Promise.all([
 *   listener.accept(),
 *   Client(listener.address, { authkey: "secret" }),
 * ]);
 * await client.send({ hello: "world" });
 * console.log(await server.recv()); // { hello: "world" }
 * server.close();
 * client.close();
 * ```
 *
 * @example A message longer than maxMessageSize closes its connection, and only that one
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/ipc";
 *
 * await using listener = new Listener({ maxMessageSize: 1024 });
 * const accepted = listener.accept();
 * using client = await Client(listener.address);
 * using server = await accepted;
 * await client.sendBytes(new Uint8Array(4096));
 * try {
 *   await server.recv();
 * } catch (e) {
 *   console.log(e instanceof RangeError); // true
 * }
 * ```
 */
export class Listener implements AsyncDisposable {
  #server: AuthServer;
  #maxMessageSize: number;

  /**
   * Starts listening at once.
   *
   * @param options where to listen, the authkey and the longest message.
   * @throws {TypeError} when the address or the authkey is malformed.
   * @throws {RangeError} when `maxMessageSize` is not a whole number >= 1 or `Infinity`.
   * @throws {Deno.errors.AddrInUse} when the address is taken.
   * @throws {Deno.errors.NotCapable} without the permissions to listen, naming the missing flags
   * (the default address needs --allow-read, --allow-write and --allow-net).
   */
  constructor(options: ListenerOptions = {}) {
    const what = "Cannot create listener";
    this.#maxMessageSize = checkMaxMessageSize(options.maxMessageSize, what);
    this.#server = new AuthServer({
      address: options.address === undefined ? undefined : checkAddress(options.address, what),
      authkey: checkAuthkey(options.authkey, what),
      what,
    });
  }

  /** Where clients connect: the socket path, or the host and the actual port. */
  get address(): Address {
    const a = this.#server.address;
    return typeof a === "string" ? a : { ...a };
  }

  /** Whether the listener is closed. */
  get closed(): boolean {
    return this.#server.closed;
  }

  /**
   * Waits for the next client that proves it knows the authkey. Clients that fail are dropped
   * and do not end the wait.
   *
   * @param options `signal` to stop waiting.
   * @returns the server's end of the new connection.
   * @throws {Error} once the listener is closed.
   * @throws {DOMException} the signal's reason when it aborts.
   */
  async accept<T = unknown>(options: AcceptOptions = {}): Promise<Connection<T>> {
    return new SocketConnection<T>(await this.#server.next(options.signal), this.#maxMessageSize);
  }

  /** Stops listening and removes the Unix socket; pending `accept()` calls reject. */
  close(): void {
    this.#server.close();
  }

  /** Closes the listener. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Options of {@link Client}. */
export interface ClientOptions {
  /** The listener's key. @default {undefined} (for a listener without one) */
  authkey?: string | Uint8Array;
  /** Stops connecting when aborted. @default {undefined} */
  signal?: AbortSignal;
  /**
   * The longest message, in encoded bytes, accepted from the listener; a longer one is refused
   * as soon as its length arrives: `recv()` rejects with a `RangeError` and the connection is
   * closed. `Infinity` lifts the limit, as in Python.
   * @default {67108864} (64 MiB)
   */
  maxMessageSize?: number;
}

/**
 * Connects to a {@link Listener} and proves that this side knows its authkey.
 *
 * @param address the listener's address.
 * @param options the authkey, a signal and the longest message accepted.
 * @returns the client's end of the connection.
 * @throws {AuthenticationError} when the keys differ, or only one side has one.
 * @throws {Deno.errors.NotFound} or {Deno.errors.ConnectionRefused} when nobody listens there.
 * @throws {TypeError} when the address or the authkey is malformed.
 * @throws {RangeError} when `maxMessageSize` is not a whole number >= 1 or `Infinity`.
 *
 * @example
 * ```ts
 * import { Client, Listener } from "@mp/multiprocessing/ipc";
 *
 * await using listener = new Listener({ address: { port: 0 }, authkey: "k" });
 * const accepted = listener.accept();
 * using conn = await Client(listener.address, { authkey: "k" });
 * using server = await accepted;
 * await server.sendBytes(new Uint8Array([1, 2, 3]));
 * console.log(await conn.recvBytes()); // Uint8Array(3) [ 1, 2, 3 ]
 * ```
 */
export async function Client<T = unknown>(
  address: Address,
  options: ClientOptions = {},
): Promise<Connection<T>> {
  const maxMessageSize = checkMaxMessageSize(options.maxMessageSize, "Cannot connect");
  return new SocketConnection<T>(await connectAuthenticated(address, options), maxMessageSize);
}
