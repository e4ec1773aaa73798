/**
 * `SharedArray`: a fixed-length array of typed numbers in shared memory, with the meaning of
 * Python's `multiprocessing.Array` (and `RawArray`, with `lock: false`).
 *
 * @module
 */

import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, remoteCall } from "../_core/_rpc.ts";
import { checkInteger } from "./_check.ts";
import { MemoryCore, reviveMemory } from "./_memory.ts";
import type { ElementOf, SharedTypedArray, Typecode } from "./_typecodes.ts";
import type { Lock } from "./lock.ts";
import type { ValueOptions } from "./value.ts";

export type { SharedTypedArray };

/** The typed array type behind each typecode. */
export type ArrayOf<T extends Typecode> = T extends "b" | "i8" ? Int8Array
  : T extends "B" | "u8" ? Uint8Array
  : T extends "h" | "i16" ? Int16Array
  : T extends "H" | "u16" ? Uint16Array
  : T extends "i" | "i32" ? Int32Array
  : T extends "I" | "u32" ? Uint32Array
  : T extends "l" | "q" | "i64" ? BigInt64Array
  : T extends "L" | "Q" | "u64" ? BigUint64Array
  : T extends "f" | "f32" ? Float32Array
  : Float64Array;

/**
 * A fixed-length array of numbers of one typecode (as for {@link Value}) in shared memory. It can
 * be passed to children of either start method in `args`.
 *
 * - `.array` is the typed-array view, read and written synchronously wherever memory is shared
 *   (the creating process, its worker children, and, where processes may use FFI on Linux, every
 *   child that may use FFI too; see the `sync` module); use `Atomics` on it for atomic integer
 *   updates. Its buffer is a `SharedArrayBuffer` only where memory is not mapped: over mapped
 *   memory it is an `ArrayBuffer`, on which `Atomics.add`, `compareExchange`, `load`, `store`
 *   and the like work across processes but `Atomics.wait` and `Atomics.waitAsync` throw.
 * - `await get(i)`, `await set(i, v)` and `await toArray()` work everywhere, also in a process
 *   that cannot map shared memory (no FFI, or not Linux) and reaches the array through its
 *   parent, where `.array` throws a TypeError that says so.
 *
 * @example
 * ```ts
 * import { SharedArray } from "@mp/multiprocessing/sync";
 *
 * const squares = new SharedArray("i", 4);
 * for (let i = 0; i < squares.length; i++) squares.array[i] = i * i;
 * console.log(await squares.toArray()); // [0, 1, 4, 9]
 * ```
 */
export class SharedArray<T extends Typecode = Typecode> {
  #core: MemoryCore;

  /**
   * Creates an array in new shared memory.
   *
   * @param typecode the element type.
   * @param sizeOrInitializer the length (all elements 0), or the initial elements.
   * @param options `lock`.
   * @throws {TypeError} for an unknown typecode, a length that is not an integer, or an element
   * of the wrong kind.
   * @throws {RangeError} for a negative length, one too large for shared memory, or an element
   * out of range.
   */
  constructor(
    typecode: T,
    sizeOrInitializer: number | Iterable<ElementOf<T>>,
    options: ValueOptions = {},
  ) {
    let init: number | unknown[];
    if (typeof sizeOrInitializer === "number") {
      const max = Number.MAX_SAFE_INTEGER;
      init = checkInteger(sizeOrInitializer, "Cannot create SharedArray: size", 0, max);
    } else if (
      sizeOrInitializer !== null && typeof sizeOrInitializer === "object" &&
      Symbol.iterator in sizeOrInitializer
    ) {
      init = [...sizeOrInitializer];
    } else {
      throw new TypeError("Cannot create SharedArray: expected a size or an iterable of elements");
    }
    this.#core = new MemoryCore("SharedArray", typecode, init, options.lock ?? true);
  }

  /** The typecode given to the constructor. */
  get typecode(): T {
    return this.#core.code as T;
  }

  /** The number of elements. */
  get length(): number {
    return this.#core.length;
  }

  /**
   * The typed-array view of the shared memory.
   *
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the array through its parent: use `get()`, `set()` and `toArray()`.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/sync";
   *
   * const a = new SharedArray("d", [0.5, 1.5]);
   * console.log(a.array[1]); // 1.5
   * ```
   */
  get array(): ArrayOf<T> {
    return this.#core.view("array", "await get(i), set(i, v) or toArray()") as ArrayOf<T>;
  }

  /**
   * Reads element `i`, in any process.
   *
   * @param i the index.
   * @returns the element.
   * @throws {RangeError} for an index out of range.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/sync";
   *
   * console.log(await new SharedArray("i", [1, 2, 3]).get(2)); // 3
   * ```
   */
  get(i: number): Promise<ElementOf<T>> {
    return this.#core.get(i) as Promise<ElementOf<T>>;
  }

  /**
   * Writes element `i`, in any process.
   *
   * @param i the index.
   * @param v the new element.
   * @throws {RangeError} for an index or a value out of range.
   * @throws {TypeError} for a value of the wrong kind.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/sync";
   *
   * const a = new SharedArray("q", 2);
   * await a.set(0, 5n);
   * console.log(a.array[0]); // 5n
   * ```
   */
  set(i: number, v: ElementOf<T>): Promise<void> {
    return this.#core.set(i, v);
  }

  /**
   * Copies the elements into a plain array, in any process.
   *
   * @returns the elements.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/sync";
   *
   * console.log(await new SharedArray("B", [1, 2]).toArray()); // [1, 2]
   * ```
   */
  toArray(): Promise<ElementOf<T>[]> {
    return this.#core.toArray() as Promise<ElementOf<T>[]>;
  }

  /**
   * The lock that guards updates of several elements.
   *
   * @returns the lock.
   * @throws {TypeError} for an array created with `lock: false`.
   *
   * @example
   * ```ts
   * import { SharedArray } from "@mp/multiprocessing/sync";
   *
   * const a = new SharedArray("i", 3);
   * using _held = await a.getLock().hold();
   * a.array.fill(7);
   * ```
   */
  getLock(): Lock {
    return this.#core.getLock();
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    return this.#core.reduce("sync.SharedArray", this, ctx);
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#core.serve(method, args, caller);
  }
}

registerReviver(
  "sync.SharedArray",
  (s, { rpc }) =>
    reviveMemory(s, rpc, (code, length, lock) => new SharedArray(code, length, { lock })),
);
