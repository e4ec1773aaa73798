// Waiting on a word of shared memory without blocking or spinning the event loop: a short spin,
// then `Atomics.waitAsync` in slices. `waitAsync` keeps no event loop alive, so one shared ref'd
// interval runs while any wait of this realm is pending.

/** Options of every call of `sync/` that waits: a timeout and an abort signal. */
export interface SyncWaitOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted; the call then rejects with the signal's reason. @default {undefined} */
  signal?: AbortSignal;
}

/** Longest single `waitAsync`: the period at which a waiter checks for a dead holder. */
export const SLICE_MS = 100;

let pending = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

/** Keeps the event loop alive until the matching {@link unhold}. */
export function hold(): void {
  if (pending++ === 0) keepAlive = setInterval(() => {}, 1 << 30);
}

/** Ends one {@link hold}. */
export function unhold(): void {
  if (--pending === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

/**
 * The absolute deadline (`performance.now()` scale) of a wait of `timeout` ms.
 *
 * @throws {RangeError} when `timeout` is negative or not a number.
 */
export function deadlineOf(timeout: number | undefined, what: string): number {
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number" || !(timeout >= 0)) {
    throw new RangeError(`${what}: timeout must be a number >= 0 (ms), got ${String(timeout)}`);
  }
  return performance.now() + timeout;
}

/** Milliseconds left before `deadline`, never negative. */
export function remaining(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/** Checks the common wait options and returns the deadline. */
export function startWait(options: SyncWaitOptions, what: string): number {
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
export async function waitSlice(
  view: Int32Array,
  index: number,
  expected: number,
  deadline: number,
  signal?: AbortSignal,
): Promise<void> {
  const ms = Math.min(SLICE_MS, remaining(deadline));
  const r = Atomics.waitAsync(view, index, expected, ms);
  if (!r.async) return;
  hold();
  try {
    if (!signal) {
      await r.value;
      return;
    }
    signal.throwIfAborted();
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      await Promise.race([r.value, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  } finally {
    unhold();
  }
}

/** A few rounds of polling before sleeping: cheap hand-offs between threads. */
export function spin(test: () => boolean, rounds = 100): boolean {
  for (let i = 0; i < rounds; i++) if (test()) return true;
  return false;
}
