// Course 000: a cook makes buns at random intervals and puts them into a queue; an eater takes
// them until the parent, once the cook is done, puts the `null` sentinel.
//
//   deno task example:producer_consumer [--start-method=worker|subprocess]

import { Process, Queue } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const pick = (n: number) => 1 + Math.floor(Math.random() * n);

/** Makes buns 1..9. */
export async function producer(q: Queue<string | null>): Promise<void> {
  for (let i = 1; i < 10; i++) {
    await sleep(Math.random() * 200);
    await q.put(`bun ${i}`);
    console.log(`cook egon${pick(5)} made bun ${i}`);
  }
}

/** Eats buns until the sentinel. */
export async function consumer(q: Queue<string | null>): Promise<void> {
  for (;;) {
    const bun = await q.get();
    if (bun === null) break;
    await sleep(Math.random() * 200);
    console.log(`alex${pick(5)} ate ${bun}`);
  }
  console.log("all buns eaten");
}

if (import.meta.main) {
  useStartMethodFromArgs();
  const q = new Queue<string | null>();
  const cook = new Process({ target: producer, args: [q] });
  const eater = new Process({ target: consumer, args: [q] });
  cook.start();
  eater.start();
  await cook.join();
  await q.put(null); // no more buns: stop the eater
  await eater.join();
}
