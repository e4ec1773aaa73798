/**
 * Beyond one machine, on a Redis broker: `Queue.connect()` and `JoinableQueue.connect()` (in
 * the `ipc` module) give queues that processes on any host reach alike; this module holds
 * their options and errors, and `ClusterWorker`, the worker that runs the tasks of pools made
 * with `new Pool({ broker })` (the command: `deno run -A cluster/worker.ts --broker URL`). The
 * Redis client (node-redis) loads at the first connection.
 *
 * @example
 * ```ts ignore
 * import { Queue } from "@mp/multiprocessing/ipc";
 * import { BrokerError } from "@mp/multiprocessing/cluster";
 *
 * try {
 *   await using q = await Queue.connect<number>("redis://localhost:6379", { name: "jobs" });
 *   await q.put(42);
 * } catch (e) {
 *   if (e instanceof BrokerError) console.error(e.message); // which address, why, what to do
 *   else throw e;
 * }
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export { ClusterWorker, type ClusterWorkerOptions, type StartMethod } from "./worker.ts";
export type { JoinableQueueConnectOptions, QueueConnectOptions } from "./queue.ts";
