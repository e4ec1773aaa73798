/**
 * `Pool`: a fixed set of worker processes that run tasks, with the meaning of Python's
 * `multiprocessing.Pool`, and without its hangs: a lost worker fails its task and is replaced.
 *
 * @module
 */

import { Process, type StartMethod } from "../process/process.ts";
import { checkStartMethod } from "../process/_check.ts";
import { cpuCount } from "../process/current.ts";
import { dataToError } from "../process/_rpc.ts";
import { ENDED, EXITED, state } from "../process/_state.ts";
import { addExitHook } from "../process/_exit.ts";
import { findExport, moduleLabel } from "../process/_target.ts";
import { type ChildEnd, type FnRef, Kind, openChannel, type ParentEnd } from "./_channel.ts";
import { hold, unhold as release } from "../process/_wait.ts";
import { Deque } from "./_deque.ts";
import { checkInteger, checkIterable, checkModuleUrl, wrongType } from "../process/_check.ts";
import { poolWorker, type WorkerConfig } from "./_worker.ts";
import { type Interruptible, watchSigint } from "./_sigint.ts";
import { AsyncResult, type CallbackOptions } from "./async_result.ts";
import { TaskTimeoutError, WorkerLostError } from "./errors.ts";

export type { CallbackOptions };

/** A task function: exported from its module, possibly async. */
// deno-lint-ignore no-explicit-any
export type TaskFunction = (...args: any[]) => unknown;

/** Options of a {@link Pool}. */
export interface PoolOptions {
  /** How many worker processes. @default {cpuCount()} */
  processes?: number;
  /**
   * An exported function that each worker calls once, with `initArgs`, before its first task.
   * If it throws, every task of that worker fails with its error.
   * @default {undefined}
   */
  initializer?: TaskFunction;
  /** Arguments of `initializer`. @default {[]} */
  initArgs?: unknown[];
  /** Tasks a worker runs before it is replaced by a fresh one. @default {Infinity} */
  maxTasksPerChild?: number;
  /** How workers are started. @default {getStartMethod()} */
  startMethod?: StartMethod;
  /**
   * URL of the module that exports the task functions and the initializer: pass
   * `import.meta.url` when it is not the main module.
   * @default {Deno.mainModule}
   */
  module?: string | URL;
  /**
   * The most milliseconds a task (a chunk, for `map`) may run; past it, its worker is killed
   * and replaced, and the task fails with `TaskTimeoutError`. A `"worker"` worker stuck in
   * synchronous code cannot be stopped (Deno cannot interrupt it): it runs on, using a core and
   * holding its locks, until that code returns, and says so on stderr; tasks that may hang
   * belong to the `"subprocess"` start method, whose workers are killed.
   * @default {Infinity}
   */
  taskTimeout?: number;
}

/** Options of `apply()`. */
export interface ApplyOptions {
  /** Stops waiting (the task still runs) when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/** Options of `map()` and `starmap()`. */
export interface MapOptions {
  /** Items sent to a worker at a time. @default {Math.ceil(n / (4 * processes))} */
  chunksize?: number;
  /**
   * Called in this process each time a chunk is done, with the items done and the total.
   * @default {undefined}
   */
  onProgress?: (done: number, total: number) => void;
}

/** Options of `mapAsync()` and `starmapAsync()`. */
export interface MapAsyncOptions<R> extends MapOptions, CallbackOptions<R[]> {}

/** Options of `imap()` and `imapUnordered()`. */
export interface ImapOptions {
  /** Items sent to a worker at a time. @default {1} */
  chunksize?: number;
  /**
   * The most chunks submitted and not yet yielded; the input is read no further ahead.
   * @default {64 * processes}
   */
  maxInFlight?: number;
  /** Called in this process each time a chunk is done, with the items done. @default {undefined} */
  onProgress?: (done: number) => void;
}

interface Task {
  seq: number;
  fn: FnRef;
  kind: Kind;
  /** How many calls of `fn` the task makes: 1, or a chunk's length. */
  calls: number;
  payload: unknown;
  done(ok: boolean, value: unknown): void;
}

interface Slot {
  process: Process;
  end: ParentEnd;
  held: Task[];
  sent: number;
  retiring: boolean;
  gone: boolean;
  ran: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When the task at the head of `held` started (about); -1: just now. */
  since: number;
  exited: Promise<void>;
}

// A worker holds several tasks, so that it never waits for the pool between short tasks: as
// many as it runs in about QUEUED_US by the tasks' average run time, from 1 to MAX_DEPTH; more
// than one only while its current task is younger than QUICK_MS, so that tasks do not queue
// behind a long one.
const QUEUED_US = 2000;
const MAX_DEPTH = 256;
/** What a call of a function not yet timed is taken to cost: one task at a time, until timed. */
const UNKNOWN_US = QUEUED_US;
const QUICK_MS = 2;
// After sending quick tasks, few at a time, this thread polls the result rings for up to SPIN_MS
// rather than sleep: a worker wakes a sleeping event loop in ~50 us, and a quick task's round trip
// takes far less. Never for more than STREAK_MS without letting the event loop run.
const SPIN_MS = 0.1;
const SPIN_TASK_US = 50;
const STREAK_MS = 4;
const WORKER_MODULE = new URL("./_worker.ts", import.meta.url).href;
const TERMINATED = "The pool was terminated before the task finished";
let workerCounter = 0;

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
  #processes: number;
  #module: string;
  #maxTasks: number;
  #taskTimeout: number;
  #config: WorkerConfig;
  /** Run time of one call of each function in microseconds (a moving average), for the depth. */
  #callUs = new WeakMap<FnRef, number>();
  #slots = new Set<Slot>();
  /** Every slot whose process has not exited yet, the ones taken out included. */
  #unexited = new Set<Slot>();
  #queue = new Deque<Task>();
  #seq = 0;
  #busy = 0;
  #idle: (() => void)[] = [];
  #state: "run" | "close" | "terminate" = "run";
  #stopping = false;
  #startFailures = 0;
  /** Pumps once the results that arrived together are all taken: one send per worker. */
  #pumpSoon: () => void = coalesced(() => this.#pump());
  /** Microseconds `task` should take, by what its function took so far. */
  #expectedUs(task: Task): number {
    return (this.#callUs.get(task.fn) ?? UNKNOWN_US) * task.calls;
  }

  /** How many tasks a worker may hold when `task` is next: about QUEUED_US of them. */
  #depthFor(task: Task): number {
    return Math.max(1, Math.min(MAX_DEPTH, Math.floor(QUEUED_US / this.#expectedUs(task))));
  }

  /** Spins once the code that sent the tasks is done (it may send more). */
  #spinSoon: () => void = coalesced(() => this.#spin());
  /** Results received so far, to see one arrive while spinning. */
  #received = 0;
  /** Milliseconds spent spinning since the event loop last ran a timer. */
  #streak = 0;
  #streakTimer: ReturnType<typeof setTimeout> | undefined;
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
    const { processes = cpuCount(), maxTasksPerChild = Infinity, taskTimeout = Infinity } = options;
    checkInteger(processes, what, "processes", 1);
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
    this.#processes = processes;
    this.#module = options.module === undefined
      ? state().mainModule
      : checkModuleUrl(options.module, what);
    this.#maxTasks = maxTasksPerChild;
    this.#taskTimeout = taskTimeout;
    this.#config = {
      initializer: options.initializer ? this.#ref(options.initializer, "initializer") : undefined,
      initArgs: options.initArgs ?? [],
    };
    for (let i = 0; i < processes; i++) this.#spawn();
    this.#live = { processes, interrupt: () => this.#interrupt() };
    watchSigint(this.#live, true);
    // As Python's pool finalizer: an open pool does not keep a finished program alive.
    this.#unhook = addExitHook(() => {
      watchSigint(this.#live, false);
      void this.#interrupt();
    });
  }

  /** How many worker processes the pool keeps. */
  get processes(): number {
    return this.#processes;
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
    this.#checkOpen("apply");
    const { signal } = options;
    signal?.throwIfAborted();
    const task = this.#submit(this.#ref(fn, "task"), Kind.apply, checkArgs(args));
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
    this.#checkOpen("applyAsync");
    const ref = this.#ref(fn, "task");
    return new AsyncResult(
      this.#submit(ref, Kind.apply, checkArgs(args)) as Promise<Awaited<ReturnType<F>>>,
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
    if (this.#state === "run") this.#state = "close";
  }

  /**
   * Waits for the submitted work to finish, then for the workers to exit.
   *
   * @throws {TypeError} while the pool is still open: `close()` or `terminate()` it first.
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new TypeError("Cannot join pool: it is still running; close() or terminate() it first");
    }
    hold();
    try {
      if (this.#busy > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      this.#stopping = true;
      this.#endStreak();
      for (const slot of [...this.#slots]) this.#retire(slot, false);
      await this.#allEnded();
      watchSigint(this.#live, false);
      this.#unhook();
    } finally {
      release();
    }
  }

  /**
   * Stops the workers now; what is pending fails.
   *
   * @returns once every worker has exited.
   */
  async terminate(): Promise<void> {
    this.#state = "terminate";
    this.#stopping = true;
    this.#endStreak();
    watchSigint(this.#live, false);
    this.#unhook();
    const error = () => new Error(TERMINATED);
    for (let t = this.#queue.shift(); t; t = this.#queue.shift()) t.done(false, error());
    const slots = [...this.#slots];
    hold();
    try {
      for (const slot of slots) this.#lose(slot, error, true);
      await this.#allEnded();
    } finally {
      release();
    }
    for (const wake of this.#idle.splice(0)) wake();
  }

  /** On Ctrl-C: ends the workers at once, leaving what is pending unsettled (the program exits). */
  async #interrupt(): Promise<void> {
    this.#state = "terminate";
    this.#stopping = true;
    const slots = [...this.#slots];
    for (const slot of slots) this.#lose(slot, () => undefined, true);
    await this.#allEnded();
  }

  /**
   * Resolves once every worker the pool started has exited, those it took out (a task's timeout,
   * a recycle) included, or was found unstoppable (a worker thread stuck in synchronous code).
   */
  #allEnded(): Promise<unknown> {
    return Promise.all([...this.#unexited].map((s) => Promise.race([s.exited, s.process[ENDED]])));
  }

  /** Closes the pool and waits for its work and workers: `await using pool = new Pool()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  // --- submission ---

  #checkOpen(what: string): void {
    if (this.#state !== "run") {
      throw new TypeError(
        `Cannot ${what}: the pool is ${this.#state === "close" ? "closed" : "terminated"}`,
      );
    }
  }

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

  #busyAdd(n: number): void {
    if (this.#busy === 0 && n > 0) hold();
    this.#busy += n;
    if (this.#busy === 0 && n < 0) {
      release();
      for (const wake of this.#idle.splice(0)) wake();
    }
  }

  #submit(ref: FnRef, kind: Kind, payload: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#enqueue(ref, kind, payload, (ok, value) => ok ? resolve(value) : reject(value));
    });
  }

  /** Queues a task; `done` is called once with its outcome. */
  #enqueue(
    ref: FnRef,
    kind: Kind,
    payload: unknown,
    done: (ok: boolean, value: unknown) => void,
  ): void {
    if (this.#state === "terminate" || this.#stopping) {
      const what = this.#state === "terminate" ? "terminated" : "joined";
      done(false, new TypeError(`Cannot submit a task: the pool is ${what}`));
      return;
    }
    this.#busyAdd(1);
    const task: Task = {
      seq: ++this.#seq,
      fn: ref,
      kind,
      calls: kind === Kind.apply ? 1 : (payload as unknown[]).length,
      payload,
      done: (ok, value) => {
        task.done = () => {};
        this.#busyAdd(-1);
        done(ok, value);
      },
    };
    this.#queue.push(task);
    this.#pumpSoon(); // once for the tasks submitted together
  }

  #mapAsync<R>(
    kind: Kind,
    fn: TaskFunction,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapAsyncOptions<R>,
  ): AsyncResult<R[]> {
    const name = kind === Kind.map ? "map" : "starmap";
    this.#checkOpen(name);
    const ref = this.#ref(fn, "task");
    checkIterable(iterable, `Cannot ${name}`, "the items", true);
    checkChunksize(options.chunksize, name);
    return new AsyncResult(this.#mapJob(ref, kind, iterable, options) as Promise<R[]>, options);
  }

  async #mapJob(
    ref: FnRef,
    kind: Kind,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    options: MapOptions,
  ): Promise<unknown[]> {
    let items: unknown[];
    this.#busyAdd(1);
    try {
      items = Array.isArray(iterable) ? iterable : await Array.fromAsync(iterable);
    } finally {
      this.#busyAdd(-1);
    }
    if (kind === Kind.star) {
      const bad = items.findIndex((item) => !Array.isArray(item));
      if (bad >= 0) wrongType("Cannot starmap", `item ${bad}`, "an array of arguments", items[bad]);
    }
    const n = items.length;
    const size = options.chunksize ?? Math.max(1, Math.ceil(n / (4 * this.#processes)));
    const results = new Array(n);
    if (n === 0) return results;
    const { onProgress } = options;
    let done = 0;
    let failed = false;
    return await new Promise<unknown[]>((resolve, reject) => {
      for (let at = 0; at < n; at += size) {
        const start = at;
        this.#enqueue(ref, kind, items.slice(at, at + size), (ok, value) => {
          if (failed) return;
          try {
            if (!ok) throw value;
            const vs = value as unknown[];
            for (let i = 0; i < vs.length; i++) results[start + i] = vs[i];
            done += vs.length;
            onProgress?.(done, n);
            if (done === n) resolve(results);
          } catch (e) {
            failed = true;
            reject(e);
          }
        });
      }
    });
  }

  #imap<T, R>(
    fn: (item: T) => R,
    iterable: Iterable<T> | AsyncIterable<T>,
    options: ImapOptions,
    ordered: boolean,
  ): AsyncGenerator<Awaited<R>, void, undefined> {
    this.#checkOpen(ordered ? "imap" : "imapUnordered");
    const ref = this.#ref(fn, "task");
    const name = ordered ? "imap" : "imapUnordered";
    checkIterable(iterable, `Cannot ${name}`, "the items", true);
    const { chunksize = 1, maxInFlight = 64 * this.#processes } = options;
    checkChunksize(chunksize, name);
    checkInteger(maxInFlight, `Cannot ${name}`, "maxInFlight", 1);
    return this.#lazy(
      ref,
      iterable,
      chunksize,
      maxInFlight,
      ordered,
      options.onProgress,
    ) as AsyncGenerator<Awaited<R>, void, undefined>;
  }

  async *#lazy(
    ref: FnRef,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
    limit: number,
    ordered: boolean,
    onProgress: ((done: number) => void) | undefined,
  ): AsyncGenerator<unknown, void, undefined> {
    const source: Iterator<unknown> | AsyncIterator<unknown> = Symbol.asyncIterator in iterable
      ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (iterable as Iterable<unknown>)[Symbol.iterator]();
    let exhausted = false;
    // ordered: every chunk submitted and not yet yielded, in submission order; unordered: the
    // settled ones, in completion order
    const outcomes: Outcome[] = [];
    let inFlight = 0;
    let wake: (() => void) | undefined;
    let done = 0;
    const out = () => outcomes.length + (ordered ? 0 : inFlight);
    try {
      for (;;) {
        if (out() <= limit / 2) { // refilled when half empty, so that the chunks go out together
          while (!exhausted && out() < limit) {
            const chunk: unknown[] = [];
            while (chunk.length < chunksize) {
              const next = source.next(); // a sync source is read without a pause per item
              const r = "then" in next ? await next : next;
              if (r.done) {
                exhausted = true;
                break;
              }
              chunk.push(r.value);
            }
            if (chunk.length === 0) break;
            const o: Outcome = { ok: false, value: undefined, settled: false };
            if (ordered) outcomes.push(o);
            inFlight++;
            this.#enqueue(ref, Kind.map, chunk, (ok, value) => {
              o.ok = ok;
              o.value = value;
              o.settled = true;
              inFlight--;
              if (!ordered) outcomes.push(o);
              wake?.();
            });
          }
        }
        if (outcomes.length === 0 && inFlight === 0) return;
        while (!outcomes[0]?.settled) await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
        const o = outcomes.shift()!;
        if (!o.ok) throw o.value;
        const values = o.value as unknown[];
        done += values.length;
        onProgress?.(done);
        yield* values;
      }
    } finally {
      if (!exhausted) await source.return?.();
    }
  }

  // --- workers ---

  #spawn(): void {
    const end = openChannel(this.#method);
    const process = new Process({
      target: poolWorker,
      args: [end as unknown as ChildEnd, this.#config], // revived as the worker's end
      name: `PoolWorker-${++workerCounter}`,
      daemon: true,
      module: WORKER_MODULE,
      startMethod: this.#method,
    });
    const slot: Slot = {
      process,
      end,
      held: [],
      sent: 0,
      retiring: false,
      gone: false,
      ran: false,
      timer: undefined,
      since: 0,
      exited: Promise.resolve(),
    };
    end.onresult = (seq, ok, value, us) => this.#onResult(slot, seq, ok, value, us);
    process.start();
    this.#unexited.add(slot);
    slot.exited = process[EXITED].then(() => { // keeps no program alive
      this.#unexited.delete(slot);
      this.#onExit(slot);
    });
    this.#slots.add(slot);
  }

  #pump(): void {
    if (this.#queue.length === 0) return;
    let now = -1;
    const sent = new Set<Slot>(); // each is woken once, for all its tasks
    while (this.#queue.length > 0) {
      const depth = this.#depthFor(this.#queue.peek()!);
      let best: Slot | undefined;
      for (const s of this.#slots) {
        if (s.retiring || s.gone || s.held.length >= depth) continue;
        if (s.held.length > 0) {
          if (now < 0) now = performance.now();
          if (s.since < 0) s.since = now;
          else if (now - s.since > QUICK_MS) continue;
        }
        if (!best || s.held.length < best.held.length) best = s;
        if (s.held.length === 0) break;
      }
      if (!best) break;
      this.#dispatch(best, this.#queue.shift()!);
      sent.add(best);
    }
    let few = sent.size > 0;
    for (const s of sent) {
      s.end.flush();
      const last = s.held[s.held.length - 1];
      if (s.held.length > 2 || (last && this.#expectedUs(last) > SPIN_TASK_US)) few = false;
    }
    if (few && this.#method === "worker") this.#spinSoon();
  }

  /** Forgets the spinning streak, and its timer: no op is left behind when the pool ends. */
  #endStreak(): void {
    clearTimeout(this.#streakTimer);
    this.#streakTimer = undefined;
    this.#streak = 0;
  }

  /** Polls the result rings until a result arrives, for SPIN_MS at most. */
  #spin(): void {
    if (this.#streak >= STREAK_MS) return;
    this.#streakTimer ??= setTimeout(() => this.#endStreak(), 0); // the event loop ran
    const start = performance.now();
    const before = this.#received;
    let now = start;
    while (this.#received === before && now - start < SPIN_MS) {
      for (const s of this.#slots) if (s.held.length > 0) s.end.drain();
      now = performance.now();
    }
    this.#streak += now - start;
  }

  #dispatch(slot: Slot, task: Task): void {
    try {
      slot.end.send([0, task.seq, task.fn, task.kind, task.payload]);
    } catch (e) {
      task.done(false, e);
      return;
    }
    slot.held.push(task);
    if (++slot.sent >= this.#maxTasks) slot.retiring = true;
    if (slot.held.length === 1) this.#headStarted(slot);
  }

  #headStarted(slot: Slot): void {
    slot.since = -1; // now: read by the next pump, when it needs the time
    if (this.#taskTimeout === Infinity) return;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const head = slot.held[0];
    if (head) this.#armTimeout(slot, head, this.#taskTimeout);
  }

  /**
   * Fails `head` with TaskTimeoutError after `ms` unless it is done by then. A task that its
   * worker has not begun yet (a worker still starting, say) gets its full time once it begins.
   */
  #armTimeout(slot: Slot, head: Task, ms: number): void {
    slot.timer = setTimeout(() => {
      if (slot.held[0] !== head || slot.gone) return;
      if (slot.end.running() !== head.seq) {
        const poll = Math.min(this.#taskTimeout, 50);
        slot.timer = setTimeout(
          function check(this: Pool) {
            if (slot.held[0] !== head || slot.gone) return;
            if (slot.end.running() === head.seq) this.#armTimeout(slot, head, this.#taskTimeout);
            else slot.timer = setTimeout(check.bind(this), poll);
          }.bind(this),
          poll,
        );
        return;
      }
      const error = new TaskTimeoutError(
        `Task '${head.fn[1]}' ran longer than the pool's taskTimeout (${this.#taskTimeout} ms); ` +
          `its worker '${slot.process.name}' was killed and replaced`,
      );
      this.#lose(slot, (t) => t === head ? error : undefined, true);
    }, ms);
  }

  #onResult(slot: Slot, seq: number, ok: boolean, value: unknown, us: number): void {
    const i = slot.held[0]?.seq === seq ? 0 : slot.held.findIndex((t) => t.seq === seq);
    if (i < 0) return;
    this.#received++;
    const task = i === 0 ? slot.held.shift()! : slot.held.splice(i, 1)[0];
    const perCall = Math.max(1, us) / task.calls;
    const before = this.#callUs.get(task.fn);
    this.#callUs.set(task.fn, before === undefined ? perCall : before + (perCall - before) / 8);
    slot.ran = true;
    this.#startFailures = 0;
    if (i === 0) this.#headStarted(slot);
    task.done(ok, ok ? value : dataToError(value));
    if (slot.retiring && slot.held.length === 0 && !slot.gone) {
      this.#retire(slot, this.#state !== "terminate" && !this.#stopping);
    }
    this.#pumpSoon();
  }

  /** Lets a worker finish on its own, and starts another in its place when asked. */
  #retire(slot: Slot, replace: boolean): void {
    if (slot.gone) return;
    slot.gone = true;
    this.#slots.delete(slot);
    clearTimeout(slot.timer);
    slot.end.send([1]);
    slot.end.flush();
    if (replace) this.#spawn();
  }

  /**
   * Takes a worker out: `failed(task)` is the error of each task it held that is lost with it
   * (undefined: the task goes back to the queue); `kill` stops the process.
   */
  #lose(slot: Slot, failed: (task: Task) => Error | undefined, kill: boolean): void {
    if (slot.gone) return;
    slot.gone = true;
    this.#slots.delete(slot);
    clearTimeout(slot.timer);
    if (kill) slot.process.kill();
    else slot.end.drain();
    const held = slot.held;
    slot.held = [];
    const back: Task[] = [];
    for (const t of held) {
      const e = failed(t);
      if (e) t.done(false, e);
      else back.push(t);
    }
    this.#queue.unshiftAll(back);
    if (this.#state === "terminate" || this.#stopping) return;
    if (!slot.ran && held.length > 0 && back.length === held.length) {
      if (++this.#startFailures >= 3) {
        const e = new WorkerLostError(
          `Pool workers keep exiting before their first task (last: '${slot.process.name}', ` +
            `exit code ${slot.process.exitCode})`,
        );
        for (let t = this.#queue.shift(); t; t = this.#queue.shift()) t.done(false, e);
      }
    }
    this.#spawn();
    this.#pump();
  }

  #onExit(slot: Slot): void {
    if (!slot.gone) {
      const running = slot.end.running();
      const { name, pid, exitCode } = slot.process;
      this.#lose(slot, (t) =>
        t.seq === running
          ? new WorkerLostError(
            `Pool worker '${name}' (pid ${pid}) exited with code ${exitCode} while running task ` +
              `'${t.fn[1]}'; the pool replaced it`,
          )
          : undefined, false);
    }
    slot.end.close();
  }
}

/** A function that runs `fn` in a microtask, once however often it is called before then. */
function coalesced(fn: () => void): () => void {
  let due = false;
  return () => {
    if (due) return;
    due = true;
    queueMicrotask(() => {
      due = false;
      fn();
    });
  };
}

type Outcome = { ok: boolean; value: unknown; settled: boolean };

function checkArgs(args: unknown): unknown[] {
  if (args === undefined) return [];
  if (!Array.isArray(args)) throw new TypeError("Cannot apply: args must be an array");
  return args;
}

function checkChunksize(chunksize: number | undefined, name: string): void {
  checkInteger(chunksize, `Cannot ${name}`, "chunksize", 1);
}
