// The ticket office of the course (texts 000 and 003): buyers are processes that read the
// remaining tickets from a JSON file and write back what they bought. With a Lock around the
// read-modify-write, exactly one of ten buyers gets the last ticket; in the second round twenty
// buyers each ask for 1 to 5 tickets of ten, and the count never drops below zero.
//
//   deno task example:tickets [--start-method=worker|subprocess]

import { Lock, Process, Value } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readCount(file: string): Promise<number> {
  for (;;) {
    try {
      return (JSON.parse(await Deno.readTextFile(file)) as { count: number }).count;
    } catch (e) {
      // a look without the lock may catch a buyer halfway through writing: look again
      if (!(e instanceof SyntaxError)) throw e;
      await sleep(1);
    }
  }
}

/** A buyer of the first round: looks, then buys one ticket under the lock. */
export async function buyOne(
  name: string,
  file: string,
  lock: Lock,
  sold: Value<"i">,
): Promise<void> {
  console.log(`${name} sees ${await readCount(file)} ticket(s) left`);
  using _held = await lock.hold();
  const count = await readCount(file);
  await sleep(Math.random() * 50); // the network is slow
  if (count > 0) {
    await Deno.writeTextFile(file, JSON.stringify({ count: count - 1 }));
    await sold.set((await sold.get()) + 1);
    console.log(`${name}: purchase successful`);
  } else {
    console.log(`${name}: sorry, no tickets left`);
  }
}

/** A buyer of the second round: asks for 1 to 5 tickets, gets at most what is left. */
export async function buySome(n: number, file: string, lock: Lock): Promise<void> {
  console.log(`<${n}> sees ${await readCount(file)} ticket(s) left`);
  using _held = await lock.hold();
  const count = await readCount(file);
  if (count > 0) {
    const x = Math.min(1 + Math.floor(Math.random() * 5), count);
    await sleep(20);
    await Deno.writeTextFile(file, JSON.stringify({ count: count - x }));
    console.log(`${n} bought ${x} ticket(s)`);
  }
}

async function runAll(ps: Process[]): Promise<void> {
  ps.forEach((p) => p.start());
  await Promise.all(ps.map((p) => p.join()));
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const file = await Deno.makeTempFile({ suffix: ".json" });
  try {
    console.log(`--- ten buyers, one ticket (${method}) ---`);
    await Deno.writeTextFile(file, JSON.stringify({ count: 1 }));
    const lock = new Lock();
    const sold = new Value("i", 0);
    await runAll(
      Array.from(
        { length: 10 },
        (_, i) => new Process({ target: buyOne, args: [`user${i + 1}`, file, lock, sold] }),
      ),
    );
    console.log(`sold ${sold.value} ticket(s); ${await readCount(file)} left`);
    if (sold.value !== 1) throw new Error("the lock failed: more than one buyer got the ticket");

    console.log(`--- twenty buyers, ten tickets (${method}) ---`);
    await Deno.writeTextFile(file, JSON.stringify({ count: 10 }));
    await runAll(
      Array.from({ length: 20 }, (_, n) => new Process({ target: buySome, args: [n, file, lock] })),
    );
    const left = await readCount(file);
    console.log(`${left} ticket(s) left`);
    if (left < 0) throw new Error("the lock failed: sold more tickets than there were");
  } finally {
    await Deno.remove(file);
  }
}
