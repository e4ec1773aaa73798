// Every way a child can end, and the exit code its parent sees: 0, 1 (uncaught error),
// 3 (Deno.exit(3)), -15 (terminate) and -9 (kill).
//
//   deno task example:exit_codes [--start-method=worker|subprocess]

import { Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** Ends normally. */
export function fine(): void {}

/** Throws: the child prints "Process <name>:" and the stack, and exits with 1. */
export function crash(): void {
  throw new Error("something went wrong in the child");
}

/** Exits with a code of its own. */
export function exitWith(code: number): void {
  Deno.exit(code);
}

/** Sleeps until stopped. */
export function sleepLong(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 60_000));
}

if (import.meta.main) {
  useStartMethodFromArgs();
  const cases: [string, Process, (p: Process) => void][] = [
    ["returns", new Process({ target: fine }), () => {}],
    ["throws", new Process({ target: crash }), () => {}],
    ["Deno.exit(3)", new Process({ target: exitWith, args: [3] }), () => {}],
    ["terminate()", new Process({ target: sleepLong }), (p) => p.terminate()],
    ["kill()", new Process({ target: sleepLong }), (p) => p.kill()],
  ];
  for (const [what, p, stop] of cases) {
    p.start();
    await p.join(200);
    stop(p);
    await p.join();
    console.log(`${what.padEnd(14)} -> exitCode ${p.exitCode}`);
  }
}
