// Courses 000 and 003: a daemon and a non-daemon child both work for 3 s. When the main
// process's work is done, the daemon is terminated first and the other is waited for, as in
// Python, so the daemon's "end" line never prints.
//
//   deno task example:daemon [--start-method=worker|subprocess]

import { Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Announces itself, sleeps, and announces the end. */
export async function walk(n: number, seconds: number): Promise<void> {
  console.log(`>>>>>> start ${n}`);
  await sleep(seconds * 1000);
  console.log(`>>>>>> end ${n}`);
}

if (import.meta.main) {
  useStartMethodFromArgs();
  const guard = new Process({ target: walk, args: [2, 3] });
  guard.daemon = true; // set before start, as in Python
  const worker = new Process({ target: walk, args: [4, 3] });
  guard.start();
  worker.start();
  await sleep(200); // course 003: the daemon gets to start meanwhile
  console.log("main: done; the daemon ends with me, so '>>>>>> end 2' never prints");
}
