// Records larger than a shared ring (./_ring.ts) stream through it: a start record, then pieces,
// each a record of its own, all tagged with the stream's token. This file is the protocol that
// keeps a writer's (or a reader's) death from leaving a partial or phantom item, a wrong count or
// a stalled join(), even when the dead process's thread runs on for a while after it was marked
// dead (a worker is marked dead when it is told to stop, and may run on after that).
//
// The stream's lease. W_STREAM holds `token << 2 | COUNTED | TAKEN` while a stream is under way
// (W_STREAMER: its writer). Writers take the write lock for one short, synchronous step at a time
// (the start record, then each piece) and never hold it across a wait; at each step they check,
// under the lock, that W_STREAM still holds their token and that they are still alive. A stream
// whose writer is dead is *cut* by whoever finds it so (a reader waiting for its next piece, or
// a writer wanting to write): under the write lock, W_STREAM is set to 0. So a dead writer's
// thread that runs on finds its token gone at its next step, under the same lock, and writes
// nothing more: nothing it could publish after the cut ever reaches the ring. A piece, like every
// record, is published (TAIL moved past it) only once its bytes are in, so a reader never sees
// half a record. The one window left is a writer that dies inside a step and whose thread
// stalls there; its lock is taken over only after the grace of ./_ring_lock.ts.
//
// The count. The start record counts as the item: PUTS (and UNFINISHED for a JoinableQueue) go
// up when it is published. The reader that takes it sets TAKEN with a compare-and-swap, and the
// cutter clears W_STREAM with one: exactly one of them wins for each stream. A stream cut before
// anyone took it leaves the count at once (PUTS and UNFINISHED go down again; a reader that
// reaches its start record later skips it); one cut after it was taken is given up by its reader
// (the item was counted as taken by GETS, and its UNFINISHED mark goes). Either way join() is left
// nothing to wait for. A stream can only finish once taken: it is larger than the ring.
//
// The reader's lease. R_STREAM holds the token of the stream being read, R_READER its reader,
// R_LEFT the bytes to come. Readers, too, take the read lock for one piece at a time and check
// their lease under it. Another reader that finds the stream's reader dead (or R_READER 0: a
// cut start record skipped) skips the stream's pieces, as they come, until R_LEFT is 0 or
// something else follows; a dead reader's thread that runs on finds its lease gone.

import { identAlive } from "../_core/_state.ts";
import {
  GETS,
  HEAD,
  KIND_MASK,
  markOneDone,
  PIECE,
  PUTS,
  R_COUNTED,
  R_LEFT,
  R_READER,
  R_STREAM,
  REC,
  RETRY,
  type Retry,
  type RingMemory,
  STREAM_START,
  TAIL,
  UNFINISHED,
  W_STREAM,
  W_STREAMER,
  W_TOKENS,
} from "./_ring_memory.ts";
import type { RingLock } from "./_ring_lock.ts";

const TAKEN = 1, COUNTED = 2;
/** The largest piece, so that one step of a stream copies little. */
const PIECE_MAX = 1 << 20;
/** Tokens wrap below 2**29, so that `token << 2` stays a positive Int32. */
const TOKEN_LIMIT = 1 << 29;

/** Returned by a step of a stream whose lease was lost: its item was given up. */
export const LOST: unique symbol = Symbol("lost");
/** What {@link LOST} is. */
export type Lost = typeof LOST;
/** Found by a reader whose stream's writer is dead: the stream must be cut. */
const CUT: unique symbol = Symbol("cut");
type Cut = typeof CUT;

/** A stream that this process took from the ring and must read with {@link RingStreams.readPiece}. */
export class StreamStart {
  /**
   * @param token the stream's token.
   * @param length the item's bytes.
   * @param kind the item's kind.
   */
  constructor(readonly token: number, readonly length: number, readonly kind: number) {}
}

/** The stream protocol over one ring, as this process runs it. */
export class RingStreams {
  readonly #mem: RingMemory;
  readonly #w: RingLock;
  readonly #r: RingLock;
  readonly #table: Int32Array;
  readonly #me: number;

  constructor(mem: RingMemory, w: RingLock, r: RingLock, table: Int32Array, me: number) {
    this.#mem = mem;
    this.#w = w;
    this.#r = r;
    this.#table = table;
    this.#me = me;
  }

  // ---- the writers' side (the write lock is held where said) ------------------------------

  /**
   * Under the write lock, with a stream under way: false while its writer lives; otherwise cuts
   * it and returns true.
   */
  clearDead(): boolean {
    if (identAlive(this.#table, Atomics.load(this.#mem.i32, W_STREAMER))) return false;
    this.#cut();
    return true;
  }

  /**
   * Under the write lock, with REC bytes free at `tail`: publishes the start of a stream of
   * `length` bytes and returns its token.
   */
  start(tail: number, length: number, kind: number, joinable: boolean): number {
    const i32 = this.#mem.i32;
    let token = (Atomics.load(i32, W_TOKENS) + 1) % TOKEN_LIMIT;
    if (token === 0) token = 1;
    Atomics.store(i32, W_TOKENS, token);
    Atomics.store(i32, W_STREAMER, this.#me);
    this.#mem.writeHeader(tail, length, kind | STREAM_START, token);
    // Published in one run of Atomics calls, with no function call in between: a worker told to
    // stop ends at a function's entry or a loop's back edge, so it publishes all or nothing.
    Atomics.add(i32, PUTS, 1);
    if (joinable) Atomics.add(i32, UNFINISHED, 1);
    Atomics.store(i32, W_STREAM, (token << 2) | (joinable ? COUNTED : 0));
    Atomics.store(i32, TAIL, (tail + REC) | 0);
    return token;
  }

  /**
   * One step of sending stream `token`: writes the next piece of `bytes` from `at`.
   *
   * @returns where the next piece starts; RETRY when the ring is full or the lock busy; LOST
   * when the stream was cut (this process was taken for dead).
   */
  writePiece(token: number, bytes: Uint8Array, at: number): number | Retry | Lost {
    const mem = this.#mem, i32 = mem.i32;
    if (!this.#w.take()) return RETRY;
    mem.sync();
    if (
      Atomics.load(i32, W_STREAM) >>> 2 !== token || Atomics.load(i32, W_STREAMER) !== this.#me ||
      !identAlive(this.#table, this.#me)
    ) {
      this.#w.release();
      return LOST;
    }
    const tail = Atomics.load(i32, TAIL);
    const free = mem.cap - ((tail - Atomics.load(i32, HEAD)) >>> 0);
    if (free <= REC) {
      this.#w.release();
      return RETRY;
    }
    const n = Math.min(free - REC, bytes.length - at, PIECE_MAX);
    mem.writeHeader(tail, n, PIECE, token);
    mem.copyIn(tail + REC, bytes.subarray(at, at + n));
    // The piece first, then the end of the stream: a reader that sees W_STREAM cleared and then
    // looks at TAIL finds every piece. No reader can set TAKEN now: one took the start long ago,
    // for the stream is larger than the ring.
    const done = at + n === bytes.length;
    Atomics.store(i32, TAIL, (tail + REC + n) | 0);
    if (done) Atomics.store(i32, W_STREAM, 0);
    this.#w.release();
    mem.bump("r");
    if (done) mem.bump("w");
    return at + n;
  }

  /** Under the write lock: ends the stream under way, settling its count (see the top). */
  #cut(): void {
    const i32 = this.#mem.i32;
    for (;;) {
      const s = Atomics.load(i32, W_STREAM);
      if (s === 0) return;
      if (Atomics.compareExchange(i32, W_STREAM, s, 0) !== s) continue; // a reader took it
      if ((s & TAKEN) === 0) {
        Atomics.sub(i32, PUTS, 1);
        if ((s & COUNTED) !== 0) markOneDone(i32);
      }
      return;
    }
  }

  /**
   * Cuts stream `token` if it is still under way and its writer is dead.
   *
   * @returns false when the write lock was busy (try again).
   */
  #cutIfDead(token: number): boolean {
    if (!this.#w.take()) return false;
    try {
      if (Atomics.load(this.#mem.i32, W_STREAM) >>> 2 === token) this.clearDead();
    } finally {
      this.#w.release();
    }
    this.#mem.bump("w");
    return true;
  }

  // ---- the readers' side (the read lock is held where said) -------------------------------

  /**
   * Under the read lock, with a stream's start record at `head`: takes the stream for this
   * process, or, when it was cut, skips its start and as many of its pieces as there are.
   *
   * @returns the stream taken; true when skipped to the end; false when more of it is to come.
   */
  takeOrSkip(head: number, length: number, kind: number, token: number): StreamStart | boolean {
    const i32 = this.#mem.i32;
    const s = Atomics.load(i32, W_STREAM);
    const mine = s >>> 2 === token && (s & TAKEN) === 0 &&
      Atomics.compareExchange(i32, W_STREAM, s, s | TAKEN) === s;
    Atomics.store(i32, R_STREAM, token);
    Atomics.store(i32, R_READER, mine ? this.#me : 0);
    Atomics.store(i32, R_LEFT, length);
    Atomics.store(i32, R_COUNTED, mine && (s & COUNTED) !== 0 ? 1 : 0);
    Atomics.store(i32, HEAD, (head + REC) | 0);
    if (!mine) return this.skip(); // cut before anyone took it: it left the count then
    Atomics.add(i32, GETS, 1);
    return new StreamStart(token, length, kind & KIND_MASK);
  }

  /**
   * Under the read lock, with R_STREAM set: false while that stream's reader lives. Otherwise
   * skips what has come of the stream.
   *
   * @returns true once the stream is over (R_STREAM cleared); false when more of it is to come.
   */
  clearStale(): boolean {
    const reader = Atomics.load(this.#mem.i32, R_READER);
    if (reader !== 0 && identAlive(this.#table, reader)) return false;
    return this.skip();
  }

  /** Under the read lock: skips pieces of the stream in R_STREAM, as in {@link clearStale}. */
  skip(): boolean {
    const mem = this.#mem, i32 = mem.i32;
    const token = Atomics.load(i32, R_STREAM);
    Atomics.store(i32, R_READER, 0); // a dead reader's lease ends here
    for (;;) {
      const left = Atomics.load(i32, R_LEFT);
      if (left === 0) break;
      const s = Atomics.load(i32, W_STREAM); // before looking at the ring: see writePiece
      const head = Atomics.load(i32, HEAD);
      if (((Atomics.load(i32, TAIL) - head) >>> 0) < REC) {
        if (s >>> 2 === token) return false; // its writer sends more
        break; // it was cut, and everything it sent is skipped
      }
      if (mem.getU32(head + 4) !== PIECE || mem.getU32(head + 8) !== token) break; // cut
      const n = mem.getU32(head);
      Atomics.store(i32, HEAD, (head + REC + n) | 0);
      Atomics.store(i32, R_LEFT, left - n);
      mem.bump("w");
    }
    this.#endRead(false);
    return true;
  }

  /**
   * One step of reading stream `token` (taken with {@link takeOrSkip}) into `dest` from `at`.
   *
   * @returns where the next piece goes (`dest.length` at the end); RETRY when nothing has come
   * yet or the lock is busy; LOST when the stream was cut (its writer died) or this process was
   * taken for dead: its item is given up.
   */
  readPiece(token: number, dest: Uint8Array, at: number): number | Retry | Lost {
    const mem = this.#mem;
    if (!this.#r.take()) return RETRY;
    mem.sync();
    const r = this.#readPieceLocked(token, dest, at);
    this.#r.release();
    if (typeof r === "number") {
      mem.bump("w");
    } else if (r === CUT) {
      // Its writer is dead: cut its stream under the write lock, then look once more. While a
      // dead writer's lock is in its grace, this waits a slice (no busy loop).
      if (this.#cutIfDead(token)) mem.bump("r");
      return RETRY;
    }
    return r;
  }

  #readPieceLocked(token: number, dest: Uint8Array, at: number): number | Retry | Lost | Cut {
    const mem = this.#mem, i32 = mem.i32;
    if (
      Atomics.load(i32, R_STREAM) !== token || Atomics.load(i32, R_READER) !== this.#me ||
      !identAlive(this.#table, this.#me)
    ) return LOST;
    const s = Atomics.load(i32, W_STREAM); // before looking at the ring: see writePiece
    const head = Atomics.load(i32, HEAD);
    if (((Atomics.load(i32, TAIL) - head) >>> 0) >= REC) {
      const n = mem.getU32(head);
      if (
        mem.getU32(head + 4) !== PIECE || mem.getU32(head + 8) !== token || at + n > dest.length
      ) {
        this.#endRead(true); // something else follows: the stream was cut
        return LOST;
      }
      mem.copyOut(head + REC, dest.subarray(at, at + n));
      Atomics.store(i32, HEAD, (head + REC + n) | 0);
      const left = Atomics.load(i32, R_LEFT) - n;
      Atomics.store(i32, R_LEFT, left);
      if (left === 0) Atomics.store(i32, R_STREAM, 0);
      return at + n;
    }
    if (s >>> 2 !== token) {
      this.#endRead(true); // cut, and every piece it had sent is read
      return LOST;
    }
    return identAlive(this.#table, Atomics.load(i32, W_STREAMER)) ? RETRY : CUT;
  }

  /** Under the read lock: the stream being read or skipped is over; `givenUp` by its reader. */
  #endRead(givenUp: boolean): void {
    const i32 = this.#mem.i32;
    const counted = Atomics.load(i32, R_COUNTED) === 1;
    Atomics.store(i32, R_STREAM, 0);
    Atomics.store(i32, R_LEFT, 0);
    Atomics.store(i32, R_COUNTED, 0);
    if (givenUp && counted) markOneDone(i32);
  }
}
