// Counts per process ident in shared memory: who waits on a Condition or a Barrier, who holds
// slots of a Semaphore created with `recoverDead`. Each entry is one 64-bit word, the ident in
// its high half and the count in its low half, so that every change is one compare-and-swap: an
// entry whose process died is taken away whole ("reaped"), and a late change made for that
// process (a call still being served for it) fails instead of landing on a reaped entry.
//
// An entry is changed by the thread that acts for its ident (one ident is one thread: calls from
// a proxy are all served on the thread that owns the object) or, once that ident is
// dead, by whoever reaps it.

import { isSharedMemory, type SharedMemory, sharedMemory } from "../_core/_shm.ts";
import { identAlive, state } from "../_core/_state.ts";

const HEADER = 8; // bytes before the entries: an Int32 high-water mark, and padding
const HIGH = 0; // entries at this index and above have never been used
const LOW = 0xffffffffn;

function pack(ident: number, count: number): bigint {
  return (BigInt(ident >>> 0) << 32n) | BigInt(count);
}

function identOf(e: bigint): number {
  return Number(e >> 32n) | 0;
}

/** Counts keyed by process ident, in shared memory. */
export class IdentCounts {
  /** The memory, sent to worker children as it is. */
  readonly sab: SharedMemory;
  readonly #head: Int32Array;
  readonly #e: BigUint64Array;

  /** @param sab memory made by {@link IdentCounts.create}, e.g. received from a parent. */
  constructor(sab: SharedMemory) {
    this.sab = sab;
    this.#head = new Int32Array(sab, 0, 2);
    this.#e = new BigUint64Array(sab, HEADER);
  }

  /** New counts, all 0, with room for `size` idents at once. */
  static create(size: number): IdentCounts {
    return new IdentCounts(sharedMemory(HEADER + 8 * size));
  }

  /** Whether `sab` can be the memory of counts (as received from a parent). */
  static fits(sab: unknown): sab is SharedMemory {
    return isSharedMemory(sab) && sab.byteLength > HEADER &&
      (sab.byteLength - HEADER) % 8 === 0;
  }

  /** Adds `n` to the count of `ident`; false (and nothing changed) when no entry is free. */
  add(ident: number, n = 1): boolean {
    const e = this.#e;
    const key = BigInt(ident >>> 0);
    for (;;) {
      const high = Atomics.load(this.#head, HIGH);
      let free = -1;
      let i = 0;
      for (; i < high; i++) {
        const cur = Atomics.load(e, i);
        if (cur === 0n) {
          if (free < 0) free = i;
        } else if (cur >> 32n === key) {
          if (Atomics.compareExchange(e, i, cur, cur + BigInt(n)) === cur) return true;
          i--; // changed under us (reaped): look again
        }
      }
      if (free < 0) {
        if (high === e.length) return false;
        free = high;
      }
      if (Atomics.compareExchange(e, free, 0n, pack(ident, n)) !== 0n) continue;
      for (let h = high; h <= free; h = Atomics.load(this.#head, HIGH)) {
        if (Atomics.compareExchange(this.#head, HIGH, h, free + 1) === h) break;
      }
      return true;
    }
  }

  /**
   * Takes `n` from the count of `ident`; false (and nothing changed) when it has less, e.g.
   * because it was reaped.
   */
  sub(ident: number, n = 1): boolean {
    const e = this.#e;
    const key = BigInt(ident >>> 0);
    const high = Atomics.load(this.#head, HIGH);
    for (let i = 0; i < high; i++) {
      for (;;) {
        const cur = Atomics.load(e, i);
        if (cur === 0n || cur >> 32n !== key) break;
        const count = Number(cur & LOW);
        if (count < n) return false;
        const next = count === n ? 0n : cur - BigInt(n);
        if (Atomics.compareExchange(e, i, cur, next) === cur) return true;
      }
    }
    return false;
  }

  /** The count of `ident`. */
  count(ident: number): number {
    const key = BigInt(ident >>> 0);
    const high = Atomics.load(this.#head, HIGH);
    for (let i = 0; i < high; i++) {
      const cur = Atomics.load(this.#e, i);
      if (cur !== 0n && cur >> 32n === key) return Number(cur & LOW);
    }
    return 0;
  }

  /** Empties the entries of idents that are no longer alive; returns the sum of their counts. */
  reap(): number {
    const e = this.#e;
    const table = state().table;
    const high = Atomics.load(this.#head, HIGH);
    let reaped = 0;
    for (let i = 0; i < high; i++) {
      const cur = Atomics.load(e, i);
      if (cur === 0n || identAlive(table, identOf(cur))) continue;
      if (Atomics.compareExchange(e, i, cur, 0n) === cur) reaped += Number(cur & LOW);
      else i--; // changed under us: look at it again
    }
    return reaped;
  }

  /** Empties every entry. */
  clear(): void {
    const high = Atomics.load(this.#head, HIGH);
    for (let i = 0; i < high; i++) Atomics.store(this.#e, i, 0n);
  }
}
