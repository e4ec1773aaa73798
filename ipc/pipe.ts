/**
 * `Pipe()`: a pair of connected {@link Connection}s, with the meaning of Python's
 * `multiprocessing.Pipe`.
 *
 * @module
 */

import type { SharedMemory } from "../_core/_shm.ts";
import { openMemory, shareMemory } from "../_core/_share.ts";
import { checkBoolean, checkInteger } from "../_core/_check.ts";
import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, registerError, remoteCall, type RpcEndpoint } from "../_core/_rpc.ts";
import { identAlive, state } from "../_core/_state.ts";
import { decodeItem, encodeItem, Kind } from "../_core/_codec.ts";
import { Holders } from "./_holders.ts";
import { ownCopy } from "./_queue_core.ts";
import { callWaiting, limitsOf, ServedCalls } from "./_remote.ts";
import { RawBytes, RETRY, Ring, StreamStart } from "./_ring.ts";
import type { WaitLimits } from "./_wait.ts";
import { type Connection, EOFError, type RecvOptions } from "./connection.ts";

/** Options of {@link Pipe}. */
export interface PipeOptions {
  /**
   * Whether both ends send and receive; when false, the first end only receives and the second
   * only sends.
   * @default {true}
   */
  duplex?: boolean;
  /**
   * Bytes of shared memory buffered in each direction (rounded up to a power of two); `send`
   * waits while the buffer is full, as with an OS pipe. Larger messages still pass, in pieces.
   * @default {1048576}
   */
  bufferSize?: number;
}

/**
 * Raised by `send()` when no process holds the other end any more (Python's
 * `BrokenPipeError`).
 *
 * @example
 * ```ts
 * import { BrokenPipeError, Pipe } from "@mp/multiprocessing/ipc";
 *
 * const [a, b] = Pipe();
 * b.close();
 * try {
 *   await a.send("anyone?");
 * } catch (e) {
 *   console.log(e instanceof BrokenPipeError); // true
 * }
 * a.close();
 * ```
 */
export class BrokenPipeError extends Error {
  /**
   * Makes the error.
   *
   * @param message what could not be sent.
   * @param options the cause.
   */
  constructor(message = "Every holder of the other end has closed it", options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokenPipeError";
  }
}
registerError(BrokenPipeError);

const DEFAULT_BUFFER = 1 << 20;

interface EndState {
  side: number;
  duplex: boolean;
  rings?: unknown[];
  holders?: unknown;
  id?: number;
}

const EOF = Symbol("eof");

interface Shared {
  side: number;
  duplex: boolean;
  rings: Ring[];
  holders: Holders;
}

function timeoutError(what: string, timeout: number | undefined): DOMException {
  return new DOMException(`${what}: nothing arrived within ${timeout} ms`, "TimeoutError");
}

/**
 * One end of a pipe made by {@link Pipe}. Pass it to children in `args`; every process that
 * holds it (and has not closed it or exited) keeps it open.
 *
 * @typeParam T the messages' type.
 */
class PipeConnection<T = unknown> implements Connection<T> {
  #shared: Shared | undefined;
  #remote: { rpc: RpcEndpoint; id: number } | undefined;
  #side: number;
  #duplex: boolean;
  #closed = false;
  #served: ServedCalls | undefined;

  constructor(
    shared: Shared | undefined,
    remote: { rpc: RpcEndpoint; id: number } | undefined,
    side: number,
    duplex: boolean,
  ) {
    this.#shared = shared;
    this.#remote = remote;
    this.#side = side;
    this.#duplex = duplex;
  }

  static create(shared: Shared, side: number): PipeConnection<unknown> {
    return new PipeConnection(shared, undefined, side, shared.duplex);
  }

  static remote(
    rpc: RpcEndpoint,
    id: number,
    side: number,
    duplex: boolean,
  ): PipeConnection<unknown> {
    return new PipeConnection(undefined, { rpc, id }, side, duplex);
  }

  #check(what: string, direction: "send" | "recv"): void {
    if (this.#closed) throw new TypeError(`Cannot ${what}: this end of the pipe is closed`);
    if (!this.#duplex && (direction === "send") !== (this.#side === 1)) {
      throw new TypeError(
        `Cannot ${what}: this end of a one-way pipe only ${
          direction === "send" ? "receives" : "sends"
        }`,
      );
    }
  }

  get #in(): Ring {
    return this.#shared!.rings[this.#side];
  }

  get #out(): Ring {
    return this.#shared!.rings[this.#duplex ? 1 - this.#side : 0];
  }

  async #send(kind: number | undefined, value: unknown, limits: WaitLimits): Promise<void> {
    const shared = this.#shared!;
    const other = 1 - this.#side;
    const enc = kind === undefined
      ? encodeItem(value, "message")
      : { kind, bytes: value as Uint8Array };
    if (!shared.holders.held(other)) {
      throw new BrokenPipeError("Cannot send: every holder of the other end has closed it");
    }
    const ring = this.#out;
    let r = ring.tryWrite(enc, 0, false);
    if (r === true) return;
    const mine = ownCopy(enc);
    if (r === RETRY) {
      r = await ring.until("w", () => {
        if (!shared.holders.held(other)) {
          throw new BrokenPipeError("Cannot send: every holder of the other end has closed it");
        }
        return ring.tryWrite(mine, 0, false);
      }, limits);
    }
    if (typeof r === "number") await ring.streamOut(r, mine.bytes);
  }

  async #recv(
    limits: WaitLimits,
  ): Promise<{ value: unknown; kind: number } | typeof EOF | undefined> {
    const shared = this.#shared!;
    const other = 1 - this.#side;
    const ring = this.#in;
    for (;;) {
      const r = await ring.until("r", () => {
        const gone = !shared.holders.held(other);
        const got = ring.tryRead(true);
        if (got !== RETRY) return got;
        return gone && ring.used() === 0 ? EOF : RETRY;
      }, limits);
      if (r === RETRY) return undefined;
      if (r === EOF) return EOF;
      if (r instanceof RawBytes) return { value: r.bytes, kind: Kind.BYTES };
      if (r instanceof StreamStart) {
        const bytes = await ring.streamIn(r);
        if (!bytes) continue; // its writer died while sending it: it was given up
        return {
          value: r.kind === Kind.BYTES ? bytes : decodeItem(r.kind, bytes, true),
          kind: r.kind,
        };
      }
      return { value: r, kind: -1 };
    }
  }

  async #poll(limits: WaitLimits): Promise<boolean> {
    const shared = this.#shared!;
    const other = 1 - this.#side;
    const ring = this.#in;
    const r = await ring.until("r", () => {
      const gone = !shared.holders.held(other);
      return ring.used() > 0 || gone ? true : RETRY;
    }, limits);
    return r === true;
  }

  async #receive(options: RecvOptions, what: string): Promise<{ value: unknown; kind: number }> {
    const limits = limitsOf(options, what);
    const got = this.#remote
      ? await callWaiting(this.#remote.rpc, this.#remote.id, "recv", [], options) as
        | { value: unknown; kind: number }
        | "eof"
        | undefined
      : await this.#recv(limits);
    if (got === EOF || got === "eof") {
      throw new EOFError(`${what}: every holder of the other end has closed it`);
    }
    if (!got) throw timeoutError(what, options.timeout);
    return got;
  }

  /**
   * Sends a value to the other end; waits while the pipe's buffer is full.
   *
   * @param value a structured-cloneable value.
   * @returns once the value is in the pipe.
   * @throws {BrokenPipeError} when no process holds the other end any more.
   * @throws {TypeError} when the value cannot be sent, this end is closed, or it only receives.
   */
  async send(value: T): Promise<void> {
    this.#check("send", "send");
    if (this.#remote) {
      await this.#remote.rpc.call(this.#remote.id, "send", [value]);
    } else {
      await this.#send(undefined, value, { deadline: Infinity });
    }
  }

  /**
   * Receives the next value.
   *
   * @param options `timeout` in milliseconds and `signal`.
   * @returns the value (a `Uint8Array` for bytes sent with `sendBytes`).
   * @throws {EOFError} once every holder of the other end has closed it and all was read.
   * @throws {DOMException} `TimeoutError` when the timeout passes; the signal's reason when it
   * aborts.
   * @throws {TypeError} when this end is closed, or it only sends.
   */
  async recv(options: RecvOptions = {}): Promise<T> {
    this.#check("recv", "recv");
    return (await this.#receive(options, "Cannot recv")).value as T;
  }

  /**
   * Sends raw bytes, received whole by `recvBytes()` (or `recv()`).
   *
   * @param bytes the bytes; they are copied.
   * @returns once the bytes are in the pipe.
   * @throws {BrokenPipeError} when no process holds the other end any more.
   * @throws {TypeError} when this end is closed, or it only receives.
   */
  async sendBytes(bytes: Uint8Array): Promise<void> {
    this.#check("sendBytes", "send");
    if (!(bytes instanceof Uint8Array)) {
      throw new TypeError("Cannot sendBytes: expected a Uint8Array");
    }
    if (this.#remote) {
      await this.#remote.rpc.call(this.#remote.id, "sendBytes", [bytes]);
    } else {
      await this.#send(Kind.BYTES, bytes, { deadline: Infinity });
    }
  }

  /**
   * Receives bytes sent with `sendBytes()`.
   *
   * @param options `timeout` in milliseconds and `signal`.
   * @returns the bytes.
   * @throws {EOFError} once every holder of the other end has closed it and all was read.
   * @throws {TypeError} when the message was not sent as bytes (it is then consumed).
   * @throws {DOMException} `TimeoutError` when the timeout passes; the signal's reason when it
   * aborts.
   */
  async recvBytes(options: RecvOptions = {}): Promise<Uint8Array> {
    this.#check("recvBytes", "recv");
    const got = await this.#receive(options, "Cannot recvBytes");
    if (got.value instanceof Uint8Array) return got.value;
    throw new TypeError("Cannot recvBytes: the message was sent with send(), not sendBytes()");
  }

  /**
   * Whether a message (or EOF) is ready.
   *
   * @param timeout the most milliseconds to wait.
   * @returns true when `recv()` would not wait.
   * @throws {TypeError} when this end is closed, or it only sends.
   */
  async poll(timeout = 0): Promise<boolean> {
    this.#check("poll", "recv");
    if (this.#remote) {
      return await callWaiting(this.#remote.rpc, this.#remote.id, "poll", [], {
        timeout,
      }) as boolean;
    }
    return await this.#poll(limitsOf({ timeout }, "Cannot poll"));
  }

  /** Closes this process's hold of this end; the other end sees EOF once every holder closed. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#remote) {
      this.#remote.rpc.call(this.#remote.id, "close", []).catch(() => {});
      return;
    }
    const shared = this.#shared!;
    shared.holders.remove(this.#side, state().self.ident);
    for (const ring of shared.rings) ring.bumpAll();
  }

  /** Whether this end is closed in this process. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes this end. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Receives values until EOF. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      let v: T;
      try {
        v = await this.recv();
      } catch (e) {
        if (e instanceof EOFError) return;
        throw e;
      }
      yield v;
    }
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    if (this.#closed) throw new TypeError("Cannot send a closed pipe end to another process");
    const state_: EndState = { side: this.#side, duplex: this.#duplex };
    if (this.#shared) {
      this.#shared.holders.add(this.#side, ctx.ident ?? state().self.ident);
    }
    const memory = this.#shared
      ? shareMemory([this.#shared.holders.sab, ...this.#shared.rings.map((r) => r.sab)], ctx)
      : undefined;
    if (memory !== undefined) [state_.holders, ...state_.rings] = memory as SharedMemory[];
    else state_.id = ctx.share(this);
    return { type: "mp.PipeConnection", state: state_ };
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    if (this.#remote) {
      // Passed on by a child that reaches the end through its parent: forward, counting the
      // grandchild as that child.
      if (method === "close") return;
      return this.#remote.rpc.call(this.#remote.id, method, args);
    }
    const served = this.#served ??= new ServedCalls();
    switch (method) {
      case "send":
      case "sendBytes": {
        const table = state().table;
        return this.#send(method === "send" ? undefined : Kind.BYTES, args[0], {
          deadline: Infinity,
          alive: () => identAlive(table, caller.ident),
        });
      }
      case "recv":
        return served.run(caller, args, "Cannot recv", async (l) => {
          const got = await this.#recv(l);
          return got === EOF ? "eof" : got;
        });
      case "poll":
        return served.run(caller, args, "Cannot poll", (l) => this.#poll(l));
      case "cancel":
        return served.cancel(caller, args[0] as number);
      case "close":
        this.#shared!.holders.remove(this.#side, caller.ident);
        for (const ring of this.#shared!.rings) ring.bumpAll();
        return;
    }
    throw new TypeError(`Cannot call '${method}' on a pipe end`);
  }
}

registerReviver("mp.PipeConnection", (s, { rpc }) => {
  const st = s as EndState;
  if (st.rings) {
    const [holders, ...rings] = openMemory([st.holders, ...st.rings]) as SharedMemory[];
    const shared: Shared = {
      side: st.side,
      duplex: st.duplex,
      rings: rings.map((sab) => new Ring(sab)),
      holders: new Holders(holders),
    };
    return PipeConnection.create(shared, st.side);
  }
  if (!rpc) throw new TypeError("Cannot receive a pipe end: no connection to its owner");
  return PipeConnection.remote(rpc, st.id!, st.side, st.duplex);
});

/**
 * Makes a pipe: two connected ends. By default each end sends to and receives from the other;
 * with `duplex: false` the first end only receives and the second only sends. `recv()` on an
 * end rejects with {@link EOFError} once every process holding the other end has closed it or
 * exited, and everything sent was read.
 *
 * Messages pass through shared memory between every process that shares the pipe's memory:
 * where processes may use FFI on Linux, every child that may use FFI too, worker or subprocess,
 * maps it; elsewhere worker children share its `SharedArrayBuffer`s (see the `sync` module). A
 * process that cannot map shared memory (no FFI, or not Linux) reaches its end through its
 * parent, one round trip per call.
 *
 * @typeParam T the messages' type.
 * @param options `duplex` and `bufferSize`.
 * @returns the two ends: `[left, right]`, or `[reader, writer]` for a one-way pipe.
 * @throws {TypeError} when `duplex` is not a boolean or `bufferSize` not an integer.
 * @throws {RangeError} when `bufferSize` is out of range.
 *
 * @example A reader that stops at EOF
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 * import { type Connection, Pipe } from "@mp/multiprocessing/ipc";
 *
 * export async function reader(left: Connection<number>, right: Connection<number>) {
 *   left.close();
 *   for await (const n of right) console.log(n); // ends at EOF
 *   right.close();
 * }
 *
 * if (import.meta.main) {
 *   const [left, right] = Pipe<number>();
 *   const p = new Process({ target: reader, args: [left, right] });
 *   p.start();
 *   right.close();
 *   for (let i = 0; i < 5; i++) await left.send(i);
 *   left.close();
 *   await p.join();
 * }
 * ```
 */
export function Pipe<T = unknown>(options: PipeOptions = {}): [Connection<T>, Connection<T>] {
  const what = "Cannot create pipe";
  const duplex = checkBoolean(options.duplex, what, "duplex") ?? true;
  const size = checkInteger(options.bufferSize, what, "bufferSize", 1, 2 ** 30) ?? DEFAULT_BUFFER;
  const rings = duplex ? [Ring.create(size), Ring.create(size)] : [Ring.create(size)];
  const shared: Shared = { side: 0, duplex, rings, holders: Holders.create() };
  return [
    PipeConnection.create(shared, 0) as Connection<T>,
    PipeConnection.create(shared, 1) as Connection<T>,
  ];
}
