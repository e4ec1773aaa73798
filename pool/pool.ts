/**
 * `Pool`: a fixed set of worker processes that run tasks, with the meaning of Python's
 * `multiprocessing.Pool`, and without its hangs: a lost worker fails its task and is replaced.
 *
 * @module
 */

import type { StartMethod } from "../process/process.ts";
import { checkStartMethod } from "../_core/_check.ts";
import { cpuCount } from "../process/current.ts";
import { state } from "../_core/_state.ts";
import { addExitHook } from "../_core/_exit.ts";
import { findExport, moduleLabel } from "../_core/_target.ts";
import { type FnRef, Kind } from "./_channel.ts";
import { checkInteger, checkIterable, checkModuleUrl, wrongType } from "../_core/_check.ts";
import { Engine } from "./_engine.ts";
import { LocalWorkers } from "./_slots.ts";
import { LateTransport } from "./_late.ts";
import { loadRedisPool } from "../_core/_redis.ts";
import type { TransportEvents } from "../_core/_transport.ts";
import { parseAddress } from "../_core/_address.ts";
import { type Interruptible, watchSigint } from "./_sigint.ts";
import { AsyncResult, type CallbackOptions } from "./async_result.ts";
import type {
  ApplyOptions,
  ImapOptions,
  MapAsyncOptions,
  MapOptions,
  PoolOptions,
  TaskFunction,
} from "./options.ts";

export type {
  ApplyOptions,
  CallbackOptions,
  ImapOptions,
  MapAsyncOptions,
  MapOptions,
  PoolOptions,
  TaskFunction,
};

/**
 * A pool of worker processes.
 *
 * Task functions are exported functions, found by name in the pool's `module` as a `Process`
 * target is; they may be async, and their argument and result types flow through. Errors keep
 * their name, message and the worker's stack. Callbacks run in this process. A worker that dies
 * mid-task fails exactly that task with {@link WorkerLostError} and is replaced. (A worker of the
 * `"worker"` start method that runs out of JS heap ends the whole process, as any Deno worker
 * does: give tasks that may run out of memory `startMethod: "subprocess"`.)
 *
 * The workers are daemons, as in Python, and a pool never closed does not keep a finished program
 * alive: when the program's work is done its workers are ended, as Python's pool finalizer ends
 * them. Tasks submitted and not yet done still count as the program's work: it waits for them
 * (Python's finalizer drops them).
 *
 * @example Squares in parallel
 * ```ts
 * import { Pool } from "@mp/multiprocessing/pool";
 *
 * export function square(x: number): number {
 *   return x * x;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   console.log(await pool.map(square, [1, 2, 3])); // [1, 4, 9]
 *   console.log(await pool.apply(square, [7])); // 49
 * }
 * ```
 */
export class Pool {
  #method: StartMethod;
  #module: string;
  #engine: Engine;
  #refs = new WeakMap<TaskFunction, FnRef>();
  /** What Ctrl-C ends. */
  #live: Interruptible;
  /** Removes the exit hook that ends the workers of a pool left open when the program ends. */
  #unhook: () => void;

  /**
   * Starts the pool's workers.
   *
   * @param options how many workers, how they start, and where the task functions are.
   * @throws {RangeError} for a bad `processes`, `maxTasksPerChild` or `taskTimeout`.
   * @throws {TypeError} for an unknown start method or an initializer that is not exported.
   */
  constructor(options: PoolOptions = {}) {
    const what = "Cannot create pool";
    const broker = options.broker === undefined ? undefined : checkBroker(options.broker, what);
    const {
      processes = broker === undefined ? cpuCount() : 0,
      maxTasksPerChild = Infinity,
      taskTimeout = Infinity,
    } = options;
    checkInteger(processes, what, "processes", broker === undefined ? 1 : 0);
    if (maxTasksPerChild !== Infinity) checkInteger(maxTasksPerChild, what, "maxTasksPerChild", 1);
    if (typeof taskTimeout !== "number") {
      wrongType(what, "taskTimeout", "a number of ms", taskTimeout);
    }
    if (!(taskTimeout > 0)) {
      throw new RangeError(`${what}: taskTimeout must be > 0, got ${taskTimeout}`);
    }
    this.#method = options.startMethod === undefined
      ? state().startMethod
      : checkStartMethod(options.startMethod);
    this.#module = options.module === undefined
      ? state().mainModule
      : checkModuleUrl(options.module, what);
    const config = {
      initializer: options.initializer ? this.#ref(options.initializer, "initializer") : undefined,
      initArgs: options.initArgs ?? [],
    };
    const method = this.#method;
    if (broker === undefined) {
      this.#engine = new Engine(
        (events) => new LocalWorkers(events, { method, processes, maxTasksPerChild, config }),
        { processes, taskTimeout },
      );
    } else {
      const redis = {
        url: broker,
        config: {
          module: this.#module,
          initializer: config.initializer?.[1] ?? "",
          initArgs: config.initArgs,
          maxTasksPerChild,
          taskTimeout,
          expireAfter: checkInteger(options.expireAfter, what, "expireAfter", 1000) ?? 60_000,
        },
        maxDeliveries: checkInteger(options.maxDeliveries, what, "maxDeliveries", 1) ?? 3,
        connectTimeout: checkInteger(options.connectTimeout, what, "connectTimeout", 1) ?? 5000,
        processes,
        startMethod: method,
        onProcesses: (n: number) => void (this.#engine.processes = n),
      };
      // Loaded only here: a program without a broker never loads the Redis client.
      const load = loadRedisPool().then((m) => (events: TransportEvents) =>
        new m.RedisPool(events, redis)
      );
      this.#engine = new Engine((events) => new LateTransport(events, load), {
        processes: Math.max(1, processes),
        taskTimeout: Infinity, // the workers keep it
      });
    }
    this.#live = { processes, interrupt: () => this.#engine.interrupt() };
    watchSigint(this.#live, true);
    // As Python's pool finalizer: an open pool does not keep a finished program alive.
    this.#unhook = addExitHook(() => {
      watchSigint(this.#live, false);
      void this.#engine.interrupt();
    });
  }

  /**
   * How many worker processes the pool keeps; with a broker, how many the workers registered
   * there have (at least 1), or those started here before the first count.
   */
  get processes(): number {
    return this.#engine.processes;
  }

  /** The start method of the pool's workers. */
  get startMethod(): StartMethod {
    return this.#method;
  }

  /**
   * Runs `fn(...args)` in a worker and waits for its value.
   *
   * @param fn an exported function.
   * @param args its arguments.
   * @param options `signal` to stop waiting.
   * @returns what `fn` returns (awaited).
   * @throws {Error} the task's error, `WorkerLostError` or `TaskTimeoutError`.
   * @throws {TypeError} when the pool is closed, `fn` is not exported or an argument cannot be
   * sent.
   */
  async apply<F extends TaskFunction>(
    fn: F,
    args?: Parameters<F>,
    options: ApplyOptions = {},
  ): Promise<Awaited<ReturnType<F>>> {
    this.#engine.checkOpen("apply");
    const { signal } = options;
    signal?.throwIfAborted();
    const task = this.#engine.run(this.#ref(fn, "task"), Kind.apply, checkArgs(args));
    if (!signal) return await task as Awaited<ReturnType<F>>;
    return await new AsyncResult(task as Promise<Awaited<ReturnType<F>>>).get({ signal });
  }

  /**
   * Submits `fn(...args)` and returns at once.
   *
   * @param fn an exported function.
   * @param args its arguments.
   * @param options `callback` and `errorCallback`, run in this process.
   * @returns the result, to `get()` later.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  applyAsync<F extends TaskFunction>(
    fn: F,
    args?: Parameters<F>,
    options: CallbackOptions<Awaited<ReturnType<F>>> = {},
  ): AsyncResult<Awaited<ReturnType<F>>> {
    this.#engine.checkOpen("applyAsync");
    const ref = this.#ref(fn, "task");
    return new AsyncResult(
      this.#engine.run(ref, Kind.apply, checkArgs(args)) as Promise<Awaited<ReturnType<F>>>,
      options,
    );
  }

  /**
   * Runs `fn(item)` for each item, in chunks, and waits for the values in order.
   *
   * @param fn an exported function of one argument.
   * @param iterable the items (read in full first).
   * @param options `chunksize` and `onProgress`.
   * @returns the values, in the order of the items.
   * @throws {Error} the first failing task's error.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  async map<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: MapOptions = {},
  ): Promise<Awaited<R>[]> {
    return await this.mapAsync(fn, iterable, options).get();
  }

  /**
   * Submits `fn(item)` for each item, in chunks, and returns at once.
   *
   * @param fn an exported function of one argument.
   * @param iterable the items.
   * @param options `chunksize`, `onProgress`, `callback` and `errorCallback`.
   * @returns the result: the values in order.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: MapAsyncOptions<Awaited<R>> = {},
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(Kind.map, fn, iterable, options) as AsyncResult<Awaited<R>[]>;
  }

  /**
   * Runs `fn(...args)` for each argument list, in chunks, and waits for the values in order.
   *
   * @param fn an exported function.
   * @param iterable the argument lists.
   * @param options `chunksize` and `onProgress`.
   * @returns the values, in order.
   * @throws {Error} the first failing task's error.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  async starmap<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A> | AsyncIterable<A>,
    options: MapOptions = {},
  ): Promise<Awaited<R>[]> {
    return await this.starmapAsync(fn, iterable, options).get();
  }

  /**
   * Submits `fn(...args)` for each argument list and returns at once.
   *
   * @param fn an exported function.
   * @param iterable the argument lists.
   * @param options `chunksize`, `onProgress`, `callback` and `errorCallback`.
   * @returns the result: the values in order.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: Iterable<A> | AsyncIterable<A>,
    options: MapAsyncOptions<Awaited<R>> = {},
  ): AsyncResult<Awaited<R>[]> {
    return this.#mapAsync(Kind.star, fn, iterable, options) as AsyncResult<Awaited<R>[]>;
  }

  /**
   * Runs `fn(item)` for each item and yields the values in order, reading the input lazily with
   * at most `maxInFlight` chunks out: an endless generator is served in constant memory.
   *
   * @param fn an exported function of one argument.
   * @param iterable the items, sync or async.
   * @param options `chunksize`, `maxInFlight` and `onProgress`.
   * @returns the values, in the order of the items.
   * @throws {Error} (while iterating) the first failing task's error.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ImapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    return this.#imap(fn, iterable, options, true);
  }

  /**
   * As {@link Pool.imap}, but yields each value as soon as it is ready.
   *
   * @param fn an exported function of one argument.
   * @param iterable the items, sync or async.
   * @param options `chunksize`, `maxInFlight` and `onProgress`.
   * @returns the values, in the order they are done.
   * @throws {Error} (while iterating) the first failing task's error.
   * @throws {TypeError} when the pool is closed or `fn` is not exported.
   */
  imapUnordered<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ImapOptions = {},
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    return this.#imap(fn, iterable, options, false);
  }

  /** Refuses new work; what was submitted still runs. Call `join()` next. */
  close(): void {
    this.#engine.close();
  }

  /**
   * Waits for the submitted work to finish, then for the workers to exit.
   *
   * @throws {TypeError} while the pool is still open: `close()` or `terminate()` it first.
   */
  async join(): Promise<void> {
    await this.#engine.join();
    watchSigint(this.#live, false);
    this.#unhook();
  }

  /**
   * Stops the workers now; what is pending fails.
   *
   * @returns once every worker has exited.
   */
  async terminate(): Promise<void> {
    watchSigint(this.#live, false);
    this.#unhook();
    await this.#engine.terminate();
  }

  /** Closes the pool and waits for its work and workers: `await using pool = new Pool()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  // --- task functions and submission ---

  #ref(fn: TaskFunction, what: string): FnRef {
    let ref = this.#refs.get(fn);
    if (ref) return ref;
    if (typeof fn !== "function") throw new TypeError(`Cannot use ${what}: it is not a function`);
    if (!fn.name) {
      throw new TypeError(
        `Cannot use ${what}: it has no name; it must be an exported, named function`,
      );
    }
    const found = findExport(this.#module, fn.name);
    if (found === null) {
      throw new TypeError(
        `Cannot use ${what} '${fn.name}': it is not exported from ${moduleLabel(this.#module)}` +
          "; export it, or pass `module: import.meta.url` to the Pool from its module",
      );
    }
    ref = [this.#module, found ?? fn.name];
    this.#refs.set(fn, ref);
    return ref;
  }

  #mapAsync<R>(
    kind: Kind,
    fn: TaskFunction,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapAsyncOptions<R>,
  ): AsyncResult<R[]> {
    const name = kind === Kind.map ? "map" : "starmap";
    this.#engine.checkOpen(name);
    const ref = this.#ref(fn, "task");
    checkIterable(iterable, `Cannot ${name}`, "the items", true);
    checkChunksize(options.chunksize, name);
    const { chunksize, onProgress } = options;
    return new AsyncResult(
      this.#engine.map(ref, kind, iterable, chunksize, onProgress) as Promise<R[]>,
      options,
    );
  }

  #imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ImapOptions,
    ordered: boolean,
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    this.#engine.checkOpen(ordered ? "imap" : "imapUnordered");
    const ref = this.#ref(fn, "task");
    const name = ordered ? "imap" : "imapUnordered";
    checkIterable(iterable, `Cannot ${name}`, "the items", true);
    const { chunksize = 1, maxInFlight = 64 * this.processes } = options;
    checkChunksize(chunksize, name);
    checkInteger(maxInFlight, `Cannot ${name}`, "maxInFlight", 1);
    return this.#engine.imap(
      ref,
      iterable,
      chunksize,
      maxInFlight,
      ordered,
      options.onProgress,
    ) as AsyncGenerator<Awaited<R>, void, undefined>;
  }
}

function checkArgs(args: unknown): unknown[] {
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw new TypeError("Cannot apply: args must be an array");
  return args;
}

/** The broker's address as a string, checked. */
function checkBroker(broker: unknown, what: string): string {
  const url = broker instanceof URL ? broker.href : broker;
  if (typeof url !== "string") wrongType(what, "broker", "a string or URL", broker);
  parseAddress(url); // throws a TypeError that says what is wrong with it
  return url;
}

function checkChunksize(chunksize: number | undefined, name: string): void {
  checkInteger(chunksize, `Cannot ${name}`, "chunksize", 1);
}
