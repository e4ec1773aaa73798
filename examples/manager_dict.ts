// Course 004: many processes decrement a shared count, 300 -> 0, each `d.count -= 1` made safe
// by a manager lock; without the lock, reads and writes of different processes interleave.
//
//   deno task example:manager_dict [--start-method=worker|subprocess] [--processes=N]

import { cpuCount, type DictProxy, type LockProxy, Manager, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** The child's work: `with lock: d["count"] -= 1`, `times` times. */
export async function decrement(
  d: DictProxy<string, number>,
  lock: LockProxy,
  times: number,
): Promise<void> {
  for (let i = 0; i < times; i++) {
    await lock.acquire();
    try {
      await d.set("count", (await d.get("count"))! - 1);
    } finally {
      await lock.release();
    }
  }
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const arg = Deno.args.find((a) => a.startsWith("--processes="));
  const processes = Number(arg?.slice("--processes=".length) ?? 300);
  const total = 300;
  await using manager = await Manager.start();
  const d = await manager.dict({ count: total });
  const lock = await manager.lock();
  console.log(`start: ${JSON.stringify(await d.toObject())}, ${processes} ${method} processes`);
  // Each process takes its share of the 300 decrements; a few run at a time, as a machine with
  // cpuCount() cores would run them anyway.
  const shares = Array.from(
    { length: processes },
    (_, i) => Math.floor(total / processes) + (i < total % processes ? 1 : 0),
  );
  const running = new Set<Promise<void>>();
  for (const times of shares) {
    if (running.size >= 2 * cpuCount()) await Promise.race(running);
    const p = new Process({ target: decrement, args: [d, lock, times] });
    p.start();
    const done: Promise<void> = p.join().then(() => {
      running.delete(done);
      if (p.exitCode !== 0) throw new Error(`${p.name} exited with ${p.exitCode}`);
    });
    running.add(done);
  }
  await Promise.all(running);
  const count = await d.get("count");
  console.log(`end: ${JSON.stringify(await d.toObject())}`);
  if (count !== 0) throw new Error(`the count should be exactly 0, not ${count}`);
}
