// Ctrl-C while pools are alive: their workers are ended before the program exits with 130, as
// a Python program's pool workers go with it. The listener is installed only while a pool lives.

import { onMainThread } from "../_core/_state.ts";
import { delay } from "../_core/_timers.ts";

/** A live pool, as Ctrl-C ends it. */
export interface Interruptible {
  /** How many workers it keeps, for the message. */
  readonly processes: number;
  /** Ends its workers at once, leaving what is pending unsettled. */
  interrupt(): Promise<void>;
}

const livePools = new Set<Interruptible>();

async function onSigint(): Promise<void> {
  const pools = [...livePools];
  const workers = pools.reduce((n, p) => n + p.processes, 0);
  console.error(`Interrupted (SIGINT): ending ${workers} pool worker(s) and exiting`);
  await Promise.race([
    Promise.all(pools.map((p) => p.interrupt())),
    delay(2000),
  ]);
  Deno.exit(130);
}

/** Ends live pools' workers on Ctrl-C, listening only while a pool is alive. */
export function watchSigint(pool: Interruptible, alive: boolean): void {
  if (!onMainThread()) return;
  const before = livePools.size;
  if (alive) livePools.add(pool);
  else livePools.delete(pool);
  try {
    if (before === 0 && livePools.size === 1) Deno.addSignalListener("SIGINT", onSigint);
    if (before === 1 && livePools.size === 0) Deno.removeSignalListener("SIGINT", onSigint);
  } catch {
    // signals are not available here
  }
}
