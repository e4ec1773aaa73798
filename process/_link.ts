// The message transports between a parent and a child: MessagePort-like objects for workers,
// and length-prefixed frames over a Unix socket for subprocesses: plain data as a tree
// (./_tree.ts, a small fraction of the cost), anything else in structured clone's bytes (./_clone.ts).

import { cloneFromBytes, cloneToBytes } from "./_clone.ts";
import { readTree, TreeWriter } from "./_tree.ts";

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

/** What {@link PortLink} needs of a MessagePort-like object. */
export interface PortLike {
  post(msg: unknown, transfer: Transferable[]): void;
  listen(fn: (msg: unknown) => void): void;
  unref?(): void;
  close?(): void;
}

/** A link over a Worker, a worker's own scope, or a `node:worker_threads` port. */
export class PortLink implements Link {
  onmessage: ((msg: { t?: unknown }) => void) | undefined;
  onclose: (() => void) | undefined;
  #port: PortLike;
  #closed = false;

  /** @param port the underlying object. */
  constructor(port: PortLike) {
    this.#port = port;
    port.listen((m) => this.onmessage?.(m as { t?: unknown }));
  }

  post(msg: unknown, transfer: Transferable[] = []): void {
    if (!this.#closed) this.#port.post(msg, transfer);
  }

  unref(): void {
    this.#port.unref?.();
  }

  /** Marks the link gone, as when the worker behind it exited. */
  gone(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onclose?.();
  }

  close(): void {
    this.#port.close?.();
    this.gone();
  }
}

/** A link over a Unix socket: each message a 4-byte length, a tag byte and the message. */
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

  /** Resolves when the other side has closed and every message before that was delivered. */
  get ended(): Promise<void> {
    return this.#ended.promise;
  }

  /** @param conn a connected socket; reading starts at once. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
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
    let buf = new Uint8Array(64 * 1024);
    let len = 0;
    try {
      for (;;) {
        if (len === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf);
          buf = bigger;
        }
        const n = await this.#conn.read(buf.subarray(len));
        if (n === null) break;
        len += n;
        let at = 0;
        while (len - at >= 4) {
          const size = new DataView(buf.buffer, buf.byteOffset + at, 4).getUint32(0, true);
          if (len - at - 4 < size) {
            if (size + 4 > buf.length) {
              const bigger = new Uint8Array(size + 4);
              bigger.set(buf.subarray(at, len));
              buf = bigger;
              len -= at;
              at = 0;
            }
            break;
          }
          const body = buf.subarray(at + 5, at + 4 + size);
          const msg = (buf[at + 4] === TREE ? readTree(body) : cloneFromBytes(body)) as {
            t?: unknown;
          };
          at += 4 + size;
          this.onmessage?.(msg);
        }
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
