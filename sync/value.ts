/**
 * `Value`: one typed number in shared memory, with the meaning of Python's
 * `multiprocessing.Value` (and `RawValue`, with `lock: false`).
 *
 * @module
 */

import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, remoteCall } from "../_core/_rpc.ts";
import { type LockOption, MemoryCore, reviveMemory } from "./_memory.ts";
import type { ElementOf, Typecode } from "./_typecodes.ts";
import type { Lock } from "./lock.ts";

export type { ElementOf, LockOption, Typecode };

/** Options of a {@link Value} or a {@link SharedArray}. */
export interface ValueOptions {
  /**
   * `true` for a new `Lock` that `getLock()` returns; `false` for raw memory with no lock (Python's
   * `RawValue`); or a `Lock`/`RLock` of your own. Python's default lock is an RLock; here it is a
   * `Lock`, because an RLock's owner is the whole process and would let two async tasks of one
   * process in at once.
   * @default {true}
   */
  lock?: LockOption;
}

/**
 * One number of a given typecode in shared memory: Python's `b B h H i I l L q Q f d`, or
 * `i8 u8 i16 u16 i32 u32 i64 u64 f32 f64`. The 64-bit integer codes (`l L q Q i64 u64`) hold
 * `bigint`. It can be passed to children of either start method in `args`.
 *
 * Reading and writing:
 * - `value.value` reads and writes synchronously, wherever memory is shared: in the process that
 *   created it, its worker children, and, where processes may use FFI on Linux, every child
 *   that may use FFI too, subprocess children included (see the `sync` module). A single read
 *   or write is atomic for integers; a read-modify-write such as `value.value += 1` is not: hold
 *   `getLock()` around it.
 * - `await value.get()` and `await value.set(v)` work everywhere, also in a process that cannot
 *   map shared memory (no FFI, or not Linux) and reaches the value through its parent. There
 *   `value.value` throws a TypeError that says so.
 *
 * @example Count under the value's lock
 * ```ts
 * import { Value } from "@mp/multiprocessing/sync";
 *
 * const counter = new Value("i", 0);
 * {
 *   using _held = await counter.getLock().hold();
 *   counter.value += 1;
 * }
 * console.log(counter.value); // 1
 * ```
 *
 * @example Works in any process
 * ```ts
 * import { Value } from "@mp/multiprocessing/sync";
 *
 * const total = new Value("q", 0n);
 * await total.set((await total.get()) + 5n);
 * console.log(await total.get()); // 5n
 * ```
 */
export class Value<T extends Typecode = Typecode> {
  #core: MemoryCore;

  /**
   * Creates a value in new shared memory.
   *
   * @param typecode the element type.
   * @param value the initial value: 0 (0n for 64-bit integers) when left out.
   * @param options `lock`.
   * @throws {TypeError} for an unknown typecode or a value of the wrong kind.
   * @throws {RangeError} for a value out of the type's range.
   */
  constructor(typecode: T, value?: ElementOf<T>, options: ValueOptions = {}) {
    const init = value === undefined ? 1 : [value];
    this.#core = new MemoryCore("Value", typecode, init, options.lock ?? true);
  }

  /** The typecode given to the constructor. */
  get typecode(): T {
    return this.#core.code as T;
  }

  /**
   * The value, where memory is shared.
   *
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the value through its parent (use `get()`/`set()`), or when setting a value of the
   * wrong kind.
   * @throws {RangeError} when setting a value out of the type's range.
   *
   * @example
   * ```ts
   * import { Value } from "@mp/multiprocessing/sync";
   *
   * const v = new Value("d", 1.5);
   * v.value *= 2;
   * console.log(v.value); // 3
   * ```
   */
  get value(): ElementOf<T> {
    return this.#core.read(0) as ElementOf<T>;
  }

  set value(v: ElementOf<T>) {
    this.#core.write(0, v);
  }

  /**
   * Reads the value, in any process.
   *
   * @returns the value.
   *
   * @example
   * ```ts
   * import { Value } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Value("i", 7).get()); // 7
   * ```
   */
  get(): Promise<ElementOf<T>> {
    return this.#core.get(0) as Promise<ElementOf<T>>;
  }

  /**
   * Writes the value, in any process.
   *
   * @param v the new value.
   * @throws {TypeError} for a value of the wrong kind.
   * @throws {RangeError} for a value out of the type's range.
   *
   * @example
   * ```ts
   * import { Value } from "@mp/multiprocessing/sync";
   *
   * const v = new Value("B", 0);
   * await v.set(255);
   * console.log(v.value); // 255
   * ```
   */
  set(v: ElementOf<T>): Promise<void> {
    return this.#core.set(0, v);
  }

  /**
   * The lock that guards read-modify-write sequences.
   *
   * @returns the lock.
   * @throws {TypeError} for a value created with `lock: false`.
   *
   * @example
   * ```ts
   * import { Value } from "@mp/multiprocessing/sync";
   *
   * console.log(new Value("i").getLock().locked()); // false
   * ```
   */
  getLock(): Lock {
    return this.#core.getLock();
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    return this.#core.reduce("sync.Value", this, ctx);
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#core.serve(method, args, caller);
  }
}

registerReviver(
  "sync.Value",
  (s, { rpc }) => reviveMemory(s, rpc, (code, _len, lock) => new Value(code, undefined, { lock })),
);
