// A semaphore of 3 in front of a small room: eight visitors (processes) enter, stay a moment and
// leave; a shared counter, updated under its lock, shows that never more than three are inside.
//
//   deno task example:semaphore [--start-method=worker|subprocess]

import { Process, Semaphore, Value } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** A visitor: waits at the door, stays a while inside, and leaves. */
export async function visit(name: string, door: Semaphore, inside: Value<"i">): Promise<void> {
  using _slot = await door.hold();
  {
    using _held = await inside.getLock().hold();
    const now = (await inside.get()) + 1;
    await inside.set(now);
    console.log(`${name} enters (${now} inside)`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 100));
  using _held = await inside.getLock().hold();
  await inside.set((await inside.get()) - 1);
  console.log(`${name} leaves`);
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  console.log(`at most 3 inside at once (${method} start method)`);
  const door = new Semaphore(3);
  const inside = new Value("i", 0);
  const ps = Array.from(
    { length: 8 },
    (_, i) => new Process({ target: visit, args: [`visitor ${i + 1}`, door, inside] }),
  );
  ps.forEach((p) => p.start());
  await Promise.all(ps.map((p) => p.join()));
  console.log(`everyone left; ${door.getValue()} places free`);
}
