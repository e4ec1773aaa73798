// Waiting in sync/: a short spin, then `Atomics.waitAsync` in slices (_core/_wait.ts), so that
// a waiter also notices a dead holder, a deadline or an abort.

import { deadlineOf, remaining, waitWord } from "../_core/_wait.ts";

export { deadlineOf, remaining } from "../_core/_wait.ts";

/** Options of every call of `sync/` that waits: a timeout and an abort signal. */
export interface SyncWaitOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted; the call then rejects with the signal's reason. @default {undefined} */
  signal?: AbortSignal;
}

/** Longest single `waitAsync`: the period at which a waiter checks for a dead holder. */
export const SLICE_MS = 100;

/**
 * Checks that `options` is an options object: `wait(100)` or `acquire(false)`, Python's
 * positional timeout and blocking flag, would otherwise wait forever without a word.
 *
 * @throws {TypeError} for anything else than an object.
 */
export function checkOptions(options: unknown, what: string): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${what}: options must be an object such as { timeout: 1000 } (ms), got ${String(options)}`,
    );
  }
}

/** Checks the common wait options and returns the deadline. */
export function startWait(options: SyncWaitOptions, what: string): number {
  checkOptions(options, what);
  const deadline = deadlineOf(options.timeout, what);
  options.signal?.throwIfAborted();
  return deadline;
}

/**
 * Waits while `view[index] === expected`, for one slice at most (and never past `deadline`).
 * Resolves when the word changed, was notified, or the slice ended: the caller re-checks its
 * condition and its deadline.
 *
 * @throws the signal's reason when it aborts.
 */
export function waitSlice(
  view: Int32Array,
  index: number,
  expected: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  return waitWord(view, index, expected, Math.min(SLICE_MS, remaining(deadline)), signal);
}

/** Steps of arithmetic in the longest {@link pause} (about 2 us): 8 << 7. */
const PAUSE_MAX_STEPS = 1024;
let sink = 0;

/**
 * Waits a little without touching shared memory: 8 steps of arithmetic at round 0, twice as many
 * at each later round, up to PAUSE_MAX_STEPS (a step is about 2 ns). A waiter that polls a held
 * lock less often lets its holder release it and take it again while the lock's cache line stays
 * on the holder's core: two processes that contend for a lock then mostly run in turns of many
 * holdings each rather than moving the line between cores at every one.
 *
 * @returns the steps paused.
 */
export function pause(round: number): number {
  const steps = round >= 7 ? PAUSE_MAX_STEPS : 8 << round;
  let x = sink;
  for (let k = steps; k > 0; k--) x = (Math.imul(x, 31) + k) | 0;
  sink = x; // kept, so that the loop is not optimized away
  return steps;
}

/** A few rounds of polling before sleeping: cheap hand-offs between threads. */
export function spin(test: () => boolean, rounds = 100): boolean {
  for (let i = 0; i < rounds; i++) if (test()) return true;
  return false;
}
