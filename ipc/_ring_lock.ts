// The two lock words of a shared ring (./_ring.ts): each holds the ident of its holder, so that
// the lock of a holder that died is taken over, but only once it has been seen dead for longer
// than a critical section can last.

import { identAlive } from "../_core/_state.ts";
import { CAP } from "./_ring_memory.ts";

const SPIN = 64;
/** Milliseconds a dead holder must have been seen dead before its lock is taken over... */
const DEAD_GRACE_MS = 20;
/** ...plus one per this many bytes of ring that a critical section may copy. */
const COPY_BYTES_PER_MS = 1 << 20;

/** One lock word of a ring, as this process takes and releases it. */
export class RingLock {
  readonly #i32: Int32Array;
  readonly #index: number;
  readonly #me: number;
  readonly #table: Int32Array;
  // A worker is marked dead as soon as it is told to stop, which may be a while before its
  // thread stops running. Every critical section is synchronous and short (one record or one
  // piece copied), so a holder seen dead for longer than the longest copy has left it, or will
  // never run again.
  #deadSeen = new Map<number, number>();

  /**
   * @param i32 the ring's header.
   * @param index the lock's word in it.
   * @param me this process's ident.
   * @param table the liveness table of this OS process.
   */
  constructor(i32: Int32Array, index: number, me: number, table: Int32Array) {
    this.#i32 = i32;
    this.#index = index;
    this.#me = me;
    this.#table = table;
  }

  /** How long a live holder may keep the lock: one step copies at most the ring's capacity. */
  get graceMs(): number {
    return DEAD_GRACE_MS + Atomics.load(this.#i32, CAP) / COPY_BYTES_PER_MS;
  }

  /** One short try; true when this process holds the lock now. */
  take(): boolean {
    const i32 = this.#i32, index = this.#index, me = this.#me;
    for (let i = 0; i < SPIN; i++) {
      const holder = Atomics.compareExchange(i32, index, 0, me);
      if (holder === 0) return true;
      if (!identAlive(this.#table, holder)) {
        if (!this.#deadLongEnough(holder)) return false;
        if (Atomics.compareExchange(i32, index, holder, me) === holder) return true;
      } else if (holder === me) {
        return false; // another task of this process: no use spinning
      }
    }
    return false;
  }

  /** Releases the lock. */
  release(): void {
    Atomics.store(this.#i32, this.#index, 0);
  }

  #deadLongEnough(holder: number): boolean {
    const now = performance.now();
    const seen = this.#deadSeen.get(holder);
    if (seen === undefined) {
      this.#deadSeen.set(holder, now);
      return false;
    }
    if (now - seen < this.graceMs) return false;
    this.#deadSeen.delete(holder);
    return true;
  }
}
