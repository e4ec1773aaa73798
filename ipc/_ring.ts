// The shared byte ring under Queue and Pipe, in every process that shares or maps its memory:
// records of (length, kind, tag) and payload in a SharedMemory (./_ring_memory.ts), one writer
// and one reader at a time, each for one short synchronous step under a lock word that holds its
// ident (./_ring_lock.ts), item and unfinished-task counters, and one sequence word per side
// that every change bumps and every waiter sleeps on. Records larger than the ring stream through
// it in pieces (./_ring_stream.ts).
//
// A record is published by moving TAIL past it once its bytes are in, and consumed by moving
// HEAD past it: a reader never sees half a record. A queue's ring grows (doubling, under both
// locks, up to its largest size) rather than make a writer wait for room, so a put() never waits
// for a reader unless that much is already waiting; a pipe's ring keeps its size. A process
// marked dead (a worker told to stop, whose thread may run on for a while) neither writes nor
// takes anything more: each step checks, under its lock, that its own ident is still alive.

import type { SharedMemory } from "../_core/_shm.ts";
import { identAlive, state } from "../_core/_state.ts";
import { decodeItem, type Encoded, Kind } from "../_core/_codec.ts";
import { RingLock } from "./_ring_lock.ts";
import {
  GETS,
  HEAD,
  markOneDone,
  PUTS,
  R_LOCK,
  R_STREAM,
  REC,
  RETRY,
  type Retry,
  RingMemory,
  type Side,
  STREAM_START,
  TAIL,
  UNFINISHED,
  UNFINISHED_SEQ,
  W_LOCK,
  W_STREAM,
} from "./_ring_memory.ts";
import { LOST, RingStreams, StreamStart } from "./_ring_stream.ts";
import { sleep, type WaitLimits } from "./_wait.ts";

export { RETRY, StreamStart };
export type { Side };

/** Raw bytes read from a pipe (sent with `sendBytes`), handed over as they are. */
export class RawBytes {
  /** @param bytes the bytes, a fresh copy. */
  constructor(readonly bytes: Uint8Array) {}
}

let readScratch = new Uint8Array(4096);
/** Milliseconds {@link Ring.writeNow} retries while a lock is held by another process's step. */
const BUSY_MS = 20;

/** A byte ring in shared memory; every process that shares or maps it sees the same one. */
export class Ring {
  readonly sab: SharedMemory;
  readonly #mem: RingMemory;
  readonly #i32: Int32Array;
  readonly #w: RingLock;
  readonly #r: RingLock;
  readonly #streams: RingStreams;
  readonly #table: Int32Array;
  readonly #me: number;
  // What this process last saw of the other side's words; they only grow, so a stale value
  // only underestimates what is there, and is reloaded before anything is refused.
  #tail = 0;
  #head = 0;
  #gets = 0;
  /** Whether the last tryWrite failed only because a lock was held by another process. */
  #busy = false;

  /** @param sab the memory of a ring made by {@link Ring.create}. */
  constructor(sab: SharedMemory) {
    this.sab = sab;
    const mem = this.#mem = new RingMemory(sab);
    const i32 = this.#i32 = mem.i32;
    const table = this.#table = state().table;
    const me = this.#me = state().self.ident;
    this.#w = new RingLock(i32, W_LOCK, me, table);
    this.#r = new RingLock(i32, R_LOCK, me, table);
    this.#streams = new RingStreams(mem, this.#w, this.#r, table, me);
    this.#tail = Atomics.load(i32, TAIL);
    this.#head = Atomics.load(i32, HEAD);
    this.#gets = Atomics.load(i32, GETS);
  }

  /**
   * Makes a ring holding at least `bytes` bytes, which grows up to `maxBytes` as needed.
   *
   * @throws {RangeError} when a size is out of range.
   */
  static create(bytes: number, maxBytes: number = bytes): Ring {
    return new Ring(RingMemory.create(bytes, maxBytes).sab);
  }

  /** Bytes published and not yet read. */
  used(): number {
    return this.#mem.used();
  }

  /** Items in the ring (counting one being written or read in pieces). */
  count(): number {
    const gets = Atomics.load(this.#i32, GETS);
    return Math.max(0, (Atomics.load(this.#i32, PUTS) - gets) | 0);
  }

  /** Items put and not yet marked done. */
  unfinished(): number {
    return Atomics.load(this.#i32, UNFINISHED);
  }

  /** Wakes the readers (`"r"`) or the writers (`"w"`): something changed for them. */
  bump(side: Side): void {
    this.#mem.bump(side);
  }

  /** Wakes everyone. */
  bumpAll(): void {
    this.#mem.bump("r");
    this.#mem.bump("w");
  }

  /**
   * Calls `attempt` until it returns something else than {@link RETRY}, sleeping between tries
   * until the ring changes.
   *
   * @returns what `attempt` returned, or RETRY once the deadline has passed.
   */
  until<R>(side: Side, attempt: () => R | Retry, limits: WaitLimits): Promise<R | Retry> {
    return this.#mem.until(side, attempt, limits);
  }

  /**
   * One try at writing a record without waiting.
   *
   * @returns true when written; RETRY when the ring or the count is full, the write lock is
   * busy, or another stream is under way; a stream's token when the record is larger than the
   * ring can ever be: its start is published, and the caller sends the rest with
   * {@link Ring.streamOut}.
   */
  tryWrite(enc: Encoded, maxsize: number, joinable: boolean): true | Retry | number {
    const mem = this.#mem, i32 = this.#i32;
    this.#busy = true;
    if (!this.#w.take()) return RETRY;
    this.#busy = false;
    mem.sync();
    if (!identAlive(this.#table, this.#me)) return this.#wUnlock(RETRY); // dead: write nothing
    if (Atomics.load(i32, W_STREAM) !== 0 && !this.#streams.clearDead()) {
      return this.#wUnlock(RETRY); // a live writer's stream: the ring is its until it ends
    }
    const puts = Atomics.load(i32, PUTS);
    if (maxsize > 0 && ((puts - this.#gets) | 0) >= maxsize) {
      // The readers' count, cached so that their cache line is not pulled over at every put.
      this.#gets = Atomics.load(i32, GETS);
      if (((puts - this.#gets) | 0) >= maxsize) return this.#wUnlock(RETRY);
    }
    const len = enc.bytes.length;
    const size = REC + len;
    const big = size > mem.maxCap;
    const need = big ? REC : size;
    const tail = Atomics.load(i32, TAIL);
    if (mem.cap - ((tail - this.#head) | 0) < need) {
      this.#head = Atomics.load(i32, HEAD);
      if (mem.cap - ((tail - this.#head) | 0) < need && !this.#grow(need)) {
        return this.#wUnlock(RETRY);
      }
    }
    if (big) {
      const token = this.#streams.start(tail, len, enc.kind, joinable);
      this.#w.release();
      mem.bump("r");
      return token;
    }
    mem.writeHeader(tail, len, enc.kind, this.#me);
    mem.copyIn(tail + REC, enc.bytes);
    // Published in one run of Atomics calls, with no function call in between: a worker told to
    // stop ends at a function's entry or a loop's back edge, so it publishes all or nothing.
    Atomics.store(i32, PUTS, (puts + 1) | 0);
    if (joinable) Atomics.add(i32, UNFINISHED, 1);
    Atomics.store(i32, TAIL, (tail + size) | 0);
    this.#w.release();
    mem.bump("r");
    mem.bump("w");
    return true;
  }

  /** Under the write lock: grows the ring so that `need` bytes fit, if it may and can. */
  #grow(need: number): boolean {
    const mem = this.#mem;
    if (mem.cap === mem.maxCap || need > mem.maxCap) return false;
    if (!this.#r.take()) { // a reader is copying out: the ring cannot move now
      this.#busy = true;
      return false;
    }
    const grown = mem.grow(need);
    this.#r.release();
    return grown;
  }

  /**
   * {@link Ring.tryWrite} for a caller that cannot wait (`putNowait()`): retried for a moment
   * while, and only while, a lock held by another process for one of its short steps is in the
   * way.
   */
  writeNow(enc: Encoded, maxsize: number, joinable: boolean): true | Retry | number {
    const end = performance.now() + BUSY_MS;
    for (;;) {
      const r = this.tryWrite(enc, maxsize, joinable);
      if (r !== RETRY || !this.#busy || performance.now() > end) return r;
    }
  }

  #wUnlock(r: Retry): Retry {
    this.#w.release();
    return r;
  }

  #rUnlock(r: Retry): Retry {
    this.#r.release();
    return r;
  }

  /**
   * Sends the rest of a stream started by {@link Ring.tryWrite}, waiting for room as readers
   * take it.
   *
   * @returns true once all is sent; false when the stream was cut, this process having been
   * taken for dead.
   */
  async streamOut(token: number, bytes: Uint8Array): Promise<boolean> {
    const forever: WaitLimits = { deadline: Infinity };
    for (let at = 0; at < bytes.length;) {
      const r = await this.until("w", () => this.#streams.writePiece(token, bytes, at), forever);
      if (r === LOST) return false;
      at = r as number;
    }
    return true;
  }

  /**
   * One try at reading a record without waiting.
   *
   * @param big whether a record larger than the ring may be taken: the caller then reads it
   * with {@link Ring.streamIn}.
   * @returns the item; RETRY when there is none (or another reader is busy); a
   * {@link StreamStart} for a record larger than the ring; {@link RawBytes} for raw bytes.
   */
  tryRead(big: boolean): unknown {
    const mem = this.#mem, i32 = this.#i32;
    let head = Atomics.load(i32, HEAD);
    if (((this.#tail - head) | 0) < REC) {
      // The writers' tail, cached so that their cache line is not pulled over at every get.
      this.#tail = Atomics.load(i32, TAIL);
      if (((this.#tail - head) | 0) < REC) return RETRY;
    }
    if (!this.#r.take()) return RETRY;
    mem.sync();
    if (!identAlive(this.#table, this.#me)) return this.#rUnlock(RETRY); // dead: take nothing
    if (Atomics.load(i32, R_STREAM) !== 0 && !this.#streams.clearStale()) {
      return this.#rUnlock(RETRY); // another reader's stream, or one being skipped
    }
    let len: number, kind: number;
    for (;;) {
      head = Atomics.load(i32, HEAD);
      if (((this.#tail - head) | 0) < REC) {
        this.#tail = Atomics.load(i32, TAIL);
        if (((this.#tail - head) | 0) < REC) return this.#rUnlock(RETRY);
      }
      len = mem.getU32(head);
      kind = mem.getU32(head + 4);
      if ((kind & STREAM_START) === 0) break;
      if (!big) return this.#rUnlock(RETRY);
      const r = this.#streams.takeOrSkip(head, len, kind, mem.getU32(head + 8));
      if (r === false) return this.#rUnlock(RETRY); // skipping a cut stream that has more
      if (r !== true) {
        this.#r.release();
        mem.bump("w");
        return r;
      }
    }
    const gets = Atomics.load(i32, GETS);
    let value: unknown;
    const at = head + REC;
    const p = at & mem.mask;
    if (kind === Kind.NUM && p + 8 <= mem.cap) {
      value = mem.view.getFloat64(p, true);
    } else {
      const keep = kind === Kind.V8 || kind === Kind.U8 || kind === Kind.BYTES;
      let out: Uint8Array;
      if (keep) {
        out = new Uint8Array(len);
      } else {
        if (readScratch.length < len) {
          readScratch = new Uint8Array(Math.max(len, readScratch.length * 2));
        }
        out = readScratch.subarray(0, len);
      }
      mem.copyOut(at, out);
      value = kind === Kind.BYTES ? new RawBytes(out) : { kind, out, keep };
    }
    Atomics.store(i32, HEAD, (at + len) | 0);
    Atomics.store(i32, GETS, (gets + 1) | 0);
    this.#r.release();
    mem.bump("w");
    mem.bump("r");
    if (value instanceof RawBytes || typeof value !== "object") return value;
    const { out, keep } = value as { kind: number; out: Uint8Array; keep: boolean };
    return decodeItem(kind, out, keep);
  }

  /**
   * Reads the rest of a stream taken by {@link Ring.tryRead}.
   *
   * @returns the item's bytes, or undefined when its writer died before sending it all (the
   * item is then given up, and its unfinished mark with it).
   */
  async streamIn(start: StreamStart): Promise<Uint8Array | undefined> {
    const dest = new Uint8Array(start.length);
    const forever: WaitLimits = { deadline: Infinity };
    for (let at = 0; at < dest.length;) {
      const r = await this.until(
        "r",
        () => this.#streams.readPiece(start.token, dest, at),
        forever,
      );
      if (r === LOST) return undefined;
      at = r as number;
    }
    return dest;
  }

  /**
   * Marks one task done.
   *
   * @throws {RangeError} when more tasks are marked done than were put.
   */
  taskDone(): void {
    if (!markOneDone(this.#i32)) {
      throw new RangeError("Cannot mark a task done: taskDone() called more times than items put");
    }
  }

  /** Waits until every item put has been marked done; false on timeout. */
  async joined(limits: WaitLimits): Promise<boolean> {
    const i32 = this.#i32;
    for (;;) {
      const seq = Atomics.load(i32, UNFINISHED_SEQ);
      if (Atomics.load(i32, UNFINISHED) <= 0) return true;
      if (!await sleep(i32, UNFINISHED_SEQ, seq, limits)) return false;
    }
  }
}
