// The waiters of a Condition, in shared memory: a sequence word that every notify bumps (sleepers
// wait on it), a state word that counts the waiters not yet notified (low 16 bits) and the
// notifications not yet taken (high 16 bits), and beside them the waiters' count per process
// ident (./_ident_counts.ts). A notify first takes out the waiters of processes that died, so
// that it only counts live ones: a dead waiter never takes a notification meant for a live one,
// and none is left over for a later waiter.
//
// Whoever takes a waiter's entry out of the per-ident counts also takes it out of the state word:
// the waiter itself when it leaves, or a notifier that reaps a dead process's entry.

import { isSharedMemory, notifyWord, type SharedMemory, sharedMemory } from "../_core/_shm.ts";
import { IdentCounts } from "./_ident_counts.ts";
import { waitSlice } from "./_wait.ts";

const SEQ = 0;
const STATE = 1;
/** Processes whose waits are tracked at once; a wait beyond them is counted but not tracked. */
const TRACKED = 256;
const TICKET = 0x10000;

/** One wait: who waits, whether its process's entry counts it, and whether it is taken out. */
export interface Waiter {
  readonly ident: number;
  tracked: boolean;
  out: boolean;
}

/** What a Condition sends a worker child: its memory. */
export interface WaitersMemory {
  w: Int32Array;
  ids: SharedMemory;
}

/** The waiters of one Condition. */
export class Waiters {
  readonly #w: Int32Array;
  readonly #ids: IdentCounts;

  /** @param memory memory received from a parent; new memory when left out. */
  constructor(memory?: WaitersMemory) {
    this.#w = memory?.w ?? new Int32Array(sharedMemory(8));
    this.#ids = memory ? new IdentCounts(memory.ids) : IdentCounts.create(TRACKED);
  }

  /** Whether `m` is a Condition's memory (as received from a parent). */
  static fits(m: unknown): m is WaitersMemory {
    const { w, ids } = (m ?? {}) as Partial<WaitersMemory>;
    return w instanceof Int32Array && isSharedMemory(w.buffer) && w.length === 2 &&
      IdentCounts.fits(ids);
  }

  /** The memory, for a worker child. */
  get memory(): WaitersMemory {
    return { w: this.#w, ids: this.#ids.sab };
  }

  /** Registers a wait of process `ident`. */
  enter(ident: number): Waiter {
    Atomics.add(this.#w, STATE, 1);
    return { ident, tracked: this.#ids.add(ident), out: false };
  }

  /** The sequence number to sleep on. */
  seq(): number {
    return Atomics.load(this.#w, SEQ);
  }

  /** Sleeps one slice at most, or until a notify after `seq`. */
  sleep(seq: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    return waitSlice(this.#w, SEQ, seq, deadline, signal);
  }

  /** Takes a notification if one is waiting to be taken: the wait then ends, notified. */
  takeWake(me: Waiter): boolean {
    if (Atomics.load(this.#w, STATE) >>> 16 === 0 || !this.#untrack(me)) return false;
    for (;;) {
      const st = Atomics.load(this.#w, STATE);
      if (st >>> 16 === 0) {
        me.tracked = this.#ids.add(me.ident); // taken by another waiter first: wait on
        return false;
      }
      if (Atomics.compareExchange(this.#w, STATE, st, st - TICKET) === st) {
        me.out = true;
        return true;
      }
    }
  }

  /**
   * Ends a wait that was not woken. After a timeout it takes a notification that is there (it
   * was notified as it timed out); an abandoned wait (aborted, or its process died) leaves one
   * to the waiters that are still to be notified. Returns whether it took one.
   */
  leave(me: Waiter, abandoned: boolean): boolean {
    if (!this.#untrack(me)) return false;
    for (;;) {
      const st = Atomics.load(this.#w, STATE);
      const waiting = st & 0xffff;
      const ticket = st >>> 16 > 0 && !(abandoned && waiting > 0);
      const next = ticket ? st - TICKET : waiting > 0 ? st - 1 : st; // st: nothing to take out
      if (Atomics.compareExchange(this.#w, STATE, st, next) === st) {
        me.out = true;
        return ticket;
      }
    }
  }

  /** Notifies up to `n` live waiters (all for Infinity). */
  notify(n: number): void {
    const dead = this.#ids.reap();
    if (dead > 0) this.#drop(dead);
    for (;;) {
      const st = Atomics.load(this.#w, STATE);
      const waiting = st & 0xffff;
      const k = Math.min(n, waiting);
      if (k === 0) return;
      const next = (waiting - k) + (((st >>> 16) + k) << 16);
      if (Atomics.compareExchange(this.#w, STATE, st, next) === st) break;
    }
    Atomics.add(this.#w, SEQ, 1);
    notifyWord(this.#w, SEQ);
  }

  // Takes the wait out of its process's entry; false when it is out already (a notifier reaped
  // the entry of its dead process, and took it out of the state word).
  #untrack(me: Waiter): boolean {
    if (me.out) return false;
    if (me.tracked) {
      me.tracked = false;
      if (!this.#ids.sub(me.ident)) me.out = true;
    }
    return !me.out;
  }

  // Takes out `n` waits of dead processes: first from those not yet notified, so that a
  // notification given to a process that then died goes to a live waiter.
  #drop(n: number): void {
    for (;;) {
      const st = Atomics.load(this.#w, STATE);
      const waiting = st & 0xffff;
      const fromWaiting = Math.min(n, waiting);
      const fromTickets = Math.min(n - fromWaiting, st >>> 16);
      const next = (waiting - fromWaiting) + (((st >>> 16) - fromTickets) << 16);
      if (Atomics.compareExchange(this.#w, STATE, st, next) === st) return;
    }
  }
}
