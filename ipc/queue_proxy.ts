/**
 * `QueueProxy`: a FIFO queue kept by a `Manager`.
 *
 * @module
 */

import { ManagerProxy, type ProxyWaitOptions } from "./proxy.ts";
import { call, checkTimeout } from "./_proxy_call.ts";

/**
 * A proxy of a FIFO queue kept by a manager. Errors are those of `Queue`: `QueueFullError` and
 * `QueueEmptyError`.
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const q = await manager.queue<string>(2);
 * await q.put("a");
 * await q.putNowait("b");
 * console.log(await q.full(), await q.get()); // true a
 * ```
 */
export class QueueProxy<T = unknown> extends ManagerProxy {
  /**
   * Adds an item, waiting while the queue is full.
   *
   * @param item the item.
   * @param options `timeout` and `signal`.
   * @returns once queued.
   * @throws {QueueFullError} when still full after `timeout`.
   * @throws {DOMException} the signal's reason when it aborts first.
   */
  async put(item: T, options: ProxyWaitOptions = {}): Promise<void> {
    const timeout = checkTimeout(options.timeout, "put");
    await call(this, "put", [item, timeout], options.signal);
  }

  /**
   * Adds an item without waiting.
   *
   * @param item the item.
   * @returns once queued.
   * @throws {QueueFullError} when the queue is full.
   */
  async putNowait(item: T): Promise<void> {
    await call(this, "putNowait", [item]);
  }

  /**
   * Takes the oldest item, waiting while the queue is empty.
   *
   * @param options `timeout` and `signal`.
   * @returns the item.
   * @throws {QueueEmptyError} when still empty after `timeout`.
   * @throws {DOMException} the signal's reason when it aborts first.
   */
  async get(options: ProxyWaitOptions = {}): Promise<T> {
    const timeout = checkTimeout(options.timeout, "get");
    return await call(this, "get", [timeout], options.signal) as T;
  }

  /**
   * Takes the oldest item without waiting.
   *
   * @returns the oldest item.
   * @throws {QueueEmptyError} when the queue is empty.
   */
  getNowait(): Promise<T> {
    return call(this, "getNowait", []) as Promise<T>;
  }

  /**
   * The number of items.
   *
   * @returns the number of items.
   */
  qsize(): Promise<number> {
    return call(this, "qsize", []) as Promise<number>;
  }

  /**
   * Whether there is no item.
   *
   * @returns whether there is no item.
   */
  empty(): Promise<boolean> {
    return call(this, "empty", []) as Promise<boolean>;
  }

  /**
   * Whether the queue holds `maxsize` items.
   *
   * @returns whether the queue holds `maxsize` items.
   */
  full(): Promise<boolean> {
    return call(this, "full", []) as Promise<boolean>;
  }
}
