/**
 * The errors a pool's results can fail with, besides the task's own.
 *
 * @module
 */

import { registerError } from "../_core/_rpc.ts";

/**
 * A pool worker exited (killed, crashed, `Deno.exit()`) while it ran the task; the pool has
 * replaced it.
 *
 * @example
 * ```ts
 * import { WorkerLostError } from "@mp/multiprocessing/pool";
 *
 * const e = new WorkerLostError("Pool worker 'PoolWorker-1' exited with code 1");
 * console.log(e.name); // "WorkerLostError"
 * ```
 */
export class WorkerLostError extends Error {
  /**
   * Makes the error.
   *
   * @param message which worker was lost and how.
   * @param options the cause.
   */
  constructor(message = "The pool worker running the task exited", options?: ErrorOptions) {
    super(message, options);
    this.name = "WorkerLostError";
  }
}
registerError(WorkerLostError);

/**
 * A task ran longer than the pool's `taskTimeout`; the pool has killed and replaced its worker.
 *
 * @example
 * ```ts
 * import { TaskTimeoutError } from "@mp/multiprocessing/pool";
 *
 * const e = new TaskTimeoutError("The task ran longer than 100 ms");
 * console.log(e.name); // "TaskTimeoutError"
 * ```
 */
export class TaskTimeoutError extends Error {
  /**
   * Makes the error.
   *
   * @param message which task timed out.
   * @param options the cause.
   */
  constructor(message = "The task ran longer than the pool's taskTimeout", options?: ErrorOptions) {
    super(message, options);
    this.name = "TaskTimeoutError";
  }
}
registerError(TaskTimeoutError);

/**
 * `AsyncResult.get({ timeout })` waited `timeout` ms and the result was not ready (Python's
 * `multiprocessing.TimeoutError`). The task itself goes on.
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@mp/multiprocessing/pool";
 *
 * const e = new TimeoutError("The result was not ready within 10 ms");
 * console.log(e.name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends Error {
  /**
   * Makes the error.
   *
   * @param message what was not ready in time.
   * @param options the cause.
   */
  constructor(message = "The result was not ready in time", options?: ErrorOptions) {
    super(message, options);
    this.name = "TimeoutError";
  }
}
registerError(TimeoutError);
