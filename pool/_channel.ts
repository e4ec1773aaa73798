// The channel between a pool and one of its workers, in two implementations behind one
// interface. "worker": two SharedArrayBuffer rings carrying frames of messages (many tasks in
// one frame, see ./_codec.ts), woken by Atomics.waitAsync, with a MessagePort beside them for
// what shared memory cannot carry (values with SharedArrayBuffers or ports inside, and calls on
// proxies). "subprocess": the worker pulls its next tasks through the package's RPC, handing back
// the previous results in the same call.

import { PortLink, postOn } from "../_core/_link.ts";
import {
  decode,
  encode,
  reduce,
  type ReduceContext,
  type Reduced,
  registerReviver,
} from "../_core/_reduce.ts";
import { type Caller, errorToData, remoteCall, RpcEndpoint } from "../_core/_rpc.ts";
import type { StartMethod } from "../_core/_state.ts";
import { canMap } from "../_core/_shm.ts";
import { Batch, readFrame, singleFrame, warmCodec } from "./_codec.ts";
import { Ring } from "./_ring.ts";
import { type FnRef, Kind } from "../_core/_transport.ts";

export { type FnRef, Kind };

/** What the pool sends: a task (sequence number, function, kind, payload), or stop. */
export type PoolMessage =
  | [op: 0, seq: number, fn: FnRef, kind: Kind, payload: unknown]
  | [op: 1];

/**
 * What a worker receives: a task, whose function is a number that an earlier define message
 * named, with `encoded` 1 when the payload must be decoded; stop; or a define message.
 */
export type ToWorker =
  | [op: 0, seq: number, fn: number, kind: Kind, payload: unknown, encoded: 0 | 1]
  | [op: 1]
  | [op: 2, fn: number, module: string, name: string];

/** A task's outcome: its sequence number, whether it succeeded, and its value or error data. */
export type ResultMessage = [seq: number, ok: boolean, value: unknown];

/** Takes a task's outcome: its value, or its error data; `us`: its run time in microseconds. */
export type OnResult = (seq: number, ok: boolean, value: unknown, us: number) => void;

/** A result on the wire: with the task's run time in microseconds and the `encoded` flag. */
type WireResult = [seq: number, ok: boolean, value: unknown, us: number, encoded: 0 | 1];

/** The pool's side of a channel; passed in the worker's `args`, it becomes a {@link ChildEnd}. */
export interface ParentEnd {
  /**
   * Queues a message for the next {@link ParentEnd.flush}; the payload is encoded at once.
   * @throws {TypeError} when the payload cannot be sent.
   */
  send(msg: PoolMessage): void;
  /** Sends what was queued, waking the worker once. */
  flush(): void;
  /** Called with each result (in the order the tasks were sent) and the task's run time. */
  onresult: OnResult | undefined;
  /** Sequence number of the task the worker is running: 0 when none, -1 when unknown. */
  running(): number;
  /** Results that arrived but were not yet delivered, delivered now (before a lost worker). */
  drain(): void;
  /** Stops listening (and closes what it opened); again, does nothing. */
  close(): void;
}

/** The worker's side of a channel. */
export interface ChildEnd {
  /** The next messages, waiting for them. */
  recv(): Promise<ToWorker[]>;
  /** Sends a task's result at once, with its run time in microseconds. */
  send(result: ResultMessage, us: number): void;
  /** Marks the task being run (0: none). */
  setRunning(seq: number): void;
  /** Resolves once the results sent are on their way; undefined when they are. */
  sent?(): Promise<void> | undefined;
}

/** Numbers for the functions sent over one channel: each is named once, by a define message. */
class FnIds {
  #ids = new Map<FnRef, number>();

  /** The number of `fn`, queuing its define message through `define` the first time. */
  id(fn: FnRef, define: (msg: ToWorker) => void): number {
    let id = this.#ids.get(fn);
    if (id === undefined) {
      id = this.#ids.size + 1;
      this.#ids.set(fn, id);
      define([2, id, fn[0], fn[1]]);
    }
    return id;
  }
}

/** Opens the pool's end of a channel to a worker of the given start method. */
export function openChannel(
  method: StartMethod,
): ParentEnd & { [reduce](ctx: ReduceContext): Reduced } {
  return method === "worker" ? new SharedParentEnd() : new RpcParentEnd();
}

const RING_BYTES = 1 << 18;
/** Largest frame sent through the ring; larger ones go through the port. */
const INLINE_MAX = RING_BYTES / 4;
/** A batch this large is sent without waiting for the rest of the pump. */
const EARLY_FLUSH = INLINE_MAX / 4;
const BLOCK_MS = 20;
const RUNNING = 0;
const IDENT = 1;
const OOB_MARK = new Uint8Array(0);
const TYPE_SHARED = "pool.channel.shared";
const TYPE_RPC = "pool.channel.rpc";

interface SharedState {
  down: SharedArrayBuffer; // pool -> worker
  up: SharedArrayBuffer; // worker -> pool
  ctrl: SharedArrayBuffer;
  port: MessagePort;
}

/** Both sides of the shared-memory channel: a writer ring, a reader ring and a side port. */
class SharedSide {
  protected out: Ring;
  protected in: Ring;
  protected ctrl: Int32Array;
  protected rpc: RpcEndpoint;
  #port: MessagePort;
  #oob: unknown[] = [];
  #oobWaiter: ((v: unknown) => void) | undefined;
  #batch = new Batch(INLINE_MAX);

  constructor(out: Ring, inbound: Ring, ctrl: Int32Array, port: MessagePort, caller: Caller) {
    this.out = out;
    this.in = inbound;
    this.ctrl = ctrl;
    this.#port = port;
    this.rpc = new RpcEndpoint({ sameProcess: true, maps: canMap() }, caller);
    const link = new PortLink(port);
    link.onmessage = (m) => {
      if (m.t === "oob") this.#takeOob((m as { v: unknown }).v);
      else this.rpc.handle(m);
    };
    link.unref();
    this.rpc.attach(link);
  }

  #takeOob(v: unknown): void {
    const w = this.#oobWaiter;
    this.#oobWaiter = undefined;
    if (w) w(v);
    else this.#oob.push(v);
  }

  /**
   * Queues `msg` for the next {@link SharedSide.flush}. Its element `at` is a value, sent as it
   * is when it is plain data; otherwise encoded, with the last element (the `encoded` flag) set,
   * and sent in a frame of its own, or through the port when shared memory cannot carry it.
   *
   * @throws {TypeError} when the value cannot be sent; nothing is queued then.
   */
  protected queue(msg: unknown[], at: number, path: string): void {
    if (this.#batch.add(msg)) {
      if (this.#batch.size > EARLY_FLUSH) this.flush(); // the worker starts on it meanwhile
      return;
    }
    const transfer: Transferable[] = [];
    msg[at] = encode(msg[at], this.rpc.context(transfer), path);
    msg[msg.length - 1] = 1;
    if (transfer.length === 0 && this.#batch.add(msg)) return;
    this.flush(); // what came before goes first
    const frame = transfer.length === 0 ? singleFrame(msg) : undefined;
    if (frame && frame.length <= INLINE_MAX) {
      this.out.write(frame);
      return;
    }
    try {
      postOn(this.#port, { t: "oob", v: msg }, transfer);
    } catch (e) {
      throw new TypeError(`Cannot send ${path}: ${(e as Error).message}`);
    }
    this.out.write(OOB_MARK);
  }

  /** Writes the queued messages as one frame. */
  flush(): void {
    if (this.#batch.count > 0) this.out.write(this.#batch.take());
  }

  /** The messages of a frame; `decodeAt` is the index of the value of a message to decode. */
  protected async unpack(frame: Uint8Array, decodeAt: number): Promise<unknown[][]> {
    const msgs = frame.length > 0 ? readFrame(frame) as unknown[][] : [await this.#nextOob()];
    for (const m of msgs) {
      if (m.length > decodeAt + 1 && m[m.length - 1] === 1) m[decodeAt] = this.decode(m[decodeAt]);
    }
    return msgs;
  }

  protected decode(value: unknown): unknown {
    return decode(value, { rpc: this.rpc });
  }

  /** The message that an empty frame announced, taken from the port. */
  #nextOob(): Promise<unknown[]> | unknown[] {
    if (this.#oob.length > 0) return this.#oob.shift() as unknown[];
    return new Promise((resolve) => this.#oobWaiter = resolve as (v: unknown) => void);
  }

  close(): void {
    this.in.close();
    this.rpc.close(new Error("The pool worker's channel is closed"));
    this.#port.close();
  }
}

class SharedParentEnd extends SharedSide implements ParentEnd {
  onresult: OnResult | undefined;
  #state: SharedState;
  #ids = new FnIds();
  #closed = false;
  /** Set while a result announced by an empty frame is awaited from the port. */
  #fromPort: Promise<void> | undefined;
  #define = (msg: ToWorker) => this.queue(msg, 0, "args");

  constructor() {
    warmCodec(); // while the worker starts
    const down = Ring.allocate(RING_BYTES);
    const up = Ring.allocate(RING_BYTES);
    const ctrlBuf = new SharedArrayBuffer(8);
    const ctrl = new Int32Array(ctrlBuf);
    const { port1, port2 } = new MessageChannel();
    super(new Ring(down, "writer"), new Ring(up, "reader"), ctrl, port1, {
      get ident() {
        return Atomics.load(ctrl, IDENT);
      },
    });
    this.#state = { down, up, ctrl: ctrlBuf, port: port2 };
    this.#read();
  }

  [reduce](ctx: ReduceContext): Reduced {
    if (!ctx.sameProcess) throw new TypeError("A shared pool channel needs a worker");
    ctx.transfer.push(this.#state.port);
    return { type: TYPE_SHARED, state: this.#state };
  }

  send(msg: PoolMessage): void {
    if (msg[0] === 1) return this.queue([1], 0, "args");
    const [, seq, fn, kind, payload] = msg;
    this.queue([0, seq, this.#ids.id(fn, this.#define), kind, payload, 0], 4, "args");
  }

  running(): number {
    return Atomics.load(this.ctrl, RUNNING);
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        this.drain();
        if (this.#closed) return;
        if (this.#fromPort) await this.#fromPort; // the frames after it wait for it
        else await this.in.waitReadable();
      }
    } catch {
      // closed
    }
  }

  /** Takes the result that an empty frame announced from the port, then the frames after it. */
  async #resultFromPort(): Promise<void> {
    try {
      const msgs = await this.unpack(OOB_MARK, 2);
      this.#fromPort = undefined;
      if (!this.#closed) this.#deliver(msgs as WireResult[]);
      this.drain();
    } catch {
      // closed
    }
  }

  #deliver(results: WireResult[]): void {
    for (const r of results) {
      if (this.#closed) return;
      this.onresult?.(r[0], r[1], r[2], r[3]);
    }
  }

  drain(): void {
    while (!this.#fromPort && !this.#closed) {
      const f = this.in.tryRead();
      if (!f) return;
      if (f.length === 0) {
        // The port carries it. Taken here, not left to #read: a spinning pool drains too, while
        // #read waits for the ring, which would not wake it again for a frame already read.
        this.#fromPort = this.#resultFromPort();
        return;
      }
      const results = readFrame(f) as WireResult[];
      for (const r of results) if (r[4] === 1) r[2] = this.decode(r[2]);
      this.#deliver(results);
    }
  }

  override close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.out.close();
    super.close();
  }
}

class SharedChildEnd extends SharedSide implements ChildEnd {
  constructor(s: SharedState) {
    const ctrl = new Int32Array(s.ctrl);
    super(new Ring(s.up, "writer"), new Ring(s.down, "reader"), ctrl, s.port, { ident: 1 });
  }

  async recv(): Promise<ToWorker[]> {
    // Tasks that follow each other closely are picked up at once by a short blocking wait; an
    // idle worker then waits asynchronously, so that its event loop runs (at once when results
    // wait for space in the ring: only the event loop writes them).
    let frame: Uint8Array;
    try {
      const soon = this.out.backlogged ? undefined : this.in.readBlocking(BLOCK_MS);
      frame = soon ?? await this.in.read();
    } catch {
      return [[1]]; // the pool closed the channel: it is done with this worker
    }
    return await this.unpack(frame, 4) as ToWorker[];
  }

  send([seq, ok, value]: ResultMessage, us: number): void {
    try {
      this.queue([seq, ok, value, us, 0], 2, "result");
    } catch (e) {
      this.queue([seq, false, errorToData(e), us, 0], 2, "result");
    }
    this.flush();
  }

  setRunning(seq: number): void {
    Atomics.store(this.ctrl, RUNNING, seq);
  }

  /** Tells the pool which process this is, for the objects it calls there. */
  setIdent(ident: number): void {
    Atomics.store(this.ctrl, IDENT, ident);
  }
}

class RpcParentEnd implements ParentEnd {
  onresult: OnResult | undefined;
  #outbox: ToWorker[] = [];
  #waiter: ((msgs: ToWorker[]) => void) | undefined;
  #ctx: ReduceContext | undefined;
  #ids = new FnIds();
  /** Tasks handed to the worker and not yet answered, in order: the first is running. */
  #handed: number[] = [];
  #closed = false;
  #define = (msg: ToWorker) => this.#outbox.push(msg);

  [reduce](ctx: ReduceContext): Reduced {
    this.#ctx = { sameProcess: ctx.sameProcess, maps: ctx.maps, transfer: [], share: ctx.share };
    return { type: TYPE_RPC, state: ctx.share(this) };
  }

  send(msg: PoolMessage): void {
    if (this.#closed) return;
    if (msg[0] === 1) {
      this.#outbox.push([1]);
      return;
    }
    const [, seq, fn, kind, payload] = msg;
    const encoded = encode(payload, this.#ctx!, "args");
    this.#outbox.push([0, seq, this.#ids.id(fn, this.#define), kind, encoded, 1]);
  }

  flush(): void {
    const w = this.#waiter;
    if (!w || this.#outbox.length === 0) return;
    this.#waiter = undefined;
    w(this.#hand());
  }

  /** Hands the worker everything queued. */
  #hand(): ToWorker[] {
    const msgs = this.#outbox;
    this.#outbox = [];
    for (const m of msgs) if (m[0] === 0) this.#handed.push(m[1]);
    return msgs;
  }

  async [remoteCall](method: string, args: unknown[]): Promise<unknown> {
    if (method !== "next" && method !== "done") {
      throw new TypeError(`Unknown pool channel method '${method}'`);
    }
    for (const [seq, ok, value, us] of args[0] as WireResult[]) {
      const i = this.#handed[0] === seq ? 0 : this.#handed.indexOf(seq);
      if (i >= 0) this.#handed.splice(i, 1);
      if (!this.#closed) this.onresult?.(seq, ok, value, us);
    }
    if (method === "done") return;
    if (this.#outbox.length > 0) return this.#hand();
    return await new Promise((resolve) => this.#waiter = resolve);
  }

  running(): number {
    return this.#handed[0] ?? 0;
  }

  drain(): void {}

  close(): void {
    this.#closed = true;
    this.#outbox = [];
    this.#waiter = undefined;
  }
}

/**
 * The worker's end over RPC: each result is sent at once, and written out before the next task
 * starts, so that the pool knows which task was running should the worker die.
 */
class RpcChildEnd implements ChildEnd {
  #rpc: RpcEndpoint;
  #id: number;

  constructor(id: number, rpc: RpcEndpoint) {
    this.#id = id;
    this.#rpc = rpc;
  }

  async recv(): Promise<ToWorker[]> {
    return (await this.#rpc.call(this.#id, "next", [[]])) as ToWorker[]; // decoded by the call
  }

  send([seq, ok, value]: ResultMessage, us: number): void {
    let result: WireResult;
    try {
      result = [seq, ok, encode(value, this.#rpc.context(), "result"), us, 1];
    } catch (e) {
      result = [seq, false, errorToData(e), us, 1];
    }
    this.#rpc.notify(this.#id, "done", [[result]]);
  }

  sent(): Promise<void> | undefined {
    return this.#rpc.written();
  }

  setRunning(): void {}
}

registerReviver(TYPE_SHARED, (s) => new SharedChildEnd(s as SharedState));
registerReviver(TYPE_RPC, (id, { rpc }) => {
  if (!rpc) throw new TypeError("A pool channel can only be received by a pool worker");
  return new RpcChildEnd(id as number, rpc);
});
