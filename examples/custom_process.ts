// A Process subclass: its own fields travel to the child, and run() runs there.
//
//   deno task example:custom_process [--start-method=worker|subprocess]

import { Process, type ProcessOptions } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** Counts down from `count`, naming itself on every line. */
export class Countdown extends Process {
  count = 3;

  constructor(from: number, options: ProcessOptions = {}) {
    super(options);
    this.count = from;
  }

  override async run(): Promise<void> {
    for (let i = this.count; i > 0; i--) {
      console.log(`${this.name} (pid ${Deno.pid}): ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`${this.name}: liftoff`);
  }
}

if (import.meta.main) {
  useStartMethodFromArgs();
  const rockets = [new Countdown(3, { name: "Apollo" }), new Countdown(2, { name: "Gemini" })];
  for (const r of rockets) r.start();
  for (const r of rockets) await r.join();
  console.log(rockets.map((r) => `${r.name} exited with ${r.exitCode}`).join(", "));
}
