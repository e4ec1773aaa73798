/**
 * `Connection`: one end of a message channel between processes, as returned by `Pipe()`,
 * `Listener.accept()` and `Client()`, with the meaning of Python's
 * `multiprocessing.connection.Connection`.
 *
 * @module
 */

import { registerError } from "../_core/_rpc.ts";

/** Options of a call that waits for a message. */
export interface RecvOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * One end of a two-way (or one-way) message channel. Values are structured-cloneable values
 * and this package's handles.
 */
export interface Connection<T = unknown> extends AsyncIterable<T> {
  /** Sends a value; resolves once it is handed to the channel. */
  send(value: T): Promise<void>;
  /**
   * Receives the next value.
   * @throws {EOFError} once every holder of the other end has closed it or exited.
   */
  recv(options?: RecvOptions): Promise<T>;
  /** Whether a value (or EOF) is ready, waiting at most `timeout` ms (default 0). */
  poll(timeout?: number): Promise<boolean>;
  /** Sends raw bytes. */
  sendBytes(bytes: Uint8Array): Promise<void>;
  /** Receives raw bytes sent with `sendBytes`. */
  recvBytes(options?: RecvOptions): Promise<Uint8Array>;
  /** Closes this end. */
  close(): void;
  /** Whether this end is closed. */
  readonly closed: boolean;
  /** Closes this end. */
  [Symbol.dispose](): void;
}

/**
 * Raised by `recv()` when nothing more can arrive: every holder of the other end closed it.
 *
 * @example
 * ```ts
 * import { EOFError } from "@mp/multiprocessing/ipc";
 *
 * const e = new EOFError("the other end is closed");
 * console.log(e.name); // "EOFError"
 * ```
 */
export class EOFError extends Error {
  /**
   * Makes the error.
   *
   * @param message what ended.
   * @param options the cause.
   */
  constructor(message = "The other end of the connection is closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "EOFError";
  }
}
registerError(EOFError);
