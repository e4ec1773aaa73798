/**
 * Pools of worker processes: `Pool` with `apply`, `applyAsync`, `map`, `imap`, `starmap` and
 * their callbacks, `AsyncResult`, and the errors a lost or stuck worker gives.
 *
 * @example
 * ```ts
 * import { Pool } from "@mp/multiprocessing/pool";
 *
 * export function cube(x: number): number {
 *   return x ** 3;
 * }
 *
 * if (import.meta.main) {
 *   await using pool = new Pool({ processes: 2 });
 *   const r = pool.applyAsync(cube, [3], { callback: (v) => console.log("callback:", v) });
 *   console.log(await r.get()); // 27
 * }
 * ```
 *
 * @module
 */

export * from "./pool.ts";
export * from "./async_result.ts";
export * from "./errors.ts";
