// The memory of a Semaphore: its count, the number of sleepers and its bound (-1 when unbounded)
// in three Int32 words, and for a semaphore created with `recoverDead` the slots each process
// holds (./_ident_counts.ts), so that the slots of a holder that died go back to the count: the
// next acquirer that would wait reaps them, and so does each sleeper at every slice.

import { isSharedMemory, notifyWord, type SharedMemory, sharedMemory } from "../_core/_shm.ts";
import { callerDied, type Who } from "./_handle.ts";
import { IdentCounts } from "./_ident_counts.ts";
import { remaining, spin, waitSlice } from "./_wait.ts";

const COUNT = 0;
const WAITERS = 1;
const BOUND = 2;

/** The largest count: what an Int32 word holds. */
export const MAX_COUNT = 0x7fffffff;
/** The most processes that hold slots of a `recoverDead` semaphore at once. */
export const MAX_HOLDERS = 1024;

/** What a Semaphore sends a worker child: its memory. */
export interface SemMemory {
  w: Int32Array;
  holders?: SharedMemory;
}

/** How a new semaphore starts. */
export interface SemStart {
  value: number;
  bounded: boolean;
  recoverDead: boolean;
}

/** A semaphore's count in shared memory. */
export class SemCount {
  readonly #name: string;
  readonly #w: Int32Array;
  readonly #holders: IdentCounts | undefined;

  /**
   * @param name the class name, for messages.
   * @param from memory received from a parent, or how a new semaphore starts.
   */
  constructor(name: string, from: SemMemory | SemStart) {
    this.#name = name;
    if ("w" in from) {
      this.#w = from.w;
      this.#holders = from.holders && new IdentCounts(from.holders);
      return;
    }
    this.#w = new Int32Array(sharedMemory(12));
    this.#w[COUNT] = from.value;
    this.#w[BOUND] = from.bounded ? from.value : -1;
    if (from.recoverDead) this.#holders = IdentCounts.create(Math.min(from.value, MAX_HOLDERS));
  }

  /** Whether `m` is a semaphore's memory (as received from a parent). */
  static fits(m: unknown): m is SemMemory {
    const { w, holders } = (m ?? {}) as Partial<SemMemory>;
    return w instanceof Int32Array && isSharedMemory(w.buffer) && w.length === 3 &&
      (holders === undefined || IdentCounts.fits(holders));
  }

  /** The memory, for a worker child. */
  get memory(): SemMemory {
    return { w: this.#w, holders: this.#holders?.sab };
  }

  /**
   * Takes one slot for `who`, waiting while there is none.
   *
   * @returns false when `deadline` passed first, or the (remote) caller died.
   * @throws the signal's reason when it aborts.
   */
  async acquire(who: Who, deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const w = this.#w;
    const positive = () => Atomics.load(w, COUNT) > 0;
    for (;;) {
      const c = Atomics.load(w, COUNT);
      let full = false;
      if (c > 0) {
        if (Atomics.compareExchange(w, COUNT, c, c - 1) !== c) continue;
        if (this.#holders?.add(who.ident) === false) {
          this.#add(1); // more holding processes than the table tracks: wait for one to go
          full = true;
        } else if (callerDied(who)) {
          this.#giveBack(1, who);
          return false;
        } else {
          return true;
        }
      }
      if (!full && this.#reap()) continue;
      if (remaining(deadline) === 0 || callerDied(who)) return false;
      if (!full && spin(positive)) continue;
      Atomics.add(w, WAITERS, 1);
      try {
        await waitSlice(w, COUNT, full ? Atomics.load(w, COUNT) : 0, deadline, signal);
      } finally {
        Atomics.sub(w, WAITERS, 1);
      }
    }
  }

  /**
   * Gives `n` slots back for `who`.
   *
   * @throws {TypeError} for a `recoverDead` semaphore, when `who` holds fewer than `n` slots.
   * @throws {RangeError} when the count would pass its bound or the largest count.
   */
  release(n: number, who: Who): void {
    const h = this.#holders;
    if (h && !h.sub(who.ident, n)) {
      throw new TypeError(
        `Cannot release ${this.#name}: this process holds ${h.count(who.ident)} of its slots, ` +
          `not ${n}; a ${this.#name} created with recoverDead is released by the processes ` +
          "that acquired it",
      );
    }
    this.#add(n);
  }

  /** The count, after taking back the slots of holders that died. */
  value(): number {
    this.#reap();
    return Atomics.load(this.#w, COUNT);
  }

  // Returns a slot taken for a caller that died meanwhile, unless a reaper already did.
  #giveBack(n: number, who: Who): void {
    if (!this.#holders || this.#holders.sub(who.ident, n)) this.#add(n);
  }

  // Takes back the slots of holders that died; returns whether there were any.
  #reap(): boolean {
    const n = this.#holders?.reap() ?? 0;
    if (n > 0) this.#add(n);
    return n > 0;
  }

  #add(n: number): void {
    const w = this.#w;
    const bound = w[BOUND];
    for (;;) {
      const c = Atomics.load(w, COUNT);
      if (bound >= 0 && c + n > bound) {
        throw new RangeError(
          `Cannot release ${this.#name}: its value would exceed its initial value ${bound}`,
        );
      }
      if (c + n > MAX_COUNT) {
        throw new RangeError(
          `Cannot release ${this.#name}: its value ${c} plus ${n} would pass ${MAX_COUNT}, the ` +
            "largest it can hold",
        );
      }
      if (Atomics.compareExchange(w, COUNT, c, c + n) === c) break;
    }
    if (Atomics.load(w, WAITERS) > 0) notifyWord(w, COUNT, n);
  }
}
