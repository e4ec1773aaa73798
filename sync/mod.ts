/**
 * Synchronization across processes: locks, semaphores, events, conditions, barriers and shared
 * values, kept in `SharedArrayBuffer` memory and driven by `Atomics`. Worker children use them at
 * memory speed; subprocess children reach the same objects through their parent.
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
