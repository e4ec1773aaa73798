// Course 001: start a child that greets and prints its pid; the parent goes on meanwhile.
//
//   deno task example:process_basics [--start-method=worker|subprocess]

import { currentProcess, parentProcess, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** The child's work: greet, and say who it is. */
export function greet(name: string): void {
  console.log(`hello ${name}`);
  const me = currentProcess();
  console.log(`I am the child ${me.name}, pid ${Deno.pid}, parent pid ${parentProcess()?.pid}`);
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const p = new Process({ target: greet, args: ["bob"] });
  p.start();
  console.log(`started ${p.name} (${method}), pid ${p.pid}; the main process goes on`);
  await p.join();
  console.log(`the main process (pid ${Deno.pid}) is done; ${p.name} exited with ${p.exitCode}`);
}
