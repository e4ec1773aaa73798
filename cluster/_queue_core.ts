// The core of a queue handle whose items live in Redis (keys and scripts: ./_queue_scripts.ts).
//
// - put: items wait in a local batch; one PUT script at a time takes the whole batch (up to
//   BATCH_ITEMS items or BATCH_BYTES bytes), in order, as far as `maxsize` leaves room, so one
//   producer's items stay in order and concurrent puts share round trips. While the queue is
//   full the batch retries with a backoff (PUT_POLL_MS at most).
// - get: one at a time per handle, on the handle's own blocking connection: BLPOP (plain) or
//   BLMOVE into this consumer's held list (joinable); a wait that times out or is aborted is
//   woken by CLIENT UNBLOCK (atomic on the server: an item it took meanwhile is delivered).
// - A timer (the heartbeat, TICK) refreshes the keys' expiry and, for a joinable queue, renews
//   this consumer's lease and gives back the items of consumers whose lease ended: an item a
//   dead consumer held is delivered again about `lease` ms after it died. The timer runs on the
//   consumer's event loop: awaiting work keeps its lease however long it takes, but code that
//   blocks the loop for `lease` ms loses it (the `lease` option's JSDoc says what to do).
// - The connection opens at the first call (a handle revived in a child connects itself) or at
//   `open()` (Queue.connect, which reports a bad address at once). Opening records the queue's
//   maxsize at the broker unless the first handle to connect did (SIZE): a handle that gave
//   another fails with a RangeError; one that gave none adopts it.

import type { Buffer } from "node:buffer";
import type { QueueCore } from "../_core/_queue_handle.ts";
import type { WaitLimits } from "../_core/_wait.ts";
import { type Blocking, Link, type Reply, sendWoken } from "./_client.ts";
import { fromWire, toWire } from "./_wire.ts";
import { DONE, LEAVE, PUT, type QueueKeys, queueKeys, SIZE, TAKE, TICK } from "./_queue_scripts.ts";

/** What a handle needs to reach a queue on Redis; travels to children as it is. */
export interface RedisQueueSpec {
  url: string;
  name: string;
  /**
   * The queue's maxsize (0: none); undefined until connected for a handle that gave none (it
   * adopts the one recorded at the broker).
   */
  maxsize: number | undefined;
  joinable: boolean;
  /** Milliseconds that opening a connection may take. */
  connectTimeout: number;
  /** Milliseconds after which the keys of a queue that nobody uses expire. */
  expireAfter: number;
  /** Milliseconds after its consumer died that a held item is given back. */
  lease: number;
}

const BATCH_ITEMS = 1000;
const BATCH_BYTES = 1 << 20;
const PUT_POLL_MS = 20;
const JOIN_POLL_MS = 20;

interface PendingPut {
  bytes: Uint8Array;
  limits: WaitLimits;
  settle: (ok: boolean, error?: unknown) => void;
}

/** Resolves after `ms`, or rejects with the signal's reason. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function syncError(what: string, instead: string): TypeError {
  return new TypeError(
    `Cannot call ${what} on a queue on Redis: each call is a round trip to the broker; ` +
      `use await q.${instead}`,
  );
}

/** A queue handle's core over Redis. */
export class RedisQueueCore implements QueueCore {
  readonly spec: RedisQueueSpec;
  readonly #keys: QueueKeys;
  readonly #id: string;
  #link: Promise<Link> | undefined;
  #blocking: Blocking | undefined;
  #gets: Promise<unknown> = Promise.resolve();
  #batch: PendingPut[] = [];
  #flushing = false;
  #taken = 0; // joinable: items this handle got and has not marked done
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(spec: RedisQueueSpec) {
    this.spec = spec;
    this.#id = crypto.randomUUID();
    this.#keys = queueKeys(spec.name, this.#id);
  }

  #what(call: string): string {
    return `${call} ${call === "put" ? "into" : "from"} queue '${this.spec.name}'`;
  }

  /** Connects (once); later calls share the connection. */
  open(): Promise<Link> {
    if (this.#closed) {
      return Promise.reject(
        new TypeError(`Cannot use queue '${this.spec.name}': it is closed in this process`),
      );
    }
    return this.#link ??= this.#connect();
  }

  async #connect(): Promise<Link> {
    const link = await Link.open(this.spec.url, this.spec).catch((e) => {
      this.#link = undefined; // a later call tries again
      throw e;
    });
    if (this.#closed) {
      await link.close();
      throw new TypeError(`Cannot use queue '${this.spec.name}': it is closed in this process`);
    }
    try {
      await this.#agreeOnMaxsize(link);
    } catch (e) {
      this.#link = undefined;
      await link.close();
      throw e;
    }
    await this.#tick(link);
    const every = this.spec.joinable
      ? this.spec.lease / 3
      : Math.min(this.spec.expireAfter / 3, 10_000);
    this.#timer = setInterval(() => void this.#tick(link).catch(() => {}), every);
    Deno.unrefTimer(this.#timer as unknown as number);
    return link;
  }

  /** Records this handle's maxsize at the broker, or adopts the one recorded there. */
  async #agreeOnMaxsize(link: Link): Promise<void> {
    const { name, maxsize, expireAfter } = this.spec;
    const recorded = await link.eval(SIZE, [this.#keys.maxsize], [
      maxsize === undefined ? "" : String(maxsize),
      String(expireAfter),
    ], `connect queue '${name}'`) as number;
    if (maxsize !== undefined && maxsize !== recorded) {
      throw new RangeError(
        `Cannot connect queue '${name}' with maxsize ${maxsize}: the queue has maxsize ` +
          `${recorded}${recorded === 0 ? " (no limit)" : ""} at the broker, set by the first ` +
          `handle that connected, and every handle of a queue counts against one maxsize; give ` +
          `maxsize ${recorded}, or leave maxsize out to adopt it`,
      );
    }
    this.spec.maxsize = recorded;
  }

  #tick(link: Link): Promise<Reply> {
    const k = this.#keys;
    return link.eval(TICK, [k.items, k.unfinished, k.leases, k.held, k.maxsize], [
      String(this.spec.expireAfter),
      this.spec.joinable ? this.#id : "",
      String(this.spec.lease),
      k.heldPrefix,
    ], "renew the queue's lease");
  }

  put(item: unknown, limits: WaitLimits): Promise<boolean> {
    const bytes = toWire(item);
    return new Promise((resolve, reject) => {
      this.#batch.push({
        bytes,
        limits,
        settle: (ok, error) => error === undefined ? resolve(ok) : reject(error),
      });
      if (!this.#flushing) void this.#flush();
    });
  }

  /** Sends the waiting puts, oldest first, one PUT script at a time. */
  async #flush(): Promise<void> {
    this.#flushing = true;
    let backoff = 1;
    try {
      while (this.#batch.length) {
        this.#dropExpired();
        if (!this.#batch.length) break;
        let bytes = 0, n = 0;
        while (n < this.#batch.length && n < BATCH_ITEMS && (n === 0 || bytes < BATCH_BYTES)) {
          bytes += this.#batch[n++].bytes.length;
        }
        const sent = this.#batch.slice(0, n);
        let put: number;
        try {
          const link = await this.open();
          const k = this.#keys;
          put = await link.eval(PUT, [k.items, k.unfinished], [
            String(this.spec.maxsize ?? 0),
            String(this.spec.expireAfter),
            this.spec.joinable ? "1" : "0",
            ...sent.map((p) => p.bytes),
          ], this.#what("put")) as number;
        } catch (e) {
          for (const p of this.#batch.splice(0, this.#batch.length)) p.settle(false, e);
          return;
        }
        for (const p of this.#batch.splice(0, put)) p.settle(true);
        if (put === sent.length) {
          backoff = 1;
          continue;
        }
        // Full: wait for room, waking for the first waiter's deadline or signal.
        const first = this.#batch[0].limits;
        const left = first.deadline - performance.now();
        await pause(Math.min(backoff, Math.max(0, left)), undefined);
        backoff = Math.min(backoff * 2, PUT_POLL_MS);
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Settles the waiting puts whose deadline passed (false) or whose signal aborted. */
  #dropExpired(): void {
    const now = performance.now();
    this.#batch = this.#batch.filter((p) => {
      if (p.limits.signal?.aborted) p.settle(false, p.limits.signal.reason);
      else if (p.limits.deadline <= now) p.settle(false);
      else return true;
      return false;
    });
  }

  putNowait(): boolean {
    throw syncError("putNowait()", "put(item, { timeout: 0 })");
  }

  get(limits: WaitLimits): Promise<{ value: unknown } | undefined> {
    const turn = this.#gets.then(() => this.#getNow(limits));
    this.#gets = turn.catch(() => {});
    return turn;
  }

  async #getNow(limits: WaitLimits): Promise<{ value: unknown } | undefined> {
    limits.signal?.throwIfAborted();
    const link = await this.open();
    const k = this.#keys, joinable = this.spec.joinable;
    const what = this.#what("get");
    const left = limits.deadline - performance.now();
    let got: Reply;
    if (left <= 0) {
      got = await link.eval(TAKE, [k.items, k.held], [joinable ? "1" : "0"], what);
    } else {
      if (!this.#blocking?.open) this.#blocking = await link.blocking(what);
      const blocking = this.#blocking;
      // The server checks blocking timeouts ten times a second: a local timer keeps the
      // deadline to the millisecond, and the server's timeout (a little later) is the backstop.
      const seconds = left === Infinity ? "0" : ((left + 200) / 1000).toFixed(3);
      got = await sendWoken(
        blocking,
        joinable
          ? ["BLMOVE", k.items, k.held, "LEFT", "RIGHT", seconds]
          : ["BLPOP", k.items, seconds],
        what,
        { signal: limits.signal, wakeAfter: left },
      );
      if (Array.isArray(got)) got = got[1]; // BLPOP: [key, item]
    }
    if (got === null) {
      limits.signal?.throwIfAborted();
      return undefined;
    }
    if (joinable) this.#taken++;
    return { value: fromWire(got as Buffer) };
  }

  getNowait(): { value: unknown } | undefined {
    throw syncError("getNowait()", "get({ timeout: 0 })");
  }

  qsize(call = "qsize"): number {
    throw syncError(`${call}()`, `${call}Async()`);
  }

  async qsizeAsync(): Promise<number> {
    const link = await this.open();
    return await link.send(["LLEN", this.#keys.items], `count queue '${this.spec.name}'`) as number;
  }

  async taskDone(): Promise<void> {
    if (this.#taken === 0) {
      throw new RangeError(
        `Cannot mark an item of queue '${this.spec.name}' done: this handle holds no item ` +
          "that it got and did not mark done (call taskDone() once per get(), on the handle " +
          "that got the item)",
      );
    }
    this.#taken--;
    const link = await this.open();
    const k = this.#keys;
    // -1: the lease ended (this process was stalled) and the item went back to the queue;
    // whoever takes it again marks it done.
    await link.eval(DONE, [k.held, k.unfinished], [], `mark an item of '${this.spec.name}' done`);
  }

  async join(limits: WaitLimits): Promise<boolean> {
    const link = await this.open();
    let backoff = 1;
    for (;;) {
      const left = await link.send(
        ["GET", this.#keys.unfinished],
        `join queue '${this.spec.name}'`,
      );
      if (left === null || Number(String(left)) <= 0) return true;
      const wait = limits.deadline - performance.now();
      if (wait <= 0) return false;
      await pause(Math.min(backoff, wait), limits.signal);
      backoff = Math.min(backoff * 2, JOIN_POLL_MS);
    }
  }

  /** Stops the heartbeat, gives back what this consumer holds, and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    const opened = this.#link;
    if (!opened) return;
    const link = await opened.catch(() => undefined);
    if (!link) return;
    if (this.spec.joinable) {
      const k = this.#keys;
      await link.eval(LEAVE, [k.items, k.leases, k.held], [
        this.#id,
        String(this.spec.expireAfter),
      ], "close the queue")
        .catch(() => {}); // the broker is gone: the lease ends by itself
    }
    await link.close();
  }
}
