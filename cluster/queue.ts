/**
 * Queues on a Redis broker, reached from any host: what `Queue.connect()` and
 * `JoinableQueue.connect()` (in the `ipc` module) build on.
 *
 * @module
 */

import { checkInteger, checkString } from "../_core/_check.ts";
import { adopting, queueTypeOf } from "../_core/_queue_handle.ts";
import { RedisQueueCore } from "./_queue_core.ts";

/** Options of `Queue.connect()`. */
export interface QueueConnectOptions {
  /**
   * The queue's name on the broker: every handle connected with the same address and name
   * reaches the same items.
   */
  name: string;
  /**
   * The most items the queue holds, counted across hosts; `put()` waits while it holds as many.
   * 0 for no limit. The first handle to connect records the queue's maxsize at the broker (0
   * when it gives none; it expires with the queue's keys): a later handle that gives another
   * fails to connect with a `RangeError`, and one that gives none adopts it (its `maxsize`
   * tells it).
   * @default {the queue's maxsize at the broker, else 0}
   */
  maxsize?: number;
  /**
   * The most milliseconds that connecting (socket, password, database) may take; a broker that
   * cannot be reached, or does not answer, fails within it.
   * @default {5000}
   */
  connectTimeout?: number;
  /**
   * Milliseconds after which the keys of a queue that no handle uses any more expire from the
   * broker, with the items still in it. Every open handle keeps them alive.
   * @default {3600000} (one hour)
   */
  expireAfter?: number;
  /** Stops connecting when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/** Options of `JoinableQueue.connect()`. */
export interface JoinableQueueConnectOptions extends QueueConnectOptions {
  /**
   * Milliseconds after its consumer died (or stalled) that an item it got and did not mark done
   * is delivered again, to another consumer.
   *
   * The lease is renewed every `lease / 3` ms by a timer on the consumer's own event loop, not
   * by a thread of its own: while the code that processes the item awaits (I/O, timers, other
   * promises), the renewals go on, however long the work takes. Code that keeps the event loop
   * busy for `lease` ms (a long synchronous loop, a blocking call such as `Atomics.wait` or a
   * synchronous FFI call) stops them: the lease ends and the item is delivered again while this
   * consumer still works on it, so it is done twice. For such work give a `lease` longer than
   * the longest stretch without an await, or yield to the event loop now and then
   * (`await new Promise((r) => setTimeout(r))`); a longer lease also delays the redelivery of
   * a dead consumer's items by as much.
   * @default {1000}
   */
  lease?: number;
}

/**
 * Connects a new handle of class `cls` (`Queue` or `JoinableQueue`) to the queue `name` at
 * `url`.
 *
 * @throws {TypeError} for an address that is not one of the supported forms, or bad options.
 * @throws {RangeError} for a number out of range, or a `maxsize` other than the one the queue
 * has at the broker.
 * @throws {import("./errors.ts").BrokerError} when the broker cannot be reached in time or
 * refuses the credentials.
 *
 * @example
 * ```ts ignore
 * import { Queue } from "@mp/multiprocessing/ipc";
 *
 * // Queue.connect() calls connectQueue(Queue, url, options).
 * await using q = await Queue.connect<string>("redis://localhost:6379", { name: "jobs" });
 * await q.put("hello");
 * ```
 */
export async function connectQueue<Q extends object>(
  cls: new (maxsize?: number) => Q,
  url: string,
  options: JoinableQueueConnectOptions,
): Promise<Q> {
  const what = "Cannot connect queue";
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${what}: give the options, with the queue's name: { name: "jobs" }`);
  }
  const name = checkString(options.name, what, "name");
  if (!name) throw new TypeError(`${what}: options.name must name the queue ({ name: "jobs" })`);
  const maxsize = checkInteger(options.maxsize, what, "maxsize", 0, 2 ** 31 - 1);
  const connectTimeout = checkInteger(options.connectTimeout, what, "connectTimeout", 1) ?? 5000;
  const expireAfter = checkInteger(options.expireAfter, what, "expireAfter", 1000) ?? 3_600_000;
  const lease = checkInteger(options.lease, what, "lease", 30) ?? 1000;
  options.signal?.throwIfAborted();
  const core = new RedisQueueCore({
    url,
    name,
    maxsize,
    joinable: queueTypeOf(cls) === "mp.JoinableQueue",
    connectTimeout,
    expireAfter,
    lease,
  });
  const signal = options.signal;
  const onAbort = () => void core.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await core.open();
  } catch (e) {
    await core.close();
    throw signal?.aborted ? signal.reason : e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  adopting.core = core;
  try {
    return new cls(core.spec.maxsize);
  } finally {
    adopting.core = undefined;
  }
}
