// The mutex under Lock and RLock, in four Int32 words of shared memory: the owner's ident (0 when
// free), the owner's tag, the number of sleeping waiters, and the re-entry count. A holder whose
// ident is no longer alive is dead: the next acquirer takes the mutex over.

import { identAlive, state } from "../process/_state.ts";
import type { Who } from "./_handle.ts";
import { remaining, spin, waitSlice } from "./_wait.ts";

const OWNER = 0;
const TAG = 1;
const WAITERS = 2;
const COUNT = 3;

/** Number of Int32 words of a mutex. */
export const MUTEX_WORDS = 4;

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
// subprocess are all served on the thread that owns the object), so plain writes do, ordered by
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
  const table = state().table;
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
    if (!identAlive(table, owner)) {
      if (take(w, who, owner)) return RECOVERED;
      continue;
    }
    if (remaining(deadline) === 0 || (who.alive && !who.alive())) return NO;
    if (spin(() => Atomics.load(w, OWNER) !== owner)) continue;
    Atomics.add(w, WAITERS, 1);
    try {
      await waitSlice(w, OWNER, owner, deadline, signal);
    } finally {
      Atomics.sub(w, WAITERS, 1);
    }
  }
}

/** Frees the mutex entirely and wakes one waiter. */
export function free(w: Int32Array): void {
  w[COUNT] = 0;
  w[TAG] = 0;
  Atomics.store(w, OWNER, 0);
  if (Atomics.load(w, WAITERS) > 0) Atomics.notify(w, OWNER, 1);
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
  return new Int32Array(new SharedArrayBuffer(4 * MUTEX_WORDS));
}

/** Checks that `w` is a mutex's memory (as received from a parent). */
export function isMutex(w: unknown): w is Int32Array {
  return w instanceof Int32Array && w.buffer instanceof SharedArrayBuffer &&
    w.length === MUTEX_WORDS;
}
