/**
 * `LockProxy`: a lock kept by a `Manager`.
 *
 * @module
 */

import { ManagerProxy, type ProxyWaitOptions } from "./proxy.ts";
import { call, checkTimeout } from "./_proxy_call.ts";

/**
 * A proxy of a lock kept by a manager. Any process may release it (as Python's manager lock);
 * if the process holding it exits or loses its connection, the lock is released for it.
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const lock = await manager.lock();
 * await lock.acquire();
 * console.log(await lock.acquire({ timeout: 10 })); // false
 * await lock.release();
 * ```
 */
export class LockProxy extends ManagerProxy {
  /**
   * Waits for the lock.
   *
   * @param options `timeout` (0: do not wait) and `signal`.
   * @returns true once held; false when `timeout` passed first.
   * @throws {RangeError} when `timeout` is negative.
   * @throws {DOMException} the signal's reason when it aborts first.
   */
  async acquire(options: ProxyWaitOptions = {}): Promise<boolean> {
    const timeout = checkTimeout(options.timeout, "acquire the lock");
    return await call(this, "acquire", [timeout], options.signal) as boolean;
  }

  /**
   * Releases the lock.
   *
   * @returns once released.
   * @throws {RangeError} when the lock is not held.
   */
  async release(): Promise<void> {
    await call(this, "release", []);
  }

  /**
   * Whether some process holds the lock.
   *
   * @returns whether some process holds the lock.
   */
  locked(): Promise<boolean> {
    return call(this, "locked", []) as Promise<boolean>;
  }
}
