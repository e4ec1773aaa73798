// The message transports between a parent and a child: MessagePorts for workers, and
// length-prefixed frames over a Unix socket for subprocesses: plain data as a tree (./_tree.ts,
// a small fraction of the cost), anything else in structured clone's bytes (./_clone.ts).

import { cloneFromBytes, cloneToBytes } from "./_clone.ts";
import { readTree, TreeWriter } from "./_tree.ts";
import { clearTimer, setTimer, unrefTimer } from "./_timers.ts";

const TREE = 0;
const V8 = 1;

/** A two-way message connection to one other process. */
export interface Link {
  /** Sends a message; `transfer` lists MessagePorts to move along (workers only). */
  post(msg: unknown, transfer?: Transferable[]): void;
  /** Called with each message received. */
  onmessage: ((msg: { t?: unknown }) => void) | undefined;
  /** Called once when the other side is gone. */
  onclose: (() => void) | undefined;
  /** Lets the program end while this link is still open. */
  unref(): void;
  /** Closes the link. */
  close(): void;
  /** Resolves once what was posted is written out; undefined when it already is. */
  written?(): Promise<void> | undefined;
}

/**
 * Posts `msg` on `port`, moving `transfer` along. An empty transfer list is not passed: Deno
 * loads its web streams code (to tell a stream among the transferables) at the first
 * `postMessage` of an isolate that is given one, even empty: 3-4 ms measured, which a worker
 * child paid at its exit message.
 */
export function postOn(port: MessagePort, msg: unknown, transfer: Transferable[] = []): void {
  if (transfer.length > 0) port.postMessage(msg, transfer);
  else port.postMessage(msg);
}

/** Lets the program end while `port` waits for messages (Deno's MessagePort has `unref`). */
export function unrefPort(port: MessagePort): void {
  (port as MessagePort & { unref(): void }).unref();
}

/** A link over a MessagePort (a worker child's channel to its parent). */
export class PortLink implements Link {
  onmessage: ((msg: { t?: unknown }) => void) | undefined;
  onclose: (() => void) | undefined;
  #port: MessagePort;
  #closed = false;
  #receiving: Promise<void> | undefined;

  /** @param port the link's end of the channel. */
  constructor(port: MessagePort) {
    this.#port = port;
    port.onmessage = (e) => this.onmessage?.(e.data as { t?: unknown });
  }

  post(msg: unknown, transfer?: Transferable[]): void {
    if (!this.#closed) postOn(this.#port, msg, transfer);
  }

  unref(): void {
    unrefPort(this.#port);
  }

  /** Marks the link gone, as when the worker behind it exited. */
  gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }

  close(): void {
    this.#receiving = pendingReceive(this.#port)?.then(() => {}, () => {});
    this.#port.close();
    this.gone();
  }

  /**
   * Resolves once the port's receive, pending when {@link close} was called, has ended. Deno
   * ends it a little after `close()` (0.1-0.3 ms measured, some ms on a loaded machine): a
   * join that settled before would leave it running, for the test sanitizers to see. Should a
   * Deno never end it, this resolves after CLOSE_WAIT_MS all the same.
   */
  closed(): Promise<void> {
    const receiving = this.#receiving;
    if (!receiving) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = unrefTimer(setTimer(resolve, CLOSE_WAIT_MS));
      receiving.then(() => {
        clearTimer(timer);
        resolve();
      });
    });
  }
}

/** The longest {@link PortLink.closed} waits for the port's receive to end. */
const CLOSE_WAIT_MS = 100;

/** The receive that Deno's MessagePort has pending (a symbol-keyed field), where it has one. */
function pendingReceive(port: MessagePort): Promise<unknown> | undefined {
  for (const key of Object.getOwnPropertySymbols(port)) {
    if (key.description !== "dataPromise") continue;
    const value = (port as unknown as Record<symbol, unknown>)[key];
    return value instanceof Promise ? value : undefined;
  }
  return undefined;
}

/** Options of a {@link SocketLink}. */
export interface SocketLinkOptions {
  /**
   * The longest frame (tag byte and encoded message) accepted from the other side: a frame
   * header that claims more ends the link at once, with {@link SocketLink.refused} set.
   * @default {Infinity}
   */
  maxFrame?: number;
}

/** Why a {@link SocketLink} stopped reading: a frame longer than its `maxFrame`. */
export interface RefusedFrame {
  /** The length the frame's header claimed. */
  size: number;
  /** The link's `maxFrame`. */
  limit: number;
}

/** Bytes a link's read buffer starts with, and grows by at least. */
const READ_CHUNK = 64 * 1024;

/**
 * A link over a Unix socket: each message a 4-byte length, a tag byte and the message. The read
 * buffer grows with the bytes that actually arrive (doubling, up to the frame being read), never
 * to the length a header merely claims.
 */
export class SocketLink implements Link {
  onmessage: ((msg: { t?: unknown }) => void) | undefined;
  onclose: (() => void) | undefined;
  #conn: Deno.Conn;
  #queue: Uint8Array[] = [];
  #writing = false;
  #written: PromiseWithResolvers<void> | undefined;
  #closed = false;
  /** The other side stopped reading: nothing more is written, but what it sent is still read. */
  #unwritable = false;
  #writer = new TreeWriter();
  #ended: PromiseWithResolvers<void> = Promise.withResolvers();
  #maxFrame: number;
  #refused: RefusedFrame | undefined;

  /** Resolves when the other side has closed and every message before that was delivered. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  /** Set when the link ended because the other side sent a frame longer than `maxFrame`. */
  get refused(): RefusedFrame | undefined {
    return this.#refused;
  }

  /**
   * @param conn a connected socket; reading starts at once.
   * @param options the longest frame accepted.
   */
  constructor(conn: Deno.Conn, options: SocketLinkOptions = {}) {
    this.#conn = conn;
    this.#maxFrame = options.maxFrame ?? Infinity;
    this.#read();
  }

  post(msg: unknown): void {
    if (this.#closed || this.#unwritable) return;
    const w = this.#writer;
    w.at = 5;
    w.room(5);
    let frame: Uint8Array;
    if (w.put(msg)) {
      w.bytes[4] = TREE;
      frame = w.written.slice();
    } else {
      const body = cloneToBytes(msg);
      frame = new Uint8Array(5 + body.length);
      frame[4] = V8;
      frame.set(body, 5);
    }
    new DataView(frame.buffer).setUint32(0, frame.length - 4, true);
    this.#queue.push(frame);
    if (!this.#writing) this.#flush();
  }

  written(): Promise<void> | undefined {
    if (!this.#writing) return undefined;
    return (this.#written ??= Promise.withResolvers()).promise;
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed && !this.#unwritable) {
        const frames = this.#queue;
        this.#queue = [];
        let buf = frames[0];
        if (frames.length > 1) {
          buf = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
          let at = 0;
          for (const f of frames) {
            buf.set(f, at);
            at += f.length;
          }
        }
        for (let at = 0; at < buf.length;) at += await this.#conn.write(buf.subarray(at));
      }
    } catch {
      // The other side is gone or closed its end; its last messages may still wait to be read,
      // so the link ends when reading does, not here.
      this.#unwritable = true;
      this.#queue = [];
    } finally {
      this.#writing = false;
      this.#written?.resolve();
      this.#written = undefined;
    }
  }

  async #read(): Promise<void> {
    let buf = new Uint8Array(READ_CHUNK);
    let len = 0;
    // The whole length of the frame at the start of `buf`, once its header has arrived.
    let want = 0;
    try {
      for (;;) {
        if (len === buf.length) {
          const bigger = new Uint8Array(Math.max(Math.min(buf.length * 2, want), len + READ_CHUNK));
          bigger.set(buf);
          buf = bigger;
        }
        const n = await this.#conn.read(buf.subarray(len));
        if (n === null) break;
        len += n;
        let at = 0;
        want = 0;
        while (len - at >= 4) {
          const size = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0, true);
          if (size > this.#maxFrame) {
            this.#refused = { size, limit: this.#maxFrame };
            break;
          }
          if (len - at - 4 < size) {
            want = size + 4;
            break;
          }
          const body = buf.subarray(at + 5, at + 4 + size);
          const msg = (buf[at + 4] === TREE ? readTree(body) : cloneFromBytes(body)) as {
            t?: unknown;
          };
          at += 4 + size;
          this.onmessage?.(msg);
        }
        if (this.#refused) break;
        if (at > 0) {
          buf.copyWithin(0, at, len);
          len -= at;
        }
      }
    } catch {
      // a reset connection ends the link like an orderly close
    }
    this.#end();
  }

  #end(): void {
    this.#ended.resolve();
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.onclose?.();
  }

  unref(): void {
    this.#conn.unref();
  }

  close(): void {
    this.#end();
  }
}
