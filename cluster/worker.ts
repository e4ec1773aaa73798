/**
 * The worker command of pools on Redis: run it on every host that should work for pools created
 * with `new Pool({ broker })`, pointed at the same broker.
 *
 * ```sh
 * deno run -A cluster/worker.ts --broker redis://host:6379 --processes 4 [--start-method subprocess]
 * deno task worker --broker redis://host:6379     # the same, in this repository
 * ```
 *
 * It starts `--processes` child processes (default: the CPU count) for each caller pool it
 * serves, runs that pool's tasks in them, and hands the results back. SIGTERM lets the tasks it
 * holds finish, then exits; SIGINT or a kill hands them to the other workers about a second
 * later (the lease). A lost broker ends it with its error and exit code 2, for a service manager
 * to restart it. The same worker runs inside a program as {@link ClusterWorker}.
 *
 * @example
 * ```ts ignore
 * import { ClusterWorker } from "@mp/multiprocessing/worker";
 *
 * await using worker = await ClusterWorker.start({ broker: "redis://localhost:6379", processes: 2 });
 * console.log(worker.name); // host:pid:…, as the broker knows it
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ClusterWorker } from "./_pool_serve.ts";
import { shownAddress } from "../_core/_address.ts";

export { ClusterWorker, type ClusterWorkerOptions } from "./_pool_serve.ts";
export type { StartMethod } from "../process/process.ts";

const USAGE = "usage: deno run -A cluster/worker.ts --broker redis://host:6379 [--processes N] " +
  "[--start-method worker|subprocess] [--lease MS]";

/**
 * Runs the command with `args`; resolves once the worker has stopped (on SIGTERM or SIGINT),
 * and throws the broker's error when the connection to it was lost.
 */
async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      broker: { type: "string" },
      processes: { type: "string" },
      "start-method": { type: "string" },
      lease: { type: "string" },
    },
  });
  if (!values.broker) throw new TypeError(`--broker is missing; ${USAGE}`);
  const number = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be an integer >= 1`);
    return n;
  };
  const method = values["start-method"];
  if (method !== undefined && method !== "worker" && method !== "subprocess") {
    throw new TypeError(`--start-method must be worker or subprocess; ${USAGE}`);
  }
  const worker = await ClusterWorker.start({
    broker: values.broker,
    processes: number(values.processes, "processes"),
    startMethod: method,
    lease: number(values.lease, "lease"),
  });
  console.log(`Pool worker ${worker.name} serves ${shownAddress(values.broker)}`);
  const stop = (now: boolean) => () => void (now ? worker.terminate() : worker.close());
  const onTerm = stop(false), onInt = stop(true);
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  const failure = await worker.stopped;
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  if (failure) throw failure; // exits 2 with its message: a service manager restarts it
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    Deno.exit(2);
  }
}
