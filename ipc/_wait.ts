// Waiting in ipc/: slices of `Atomics.waitAsync` (_core/_wait.ts) with the deadline, abort and
// liveness checks that every waiting call of this folder shares.

import { waitWord } from "../_core/_wait.ts";

export { deadlineOf } from "../_core/_wait.ts";

/** The longest single sleep: waits wake this often to check deadlines, signals and liveness. */
export const SLICE_MS = 50;

import type { WaitLimits } from "../_core/_wait.ts";

export type { WaitLimits };

/** Thrown inside this folder when the caller whose wait this was has gone. */
export class CallerGone extends Error {
  constructor() {
    super("The calling process has exited");
    this.name = "CallerGone";
  }
}

/**
 * Sleeps until `i32[index]` may differ from `expected`, the deadline passes or a slice ends.
 *
 * @returns false once the deadline has passed.
 * @throws the signal's reason when it aborts, or {@link CallerGone}.
 */
export async function sleep(
  i32: Int32Array,
  index: number,
  expected: number,
  limits: WaitLimits,
): Promise<boolean> {
  limits.signal?.throwIfAborted();
  if (limits.alive && !limits.alive()) throw new CallerGone();
  const left = limits.deadline - performance.now();
  if (left <= 0) return false;
  await waitWord(i32, index, expected, Math.min(left, SLICE_MS), limits.signal, !limits.alive);
  limits.signal?.throwIfAborted();
  if (limits.alive && !limits.alive()) throw new CallerGone();
  return true;
}
