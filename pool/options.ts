/**
 * The options of a `Pool` and of its calls, and the type of a task function.
 *
 * @module
 */

import type { StartMethod } from "../process/process.ts";
import type { CallbackOptions } from "./async_result.ts";

/** A task function: exported from its module, possibly async. */
// deno-lint-ignore no-explicit-any
export type TaskFunction = (...args: any[]) => unknown;

/** Options of a {@link Pool}. */
export interface PoolOptions {
  /**
   * How many worker processes; with a `broker`, how many to start in this process, attached to
   * the broker, besides the worker commands. @default {cpuCount()} (0 with a broker)
   */
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
  /**
   * The address of a Redis broker (`redis://[user:password@]host:6379[/db]`, `rediss://…`,
   * `unix:///path/redis.sock`): the pool's tasks go there, and the worker commands attached to
   * it (`deno run -A cluster/worker.ts --broker …`, on any host) run them. Each task runs at
   * least once (again on another worker, about a second after its worker died) and its result
   * is delivered once: make tasks idempotent. `processes` then counts worker processes started
   * in this process, attached to the broker, and `taskTimeout` is kept by the workers.
   * @default {undefined} (local workers)
   */
  broker?: string | URL;
  /**
   * With a broker: how many times a task is delivered to workers that are lost while running
   * it before it fails with `WorkerLostError` (it is kept in the stream `mp:pool:dead`).
   * @default {3}
   */
  maxDeliveries?: number;
  /**
   * With a broker: the most milliseconds that connecting may take; past it (or with a wrong
   * password) the pool's tasks fail with `BrokerError`.
   * @default {5000}
   */
  connectTimeout?: number;
  /**
   * With a broker: milliseconds after which the keys of a pool whose caller died expire, and
   * workers drop its tasks. A live pool renews them every second; when they are gone anyway (it
   * stalled longer than this) or no renewal succeeds for this long, its tasks fail with a
   * BrokerError.
   * @default {60000}
   */
  expireAfter?: number;
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
