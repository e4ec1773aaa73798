// The `Process` object that stands for the current process, kept on `globalThis` (as
// ../_core/_state.ts keeps its state) and set by a child's bootstrap (./_child.ts) or on first use
// (./current.ts).

import { Process } from "./process.ts";
import { ADOPT, state } from "../_core/_state.ts";

const CURRENT = Symbol.for("@mp/multiprocessing.current");

/** The current process's object, if one was made. */
export function current(): Process | undefined {
  return (globalThis as unknown as Record<symbol, Process | undefined>)[CURRENT];
}

/** Makes `p` the current process's object. */
export function setCurrentProcess(p: Process): void {
  const s = state();
  Process[ADOPT](p, { ...s.self, pid: Deno.pid });
  (globalThis as unknown as Record<symbol, Process>)[CURRENT] = p;
}
