// Courses 000 and 003: a daemon child ends with its parent's work, so its "end" line never
// prints; the non-daemon child is waited for.
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
  const worker = new Process({ target: walk, args: [4, 1] });
  guard.start();
  worker.start();
  await sleep(200);
  console.log("main: done; the daemon ends with me, so '>>>>>> end 2' never prints");
}
