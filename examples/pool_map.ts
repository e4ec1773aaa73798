// Course 004: `map` submits a function over an iterable and returns the values in order. The
// pool is never closed, as in the course: its workers are daemons, ended when the program's work
// is done.
//
//   deno task example:pool_map [--start-method=worker|subprocess]

import { Pool } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

export function square(x: number): number {
  return x ** 2;
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const pool = new Pool();
  const range20 = Array.from({ length: 20 }, (_, i) => i);
  const ret = await pool.map(square, range20);
  console.log(`squares of range(20), ${pool.processes} workers (${method}):`);
  for (const r of ret) console.log(r);
}
