// A `Connection` over an authenticated socket (what `Listener.accept()` and `Client()` return):
// the subprocess SocketLink framing, one frame per value (`send`) or byte string (`sendBytes`).

import { checkTimeout } from "../_core/_check.ts";
import { type RefusedFrame, SocketLink } from "../_core/_link.ts";
import { decode, encode, type ReduceContext } from "../_core/_reduce.ts";
import { type Connection, EOFError, type RecvOptions } from "./connection.ts";
import { clearTimer, setTimer, type Timer } from "../_core/_timers.ts";

type Wire = { t: "v"; v: unknown } | { t: "b"; b: Uint8Array };

/**
 * How values are encoded for a process that is not this one's child: plain values and handles
 * that carry their own way home (manager proxies); a handle that needs its owner's help to be
 * reached (a Lock, a Pipe end) is refused.
 */
export const STANDALONE: ReduceContext = {
  sameProcess: false,
  maps: false,
  transfer: [],
  share(): never {
    throw new TypeError(
      "Cannot send this handle over a socket: it reaches only a child through Process args; " +
        "use a manager proxy instead",
    );
  },
};

/** Waits for `wake` to be called, until `deadline` (ms since the epoch) or `signal`. */
function waitWake(
  wakers: Set<() => void>,
  deadline: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    let timer: Timer | undefined;
    const done = () => {
      wakers.delete(wake);
      clearTimer(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    const wake = () => {
      done();
      resolve();
    };
    const onAbort = () => {
      done();
      reject(signal!.reason);
    };
    if (deadline !== Infinity) {
      timer = setTimer(() => {
        done();
        reject(new DOMException("Timed out waiting for a message", "TimeoutError"));
      }, Math.max(0, deadline - Date.now()));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    wakers.add(wake);
  });
}

function deadlineOf(timeout: number | undefined, what: string): number {
  if (checkTimeout(timeout, `Cannot ${what}`) === undefined || timeout === Infinity) {
    return Infinity;
  }
  return Date.now() + timeout!;
}

/** The error of every call on a connection that refused a message longer than its limit. */
function tooLong(what: string, refused: RefusedFrame): RangeError {
  return new RangeError(
    `Cannot ${what}: the other side sent a message of ${refused.size - 1} bytes, more than ` +
      `this side's maxMessageSize (${refused.limit - 1} bytes), so the connection was closed; ` +
      "pass a larger maxMessageSize to the Listener or Client to accept such messages",
  );
}

/** One end of a socket channel. */
export class SocketConnection<T = unknown> implements Connection<T> {
  #link: SocketLink;
  #inbox: Wire[] = [];
  #wakers = new Set<() => void>();
  #eof = false;
  #closed = false;

  /**
   * @param conn an authenticated connection; reading starts at once.
   * @param maxMessageSize the longest encoded message accepted from the other side, in bytes.
   */
  constructor(conn: Deno.Conn, maxMessageSize: number) {
    // A frame is a tag byte and the encoded message.
    this.#link = new SocketLink(conn, { maxFrame: maxMessageSize + 1 });
    this.#link.onmessage = (msg) => {
      this.#inbox.push(msg as Wire);
      this.#wake();
    };
    this.#link.onclose = () => {
      this.#eof = true;
      this.#wake();
    };
  }

  #wake(): void {
    for (const w of [...this.#wakers]) w();
  }

  #post(msg: Wire, what: string): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new TypeError(`Cannot ${what}: the connection is closed`));
    }
    if (this.#eof) {
      const refused = this.#link.refused;
      return Promise.reject(
        refused
          ? tooLong(what, refused)
          : new EOFError(`Cannot ${what}: the other end of the connection is closed`),
      );
    }
    this.#link.post(msg);
    // Resolves once written to the socket, as Python's send() returns: a process may then close
    // the connection or exit without losing what it sent last.
    return this.#link.written() ?? Promise.resolve();
  }

  send(value: T): Promise<void> {
    let v: unknown;
    try {
      v = encode(value, STANDALONE, "value");
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#post({ t: "v", v }, "send");
  }

  sendBytes(bytes: Uint8Array): Promise<void> {
    if (!(bytes instanceof Uint8Array)) {
      return Promise.reject(new TypeError("Cannot sendBytes: expected a Uint8Array"));
    }
    return this.#post({ t: "b", b: bytes }, "sendBytes");
  }

  async #next(options: RecvOptions, what: string): Promise<Wire> {
    const deadline = deadlineOf(options.timeout, what);
    for (;;) {
      if (this.#closed) throw new TypeError(`Cannot ${what}: the connection is closed`);
      const msg = this.#inbox.shift();
      if (msg) return msg;
      if (this.#eof) {
        const refused = this.#link.refused;
        throw refused ? tooLong(what, refused) : new EOFError();
      }
      await waitWake(this.#wakers, deadline, options.signal);
    }
  }

  async recv(options: RecvOptions = {}): Promise<T> {
    const msg = await this.#next(options, "recv");
    return (msg.t === "b" ? msg.b : decode(msg.v, { rpc: undefined })) as T;
  }

  async recvBytes(options: RecvOptions = {}): Promise<Uint8Array> {
    const msg = await this.#next(options, "recvBytes");
    if (msg.t !== "b") {
      throw new TypeError("Cannot recvBytes: the message was sent with send(); use recv()");
    }
    return msg.b;
  }

  async poll(timeout = 0): Promise<boolean> {
    const deadline = deadlineOf(timeout, "poll");
    for (;;) {
      if (this.#closed) throw new TypeError("Cannot poll: the connection is closed");
      if (this.#inbox.length > 0 || this.#eof) return true;
      if (Date.now() >= deadline) return false;
      try {
        await waitWake(this.#wakers, deadline, undefined);
      } catch {
        return this.#inbox.length > 0 || this.#eof;
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      try {
        yield await this.recv();
      } catch (e) {
        if (e instanceof EOFError) return;
        throw e;
      }
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#inbox = [];
    this.#link.close();
    this.#wake();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
