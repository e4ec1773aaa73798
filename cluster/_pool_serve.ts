// The worker command's supervisor (the public face: ./worker.ts). It reads tasks from the
// stream (XREADGROUP BLOCK on a connection of its own), about 20 ms of work per process by the
// tasks' average time (one each until timed, 64 at most), and runs each on a local Pool of its
// own, one per caller pool, made from that pool's config with `processes` children. The tasks
// run in those children, so this event loop stays free for the timers that keep its claims:
// - RENEW, every lease/4: resets the idle time of every entry it holds (JUSTID), so a long task
//   on a live worker is never taken from it;
// - RECLAIM, every lease/2: registers this worker (mp:workers) and takes over entries idle past
//   the lease (their worker died): run again here, or, delivered maxDeliveries times, moved to
//   the dead-letter stream with the caller told;
// - every lease: ends the local pool of a caller pool whose `alive` key is gone.
// A child lost mid-task (the local pool's WorkerLostError) is not reported: its entry is no
// longer renewed, so it is reclaimed and runs again. The task's own errors and TaskTimeoutError
// are reported. Outcomes go back per caller pool in batches (./_pool_callers.ts): only the
// delivery that acknowledges an entry first hands its outcome over, so each is delivered once.

import { Buffer } from "node:buffer";
import type { TaskFunction } from "../pool/pool.ts";
import { WorkerLostError } from "../pool/errors.ts";
import type { StartMethod } from "../process/process.ts";
import { cpuCount } from "../process/current.ts";
import { errorToData } from "../_core/_rpc.ts";
import { type Blocking, Link, type Reply, sendWoken } from "./_client.ts";
import { CallerPools, type Served } from "./_pool_callers.ts";
import { entryFields, isTask, run, type TaskEntry } from "./_pool_entry.ts";
import { LocalPools } from "./_pool_local.ts";
import {
  AGREE_LEASE,
  DEAD,
  ensureGroup,
  GROUP,
  LEASE,
  RECLAIM,
  RENEW,
  TASKS,
  WORKERS,
} from "./_pool_scripts.ts";
import { fromWire, toWire } from "./_wire.ts";

/** Options of a worker attached to a broker. */
export interface ClusterWorkerOptions {
  /** The broker's address: `redis://host:6379`, `rediss://…`, `unix:///path/redis.sock`. */
  broker: string;
  /** Child processes that run the tasks, per caller pool. @default {cpuCount()} */
  processes?: number;
  /** How the children are started. @default {getStartMethod()} */
  startMethod?: StartMethod;
  /**
   * Milliseconds after this worker dies that the tasks it held run elsewhere; a timer renews
   * its claim every lease/4 while it lives. All the workers of a broker use one lease: the
   * first records it, a worker without one adopts it, and one that gives another fails to start
   * with a RangeError. @default {1000, or the lease of the broker's workers}
   */
  lease?: number;
  /** The most milliseconds that connecting may take. @default {5000} */
  connectTimeout?: number;
  /**
   * Whether the worker keeps the program alive until it is closed; false for one that serves
   * only while the program has other work (the one a pool starts with `processes`).
   * @default {true}
   */
  keepAlive?: boolean;
}

/** The options, with their defaults. */
interface Settings extends Required<Omit<ClusterWorkerOptions, "startMethod">> {
  startMethod: StartMethod | undefined;
}

const MAX_READ = 256;
/** About how much work (by the tasks' average time here) a worker holds per process, ms. */
const HOLD_MS = 20;
/** The most tasks a worker holds per process. */
const MAX_PER_PROCESS = 64;
const DEFAULT_LEASE = 1000;

/**
 * The lease every worker of the broker uses (a worker reclaims by its own lease, so one with a
 * shorter lease would take long tasks from a live worker with a longer one): the first worker
 * records it; a later one that asks for another fails, one that asks for none adopts it.
 */
async function agreeLease(link: Link, wanted: number | undefined): Promise<number> {
  const ttl = String(3 * (wanted ?? DEFAULT_LEASE));
  const arg = wanted === undefined ? "" : String(wanted);
  const lease = await link.eval(
    AGREE_LEASE,
    [LEASE],
    [arg, String(DEFAULT_LEASE), ttl],
    "agree on the lease",
  ) as number;
  if (wanted !== undefined && lease !== wanted) {
    throw new RangeError(
      `Cannot start the worker: the broker's workers use a lease of ${lease} ms and this one asks ` +
        `for ${wanted} ms; give the same lease (--lease ${lease}) or none, or stop the others first`,
    );
  }
  return lease;
}

/**
 * A worker attached to a Redis broker: it runs the tasks of every pool made with
 * `new Pool({ broker })` on that broker, in local child processes, and hands the results back.
 * A task it held when it died runs again elsewhere about `lease` ms later. The worker command
 * (`deno run -A cluster/worker.ts --broker URL`) is one of these; `new Pool({ broker,
 * processes: n })` starts one in the caller.
 *
 * @example Serve a broker from a program
 * ```ts ignore
 * import { ClusterWorker } from "@mp/multiprocessing/worker";
 *
 * const worker = await ClusterWorker.start({ broker: "redis://localhost:6379", processes: 4 });
 * Deno.addSignalListener("SIGTERM", () => void worker.close());
 * const failure = await worker.stopped; // a BrokerError if the broker was lost
 * if (failure) console.error(failure.message);
 * ```
 */
export class ClusterWorker {
  readonly #options: Settings;
  readonly #link: Link;
  readonly #reader: Blocking;
  readonly #label = `${Deno.hostname()}:${Deno.pid}`;
  readonly #me: string;
  /** A task's run time here, a moving average, ms (estimated: see #run). */
  #taskMs: number | undefined;
  /** The entries this worker holds, whose lease it renews. */
  #held = new Set<string>();
  #inFlight = 0;
  #wake: (() => void) | undefined;
  #drained: (() => void) | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #busy = new Set<string>();
  readonly #local: LocalPools;
  readonly #callers: CallerPools;
  #reading: Promise<void> = Promise.resolve();
  /** Aborted by stopping: wakes the blocked read (again until it returns, see sendWoken). */
  #stopping = new AbortController();
  #closed = false;
  #terminating = false;
  #failure: Error | undefined;
  #stopped = Promise.withResolvers<Error | undefined>();

  private constructor(options: Settings, link: Link, reader: Blocking) {
    this.#options = options;
    this.#link = link;
    this.#reader = reader;
    this.#me = `${this.#label}:${crypto.randomUUID().slice(0, 8)}`;
    this.#local = new LocalPools(options);
    this.#callers = new CallerPools(link, this.#label, this.#local, (e) => this.#held.delete(e));
  }

  /**
   * Connects to the broker and starts serving.
   *
   * @param options the broker, the processes per caller pool, their start method, the lease.
   * @returns the worker, registered at the broker.
   * @throws {import("./errors.ts").BrokerError} when the broker cannot be reached in time.
   */
  static async start(options: ClusterWorkerOptions): Promise<ClusterWorker> {
    const o: Settings = {
      broker: options.broker,
      processes: options.processes ?? cpuCount(),
      startMethod: options.startMethod,
      lease: options.lease ?? DEFAULT_LEASE,
      connectTimeout: options.connectTimeout ?? 5000,
      keepAlive: options.keepAlive ?? true,
    };
    // Every handle type that can travel in a task's args (a queue on Redis, a manager proxy)
    // is revived here before the task goes on to a child: the package registers them all.
    await import("../mod.ts");
    const link = await Link.open(o.broker, {
      connectTimeout: o.connectTimeout,
      hold: o.keepAlive ? "always" : "never",
    });
    let reader: Blocking;
    try {
      o.lease = await agreeLease(link, options.lease);
      await ensureGroup(link);
      reader = await link.blocking("read tasks");
    } catch (e) {
      await link.close();
      throw e;
    }
    const w = new ClusterWorker(o, link, reader);
    try {
      await w.#reclaim();
    } catch (e) {
      await link.close(); // the reader's connection with it
      throw e;
    }
    w.#every(o.lease / 4, "renew", () => w.#renew());
    w.#every(o.lease / 2, "reclaim", () => w.#reclaim());
    w.#every(o.lease, "alive", () => w.#callers.checkAlive());
    w.#reading = w.#read();
    return w;
  }

  /**
   * Resolves once the worker has stopped: to undefined after `close()` or `terminate()`, or to
   * the BrokerError that stopped it when its connection to the broker was lost.
   */
  get stopped(): Promise<Error | undefined> {
    return this.#stopped.promise;
  }

  /** The name this worker has at the broker (`host:pid:…`). */
  get name(): string {
    return this.#me;
  }

  /**
   * How many tasks this worker holds at most: about HOLD_MS of work per process by the tasks'
   * average time so far, one per process until a task was timed, so that a worker does not sit
   * on long tasks while another idles (as Python's workers take one task at a time).
   */
  get #cap(): number {
    const ms = this.#taskMs;
    const each = ms === undefined ? 1 : Math.floor(HOLD_MS / Math.max(ms, 1e-3));
    return this.#options.processes * Math.max(1, Math.min(MAX_PER_PROCESS, each));
  }

  #every(ms: number, what: string, fn: () => Promise<unknown>): void {
    const timer = setInterval(() => {
      if (this.#busy.has(what)) return;
      this.#busy.add(what);
      fn().catch(() => {}).finally(() => this.#busy.delete(what));
    }, ms);
    if (!this.#options.keepAlive) Deno.unrefTimer(timer as unknown as number);
    this.#timers.push(timer);
  }

  async #read(): Promise<void> {
    while (!this.#closed) {
      if (this.#inFlight >= this.#cap) {
        await new Promise<void>((resolve) => this.#wake = resolve);
        continue;
      }
      const n = String(Math.min(this.#cap - this.#inFlight, MAX_READ));
      let reply: Reply;
      try {
        reply = await sendWoken(
          this.#reader,
          ["XREADGROUP", "GROUP", GROUP, this.#me, "COUNT", n, "BLOCK", "0", "STREAMS", TASKS, ">"],
          "read tasks",
          { signal: this.#stopping.signal },
        );
      } catch (e) {
        if (this.#closed) return;
        let error = e as Error;
        // the stream or its group was deleted (FLUSHALL, DEL): made again, and read on
        if (/UNBLOCKED|NOGROUP/.test(error.message)) {
          const made = await ensureGroup(this.#link).then(() => true, (e) => void (error = e));
          if (made) continue;
          if (this.#closed) return;
        }
        this.#failure = error; // the broker is lost: stop, and say why
        void this.terminate();
        return;
      }
      if (!Array.isArray(reply)) continue;
      for (const [, entries] of reply as [Buffer, Reply[]][]) this.#takeAll(entries as Reply[]);
    }
  }

  #takeAll(entries: Reply[]): void {
    for (const entry of entries) {
      const [id, fields] = entry as [Buffer, Buffer[] | null];
      if (!fields) continue;
      const f = entryFields(fields);
      const entryId = id.toString();
      if (!isTask(f)) {
        void this.#drop(entryId); // not a task (written by something else): it would never run
        continue;
      }
      this.#held.add(entryId);
      this.#inFlight++;
      void this.#run(entryId, f, this.#inFlight).finally(() => {
        // the reader waits for half the room, to read in batches rather than one at a time
        if (--this.#inFlight <= this.#cap / 2 && this.#wake) {
          this.#wake();
          this.#wake = undefined;
        }
        if (this.#inFlight === 0) this.#drained?.();
      });
    }
  }

  /** Runs a task, the `ahead`-th this worker holds now (itself counted). */
  async #run(entry: string, f: TaskEntry, ahead: number): Promise<void> {
    const poolId = f.p.toString();
    const taskId = Number(f.i.toString());
    let served: Served;
    try {
      served = await this.#callers.get(poolId);
    } catch {
      this.#held.delete(entry); // the broker failed: the entry is reclaimed later
      return;
    }
    if (served.gone) return this.#callers.report(served, entry, "");
    let outcome: [boolean, unknown];
    try {
      if (served.error) throw served.error;
      const name = f.f.toString();
      const fn = served.exports![name];
      if (typeof fn !== "function") {
        throw new TypeError(
          `Pool worker ${this.#label} found no exported function '${name}' in module ` +
            `${served.module}; deploy the same checkout of the code on every host`,
        );
      }
      const kind = Number(f.k.toString());
      const payload = fromWire(f.d) as unknown[];
      served.running++;
      // Its time here includes its wait behind the tasks held before it, about one task's run
      // time for each `processes` of them: taken out, so that holding more does not look slower.
      const start = performance.now(), n = this.#options.processes;
      try {
        outcome = [true, await run(served.pool!, fn as TaskFunction, kind, payload)];
      } finally {
        served.running--;
        const ms = (performance.now() - start) * n / Math.max(n, ahead), avg = this.#taskMs;
        this.#taskMs = avg === undefined ? ms : avg + (ms - avg) / 8;
      }
    } catch (e) {
      if (served.gone) return this.#callers.report(served, entry, "");
      if (this.#terminating || (e instanceof WorkerLostError && !served.error)) {
        // its child was lost, or this worker is stopping now: not renewed, the entry is
        // reclaimed and runs again
        this.#held.delete(entry);
        return;
      }
      outcome = [false, errorToData(e)];
    }
    let bytes: Uint8Array;
    try {
      bytes = toWire(outcome, "the task's value", true);
    } catch (e) {
      bytes = toWire([false, errorToData(e)], "error");
    }
    const id = Buffer.allocUnsafe(8);
    id.writeDoubleLE(taskId, 0);
    this.#callers.report(served, entry, Buffer.concat([id, bytes]));
  }

  /** Acknowledges and deletes a malformed entry. */
  async #drop(entry: string): Promise<void> {
    try {
      await this.#link.send(["XACK", TASKS, GROUP, entry], "drop a malformed task");
      await this.#link.send(["XDEL", TASKS, entry], "drop a malformed task");
    } catch {
      // the broker failed: the entry is reclaimed later, and dropped then
    }
  }

  async #renew(): Promise<void> {
    const held = [...this.#held];
    for (let i = 0; i < held.length; i += 1000) {
      await this.#link.eval(RENEW, [TASKS], [this.#me, ...held.slice(i, i + 1000)], "renew");
    }
  }

  async #reclaim(): Promise<void> {
    const room = this.#closed ? 0 : Math.min(this.#cap - this.#inFlight, 100);
    const o = this.#options;
    const claimed = await this.#link.eval(RECLAIM, [TASKS, DEAD, WORKERS, LEASE], [
      this.#me,
      String(o.lease),
      String(Math.max(room, 0)),
      `${o.processes}:${this.#me}`,
      String(o.lease * 3),
    ], "reclaim tasks") as Reply[];
    if (!this.#closed) this.#takeAll(claimed);
  }

  /** Stops taking tasks, finishes the ones it holds, ends its children and disconnects. */
  async close(): Promise<void> {
    await this.#stop(false);
  }

  /** Stops now, ending its children: the tasks it held run elsewhere once its lease ends. */
  async terminate(): Promise<void> {
    await this.#stop(true);
  }

  async #stop(now: boolean): Promise<void> {
    if (this.#closed) {
      await this.#stopped.promise;
      return;
    }
    this.#closed = true;
    this.#terminating = now;
    this.#wake?.();
    this.#stopping.abort(); // one CLIENT UNBLOCK may arrive before the read: sent until it returns
    await this.#reading;
    const pools = await this.#callers.all();
    if (now) await Promise.all(pools.map((s) => s?.pool?.terminate()));
    else if (this.#inFlight > 0) await new Promise<void>((r) => this.#drained = r);
    for (const s of pools) while (s?.sending) await new Promise((r) => setTimeout(r, 5));
    for (const timer of this.#timers) clearInterval(timer);
    while (this.#busy.size > 0) await new Promise((r) => setTimeout(r, 5));
    if (!now) await Promise.all(pools.map((s) => s?.pool && (s.pool.close(), s.pool.join())));
    await this.#local.close(now);
    if (!now && !this.#failure) await this.#leaveGroup().catch(() => {});
    await this.#link.send(["ZREM", WORKERS, `${this.#options.processes}:${this.#me}`], "leave")
      .catch(() => {});
    await this.#link.close();
    this.#stopped.resolve(this.#failure);
  }

  /** Deletes this worker's consumer from the group, unless it still has entries pending. */
  async #leaveGroup(): Promise<void> {
    const left = await this.#link.send(
      ["XPENDING", TASKS, GROUP, "-", "+", "1", this.#me],
      "leave the group",
    ) as Reply[];
    if (left.length > 0) return; // they would be lost: kept, to be reclaimed
    await this.#link.send(["XGROUP", "DELCONSUMER", TASKS, GROUP, this.#me], "leave the group");
  }

  /** `await using worker = await ClusterWorker.start(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
