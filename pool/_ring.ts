// A one-way byte pipe in a SharedArrayBuffer between two threads: frames (a 4-byte length and
// the bytes) written into a ring, with Atomics.waitAsync to sleep when there is nothing to do.
// Nothing here spins; only readBlocking() blocks, for a bounded time, in a dedicated pool worker.
// A frame must fit in the ring (the channel sends larger messages another way).

import { copyInRing, copyOutRing } from "../_core/_ring_bytes.ts";

const HEAD = 0; // bytes written so far (wrapping int32), written by the writer only
const TAIL = 1; // bytes read so far (wrapping int32), written by the reader only
const WAITING = 2; // 1 while the writer waits for space
const CLOSED = 3; // 1 once either side closed the ring
const READER_WAITING = 4; // 1 while the reader waits (or may wait) for data
const CONTROL_BYTES = 32;
/**
 * The longest one asynchronous wait lasts before the ring is looked at again: one frame's
 * wake-up is never all that a side counts on (the writer clears the reader's flag as it wakes
 * it, and writes no wake-up for the frames after), so a wake-up not seen costs this long, not
 * the pool.
 */
const RECHECK_MS = 100;

/** Error thrown by a ring operation after `close()`. */
export class RingClosed extends Error {
  constructor() {
    super("The ring is closed");
    this.name = "RingClosed";
  }
}

/** One end (reader or writer) of a ring; both ends are built from the same buffer. */
export class Ring {
  readonly buffer: SharedArrayBuffer;
  #ctrl: Int32Array;
  #data: Uint8Array;
  #mask: number;
  #cap: number;
  #pos: number; // the local copy of HEAD (writer) or TAIL (reader)
  #writing = false;
  #backlog: Uint8Array[] = [];
  #scratch = new Uint8Array(4096);
  #lenBytes = new Uint8Array(4);
  #lenView = new DataView(this.#lenBytes.buffer);

  /**
   * @param buffer a buffer from {@link Ring.allocate}.
   * @param side which end this object is.
   */
  constructor(buffer: SharedArrayBuffer, side: "reader" | "writer") {
    this.buffer = buffer;
    this.#ctrl = new Int32Array(buffer, 0, 5);
    this.#cap = buffer.byteLength - CONTROL_BYTES;
    this.#mask = this.#cap - 1;
    this.#data = new Uint8Array(buffer, CONTROL_BYTES, this.#cap);
    this.#pos = Atomics.load(this.#ctrl, side === "writer" ? HEAD : TAIL);
  }

  /** A buffer for a ring of `capacity` bytes (a power of two). */
  static allocate(capacity: number): SharedArrayBuffer {
    if (capacity & (capacity - 1)) throw new RangeError("Ring capacity must be a power of two");
    return new SharedArrayBuffer(CONTROL_BYTES + capacity);
  }

  /** Whether written frames wait for space (the event loop must run to write them). */
  get backlogged(): boolean {
    return this.#backlog.length > 0;
  }

  /** Whether either side closed the ring. */
  get closed(): boolean {
    return Atomics.load(this.#ctrl, CLOSED) === 1;
  }

  /** Closes the ring and wakes every waiter on both sides. */
  close(): void {
    Atomics.store(this.#ctrl, CLOSED, 1);
    Atomics.notify(this.#ctrl, HEAD);
    Atomics.notify(this.#ctrl, TAIL);
  }

  // --- writer ---

  /**
   * Queues one frame; written at once when it fits, in order after earlier frames. The frame
   * may be reused by the caller once this returns.
   *
   * @throws {RangeError} when the frame is larger than the ring.
   */
  write(frame: Uint8Array): void {
    if (4 + frame.length > this.#cap) {
      throw new RangeError(`A frame of ${frame.length} bytes does not fit a ring of ${this.#cap}`);
    }
    if (this.closed) return;
    if (!this.#writing && this.#tryWrite(frame)) return;
    this.#backlog.push(frame.slice());
    if (!this.#writing) this.#drain();
  }

  /**
   * Wakes a waiting reader. The flag is taken back here, so the frames written in the same burst
   * (before the reader runs again) each cost a load, not a futex wake of their own.
   */
  #wakeReader(): void {
    if (Atomics.compareExchange(this.#ctrl, READER_WAITING, 1, 0) === 1) {
      Atomics.notify(this.#ctrl, HEAD);
    }
  }

  #tryWrite(frame: Uint8Array): boolean {
    const used = (this.#pos - Atomics.load(this.#ctrl, TAIL)) | 0;
    if (this.#cap - used < 4 + frame.length) return false;
    this.#lenView.setUint32(0, frame.length, true);
    this.#put(this.#lenBytes);
    this.#put(frame);
    Atomics.store(this.#ctrl, HEAD, this.#pos);
    this.#wakeReader();
    return true;
  }

  #put(bytes: Uint8Array): void {
    copyInRing(this.#data, this.#pos, bytes);
    this.#pos = (this.#pos + bytes.length) | 0;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#backlog.length > 0) {
        const frame = this.#backlog[0];
        if (this.#tryWrite(frame)) {
          this.#backlog.shift();
          continue;
        }
        await this.#waitForSpace(4 + frame.length);
      }
    } catch {
      this.#backlog = []; // closed
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Waits until the reader may have made room for `need` bytes. WAITING is announced first and
   * the space looked at again after it, as the reader's {@link Ring.waitReadable} does: the
   * reader may have taken every frame between the failed write and the announcement, seeing no
   * writer waiting, and then TAIL never moves again (a writer asleep on an empty ring).
   */
  async #waitForSpace(need: number): Promise<void> {
    Atomics.store(this.#ctrl, WAITING, 1);
    const tail = Atomics.load(this.#ctrl, TAIL);
    if (this.closed) throw new RingClosed();
    if (this.#cap - ((this.#pos - tail) | 0) >= need) {
      Atomics.store(this.#ctrl, WAITING, 0);
      return; // room was made meanwhile
    }
    const r = Atomics.waitAsync(this.#ctrl, TAIL, tail, RECHECK_MS);
    if (r.async) await r.value;
    Atomics.store(this.#ctrl, WAITING, 0);
    if (this.closed) throw new RingClosed();
  }

  // --- reader ---

  /**
   * The next whole frame if one is there, without waiting: a view of a buffer that the next
   * read reuses.
   */
  tryRead(): Uint8Array | undefined {
    const avail = (Atomics.load(this.#ctrl, HEAD) - this.#pos) | 0;
    if (avail < 4) return undefined;
    const len = this.#peekLength();
    if (avail < 4 + len) return undefined;
    this.#pos = (this.#pos + 4) | 0;
    if (this.#scratch.length < len) {
      this.#scratch = new Uint8Array(Math.max(len, 2 * this.#scratch.length));
    }
    return this.#take(len, this.#scratch).subarray(0, len);
  }

  /**
   * The next whole frame (a view, as from {@link Ring.tryRead}), blocking this thread with
   * Atomics.wait for at most `ms` milliseconds.
   * Only for a dedicated worker thread between tasks; the bound keeps termination and the
   * thread's event loop from waiting on it for long.
   */
  readBlocking(ms: number): Uint8Array | undefined {
    const deadline = performance.now() + ms;
    for (;;) {
      const frame = this.tryRead();
      if (frame) return frame;
      const left = deadline - performance.now();
      if (left <= 0 || this.closed) return undefined;
      const head = this.#announce();
      if (head === undefined) continue;
      Atomics.wait(this.#ctrl, HEAD, head, left);
      Atomics.store(this.#ctrl, READER_WAITING, 0);
    }
  }

  /**
   * Tells the writer that this reader is about to wait; returns the HEAD to wait on, or
   * undefined when a frame arrived meanwhile.
   */
  #announce(): number | undefined {
    Atomics.store(this.#ctrl, READER_WAITING, 1);
    const head = Atomics.load(this.#ctrl, HEAD);
    if (((head - this.#pos) | 0) >= 4 && this.hasFrame()) {
      Atomics.store(this.#ctrl, READER_WAITING, 0);
      return undefined;
    }
    return head;
  }

  /** Whether a whole frame is there to read. */
  hasFrame(): boolean {
    const avail = (Atomics.load(this.#ctrl, HEAD) - this.#pos) | 0;
    return avail >= 4 && avail >= 4 + this.#peekLength();
  }

  /**
   * Waits (without blocking) until a whole frame may be there.
   *
   * @throws {RingClosed} once the ring is closed and drained.
   */
  async waitReadable(): Promise<void> {
    for (;;) {
      if (this.hasFrame()) return;
      if (this.closed) throw new RingClosed();
      const head = this.#announce();
      if (head === undefined) return;
      const r = Atomics.waitAsync(this.#ctrl, HEAD, head, RECHECK_MS);
      if (r.async) await r.value;
      Atomics.store(this.#ctrl, READER_WAITING, 0);
    }
  }

  #peekLength(): number {
    const at = this.#pos & this.#mask;
    for (let i = 0; i < 4; i++) this.#lenBytes[i] = this.#data[(at + i) & this.#mask];
    return this.#lenView.getUint32(0, true);
  }

  #take(len: number, into: Uint8Array): Uint8Array {
    copyOutRing(this.#data, this.#pos, into.subarray(0, len));
    this.#pos = (this.#pos + len) | 0;
    Atomics.store(this.#ctrl, TAIL, this.#pos);
    if (Atomics.load(this.#ctrl, WAITING) === 1) Atomics.notify(this.#ctrl, TAIL);
    return into;
  }

  /**
   * The next frame, waiting for it (a view that the next read may reuse).
   *
   * @throws {RingClosed} once the ring is closed and drained.
   */
  async read(): Promise<Uint8Array> {
    for (;;) {
      const frame = this.tryRead();
      if (frame) return frame;
      if (this.closed) throw new RingClosed();
      await this.waitReadable();
    }
  }
}
