// Course 004: a callback receives a task's value and runs in the main process, not the worker.
//
//   deno task example:pool_callback [--start-method=worker|subprocess]

import { currentProcess, Pool } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

export function func(arg: number): number {
  console.log(`child: ${currentProcess().name}, pid ${Deno.pid}`);
  return arg ** 3;
}

function callBack(ret: number): void {
  console.log(`callback: ${currentProcess().name}, pid ${Deno.pid}`);
  console.log(ret);
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const pool = new Pool();
  console.log(`main: ${currentProcess().name}, pid ${Deno.pid} (${method})`);
  pool.applyAsync(func, [1], { callback: callBack });
  pool.close();
  await pool.join();
}
