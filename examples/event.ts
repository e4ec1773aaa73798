// The traffic light of the course (text 002): cars (processes) wait at a red light, an Event;
// the light process turns it green with `set()`, which releases every waiting car at once, and
// red again with `clear()`.
//
//   deno task example:event [--start-method=worker|subprocess]

import { Event, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The light: red for a while, then green for a while, twice. */
export async function light(green: Event): Promise<void> {
  for (let round = 0; round < 2; round++) {
    console.log("light: red");
    await sleep(300);
    console.log("light: green");
    green.set();
    await sleep(200);
    green.clear();
  }
}

/** A car: arrives, waits for green if it is red, and passes. */
export async function car(n: number, green: Event): Promise<void> {
  await sleep(n * 60);
  if (!await green.isSetAsync()) {
    console.log(`car ${n}: waiting at the red light`);
    await green.wait();
  }
  console.log(`car ${n}: passes`);
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  console.log(`cars and a traffic light (${method} start method)`);
  const green = new Event();
  const ps = [
    new Process({ target: light, args: [green] }),
    ...Array.from({ length: 8 }, (_, n) => new Process({ target: car, args: [n + 1, green] })),
  ];
  ps.forEach((p) => p.start());
  await Promise.all(ps.map((p) => p.join()));
  console.log("every car passed");
}
