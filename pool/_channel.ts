// The channel between a pool and one of its workers, in two implementations behind one
// interface. "worker": two SharedArrayBuffer rings carrying `node:v8` frames, woken by
// Atomics.waitAsync, with a MessagePort beside them for what shared memory cannot carry (values
// with SharedArrayBuffers or ports inside, and calls on proxies). "subprocess": the worker pulls
// its next task through the package's RPC, handing back the previous result in the same call.

import { PortLink } from "../process/_link.ts";
import {
  decode,
  encode,
  reduce,
  type ReduceContext,
  type Reduced,
  registerReviver,
} from "../process/_reduce.ts";
import { type Caller, errorToData, remoteCall, RpcEndpoint } from "../process/_rpc.ts";
import type { StartMethod } from "../process/_state.ts";
import { pack, unpack } from "./_codec.ts";
import { Ring } from "./_ring.ts";

/** How a task's payload is applied: `fn(...args)`, `fn(item)` for each, `fn(...item)` for each. */
export type Kind = "apply" | "map" | "star";

/** A task for a worker: sequence number, function (module and export), kind and payload. */
export type TaskMessage = [
  op: 0,
  seq: number,
  module: string,
  name: string,
  kind: Kind,
  payload: unknown,
];
/** Tells a worker to finish. */
export type StopMessage = [op: 1];
/** What a worker receives. */
export type ToWorker = TaskMessage | StopMessage;
/** A task's outcome: its sequence number, whether it succeeded, and its value or error data. */
export type ResultMessage = [seq: number, ok: boolean, value: unknown];

/** The pool's side of a channel; passed in the worker's `args`, it becomes a {@link ChildEnd}. */
export interface ParentEnd {
  /**
   * Sends a message; the payload is encoded at once.
   * @throws {TypeError} when the payload cannot be sent.
   */
  send(msg: ToWorker): void;
  /** Called with each result, in the order the tasks were sent. */
  onresult: ((r: ResultMessage) => void) | undefined;
  /** Sequence number of the task the worker is running: 0 when none, -1 when unknown. */
  running(): number;
  /** Results that arrived but were not yet delivered, delivered now (before a lost worker). */
  drain(): void;
  /** Stops listening. */
  close(): void;
  /** Holds back wake-ups of the worker for the messages sent until `uncork()`. */
  cork(): void;
  /** Wakes the worker once for the messages sent since `cork()`. */
  uncork(): void;
}

/** The worker's side of a channel. */
export interface ChildEnd {
  recv(): Promise<ToWorker>;
  send(result: ResultMessage): void;
  /** Marks the task being run (0: none). */
  setRunning(seq: number): void;
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

  constructor(out: Ring, inbound: Ring, ctrl: Int32Array, port: MessagePort, caller: Caller) {
    this.out = out;
    this.in = inbound;
    this.ctrl = ctrl;
    this.#port = port;
    this.rpc = new RpcEndpoint("worker", caller);
    const link = new PortLink({
      post: (m, t) => port.postMessage(m, t),
      listen: (fn) => port.onmessage = (e) => fn(e.data),
      unref: () => (port as unknown as { unref(): void }).unref(),
      close: () => port.close(),
    });
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
   * Encodes and sends `value`: inline when it fits well within the ring, else through the port
   * (frames larger than the ring, streamed in pieces, could stall both sides).
   */
  protected post(value: unknown, path: string, encodeFrom = 0): void {
    const transfer: Transferable[] = [];
    const ctx = this.rpc.context(transfer);
    const { bytes, encoded } = pack(value, (v) => encodeTail(v, ctx, path, encodeFrom));
    if (bytes && transfer.length === 0 && bytes.length <= INLINE_MAX) {
      this.out.write(bytes);
    } else {
      this.#port.postMessage({ t: "oob", v: encoded }, transfer);
      this.out.write(OOB_MARK);
    }
  }

  /** Turns an inline frame into a message. */
  protected unpack(frame: Uint8Array): unknown {
    const { value, encoded } = unpack(frame);
    return encoded ? decode(value, { rpc: this.rpc }) : value;
  }

  /** The message that an empty frame announced, taken from the port. */
  protected async unpackOob(): Promise<unknown> {
    const v = this.#oob.length > 0
      ? this.#oob.shift()
      : await new Promise((resolve) => this.#oobWaiter = resolve);
    return decode(v, { rpc: this.rpc });
  }

  close(): void {
    this.in.close();
    this.rpc.close(new Error("The pool worker's channel is closed"));
    this.#port.close();
  }
}

/** Encodes the elements of array `value` from index `from` on, leaving the head as it is. */
function encodeTail(value: unknown, ctx: ReduceContext, path: string, from: number): unknown {
  if (from === 0) return encode(value, ctx, path);
  const arr = value as unknown[];
  const out = arr.slice(0, from);
  for (let i = from; i < arr.length; i++) out.push(encode(arr[i], ctx, path));
  return out;
}

class SharedParentEnd extends SharedSide implements ParentEnd {
  onresult: ((r: ResultMessage) => void) | undefined;
  #state: SharedState;
  #closed = false;
  #reading = false;

  constructor() {
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
    if (ctx.startMethod !== "worker") throw new TypeError("A shared pool channel needs a worker");
    ctx.transfer.push(this.#state.port);
    return { type: TYPE_SHARED, state: this.#state };
  }

  send(msg: ToWorker): void {
    this.post(msg, "args", msg[0] === 0 ? 5 : 1);
  }

  running(): number {
    return Atomics.load(this.ctrl, RUNNING);
  }

  cork(): void {
    this.out.cork();
  }

  uncork(): void {
    this.out.uncork();
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        this.drain();
        if (this.#closed) return;
        if (this.#reading) {
          const r = (await this.unpackOob()) as ResultMessage;
          this.#reading = false;
          if (this.#closed) return;
          this.onresult?.(r);
          continue;
        }
        await this.in.waitReadable();
        if (this.in.hasFrame()) continue;
        const big = await this.in.read(); // a frame larger than the ring, in pieces
        if (!this.#closed) this.onresult?.(this.unpack(big) as ResultMessage);
      }
    } catch {
      // closed
    }
  }

  drain(): void {
    while (!this.#reading && !this.#closed) {
      const f = this.in.tryRead();
      if (!f) return;
      if (f.length === 0) this.#reading = true; // the port carries it; the loop waits for it
      else this.onresult?.(this.unpack(f) as ResultMessage);
    }
  }

  override close(): void {
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

  async recv(): Promise<ToWorker> {
    // Tasks that follow each other closely are picked up at once by a short blocking wait; an
    // idle worker then waits asynchronously, so that its event loop runs.
    let frame: Uint8Array;
    try {
      frame = this.in.readBlocking(BLOCK_MS) ?? await this.in.read();
    } catch {
      return [1]; // the pool closed the channel: it is done with this worker
    }
    return (frame.length > 0 ? this.unpack(frame) : await this.unpackOob()) as ToWorker;
  }

  send(result: ResultMessage): void {
    try {
      this.post(result, "result", 2);
    } catch (e) {
      this.post([result[0], false, errorToData(e)], "result", 2);
    }
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
  onresult: ((r: ResultMessage) => void) | undefined;
  #outbox: unknown[] = [];
  #waiter: ((msg: unknown) => void) | undefined;
  #ctx: ReduceContext | undefined;
  #running = 0;
  #closed = false;

  [reduce](ctx: ReduceContext): Reduced {
    this.#ctx = { startMethod: ctx.startMethod, transfer: [], share: ctx.share };
    return { type: TYPE_RPC, state: ctx.share(this) };
  }

  send(msg: ToWorker): void {
    if (this.#closed) return;
    let out: unknown = msg;
    if (msg[0] === 0) out = encodeTail(msg, this.#ctx!, "args", 5);
    const w = this.#waiter;
    this.#waiter = undefined;
    if (w) this.#hand(w, out);
    else this.#outbox.push(out);
  }

  #hand(w: (msg: unknown) => void, msg: unknown): void {
    const m = msg as ToWorker;
    this.#running = m[0] === 0 ? m[1] : 0;
    w(msg);
  }

  async [remoteCall](method: string, args: unknown[]): Promise<unknown> {
    if (method !== "next") throw new TypeError(`Unknown pool channel method '${method}'`);
    this.#running = 0;
    for (const r of args[0] as ResultMessage[]) if (!this.#closed) this.onresult?.(r);
    if (this.#outbox.length > 0) {
      const msg = this.#outbox.shift();
      this.#hand(() => {}, msg);
      return msg;
    }
    return await new Promise((resolve) => this.#waiter = (m) => this.#hand(resolve, m));
  }

  running(): number {
    return this.#running;
  }

  cork(): void {}

  uncork(): void {}

  drain(): void {}

  close(): void {
    this.#closed = true;
    this.#outbox = [];
    this.#waiter = undefined;
  }
}

class RpcChildEnd implements ChildEnd {
  #rpc: RpcEndpoint;
  #id: number;
  #results: ResultMessage[] = [];

  constructor(id: number, rpc: RpcEndpoint) {
    this.#id = id;
    this.#rpc = rpc;
  }

  async recv(): Promise<ToWorker> {
    const results = this.#results;
    this.#results = [];
    return (await this.#rpc.call(this.#id, "next", [results])) as ToWorker;
  }

  send(result: ResultMessage): void {
    const [seq, ok, value] = result;
    try {
      this.#results.push([seq, ok, encode(value, this.#rpc.context(), "result")]);
    } catch (e) {
      this.#results.push([seq, false, errorToData(e)]);
    }
  }

  setRunning(): void {}
}

registerReviver(TYPE_SHARED, (s) => new SharedChildEnd(s as SharedState));
registerReviver(TYPE_RPC, (id, { rpc }) => {
  if (!rpc) throw new TypeError("A pool channel can only be received by a pool worker");
  return new RpcChildEnd(id as number, rpc);
});
