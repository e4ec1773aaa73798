// Waiting for a promise with a timeout and an abort signal: the one piece behind every `join()`
// and `wait()` that waits on something already promised. The wait keeps the event loop alive, so
// that joining an unref'd (daemon) child does not end the program first.

import { hold, unhold } from "./_wait.ts";
import { checkTimeout } from "./_check.ts";
import { clearTimer, setTimer, type Timer } from "./_timers.ts";

/**
 * Waits for `settled`, or until `timeout` ms pass, or until `signal` aborts.
 *
 * @param what names the call in the error for a bad timeout.
 * @returns `true` when `settled` resolved, `false` when the timeout passed first.
 * @throws {TypeError} for a timeout that is not a number.
 * @throws {RangeError} for a negative or NaN one.
 * @throws the signal's reason when it aborts.
 */
export async function until(
  settled: Promise<unknown>,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
  what: string,
): Promise<boolean> {
  checkTimeout(timeout, what);
  signal?.throwIfAborted();
  hold();
  try {
    return await race(settled, timeout, signal);
  } finally {
    unhold();
  }
}

async function race(
  settled: Promise<unknown>,
  timeout: number | undefined,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  const forever = timeout === undefined || timeout === Infinity;
  if (forever && !signal) {
    await settled;
    return true;
  }
  let timer: Timer | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve, reject) => {
        if (!forever) timer = setTimer(() => resolve(false), timeout);
        onAbort = () => reject(signal!.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimer(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
