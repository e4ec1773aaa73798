/**
 * `Queue`: a first-in first-out queue shared by processes, with the meaning of Python's
 * `multiprocessing.Queue`, and the errors its non-waiting calls raise.
 *
 * @module
 */

import { checkInteger } from "../_core/_check.ts";
import { reduce, type ReduceContext, type Reduced } from "../_core/_reduce.ts";
import { type Caller, registerError, remoteCall } from "../_core/_rpc.ts";
import { adopting, cores, type QueueCore, queueTypeOf } from "../_core/_queue_handle.ts";
import { type QueueState, registerQueueClass, RingCore } from "./_queue_core.ts";
import { Ring } from "./_ring.ts";
import { shareMemory } from "../_core/_share.ts";
import { limitsOf, type QueueWaitOptions, ServedCalls } from "./_remote.ts";
import type { QueueConnectOptions } from "../cluster/queue.ts";
import { RedisQueueCore } from "../_core/_redis.ts";

export type { QueueConnectOptions, QueueWaitOptions };

/** Options of a {@link Queue}. */
export interface QueueOptions {
  /**
   * Bytes of shared memory that hold the items in flight at first (rounded up to a power of
   * two). The buffer doubles whenever an item does not fit, up to `maxBufferSize`, so `put()`
   * never waits for a reader to make room (only `maxsize` makes it wait), whatever the item's
   * size: the item is in shared memory when `put()` returns, and a process that exits (or is
   * killed) right after loses nothing.
   * @default {1048576}
   */
  bufferSize?: number;
  /**
   * The most bytes the buffer grows to (rounded up to a power of two, at most 2**30). Only its
   * address space is reserved up front; memory is taken as the buffer grows, and stays with the
   * queue once taken (where memory is mapped, FFI on Linux, both stay until the process exits,
   * even after the queue is dropped: mapped memory is never unmapped while a process runs). When
   * this much is waiting, `put()` waits (and `putNowait()` refuses) until a reader makes room;
   * an item larger than this passes in pieces while a reader takes it. Give `bufferSize` to make
   * a buffer that never grows.
   * @default {1073741824} (1 GiB), or `bufferSize` when that is larger
   */
  maxBufferSize?: number;
}

/**
 * Raised by `putNowait()`, and by `put()` when its timeout passes, while the queue is full
 * (Python's `queue.Full`).
 *
 * @example
 * ```ts
 * import { Queue, QueueFullError } from "@mp/multiprocessing/ipc";
 *
 * const q = new Queue<number>(1);
 * q.putNowait(1);
 * try {
 *   q.putNowait(2);
 * } catch (e) {
 *   console.log(e instanceof QueueFullError); // true
 * }
 * ```
 */
export class QueueFullError extends Error {
  /**
   * Makes the error.
   *
   * @param message what was refused.
   * @param options the cause.
   */
  constructor(message = "The queue is full", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueFullError";
  }
}
registerError(QueueFullError);

/**
 * Raised by `getNowait()`, and by `get()` when its timeout passes, while the queue is empty
 * (Python's `queue.Empty`).
 *
 * @example
 * ```ts
 * import { Queue, QueueEmptyError } from "@mp/multiprocessing/ipc";
 *
 * const q = new Queue<number>();
 * try {
 *   q.getNowait();
 * } catch (e) {
 *   console.log(e instanceof QueueEmptyError); // true
 * }
 * ```
 */
export class QueueEmptyError extends Error {
  /**
   * Makes the error.
   *
   * @param message what found nothing.
   * @param options the cause.
   */
  constructor(message = "The queue is empty", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueEmptyError";
  }
}
registerError(QueueEmptyError);

const DEFAULT_BUFFER = 1 << 20;
const DEFAULT_MAX_BUFFER = 1 << 30;
const RESOLVED: Promise<void> = Promise.resolve();

/** The ring of a new queue, from its options. */
function newRing(options: QueueOptions): Ring {
  const bufferSize = options.bufferSize ?? DEFAULT_BUFFER;
  const maxBufferSize = options.maxBufferSize ?? Math.max(bufferSize, DEFAULT_MAX_BUFFER);
  if (maxBufferSize < bufferSize) {
    throw new RangeError(
      `Cannot create queue: maxBufferSize (${maxBufferSize}) is below bufferSize ` +
        `(${bufferSize}); give a maxBufferSize at least as large, or leave it out`,
    );
  }
  try {
    return Ring.create(bufferSize, maxBufferSize);
  } catch (e) {
    throw e instanceof RangeError ? new RangeError(`Cannot create queue: ${e.message}`) : e;
  }
}

/**
 * A first-in first-out queue that any process holding it can put into and get from. Pass it to
 * children in `args`. Items are structured-cloneable values; each arrives exactly once, and the
 * items of one producer arrive in the order it put them.
 *
 * With `maxsize > 0`, `put()` waits while `maxsize` items are in the queue, counted across all
 * processes. The items pass through shared memory between every process that shares the
 * queue's memory: where processes may use FFI on Linux, every child that may use FFI too,
 * worker or subprocess, maps it; elsewhere worker children share its `SharedArrayBuffer` (see
 * the `sync` module). A process that cannot map shared memory (no FFI, or not Linux) and reaches
 * the queue through its parent makes one round trip there per call, and there the synchronous
 * calls throw a TypeError that names the call to await instead (`put()` and `get()` with
 * `timeout: 0`, `qsizeAsync()`, `emptyAsync()`, `fullAsync()`).
 *
 * @typeParam T the items' type.
 *
 * @example Five puts into Queue(5); the sixth putNowait is refused
 * ```ts
 * import { Queue, QueueFullError } from "@mp/multiprocessing/ipc";
 *
 * const q = new Queue<number>(5);
 * for (let i = 1; i <= 5; i++) await q.put(i * 111);
 * console.log(q.full()); // true
 * try {
 *   q.putNowait(666);
 * } catch (e) {
 *   if (!(e instanceof QueueFullError)) throw e;
 * }
 * console.log(await q.get()); // 111
 * ```
 *
 * @example An item larger than the buffer: put() returns at once, with no reader yet
 * ```ts
 * import { Queue } from "@mp/multiprocessing/ipc";
 *
 * const q = new Queue<Uint8Array>(0, { bufferSize: 4096 });
 * await q.put(new Uint8Array(1 << 20)); // the buffer grows to hold it
 * console.log(q.qsize()); // 1
 * console.log((await q.get()).length); // 1048576
 * ```
 *
 * @example A producer child
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import { Queue } from "@mp/multiprocessing/ipc";
 *
 * export async function produce(q: Queue<string>): Promise<void> {
 *   await q.put("made by a child");
 * }
 *
 * if (import.meta.main) {
 *   const q = new Queue<string>();
 *   const p = new Process({ target: produce, args: [q] });
 *   p.start();
 *   console.log(await q.get());
 *   await p.join();
 * }
 * ```
 */
export class Queue<T = unknown> {
  #core: QueueCore;
  #maxsize: number;
  #closed = false;
  #served: ServedCalls | undefined;

  /**
   * Makes a queue in shared memory.
   *
   * @param maxsize the most items the queue holds; 0 for no limit.
   * @param options the size of the shared buffer, at first and at most.
   * @throws {TypeError} when `maxsize` or a buffer size is not an integer.
   * @throws {RangeError} when `maxsize` is negative, a buffer size is out of range, or
   * `maxBufferSize` is below `bufferSize`.
   */
  constructor(maxsize = 0, options: QueueOptions = {}) {
    const what = "Cannot create queue";
    checkInteger(maxsize, what, "maxsize", 0, 2 ** 31 - 1);
    checkInteger(options.bufferSize, what, "bufferSize", 1, 2 ** 30);
    checkInteger(options.maxBufferSize, what, "maxBufferSize", 1, 2 ** 30);
    this.#maxsize = maxsize;
    const core = adopting.core;
    adopting.core = undefined;
    this.#core = core ?? new RingCore(
      newRing(options),
      maxsize,
      queueTypeOf(new.target) === "mp.JoinableQueue",
    );
    cores.set(this, this.#core);
  }

  /**
   * Connects to the queue `options.name` on a Redis broker, which handles on any host reach
   * alike. The handle has this class's API, with these differences: each call is a round trip
   * to the broker, so the synchronous calls throw a TypeError that names the call to await
   * instead (`put(item, { timeout: 0 })` for `putNowait()`, `get({ timeout: 0 })` for
   * `getNowait()`, `qsizeAsync()`, `emptyAsync()` and `fullAsync()`, which are exact); `close()`
   * returns a promise that settles once the connections are closed (or use `await using`); and
   * a connection lost during a call fails that call with a `BrokerError` (from the `cluster`
   * module). The handle travels to children in `args`, where it connects itself. Loading this
   * module does not load the Redis client: the first `connect()` does.
   *
   * Addresses: `redis://[user:password@]host[:port][/db]`, `rediss://…` (TLS), and
   * `unix:///path/to/redis.sock[?db=N&password=P]` (or `redis+unix://`) for a local server.
   *
   * One queue has one `maxsize`, counted across hosts: the first handle to connect records it
   * at the broker (0, no limit, when it gives none), a later handle that gives another fails
   * with a `RangeError` naming both, and one that gives none adopts it (see `q.maxsize`).
   *
   * @typeParam T the items' type.
   * @param url the broker's address.
   * @param options the queue's name, `maxsize`, `connectTimeout`, `expireAfter`, `signal`.
   * @returns a connected handle.
   * @throws {TypeError} for an address not of those forms, or options of the wrong type.
   * @throws {RangeError} for a number out of range, or a `maxsize` other than the queue's at
   * the broker (recorded by the first handle that connected; leave `maxsize` out to adopt it).
   * @throws {import("../cluster/errors.ts").BrokerError} when the broker cannot be reached
   * within `connectTimeout` or refuses the credentials.
   *
   * @example
   * ```ts ignore
   * import { Queue } from "@mp/multiprocessing/ipc";
   *
   * await using q = await Queue.connect<string>("redis://localhost:6379", {
   *   name: "jobs",
   *   maxsize: 1000,
   * });
   * await q.put("hello"); // any host connected to the same broker and name can get it
   * console.log(await q.qsizeAsync()); // 1
   * console.log(await q.get()); // "hello"
   * ```
   */
  static async connect<T = unknown>(url: string, options: QueueConnectOptions): Promise<Queue<T>> {
    const { connectQueue } = await import("../cluster/queue.ts");
    return await connectQueue(this as new (maxsize?: number) => Queue<T>, url, options);
  }

  /** The most items the queue holds; 0 for no limit. */
  get maxsize(): number {
    return this.#maxsize;
  }

  #check(what: string): void {
    if (this.#closed) throw new TypeError(`Cannot ${what}: the queue is closed in this process`);
  }

  /**
   * Puts an item, waiting while the queue is full.
   *
   * @param item a structured-cloneable value.
   * @param options `timeout` in milliseconds and `signal`.
   * @returns once the item is in the queue.
   * @throws {QueueFullError} when the timeout passes while the queue is full.
   * @throws {TypeError} when the item cannot be sent, or the queue is closed.
   * @throws {DOMException} the signal's reason when it aborts.
   */
  put(item: T, options: QueueWaitOptions = {}): Promise<void> {
    let r: boolean | Promise<boolean>;
    try {
      this.#check("put");
      r = this.#core.put(item, limitsOf(options, "Cannot put"));
    } catch (e) {
      return Promise.reject(e);
    }
    const full = (ok: boolean) => {
      if (!ok) {
        throw new QueueFullError(`Cannot put: the queue stayed full for ${options.timeout} ms`);
      }
    };
    return r === true
      ? RESOLVED
      : typeof r === "boolean"
      ? Promise.resolve(r).then(full)
      : r.then(full);
  }

  /**
   * Puts an item without waiting.
   *
   * @param item a structured-cloneable value.
   * @throws {QueueFullError} when the queue is full.
   * @throws {TypeError} when the item cannot be sent, the queue is closed, or in a process that
   * cannot map shared memory (no FFI, or not Linux) and reaches the queue through its parent
   * (which must `await put()`).
   */
  putNowait(item: T): void {
    this.#check("put");
    if (!this.#core.putNowait(item)) {
      throw new QueueFullError(
        `Cannot put: the queue is full (${this.#maxsize || "its buffer"} ${
          this.#maxsize ? "items" : ""
        })`.replace(" )", ")"),
      );
    }
  }

  /**
   * Takes the next item, waiting while the queue is empty.
   *
   * @param options `timeout` in milliseconds and `signal`.
   * @returns the item.
   * @throws {QueueEmptyError} when the timeout passes while the queue is empty.
   * @throws {TypeError} when the queue is closed.
   * @throws {DOMException} the signal's reason when it aborts.
   */
  get(options: QueueWaitOptions = {}): Promise<T> {
    let r: { value: unknown } | Promise<{ value: unknown } | undefined>;
    try {
      this.#check("get");
      r = this.#core.get(limitsOf(options, "Cannot get"));
    } catch (e) {
      return Promise.reject(e);
    }
    if (!(r instanceof Promise)) return Promise.resolve(r.value as T);
    return r.then((got) => {
      if (!got) {
        throw new QueueEmptyError(`Cannot get: the queue stayed empty for ${options.timeout} ms`);
      }
      return got.value as T;
    });
  }

  /**
   * Takes the next item without waiting.
   *
   * @returns the item.
   * @throws {QueueEmptyError} when the queue is empty.
   * @throws {TypeError} when the queue is closed, or in a process that cannot map shared memory
   * (no FFI, or not Linux) and reaches the queue through its parent (which must `await get()`).
   */
  getNowait(): T {
    this.#check("get");
    const got = this.#core.getNowait();
    if (!got) throw new QueueEmptyError("Cannot get: the queue is empty");
    return got.value as T;
  }

  /**
   * The number of items in the queue, counted across all processes.
   *
   * @returns the count at this moment.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the queue through its parent: use `qsizeAsync()`.
   */
  qsize(): number {
    return this.#core.qsize("qsize");
  }

  /**
   * Whether the queue holds no item.
   *
   * @returns `qsize() === 0`.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the queue through its parent: use `emptyAsync()`.
   */
  empty(): boolean {
    return this.#core.qsize("empty") === 0;
  }

  /**
   * Whether the queue holds `maxsize` items.
   *
   * @returns false for a queue without limit.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the queue through its parent: use `fullAsync()`.
   */
  full(): boolean {
    return this.#isFull(this.#core.qsize("full"));
  }

  #isFull(count: number): boolean {
    return this.#maxsize > 0 && count >= this.#maxsize;
  }

  /**
   * The number of items in the queue, in any process: `qsize()` where memory is shared, one
   * round trip to the queue's owner in a process that reaches the queue through its parent.
   *
   * @returns the count at this moment.
   *
   * @example
   * ```ts
   * import { Queue } from "@mp/multiprocessing/ipc";
   *
   * const q = new Queue<string>();
   * await q.put("a");
   * console.log(await q.qsizeAsync()); // 1
   * ```
   */
  qsizeAsync(): Promise<number> {
    return this.#core.qsizeAsync();
  }

  /**
   * Whether the queue holds no item, in any process (also in one that reaches the queue through
   * its parent).
   *
   * @returns `(await qsizeAsync()) === 0`.
   *
   * @example
   * ```ts
   * import { Queue } from "@mp/multiprocessing/ipc";
   *
   * console.log(await new Queue().emptyAsync()); // true
   * ```
   */
  async emptyAsync(): Promise<boolean> {
    return (await this.#core.qsizeAsync()) === 0;
  }

  /**
   * Whether the queue holds `maxsize` items, in any process (also in one that reaches the queue
   * through its parent).
   *
   * @returns false for a queue without limit.
   *
   * @example
   * ```ts
   * import { Queue } from "@mp/multiprocessing/ipc";
   *
   * const q = new Queue<number>(1);
   * await q.put(1);
   * console.log(await q.fullAsync()); // true
   * ```
   */
  async fullAsync(): Promise<boolean> {
    return this.#isFull(await this.#core.qsizeAsync());
  }

  /**
   * Says that this process will use the queue no more; later `put`/`get` here throw. A handle
   * from `connect()` also closes its connections to the broker (calls still waiting fail), and
   * a `JoinableQueue` handle gives back the items it got and did not mark done.
   *
   * @returns nothing for a local queue; for a handle from `connect()`, a promise that settles
   * once its connections are closed.
   */
  close(): void | Promise<void> {
    this.#closed = true;
    return this.#core.close?.();
  }

  /** Whether `close()` was called in this process. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the queue in this process (without waiting for a broker connection to close). */
  [Symbol.dispose](): void {
    void this.close();
  }

  /** Closes the queue in this process, and waits until its broker connections are closed. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    const type = queueTypeOf(this.constructor);
    const state: QueueState = { maxsize: this.#maxsize, joinable: type === "mp.JoinableQueue" };
    if (this.#core instanceof RedisQueueCore) {
      state.redis = this.#core.spec; // the child connects itself
      return { type, state };
    }
    const memory = this.#core instanceof RingCore
      ? shareMemory(this.#core.ring.sab, ctx)
      : undefined;
    if (memory !== undefined) state.sab = memory;
    else state.id = ctx.share(this);
    return { type, state };
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    const served = this.#served ??= new ServedCalls();
    const core = this.#core;
    switch (method) {
      case "put":
        return served.run(caller, args, "Cannot put", (l) => core.put(args[0], l));
      case "get":
        return served.run(caller, args, "Cannot get", (l) => core.get(l));
      case "join":
        return served.run(caller, args, "Cannot join", (l) => core.join(l));
      case "cancel":
        return served.cancel(caller, args[0] as number);
      case "taskDone":
        return core.taskDone();
      case "qsize":
        return core.qsizeAsync(); // also when this handle is itself a proxy
    }
    throw new TypeError(`Cannot call '${method}' on a queue`);
  }
}

registerQueueClass(Queue, "mp.Queue");
