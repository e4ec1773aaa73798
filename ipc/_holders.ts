// Who holds each end of a pipe: per end, slots of process idents in shared memory. An end is
// gone once every slot is empty or names a process that has exited.

import { type SharedMemory, sharedMemory } from "../_core/_shm.ts";
import { identAlive, state } from "../_core/_state.ts";

const SLOTS = 128;

/** The holder slots of both ends of a pipe. */
export class Holders {
  readonly sab: SharedMemory;
  readonly #i32: Int32Array;
  readonly #table: Int32Array;

  /** @param sab the memory of holders made by {@link Holders.create}. */
  constructor(sab: SharedMemory) {
    this.sab = sab;
    this.#i32 = new Int32Array(sab);
    this.#table = state().table;
  }

  /** Makes the slots of a new pipe, each end held by the current process. */
  static create(): Holders {
    const h = new Holders(sharedMemory(2 * SLOTS * 4));
    const me = state().self.ident;
    h.add(0, me);
    h.add(1, me);
    return h;
  }

  /**
   * Records one more hold of end `side` by process `ident`.
   *
   * @throws {RangeError} when too many live processes hold the end.
   */
  add(side: number, ident: number): void {
    const base = side * SLOTS;
    for (let i = base; i < base + SLOTS; i++) {
      const cur = Atomics.load(this.#i32, i);
      if (cur !== 0 && identAlive(this.#table, cur)) continue;
      if (Atomics.compareExchange(this.#i32, i, cur, ident) === cur) return;
    }
    throw new RangeError(`Cannot pass a pipe end on: ${SLOTS} live processes already hold it`);
  }

  /** Drops one hold of end `side` by process `ident`. */
  remove(side: number, ident: number): void {
    const base = side * SLOTS;
    for (let i = base; i < base + SLOTS; i++) {
      if (Atomics.compareExchange(this.#i32, i, ident, 0) === ident) return;
    }
  }

  /** Whether some live process still holds end `side`. */
  held(side: number): boolean {
    const base = side * SLOTS;
    for (let i = base; i < base + SLOTS; i++) {
      const cur = Atomics.load(this.#i32, i);
      if (cur !== 0 && identAlive(this.#table, cur)) return true;
    }
    return false;
  }
}
