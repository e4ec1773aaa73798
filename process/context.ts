/**
 * Start methods and contexts: which runtime starts a child, chosen per program with
 * {@link setStartMethod}, per group of processes with {@link getContext}, or per process.
 *
 * @module
 */

import { Process, type ProcessOptions } from "./process.ts";
import { checkStartMethod } from "../_core/_check.ts";
import { type StartMethod, state } from "../_core/_state.ts";

/**
 * A start method with the classes that use it, as Python's `multiprocessing.get_context()`.
 *
 * @example
 * ```ts
 * import { getContext } from "@mp/multiprocessing/process";
 *
 * const ctx = getContext("subprocess");
 * console.log(ctx.startMethod); // "subprocess"
 * ```
 */
export class Context {
  #method: StartMethod;
  #Process: typeof Process;

  /**
   * Makes a context for a start method; {@link getContext} is the usual way to get one.
   *
   * @param method the start method this context uses.
   * @throws {TypeError} for an unknown start method.
   */
  constructor(method: StartMethod) {
    const m = this.#method = checkStartMethod(method);
    this.#Process = class extends Process {
      constructor(options: ProcessOptions = {}) {
        super({ startMethod: m, ...options });
      }
    } as typeof Process;
  }

  /** The start method of this context. */
  get startMethod(): StartMethod {
    return this.#method;
  }

  /** `Process`, with this context's start method as its default. */
  get Process(): typeof Process {
    return this.#Process;
  }
}

/**
 * A context for a start method.
 *
 * @param method `"worker"` or `"subprocess"`; the current default when left out.
 * @returns the context.
 * @throws {TypeError} for an unknown start method.
 *
 * @example
 * ```ts
 * import { getContext } from "@mp/multiprocessing/process";
 *
 * console.log(getContext().startMethod); // "worker"
 * ```
 */
export function getContext(method?: StartMethod): Context {
  return new Context(method ?? state().startMethod);
}

/**
 * Sets the start method that processes use unless told otherwise.
 *
 * @param method `"worker"` (the default) or `"subprocess"`.
 * @throws {TypeError} for an unknown start method.
 *
 * @example
 * ```ts
 * import { getStartMethod, setStartMethod } from "@mp/multiprocessing/process";
 *
 * setStartMethod("subprocess");
 * console.log(getStartMethod()); // "subprocess"
 * setStartMethod("worker");
 * ```
 */
export function setStartMethod(method: StartMethod): void {
  state().startMethod = checkStartMethod(method);
}

/**
 * The start method that processes use unless told otherwise.
 *
 * @returns `"worker"` or `"subprocess"`.
 *
 * @example
 * ```ts
 * import { getStartMethod } from "@mp/multiprocessing/process";
 *
 * console.log(getStartMethod()); // "worker"
 * ```
 */
export function getStartMethod(): StartMethod {
  return state().startMethod;
}
