/**
 * The error of a call that the Redis broker could not serve.
 *
 * @module
 */

/**
 * Raised when the broker cannot be reached, refuses the credentials, or the connection to it is
 * lost during a call. The message says which address failed (without its password), why, and
 * what to check; `cause` holds the client's own error.
 *
 * @example
 * ```ts ignore
 * import { Queue } from "@mp/multiprocessing/ipc";
 * import { BrokerError } from "@mp/multiprocessing/cluster";
 *
 * try {
 *   await Queue.connect("redis://127.0.0.1:1", { name: "jobs" });
 * } catch (e) {
 *   console.log(e instanceof BrokerError); // true: nothing listens on port 1
 * }
 * ```
 */
export class BrokerError extends Error {
  /**
   * Makes the error.
   *
   * @param message what failed, why, and what to do.
   * @param options the client's error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokerError";
  }
}
