// The mutex under Lock and RLock, in six Int32 words of shared memory: the owner's ident (0 when
// free), the owner's tag, the number of sleeping waiters, the re-entry count, whether a wake-up
// is on its way (so that a release wakes a sleeper once, not at every release while the sleeper
// gets up), and the wake count that sleepers sleep on. A holder whose ident is no longer alive is
// dead: the next acquirer takes the mutex over.
//
// Sleepers sleep on the wake count, not on the owner word: a holder that releases and takes the
// mutex again leaves the owner word as it was, so that a sleeper that had read it before would
// sleep through the wake-up meant for it (and, the wake-up being marked as on its way, through
// every later release) until its slice ended; the wake count only grows.

import { isSharedMemory, notifyWord, sharedMemory } from "../_core/_shm.ts";
import { identAlive, state } from "../_core/_state.ts";
import type { Who } from "./_handle.ts";
import { pause, remaining, spin, waitSlice } from "./_wait.ts";

/** The words of a mutex, by name (also for tests of the protocol). */
export const WORDS = { OWNER: 0, TAG: 1, WAITERS: 2, COUNT: 3, WOKEN: 4, WAKES: 5 } as const;
const { OWNER, TAG, WAITERS, COUNT, WOKEN, WAKES } = WORDS;

/** Number of Int32 words of a mutex. */
export const MUTEX_WORDS: number = Object.keys(WORDS).length;

/** How an acquire ended: 0 the deadline passed (or a remote caller died) first, 1 acquired, 2
 * acquired from a holder that had died. */
export type Got = 0 | 1 | 2;
/** Not acquired. */
export const NO: Got = 0;
/** Acquired. */
export const YES: Got = 1;
/** Acquired from a dead holder. */
export const RECOVERED: Got = 2;

// TAG and COUNT are only read by the holder's own thread (one ident is one thread; calls from a
// proxy are all served on the thread that owns the object), so plain writes do, ordered by
// the atomic operations on OWNER around them.
function take(w: Int32Array, who: Who, expected: number): boolean {
  if (Atomics.compareExchange(w, OWNER, expected, who.ident) !== expected) return false;
  w[TAG] = who.tag;
  w[COUNT] = 1;
  return true;
}

/** Whether `who` holds the mutex. */
export function owns(w: Int32Array, who: Who): boolean {
  return Atomics.load(w, OWNER) === who.ident && w[TAG] === who.tag;
}

/** Takes the mutex at once if it is free; never waits. */
export function tryTake(w: Int32Array, who: Who): boolean {
  return take(w, who, 0);
}

/** About how long, in ms, {@link takeSoon} polls a held mutex. */
export const POLL_MS = 0.1;
/** Steps of {@link pause} in POLL_MS, at about 2 ns a step. */
const POLL_STEPS = 50_000;

/**
 * Takes the mutex if it is free or becomes free within about 100 us: tried at once, then polled
 * with growing pauses (see {@link pause}), unless this thread holds it (polling cannot help)
 * or others already sleep on it. Synchronous: a longer wait is `acquire()`'s.
 */
export function takeSoon(w: Int32Array, who: Who): boolean {
  if (take(w, who, 0)) return true;
  if (Atomics.load(w, OWNER) === who.ident || Atomics.load(w, WAITERS) > 0) return false;
  for (let round = 0, left = POLL_STEPS; left > 0; round++) {
    left -= pause(round);
    if (Atomics.load(w, OWNER) === 0 && take(w, who, 0)) return true;
  }
  return false;
}

/**
 * Acquires the mutex for `who` if that needs no waiting: it is free, `who` re-enters it (when
 * `reentrant`), or its holder has died.
 */
export function tryAcquire(w: Int32Array, who: Who, reentrant: boolean): Got {
  if (reentrant && owns(w, who)) {
    w[COUNT]++;
    return YES;
  }
  for (;;) {
    const owner = Atomics.load(w, OWNER);
    if (owner === 0) {
      if (take(w, who, 0)) return YES;
      continue;
    }
    if (identAlive(state().table, owner)) return NO;
    if (take(w, who, owner)) return RECOVERED;
  }
}

/**
 * Acquires the mutex for `who`, re-entering when `reentrant` and `who` already holds it.
 *
 * @throws the signal's reason when it aborts.
 */
export async function acquire(
  w: Int32Array,
  who: Who,
  reentrant: boolean,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<Got> {
  for (;;) {
    const got = tryAcquire(w, who, reentrant);
    if (got !== NO) return got;
    const owner = Atomics.load(w, OWNER);
    if (owner === 0) continue;
    if (remaining(deadline) === 0 || (who.alive && !who.alive())) return NO;
    if (spin(() => Atomics.load(w, OWNER) !== owner)) continue;
    const wakes = Atomics.load(w, WAKES);
    Atomics.add(w, WAITERS, 1);
    // A wake-up still marked as on its way went to another waiter, or was marked by a release
    // that saw this one before it got up last time (and counted it already): unmarked, so that
    // the next release counts one for this sleep.
    Atomics.store(w, WOKEN, 0);
    let abandoned = true;
    try {
      if (Atomics.load(w, OWNER) !== 0) await waitSlice(w, WAKES, wakes, deadline, signal);
      abandoned = false;
    } finally {
      Atomics.sub(w, WAITERS, 1);
      Atomics.store(w, WOKEN, 0);
      // An abandoned wait may have taken the wake-up meant for another sleeper: pass it on.
      if (abandoned && Atomics.load(w, OWNER) === 0) wake(w);
    }
  }
}

function wake(w: Int32Array): void {
  if (Atomics.load(w, WAITERS) > 0 && Atomics.compareExchange(w, WOKEN, 0, 1) === 0) {
    Atomics.add(w, WAKES, 1);
    notifyWord(w, WAKES, 1);
  }
}

/**
 * Frees the mutex entirely and wakes one sleeping waiter, unless one is waking already.
 *
 * @returns whether it was held (one atomic exchange tells and frees).
 */
export function free(w: Int32Array): boolean {
  w[COUNT] = 0;
  w[TAG] = 0;
  if (Atomics.exchange(w, OWNER, 0) === 0) return false;
  wake(w);
  return true;
}

/** Undoes one acquire of a re-entrant mutex; frees it at the last. Returns the count left. */
export function leave(w: Int32Array): number {
  const left = --w[COUNT];
  if (left <= 0) free(w);
  return Math.max(0, left);
}

/** Whether anyone holds the mutex. */
export function isLocked(w: Int32Array): boolean {
  return Atomics.load(w, OWNER) !== 0;
}

/** The re-entry count (0 when free). */
export function depth(w: Int32Array): number {
  return w[COUNT];
}

/** Restores a re-entry count saved by a Condition wait. */
export function setDepth(w: Int32Array, n: number): void {
  w[COUNT] = n;
}

/** A fresh mutex in its own shared memory. */
export function newMutex(): Int32Array {
  return new Int32Array(sharedMemory(4 * MUTEX_WORDS));
}

/** Checks that `w` is a mutex's memory (as received from a parent). */
export function isMutex(w: unknown): w is Int32Array {
  return w instanceof Int32Array && isSharedMemory(w.buffer) &&
    w.length === MUTEX_WORDS;
}
