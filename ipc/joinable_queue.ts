/**
 * `JoinableQueue`: a {@link Queue} whose consumers mark each item done, so that a producer can
 * wait until all of them are, with the meaning of Python's `multiprocessing.JoinableQueue`.
 *
 * @module
 */

import { Queue } from "./queue.ts";
import { cores, registerQueueClass } from "./_queue_core.ts";
import { limitsOf, type QueueWaitOptions } from "./_remote.ts";

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
   * Marks one item taken from the queue as done. In a process that reaches the queue through
   * its parent (it cannot map shared memory: no FFI, or not Linux), await it so that the mark
   * reaches the queue before the process goes.
   *
   * @returns nothing (a promise of nothing in a process that reaches the queue through its
   * parent).
   * @throws {RangeError} when called more times than items were put.
   */
  taskDone(): void | Promise<void> {
    return cores.get(this)!.taskDone();
  }

  /**
   * Waits until every item put into the queue has been marked done.
   *
   * An item taken by a consumer that dies before its `taskDone()` (a killed child) is never
   * marked done, as in Python, where `join()` then hangs: give `join()` a `timeout` or a `signal`
   * where a consumer may die.
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
