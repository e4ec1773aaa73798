/**
 * `JoinableQueue`: a {@link Queue} whose consumers mark each item done, so that a producer can
 * wait until all of them are, with the meaning of Python's `multiprocessing.JoinableQueue`.
 *
 * @module
 */

import { Queue } from "./queue.ts";
import { cores } from "../_core/_queue_handle.ts";
import { registerQueueClass } from "./_queue_core.ts";
import { limitsOf, type QueueWaitOptions } from "./_remote.ts";
import type { JoinableQueueConnectOptions } from "../cluster/queue.ts";

export type { JoinableQueueConnectOptions };

/**
 * A queue that counts the items put and not yet marked done with `taskDone()`; `join()` waits
 * until that count is zero, counted across all processes.
 *
 * @typeParam T the items' type.
 *
 * @example Two daemon consumers, and a join that returns once every item is done
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import { JoinableQueue } from "@mp/multiprocessing/ipc";
 *
 * export async function consume(q: JoinableQueue<string>): Promise<void> {
 *   for (;;) {
 *     const fruit = await q.get();
 *     console.log(`bought ${fruit}`);
 *     await q.taskDone();
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const q = new JoinableQueue<string>();
 *   for (let i = 0; i < 2; i++) new Process({ target: consume, args: [q], daemon: true }).start();
 *   for (const f of ["apple", "melon", "pear"]) await q.put(f);
 *   await q.join();
 * }
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /**
   * Connects to the joinable queue `options.name` on a Redis broker, as `Queue.connect()` does,
   * with `join()` counted across hosts and items leased to their consumer: an item that a
   * consumer got and did not mark done is delivered again about `options.lease` ms (1 s) after
   * that consumer died (SIGKILL, host gone) or closed its handle. Work is thus done at least
   * once: make it idempotent. `taskDone()` marks the oldest item that this handle got, so call it
   * on the handle that got the item, and await it.
   *
   * The lease of a live consumer is renewed by a timer on that consumer's own event loop: code
   * that keeps the event loop busy (a synchronous loop, a blocking call) for `lease` ms stops
   * the renewals, the lease ends, and the item is delivered again to another consumer while the
   * first still works on it. For long synchronous work give a `lease` longer than the longest
   * stretch between awaits, or yield to the event loop now and then (`await new Promise((r) =>
   * setTimeout(r))`).
   *
   * @typeParam T the items' type.
   * @param url the broker's address (see `Queue.connect()`).
   * @param options the queue's name, `maxsize`, `lease`, `connectTimeout`, `expireAfter`,
   * `signal`.
   * @returns a connected handle.
   * @throws {TypeError} for an address not of the supported forms, or bad options.
   * @throws {RangeError} for a number out of range, or a `maxsize` other than the queue's at
   * the broker (see `Queue.connect()`).
   * @throws {import("../cluster/errors.ts").BrokerError} when the broker cannot be reached
   * within `connectTimeout` or refuses the credentials.
   *
   * @example
   * ```ts ignore
   * import { JoinableQueue } from "@mp/multiprocessing/ipc";
   *
   * await using q = await JoinableQueue.connect<string>("redis://localhost:6379", {
   *   name: "work",
   * });
   * await q.put("job 1");
   * const job = await q.get(); // on any host
   * await q.taskDone();
   * console.log(await q.join({ timeout: 5000 })); // true: every item is done
   * ```
   */
  static override async connect<T = unknown>(
    url: string,
    options: JoinableQueueConnectOptions,
  ): Promise<JoinableQueue<T>> {
    const { connectQueue } = await import("../cluster/queue.ts");
    return await connectQueue(this as new (maxsize?: number) => JoinableQueue<T>, url, options);
  }

  /**
   * Marks one item taken from the queue as done. In a process that reaches the queue through
   * its parent (it cannot map shared memory: no FFI, or not Linux), await it so that the mark
   * reaches the queue before the process goes.
   *
   * @returns nothing (a promise of nothing in a process that reaches the queue through its
   * parent, and for a handle from `connect()`).
   * @throws {RangeError} when called more times than items were put (for a handle from
   * `connect()`: than this handle got items).
   */
  taskDone(): void | Promise<void> {
    return cores.get(this)!.taskDone();
  }

  /**
   * Waits until every item put into the queue has been marked done.
   *
   * An item taken by a consumer that dies before its `taskDone()` (a killed child) is never
   * marked done, as in Python, where `join()` then hangs: give `join()` a `timeout` or a `signal`
   * where a consumer may die. (A queue from `connect()` delivers such an item again instead.)
   *
   * @param options `timeout` in milliseconds and `signal`.
   * @returns true once every item is done; false when the timeout passed first.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { JoinableQueue } from "@mp/multiprocessing/ipc";
   *
   * const q = new JoinableQueue<string>();
   * await q.put("apple");
   * console.log(await q.join({ timeout: 10 })); // false: not done yet
   * await q.get();
   * q.taskDone();
   * console.log(await q.join({ timeout: 1000 })); // true
   * ```
   */
  join(options: QueueWaitOptions = {}): Promise<boolean> {
    return cores.get(this)!.join(limitsOf(options, "Cannot join queue"));
  }
}
registerQueueClass(JoinableQueue, "mp.JoinableQueue");
