/**
 * Processes: `Process` with a target or a `run()` override, started as a Web Worker or a
 * `deno run` subprocess, and the functions that describe the process tree.
 *
 * @example
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 *
 * export function work(n: number): void {
 *   console.log(n * n);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: work, args: [7] });
 *   p.start();
 *   await p.join();
 * }
 * ```
 *
 * @module
 */

export * from "./process.ts";
export * from "./current.ts";
export * from "./context.ts";
