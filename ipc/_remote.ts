// Calls that wait, made from a proxy in another process: the owner runs them with a deadline,
// an abort controller that the proxy can trigger with a `cancel` call, and a liveness check of
// the calling process, so that a call from a process that died (or gave up) takes nothing.

import type { Caller } from "../_core/_rpc.ts";
import type { RpcEndpoint } from "../_core/_rpc.ts";
import { identAlive, state } from "../_core/_state.ts";
import { deadlineOf, type WaitLimits } from "./_wait.ts";

/** Timeout and signal of a waiting call. */
export interface QueueWaitOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted. @default {undefined} */
  signal?: AbortSignal;
}

/** Builds the limits of a local wait. */
export function limitsOf(options: QueueWaitOptions, what: string): WaitLimits {
  options.signal?.throwIfAborted();
  return { deadline: deadlineOf(options.timeout, what), signal: options.signal };
}

/**
 * Calls `method` on the remote object `id`, passing `[...args, timeout, token]`; aborting
 * `signal` cancels the call there, and the call then rejects with the signal's reason unless it
 * had already succeeded.
 */
export function callWaiting(
  rpc: RpcEndpoint,
  id: number,
  method: string,
  args: unknown[],
  options: QueueWaitOptions,
): Promise<unknown> {
  const { signal } = options;
  signal?.throwIfAborted();
  const timeout = options.timeout === Infinity ? undefined : options.timeout;
  const token = Math.floor(Math.random() * 2 ** 52);
  const call = rpc.call(id, method, [...args, timeout, token]);
  if (!signal) return call;
  return new Promise((resolve, reject) => {
    const onAbort = () => void rpc.call(id, "cancel", [token]).catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    call.then(resolve, (e) => reject(signal.aborted ? signal.reason : e)).finally(() =>
      signal.removeEventListener("abort", onAbort)
    );
  });
}

/** The owner's side: the waiting calls in progress, by caller and token. */
export class ServedCalls {
  #calls = new Map<string, AbortController>();

  /**
   * Runs a waiting call made by `caller`; `args` ends with the timeout and token that
   * {@link callWaiting} appended.
   */
  async run<R>(
    caller: Caller,
    args: unknown[],
    what: string,
    fn: (limits: WaitLimits) => R | Promise<R>,
  ): Promise<R> {
    const token = args[args.length - 1] as number;
    const timeout = args[args.length - 2] as number | undefined;
    const key = `${caller.ident}:${token}`;
    const ctl = new AbortController();
    this.#calls.set(key, ctl);
    const table = state().table;
    try {
      return await fn({
        deadline: deadlineOf(timeout, what),
        signal: ctl.signal,
        alive: () => identAlive(table, caller.ident),
      });
    } finally {
      this.#calls.delete(key);
    }
  }

  /** Cancels the call `token` of `caller`. */
  cancel(caller: Caller, token: number): void {
    this.#calls.get(`${caller.ident}:${token}`)?.abort(
      new DOMException("The call was cancelled", "AbortError"),
    );
  }
}
