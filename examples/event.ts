// The traffic light of the course (text 002): cars (processes) wait at a red light, an Event;
// the light process turns it green with `set()`, which releases every waiting car at once, and
// red again with `clear()`. The light is a daemon that cycles for as long as the program runs:
// once every car has passed, the main process's work is done and the light is terminated.
//
//   deno task example:event [--start-method=worker|subprocess]

import { Event, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The light: red for a while, then green for a while, for ever. */
export async function light(green: Event): Promise<void> {
  for (;;) {
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
  new Process({ target: light, args: [green], daemon: true }).start();
  const cars = Array.from(
    { length: 8 },
    (_, n) => new Process({ target: car, args: [n + 1, green] }),
  );
  cars.forEach((p) => p.start());
  await Promise.all(cars.map((p) => p.join()));
  console.log("every car passed");
}
