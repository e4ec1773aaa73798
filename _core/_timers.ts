// The package's timers, without Node's. On Deno 2.9 the global `setTimeout` and `setInterval`
// make a `node:timers` Timeout, and the first one of each isolate loads that part of Deno's Node
// compatibility layer (node:timers, async_hooks, errors): 6-12 ms measured, on the main thread
// and again in every worker child, whose end (the exit rules wait with a keep-alive timer) or
// first wait paid it. These go to deno_core's timer functions, which the globals wrap: the same
// timer list (so they fire in order with the program's own), seen by the test sanitizers, an
// error thrown from one reported as uncaught. Where those are missing, the globals serve.
// cluster/ keeps the globals: its Redis client loads Node's layer anyway.

import { denoCore } from "./_deno_core.ts";

declare const brand: unique symbol;
/** A timer of this module. */
export type Timer = { readonly [brand]: true };

interface CoreTimers {
  createTimer(
    fn: () => void,
    ms: number,
    args: undefined,
    repeat: boolean,
    ref: boolean,
  ): Timer;
  cancelTimer(timer: Timer): void;
  unrefTimer(timer: Timer): void;
}

const core = denoCore as
  | Partial<CoreTimers & { createSystemTimer(fn: () => void, ms: number, ref: boolean): Timer }>
  | undefined;

const timers: CoreTimers = typeof core?.createTimer === "function" &&
    typeof core.cancelTimer === "function" && typeof core.unrefTimer === "function"
  ? core as CoreTimers
  : {
    createTimer: (fn, ms, _args, repeat) =>
      (repeat ? setInterval(fn, ms) : setTimeout(fn, ms)) as unknown as Timer,
    cancelTimer: (timer) => clearTimeout(timer as unknown as number),
    unrefTimer: (timer) => Deno.unrefTimer(timer as unknown as number),
  };

/**
 * The longest delay a timer takes (~24.8 days): a longer one would fire after 1 ms, as it does
 * with `setTimeout`, so it is cut to this, which no wait of the package outlasts in practice.
 */
const LONGEST_MS = 2 ** 31 - 1;

/** Calls `fn` once, after `ms` milliseconds (at least 1, as `setTimeout`; ~24.8 days at most). */
export function setTimer(fn: () => void, ms: number): Timer {
  return timers.createTimer(fn, Math.min(ms, LONGEST_MS), undefined, false, true);
}

/** Calls `fn` every `ms` milliseconds until cleared (as `setInterval`; ~24.8 days at most). */
export function setRepeating(fn: () => void, ms: number): Timer {
  return timers.createTimer(fn, Math.min(ms, LONGEST_MS), undefined, true, true);
}

/** Cancels `timer`; nothing for `undefined` or one already fired or cleared. */
export function clearTimer(timer: Timer | undefined): void {
  if (timer !== undefined) timers.cancelTimer(timer);
}

/** Lets the program end while `timer` is pending; returns it. */
export function unrefTimer(timer: Timer): Timer {
  timers.unrefTimer(timer);
  return timer;
}

/**
 * Calls `fn` once after `ms` milliseconds, for the package's own upkeep, as Deno's own internal
 * timers do: unref'd, and not counted by the test sanitizers, for what it does is itself outside
 * their view (it makes a spare Worker, ../process/_thread.ts) and may come after the test that
 * caused it. `undefined` where this Deno has no such timers: the caller then does it at once.
 */
export function setUpkeepTimer(fn: () => void, ms: number): Timer | undefined {
  return typeof core?.createSystemTimer === "function" && timers === core
    ? core.createSystemTimer(fn, ms, false)
    : undefined;
}

/** Resolves after `ms` milliseconds; an unref'd wait (`ref` false) keeps no program alive. */
export function delay(ms: number, ref = true): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimer(resolve, ms);
    if (!ref) unrefTimer(timer);
  });
}
