/**
 * Python's `multiprocessing` for Deno: processes started as Web Workers or `deno run`
 * subprocesses, synchronization in shared memory, queues and pipes, managers and pools.
 *
 * @example
 * ```ts
 * import { Process } from "@mp/multiprocessing";
 *
 * export function greet(name: string): void {
 *   console.log(`hello, ${name}`);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: greet, args: ["bob"] });
 *   p.start();
 *   await p.join();
 * }
 * ```
 *
 * @module
 */

export * from "./process/mod.ts";
export * from "./sync/mod.ts";
export * from "./ipc/mod.ts";
export * from "./pool/mod.ts";
