// The two ways a queue handle reaches its items: the shared ring itself (every process that
// shares or maps its memory), or calls over RPC to the process that lent it (a child that cannot
// map shared memory and does not share its parent's SharedArrayBuffers, and whatever that child
// passes the queue on to).

import type { SharedMemory } from "../_core/_shm.ts";
import { openMemory } from "../_core/_share.ts";
import { decodeItem, type Encoded, encodeItem } from "../_core/_codec.ts";
import { RETRY, Ring, StreamStart } from "./_ring.ts";
import type { WaitLimits } from "../_core/_wait.ts";
import { callWaiting } from "./_remote.ts";
import type { RpcEndpoint } from "../_core/_rpc.ts";
import { registerReviver } from "../_core/_reduce.ts";
import { RedisQueueCore, type RedisQueueSpec } from "../_core/_redis.ts";
import { adopting, type QueueCore, queueTypes } from "../_core/_queue_handle.ts";

/** A queue over a shared ring that this process shares or maps. */
export class RingCore implements QueueCore {
  readonly ring: Ring;
  readonly #maxsize: number;
  readonly #joinable: boolean;

  constructor(ring: Ring, maxsize: number, joinable: boolean) {
    this.ring = ring;
    this.#maxsize = maxsize;
    this.#joinable = joinable;
  }

  put(item: unknown, limits: WaitLimits): boolean | Promise<boolean> {
    const enc = encodeItem(item, "item");
    const r = this.ring.tryWrite(enc, this.#maxsize, this.#joinable);
    if (r === true) return true;
    return this.#putSlow(ownCopy(enc), r, limits);
  }

  async #putSlow(
    mine: Encoded,
    r: true | typeof RETRY | number,
    limits: WaitLimits,
  ): Promise<boolean> {
    if (r === RETRY) {
      r = await this.ring.until(
        "w",
        () => this.ring.tryWrite(mine, this.#maxsize, this.#joinable),
        limits,
      );
      if (r === RETRY) return false;
    }
    // A stream that is cut sends no more: only a process taken for dead has its stream cut.
    if (typeof r === "number") await this.ring.streamOut(r, mine.bytes);
    return true;
  }

  putNowait(item: unknown): boolean {
    const enc = encodeItem(item, "item");
    const r = this.ring.writeNow(enc, this.#maxsize, this.#joinable);
    if (typeof r === "number") {
      // Too large to write without waiting for readers: hand it over in the background.
      this.ring.streamOut(r, enc.bytes.slice()).catch(() => {});
      return true;
    }
    return r === true;
  }

  get(limits: WaitLimits): { value: unknown } | Promise<{ value: unknown } | undefined> {
    const r = this.ring.tryRead(false);
    if (r !== RETRY) return { value: r };
    return this.#getSlow(limits);
  }

  async #getSlow(limits: WaitLimits): Promise<{ value: unknown } | undefined> {
    for (;;) {
      const r = await this.ring.until("r", () => this.ring.tryRead(true), limits);
      if (r === RETRY) return undefined;
      if (r instanceof StreamStart) {
        const bytes = await this.ring.streamIn(r);
        if (!bytes) continue; // its producer died while sending it: it was given up
        return { value: decodeItem(r.kind, bytes, true) };
      }
      return { value: r };
    }
  }

  getNowait(): { value: unknown } | undefined {
    const r = this.ring.tryRead(false);
    return r === RETRY ? undefined : { value: r };
  }

  qsize(): number {
    return this.ring.count();
  }

  qsizeAsync(): Promise<number> {
    return Promise.resolve(this.ring.count());
  }

  taskDone(): void {
    this.ring.taskDone();
  }

  join(limits: WaitLimits): Promise<boolean> {
    return this.ring.joined(limits);
  }
}

/** A copy of an encoded item that stays valid across waits. */
export function ownCopy(enc: Encoded): Encoded {
  return { kind: enc.kind, bytes: enc.bytes.slice() };
}

/** A queue reached over RPC: the process that lent it runs every call. */
export class RemoteCore implements QueueCore {
  readonly rpc: RpcEndpoint;
  readonly id: number;

  constructor(rpc: RpcEndpoint, id: number) {
    this.rpc = rpc;
    this.id = id;
  }

  async put(item: unknown, limits: WaitLimits): Promise<boolean> {
    return await callWaiting(this.rpc, this.id, "put", [item], optionsOf(limits)) as boolean;
  }

  putNowait(): boolean {
    throw syncError("putNowait()", "put(item, { timeout: 0 })");
  }

  async get(limits: WaitLimits): Promise<{ value: unknown } | undefined> {
    return await callWaiting(this.rpc, this.id, "get", [], optionsOf(limits)) as
      | { value: unknown }
      | undefined;
  }

  getNowait(): { value: unknown } | undefined {
    throw syncError("getNowait()", "get({ timeout: 0 })");
  }

  qsize(call = "qsize"): number {
    throw syncError(`${call}()`, `${call}Async()`);
  }

  async qsizeAsync(): Promise<number> {
    return await this.rpc.call(this.id, "qsize", []) as number;
  }

  async taskDone(): Promise<void> {
    await this.rpc.call(this.id, "taskDone", []);
  }

  async join(limits: WaitLimits): Promise<boolean> {
    return await callWaiting(this.rpc, this.id, "join", [], optionsOf(limits)) as boolean;
  }
}

function optionsOf(limits: WaitLimits): { timeout?: number; signal?: AbortSignal } {
  return {
    timeout: limits.deadline === Infinity
      ? undefined
      : Math.max(0, limits.deadline - performance.now()),
    signal: limits.signal,
  };
}

function syncError(what: string, instead: string): TypeError {
  return new TypeError(
    `Cannot call ${what} in this process: it reaches the queue through its parent, as it ` +
      `cannot map shared memory (it may not use FFI, or does not run on Linux), and the parent ` +
      `cannot answer synchronously; use await q.${instead}`,
  );
}

/** What a queue handle carries to a child. */
export interface QueueState {
  maxsize: number;
  joinable: boolean;
  /** The ring, for a worker child of a process that maps it. */
  /** The ring's memory, as ../_core/_shm.ts sent it. */
  sab?: unknown;
  /** The shared object's id, for a child that reaches the queue over RPC. */
  id?: number;
  /** Where a queue on Redis is: the child connects itself. */
  redis?: RedisQueueSpec;
}

/** Registers how handles of a queue class are rebuilt in a child. */
export function registerQueueClass(cls: new (maxsize: number) => object, type: string): void {
  queueTypes.set(cls, type);
  registerReviver(type, (state, { rpc }) => {
    const s = state as QueueState;
    if (s.redis) {
      adopting.core = new RedisQueueCore(s.redis);
    } else if (s.sab) {
      adopting.core = new RingCore(
        new Ring(openMemory(s.sab) as SharedMemory),
        s.maxsize,
        s.joinable,
      );
    } else {
      if (!rpc) throw new TypeError("Cannot receive a queue: no connection to its owner");
      adopting.core = new RemoteCore(rpc, s.id!);
    }
    try {
      return new cls(s.maxsize);
    } finally {
      adopting.core = undefined;
    }
  });
}
