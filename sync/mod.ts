/**
 * Synchronization across processes: locks, semaphores, events, conditions, barriers and shared
 * values, in shared memory driven by `Atomics`. Where a process may use FFI on Linux
 * (`--allow-ffi`, which `-A` includes), they live in memfd memory mapped through libc, and every
 * child that may use FFI too, worker or subprocess, at any depth, maps the same memory; elsewhere
 * they live in `SharedArrayBuffer`s, which worker children share. There every member works at
 * memory speed. A process that cannot map shared memory (no FFI, or not Linux) and does not share
 * its parent's `SharedArrayBuffer`s (a subprocess child, or a worker child without FFI of a
 * parent that maps) reaches the objects through its parent: the awaited members work the same,
 * one round trip each, and the synchronous ones (`locked()`, `tryAcquire()`, `getValue()`,
 * `isSet()`, `value.value`, `array`...) throw a `TypeError` that names the awaited call to use.
 *
 * @example
 * ```ts
 * import { Lock, Value } from "@mp/multiprocessing/sync";
 *
 * const lock = new Lock();
 * const count = new Value("i", 0);
 * {
 *   using _held = await lock.hold();
 *   count.value += 1;
 * }
 * console.log(count.value); // 1
 * ```
 *
 * @module
 */

export * from "./lock.ts";
export * from "./rlock.ts";
export * from "./semaphore.ts";
export * from "./event.ts";
export * from "./condition.ts";
export * from "./barrier.ts";
export * from "./value.ts";
export * from "./shared_array.ts";
