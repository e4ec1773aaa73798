/**
 * `SimpleQueue`: an unbounded queue with the meaning of Python's `multiprocessing.SimpleQueue`.
 *
 * @module
 */

import { Queue, type QueueOptions } from "./queue.ts";
import { registerQueueClass } from "./_queue_core.ts";

/**
 * An unbounded first-in first-out queue shared by processes: {@link Queue} without `maxsize`.
 *
 * @typeParam T the items' type.
 *
 * @example
 * ```ts
 * import { SimpleQueue } from "@mp/multiprocessing/ipc";
 *
 * const q = new SimpleQueue<string>();
 * await q.put("hello");
 * console.log(q.empty()); // false
 * console.log(await q.get()); // "hello"
 * ```
 */
export class SimpleQueue<T = unknown> extends Queue<T> {
  /**
   * Makes an unbounded queue in shared memory.
   *
   * @param options the size of the shared buffer.
   */
  constructor(options: QueueOptions = {}) {
    super(0, options);
  }
}
registerQueueClass(SimpleQueue as unknown as new (maxsize: number) => object, "mp.SimpleQueue");
