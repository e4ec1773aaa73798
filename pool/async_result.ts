/**
 * `AsyncResult`: the result of `Pool.applyAsync()` and `Pool.mapAsync()`, with the meaning of
 * Python's `multiprocessing.pool.AsyncResult`.
 *
 * @module
 */

import { until } from "../_core/_until.ts";
import { TimeoutError } from "./errors.ts";

/** Callbacks run in the parent when a result is ready. */
export interface CallbackOptions<R> {
  /**
   * Called with the value when the task succeeds. If it throws (or rejects), the result fails
   * with that error instead; the pool goes on.
   * @default {undefined}
   */
  callback?: (value: R) => unknown;
  /**
   * Called with the error when the task fails. If it throws, the result fails with that error.
   * @default {undefined}
   */
  errorCallback?: (error: Error) => unknown;
}

/** Options of a wait for a result. */
export interface WaitOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/**
 * A result that will be ready later. Waiting never blocks the event loop; a result that nobody
 * reads never raises an unhandled rejection.
 *
 * @example
 * ```ts
 * import { AsyncResult } from "@mp/multiprocessing/pool";
 *
 * const r = new AsyncResult(Promise.resolve(42), { callback: (v) => console.log("got", v) });
 * console.log(await r.get()); // 42
 * console.log(r.ready(), r.successful()); // true true
 * ```
 */
export class AsyncResult<R> {
  #settled: Promise<void>;
  #state: "pending" | "ok" | "error" = "pending";
  #value: R | undefined;
  #error: unknown;

  /**
   * Wraps a promise; the callbacks run once it settles.
   *
   * @param promise the outcome to wrap.
   * @param options callbacks that run, in this process, once the outcome is known.
   */
  constructor(promise: PromiseLike<R>, options: CallbackOptions<R> = {}) {
    const { callback, errorCallback } = options;
    this.#settled = Promise.resolve(promise).then(
      async (value) => {
        if (callback) await callback(value);
        this.#value = value;
        this.#state = "ok";
      },
      async (error) => {
        if (errorCallback) await errorCallback(error);
        throw error;
      },
    ).catch((error) => {
      this.#error = error;
      this.#state = "error";
    });
  }

  /**
   * Whether the result is ready (its callback, if any, has run).
   *
   * @returns `true` once the task succeeded or failed.
   */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Whether the task succeeded.
   *
   * @returns `true` when it succeeded, `false` when it failed.
   * @throws {TypeError} when the result is not ready yet.
   */
  successful(): boolean {
    if (this.#state === "pending") throw new TypeError("Cannot tell: the result is not ready yet");
    return this.#state === "ok";
  }

  /**
   * Waits until the result is ready or `timeout` ms have passed.
   *
   * @param options `timeout` and `signal`.
   * @returns whether the result is ready.
   * @throws {DOMException} the signal's reason when it aborts.
   */
  async wait(options: WaitOptions = {}): Promise<boolean> {
    return await until(this.#settled, options.timeout, options.signal, "Cannot wait");
  }

  /**
   * The value, once ready.
   *
   * @param options `timeout` and `signal`.
   * @returns the task's value.
   * @throws {Error} the task's error (its name, message and the worker's stack), a
   * `WorkerLostError`, a `TaskTimeoutError`, or the error a callback threw.
   * @throws {TimeoutError} when `timeout` ms pass first.
   * @throws {DOMException} the signal's reason when it aborts.
   */
  async get(options: WaitOptions = {}): Promise<R> {
    if (!(await this.wait(options))) {
      throw new TimeoutError(`The result was not ready within ${options.timeout} ms`);
    }
    if (this.#state === "error") throw this.#error;
    return this.#value as R;
  }
}
