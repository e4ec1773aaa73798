// Course 004: two farmers put fruit into a JoinableQueue; two daemon buyers take it and mark
// each one done. The parent waits for the farmers, then q.join() waits until every fruit is
// marked done; the daemon buyers end with the parent.
//
//   deno task example:joinable_queue [--start-method=worker|subprocess]

import { JoinableQueue, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** Buys fruit forever, marking each one done. */
export async function consumer(q: JoinableQueue<string>, name: string): Promise<void> {
  for (;;) {
    const fruit = await q.get();
    console.log(`${name} bought ${fruit}`);
    await q.taskDone();
  }
}

/** Picks three fruits. */
export async function producer(q: JoinableQueue<string>, name: string, fruit: string) {
  for (let i = 1; i < 4; i++) {
    console.log(`${name} picked ${fruit}${i}`);
    await q.put(`${fruit}${i}`);
  }
}

if (import.meta.main) {
  useStartMethodFromArgs();
  const q = new JoinableQueue<string>();
  const c1 = new Process({ target: consumer, args: [q, "Xiaobai"] });
  const c2 = new Process({ target: consumer, args: [q, "Xiaohei"] });
  c1.daemon = true; // they end with the parent
  c2.daemon = true;
  c1.start();
  c2.start();
  const p1 = new Process({ target: producer, args: [q, "the orchardist", "apple"] });
  const p2 = new Process({ target: producer, args: [q, "the farmer", "melon"] });
  p1.start();
  p2.start();
  await p1.join();
  await p2.join();
  await q.join(); // returns once every fruit is marked done
  console.log("every fruit is sold");
}
