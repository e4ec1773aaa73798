// Course 004: a pool's `apply` runs tasks one by one (no concurrency, a value each time);
// `applyAsync` submits them all, `close()` and `join()` wait, and `get()` collects the values.
//
//   deno task example:pool_apply [--start-method=worker|subprocess]

import { cpuCount, currentProcess, Pool } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

export async function func(arg: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 100));
  console.log(`child ${currentProcess().name} (pid ${Deno.pid}): ${arg}`);
  return arg ** 2;
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const pool = new Pool({ processes: cpuCount() + 1 });
  console.log(`-- apply, one task after the other (${method}) --`);
  for (let i = 0; i < 5; i++) {
    const ret = await pool.apply(func, [i]);
    console.log(`result: ${ret}`);
  }
  console.log("-- applyAsync: submit everything, then close, join and get --");
  const results = [];
  for (let i = 1; i <= 10; i++) results.push(pool.applyAsync(func, [i]));
  pool.close();
  await pool.join();
  for (const r of results) console.log(`result: ${await r.get()}`);
  console.log(`main process ${currentProcess().name} (pid ${Deno.pid}) done`);
}
