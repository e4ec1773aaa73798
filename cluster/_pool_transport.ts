// The caller's side of a pool on Redis: a Transport (../_core/_transport.ts) whose tasks go to
// the stream that every worker command reads (keys and scripts: ./_pool_scripts.ts).
//
// - submit: tasks are encoded at once (a payload that cannot reach another host fails there,
//   with its TypeError) and sent together, one SUBMIT script per batch of up to BATCH tasks.
// - results: one blocking connection reads the pool's results list (BLMPOP ... COUNT), each
//   element a task's id and outcome (./_pool_scripts.ts), errors revived with the worker's name, message and stack, or the
//   news that a task was given up after maxDeliveries lost workers (WorkerLostError).
// - A timer (BEAT) keeps the pool's `alive` key and its other keys from expiring, and reads how
//   many processes the registered workers have (the default chunk size follows it). A caller
//   that dies leaves keys that expire after `expireAfter`; workers drop the tasks of a pool
//   whose `alive` key is gone. Keys that vanish while the caller lives (it stalled longer than
//   expireAfter, FLUSHALL, eviction), or no heartbeat succeeding for expireAfter ms (a broker
//   gone silent), fail every pending task with a BrokerError, and the tasks submitted after it.
// - taskTimeout is the workers' to enforce (their local pools have it): this transport never
//   reports `started`, and `runningOn` says undefined, so the engine keeps no clock of its own
//   for a task whose start it cannot see.
// - A broker that cannot be reached, or is lost (the results connection fails), fails every
//   pending task with the BrokerError, and the tasks submitted after it.

import type { Buffer } from "node:buffer";
import type { StartMethod } from "../_core/_state.ts";
import { dataToError } from "../_core/_rpc.ts";
import { Kind } from "../_core/_transport.ts";
import type { Task, Transport, TransportEvents } from "../_core/_transport.ts";
import { WorkerLostError } from "../pool/errors.ts";
import { shownAddress } from "../_core/_address.ts";
import { type Blocking, Link, type Reply } from "./_client.ts";
import { BrokerError } from "./errors.ts";
import { moduleDigest, type PoolConfig } from "./_pool_config.ts";
import {
  BEAT,
  END,
  ensureGroup,
  LOST,
  type PoolKeys,
  poolKeys,
  SUBMIT,
  TASKS,
  WORKERS,
} from "./_pool_scripts.ts";
import { ClusterWorker } from "./_pool_serve.ts";
import { fromWire, toWire } from "./_wire.ts";

const BATCH = 2000;
const BATCH_BYTES = 4 << 20;

/** How a pool on Redis is made. */
export interface RedisPoolOptions {
  url: string;
  config: Omit<PoolConfig, "digest">;
  maxDeliveries: number;
  connectTimeout: number;
  /** Worker processes to start in this process, attached to the broker (0: none). */
  processes: number;
  startMethod: StartMethod;
  /** Told the processes of the workers registered at the broker, now and then. */
  onProcesses(n: number): void;
}

/** A batch's entries in the task stream: every entry from `first` to `last`. */
interface Batch {
  first: string;
  last: string;
}

interface Sent {
  name: string;
  batch: Batch | undefined;
}

interface Queued {
  task: Task;
  data: Uint8Array;
}

/** A pool's tasks on a Redis broker: the caller's {@link Transport}. */
export class RedisPool implements Transport {
  readonly #events: TransportEvents;
  readonly #options: RedisPoolOptions;
  readonly #id = crypto.randomUUID();
  readonly #keys: PoolKeys;
  readonly #ready: Promise<Link>;
  #reading: Promise<void> = Promise.resolve();
  #reader: Blocking | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #worker: ClusterWorker | undefined;
  #pending = new Map<number, Sent>();
  #queue: Queued[] = [];
  #flushing = false;
  #failure: Error | undefined;
  #ending = false;
  /** When the first beat since the last one that succeeded was sent (performance.now()). */
  #unanswered: number | undefined;
  #ended: Promise<void> | undefined;

  constructor(events: TransportEvents, options: RedisPoolOptions) {
    this.#events = events;
    this.#options = options;
    this.#keys = poolKeys(this.#id);
    this.#ready = this.#start();
    this.#ready.catch((e) => this.#fail(e));
  }

  async #start(): Promise<Link> {
    const o = this.#options;
    // The connections and timers leave the program free to end: pending tasks keep it alive.
    const link = await Link.open(o.url, { connectTimeout: o.connectTimeout, hold: "never" });
    try {
      const config: PoolConfig = { ...o.config, digest: await moduleDigest(o.config.module) };
      const ms = String(o.config.expireAfter);
      await link.send(
        ["SET", this.#keys.config, toWire(config, "the pool's initArgs", true), "PX", ms],
        "start the pool",
      );
      await ensureGroup(link);
      await this.#beat(link, true);
      let last: Error | undefined;
      this.#timer = setInterval(() => {
        // A broker host gone silent fails no call (the blocking reads have no timeout): this
        // does, once the beats sent since the last success have gone unanswered or failed for
        // expireAfter ms (counted from a beat sent: a stalled event loop finds out from BEAT).
        const now = performance.now();
        this.#unanswered ??= now;
        if (now - this.#unanswered < o.config.expireAfter) {
          return void this.#beat(link).catch((e) => void (last = e));
        }
        this.#lost(
          new BrokerError(
            `Cannot keep the pool alive: no heartbeat reached the Redis broker at ` +
              `${shownAddress(o.url)} for ${o.config.expireAfter} ms (the pool's expireAfter)` +
              `${last ? ` (${last.message})` : ""}; its pending tasks are given up; check that ` +
              `redis-server runs at that address and that this host can reach it`,
            { cause: last },
          ),
        );
      }, Math.min(1000, o.config.expireAfter / 3));
      Deno.unrefTimer(this.#timer as unknown as number);
      this.#reader = await link.blocking("wait for the pool's results");
      this.#reading = this.#read(this.#reader);
      if (o.processes > 0) {
        this.#worker = await ClusterWorker.start({
          broker: o.url,
          processes: o.processes,
          startMethod: o.startMethod,
          connectTimeout: o.connectTimeout,
          keepAlive: false,
        });
      }
    } catch (e) {
      clearInterval(this.#timer);
      await link.close();
      throw e;
    }
    return link;
  }

  /** Refreshes the pool's keys (the first beat: not checking its alive key, not set yet). */
  async #beat(link: Link, first = false): Promise<void> {
    const k = this.#keys;
    const ms = this.#options.config.expireAfter;
    const n = await link.eval(BEAT, [k.alive, k.config, k.results, WORKERS], [
      String(ms),
      first ? "0" : "1",
    ], "keep the pool alive") as number;
    if (n < 0) {
      return this.#lost(
        new BrokerError(
          `The pool's keys at the Redis broker at ${shownAddress(this.#options.url)} expired ` +
            `or were removed (this program stalled longer than the pool's expireAfter, ${ms} ` +
            `ms, or the server was flushed or evicted them): its pending tasks are lost and ` +
            `it takes no more; give the pool a longer expireAfter (and keep this program's ` +
            `event loop free), then make a new pool`,
        ),
      );
    }
    this.#unanswered = undefined;
    this.#options.onProcesses(n);
  }

  /** The pool cannot go on: stops its heartbeat, and fails its tasks with `error`. */
  #lost(error: Error): void {
    clearInterval(this.#timer);
    this.#fail(error);
  }

  async #read(reader: Blocking): Promise<void> {
    const args = ["BLMPOP", "0", "1", this.#keys.results, "LEFT", "COUNT", "1000"];
    for (;;) {
      let reply: Reply;
      try {
        reply = await reader.send(args, "wait for the pool's results");
      } catch (e) {
        if (!this.#ending) this.#fail(e as Error);
        return;
      }
      if (this.#ending) return;
      if (!Array.isArray(reply)) continue;
      for (const element of reply[1] as Buffer[]) this.#outcome(element);
    }
  }

  #outcome(element: Buffer): void {
    const id = element.readDoubleLE(0);
    const sent = this.#pending.get(id);
    if (!sent) return;
    if (element[8] === LOST) {
      const [deliveries, dead] = element.subarray(9).toString().split(" ");
      this.#settle(
        id,
        false,
        new WorkerLostError(
          `Task '${sent.name}' was delivered ${deliveries} times (the pool's maxDeliveries) and ` +
            `its worker was lost each time; it is kept in the broker's stream mp:pool:dead as ` +
            `entry ${dead}`,
        ),
      );
      return;
    }
    let ok: boolean, value: unknown;
    try {
      [ok, value] = fromWire(element.subarray(8)) as [boolean, unknown];
    } catch (e) {
      ok = false;
      value = new TypeError(
        `Cannot receive the outcome of task '${sent.name}': ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.#settle(id, ok, ok ? value : dataToError(value));
  }

  #settle(id: number, ok: boolean, value: unknown): void {
    if (!this.#pending.delete(id)) return;
    this.#events.settled(id, ok, value);
  }

  /** Fails every pending task, and what is submitted later, with `error`. */
  #fail(error: Error): void {
    this.#failure ??= error;
    this.#queue = [];
    for (const id of [...this.#pending.keys()]) this.#settle(id, false, this.#failure);
  }

  submit(tasks: readonly Task[]): void {
    for (const task of tasks) {
      if (this.#failure) {
        this.#events.settled(task.id, false, this.#failure);
        continue;
      }
      let data: Uint8Array;
      try {
        data = toWire(task.payload, task.kind === Kind.apply ? "args" : "items", true);
      } catch (e) {
        this.#events.settled(task.id, false, e);
        continue;
      }
      this.#pending.set(task.id, { name: task.fn[1], batch: undefined });
      this.#queue.push({ task, data });
    }
    if (!this.#flushing && this.#queue.length > 0) {
      this.#flushing = true;
      queueMicrotask(() => void this.#flush());
    }
  }

  /** Sends the queued tasks, one SUBMIT script per batch. */
  async #flush(): Promise<void> {
    try {
      const link = await this.#ready;
      while (this.#queue.length > 0 && !this.#ending) {
        let n = 0, bytes = 0;
        while (n < this.#queue.length && n < BATCH && bytes < BATCH_BYTES) {
          bytes += this.#queue[n++].data.length;
        }
        const batch = this.#queue.splice(0, n);
        const fields: (string | Uint8Array)[] = [];
        for (const { task, data } of batch) {
          fields.push(String(task.id), task.fn[1], String(task.kind), data);
        }
        const [first, last] = await link.eval(SUBMIT, [TASKS], [
          this.#id,
          String(this.#options.maxDeliveries),
          ...fields,
        ], "submit tasks") as Buffer[];
        const sent: Batch = { first: first.toString(), last: last.toString() };
        for (const { task } of batch) {
          const s = this.#pending.get(task.id);
          if (s) s.batch = sent;
        }
      }
    } catch (e) {
      this.#fail(e as Error);
    } finally {
      this.#flushing = false;
    }
  }

  runningOn(): string | undefined {
    return undefined; // see the header: the workers keep taskTimeout
  }

  abort(id: number, error: Error): void {
    this.#settle(id, false, error);
  }

  close(): Promise<void> {
    return this.#end([]);
  }

  async terminate(error?: () => Error): Promise<void> {
    const batches = new Set<Batch>();
    for (const s of this.#pending.values()) if (s.batch) batches.add(s.batch);
    this.#queue = [];
    if (error) { for (const id of [...this.#pending.keys()]) this.#settle(id, false, error()); }
    await this.#end([...batches].flatMap((b) => [b.first, b.last]), true);
  }

  /**
   * Deletes the pool's keys and the entries of the batches given (first and last entry id of
   * each), and closes every connection; a later call (close, then terminate) waits for the
   * first one to end.
   */
  #end(batches: string[], now = false): Promise<void> {
    return this.#ended ??= this.#endOnce(batches, now);
  }

  async #endOnce(batches: string[], now: boolean): Promise<void> {
    this.#ending = true;
    const link = await this.#ready.catch(() => undefined);
    clearInterval(this.#timer);
    if (!link) return;
    const worker = this.#worker;
    if (worker) await (now ? worker.terminate() : worker.close());
    const k = this.#keys;
    await link.eval(
      END,
      [TASKS, k.config, k.alive, k.results],
      [this.#id, ...batches],
      "end the pool",
    )
      .catch(() => {}); // the broker is gone: the keys expire
    await this.#reader?.unblock().catch(() => {});
    await link.close();
    await this.#reading;
  }
}
