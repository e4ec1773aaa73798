// The error of a failed authkey handshake, apart from listener.ts so that the handshake code can
// throw it without an import cycle; listener.ts re-exports it.

import { registerError } from "../_core/_rpc.ts";

/**
 * Raised by `Client()` and `Manager.connect()` when the two sides do not share the same authkey
 * (or only one of them has one), as Python's `multiprocessing.AuthenticationError`.
 *
 * @example
 * ```ts
 * import { AuthenticationError, Client, Listener } from "@mp/multiprocessing/ipc";
 *
 * await using listener = new Listener({ authkey: "right" });
 * const accepting = listener.accept();
 * try {
 *   await Client(listener.address, { authkey: "wrong" });
 * } catch (e) {
 *   console.log(e instanceof AuthenticationError); // true
 * }
 * listener.close();
 * await accepting.catch(() => {});
 * ```
 */
export class AuthenticationError extends Error {
  /**
   * Makes the error.
   *
   * @param message what failed.
   * @param options the cause.
   */
  constructor(message = "Authentication failed", options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthenticationError";
  }
}
registerError(AuthenticationError);
