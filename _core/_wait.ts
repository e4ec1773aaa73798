// Waiting without blocking or spinning the event loop, shared by every folder: one ref'd
// keep-alive interval for the whole realm (Atomics.waitAsync and unref'd children keep no event
// loop alive), deadlines, and one slice of waiting on a word of shared memory: Atomics.waitAsync
// on a SharedArrayBuffer, ./_shm.ts's bell and futex on mapped memory.

import { checkTimeout } from "./_check.ts";
import { isMapped, sleepMapped } from "./_shm.ts";
import { clearTimer, setRepeating, type Timer } from "./_timers.ts";

let pending = 0;
let keepAlive: Timer | undefined;

/**
 * How often a held event loop runs even with nothing to do: a wait that Atomics.notify resolved
 * while the loop slept is then seen within this long, should the loop not have woken for it.
 */
const WAKE_MS = 100;

/** How long and for whom a call waits. */
export interface WaitLimits {
  /** `performance.now()` value after which the wait times out; `Infinity` for none. */
  deadline: number;
  /** Stops the wait when aborted. */
  signal?: AbortSignal | undefined;
  /**
   * Stops the wait (as an abort) once it returns false: the caller's process is gone. Such a
   * wait, served for another process, does not keep this one running: the exit rules
   * (./_exit.ts) keep it running for a non-daemon caller until that caller exits.
   */
  alive?: (() => boolean) | undefined;
}

/** Keeps the event loop alive until the matching {@link unhold}. */
export function hold(): void {
  if (pending++ === 0) keepAlive = setRepeating(() => {}, WAKE_MS);
}

/** Ends one {@link hold}. */
export function unhold(): void {
  if (--pending === 0) {
    clearTimer(keepAlive);
    keepAlive = undefined;
  }
}

/**
 * The absolute deadline (`performance.now()` scale) of a wait of `timeout` ms.
 *
 * @throws {TypeError} when `timeout` is not a number.
 * @throws {RangeError} when it is negative or NaN.
 */
export function deadlineOf(timeout: number | undefined, what: string): number {
  if (checkTimeout(timeout, what) === undefined || timeout === Infinity) return Infinity;
  return performance.now() + timeout!;
}

/** Milliseconds left before `deadline`, never negative. */
export function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/**
 * Waits while `view[index] === expected`, for `ms` at most, keeping the event loop alive unless
 * `keepAlive` is false (a wait made for another process, whose own life, by the exit rules in
 * ./_exit.ts, decides how long this one runs) or `"watch"` (a background watch: see
 * ./_shm.ts's `sleepMapped`).
 * Resolves when the word changed, was notified, or the time passed: the caller re-checks.
 *
 * @throws the signal's reason when it aborts.
 */
export async function waitWord(
  view: Int32Array,
  index: number,
  expected: number,
  ms: number,
  signal?: AbortSignal,
  keepAlive: boolean | "watch" = true,
): Promise<void> {
  signal?.throwIfAborted();
  let sleep: { done: Promise<unknown>; end?: () => Promise<void> | undefined } | undefined;
  if (isMapped(view.buffer)) {
    sleep = sleepMapped(view, index, expected, ms, keepAlive === "watch");
  } else {
    const r = Atomics.waitAsync(view, index, expected, ms);
    if (r.async) sleep = { done: r.value };
  }
  if (!sleep) return;
  if (keepAlive === true) hold();
  let onAbort: (() => void) | undefined;
  try {
    if (!signal) {
      await sleep.done;
      return;
    }
    await Promise.race([
      sleep.done,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal!.removeEventListener("abort", onAbort);
    await sleep.end?.();
    if (keepAlive === true) unhold();
  }
}
