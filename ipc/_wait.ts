// Waiting on shared memory without blocking the event loop: `Atomics.waitAsync` with a shared
// keep-alive timer (waitAsync alone does not keep Deno's event loop running), and the deadline,
// abort and liveness checks that every waiting call of this folder shares.

let waiting = 0;
let keepAlive: ReturnType<typeof setInterval> | undefined;

function hold(): void {
  if (waiting++ === 0) keepAlive = setInterval(() => {}, 1 << 30);
}

function unhold(): void {
  if (--waiting === 0) {
    clearInterval(keepAlive);
    keepAlive = undefined;
  }
}

/** The longest single sleep: waits wake this often to check deadlines, signals and liveness. */
export const SLICE_MS = 50;

/** How long and for whom a call waits. */
export interface WaitLimits {
  /** `performance.now()` value after which the wait times out; `Infinity` for none. */
  deadline: number;
  /** Stops the wait when aborted. */
  signal?: AbortSignal | undefined;
  /**
   * Stops the wait (as an abort) once it returns false: the caller's process is gone. Such a
   * wait, served for another process, does not keep this one running: the link to the caller
   * does while the caller lives.
   */
  alive?: (() => boolean) | undefined;
}

/** Thrown inside this folder when the caller whose wait this was has gone. */
export class CallerGone extends Error {
  constructor() {
    super("The calling process has exited");
    this.name = "CallerGone";
  }
}

/** Turns a timeout in milliseconds into a deadline; checks it. */
export function deadlineOf(timeout: number | undefined, what: string): number {
  if (timeout === undefined || timeout === Infinity) return Infinity;
  if (typeof timeout !== "number" || !(timeout >= 0)) {
    throw new RangeError(`${what}: timeout must be a number >= 0, got ${String(timeout)}`);
  }
  return performance.now() + timeout;
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
  const r = Atomics.waitAsync(i32, index, expected, Math.min(left, SLICE_MS));
  if (r.async) {
    const held = !limits.alive;
    if (held) hold();
    let onAbort: (() => void) | undefined;
    try {
      if (limits.signal) {
        const signal = limits.signal;
        await Promise.race([
          r.value,
          new Promise<void>((_, reject) => {
            onAbort = () => reject(signal.reason);
            signal.addEventListener("abort", onAbort, { once: true });
          }),
        ]);
      } else {
        await r.value;
      }
    } finally {
      if (onAbort) limits.signal!.removeEventListener("abort", onAbort);
      if (held) unhold();
    }
  }
  limits.signal?.throwIfAborted();
  if (limits.alive && !limits.alive()) throw new CallerGone();
  return true;
}
