// The memory of a shared byte ring (./_ring.ts): where each header word lives, the data area
// and the copies in and out of it, and the sequence words that waiters sleep on.

import { copyInRing, copyOutRing } from "../_core/_ring_bytes.ts";
import { canMap, notifyWord, type SharedMemory, sharedMemory } from "../_core/_shm.ts";
import { sleep, type WaitLimits } from "./_wait.ts";

// Int32 slots of the header; the writers' words and the readers' words sit on their own cache
// lines. Items in the ring are PUTS - GETS, each counter written by one side only.
/** The write lock: the ident of the process that holds it, 0 when free. */
export const W_LOCK = 0;
/** Bytes published so far (wrapping at 2**32): the end of the last complete record. */
export const TAIL = 1;
/** Items put, written under the write lock. */
export const PUTS = 2;
/** The stream under way: `token << 2 | COUNTED | TAKEN`, 0 when none (./_ring_stream.ts). */
export const W_STREAM = 3;
/** The ident of the process that sends the stream under way. */
export const W_STREAMER = 4;
/** The last stream token handed out. */
export const W_TOKENS = 5;
/** The read lock: the ident of the process that holds it, 0 when free. */
export const R_LOCK = 16;
/** Bytes read so far (wrapping at 2**32): the start of the next record. */
export const HEAD = 17;
/** Items taken, written under the read lock. */
export const GETS = 18;
/** The token of the stream being read or skipped, 0 when none. */
export const R_STREAM = 19;
/** The ident of the process that reads that stream; 0 while anyone may skip what is left. */
export const R_READER = 20;
/** Bytes of that stream still to come. */
export const R_LEFT = 21;
/** 1 when that stream's item counts as an unfinished task (a JoinableQueue's). */
export const R_COUNTED = 22;
// Readers sleep on R_SEQ (bumped when data arrives or the read lock frees), writers on W_SEQ
// (bumped when room appears or the write lock frees). Each SEQ word is followed by the count of
// its sleepers.
const R_SEQ = 32, W_SEQ = 48;
/** Items put and not yet marked done, and the word that `join()` sleeps on. */
export const UNFINISHED = 64, UNFINISHED_SEQ = 65;
/** The data area's capacity in bytes (a power of two): it only grows, see {@link RingMemory.grow}. */
export const CAP = 80;

export const HEADER_BYTES = 512;
/** Bytes of a record header: payload length, kind (and flags), tag. */
export const REC = 12;
/** The item's {@link Kind} in a record's kind word; flags sit above it. */
export const KIND_MASK = 0xff;
/** Flag of the record that starts a stream: its length is the whole item's; its tag, the token. */
export const STREAM_START = 0x100;
/** Flag of a record that carries a piece of a stream; its tag is the stream's token. */
export const PIECE = 0x200;

/** Who waits: readers or writers. */
export type Side = "r" | "w";
const SEQ_OF = { r: R_SEQ, w: W_SEQ } as const;
/** Milliseconds a waiter polls the ring before it sleeps. */
const SPIN_MS = 0.03;

/** Returned by an attempt that must wait and try again. */
export const RETRY: unique symbol = Symbol("retry");
/** What {@link RETRY} is. */
export type Retry = typeof RETRY;

/**
 * Rounds a requested buffer size to a ring's capacity (a power of two, at least 4 KiB).
 *
 * @throws {RangeError} naming `what` when `bytes` is not between 1 and 2**30.
 */
export function capacityFor(bytes: number, what: string): number {
  if (!(bytes >= 1) || bytes > 2 ** 30) {
    throw new RangeError(`${what} must be between 1 and 2**30 bytes, got ${bytes}`);
  }
  let cap = 4096;
  while (cap < bytes) cap *= 2;
  return cap;
}

/** The header and data area of a ring, as this process maps them. */
export class RingMemory {
  readonly sab: SharedMemory;
  readonly i32: Int32Array;
  /** The most bytes the data area can grow to. */
  readonly maxCap: number;
  // The data area as last mapped here: CAP bytes, remapped by sync() when another process grew
  // it (under a lock, so never while this process copies in or out).
  data: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(new ArrayBuffer(0));
  cap = 0;
  mask = 0;

  /** @param sab the memory of a ring made by {@link RingMemory.create}. */
  constructor(sab: SharedMemory) {
    this.sab = sab;
    this.i32 = new Int32Array(sab, 0, HEADER_BYTES / 4);
    const growable = sab instanceof SharedArrayBuffer && sab.growable;
    this.maxCap = (growable ? sab.maxByteLength : sab.byteLength) - HEADER_BYTES;
    this.sync();
  }

  /**
   * Makes the memory of a ring holding `bytes` bytes at first, and able to grow to `maxBytes`
   * (both rounded up to a power of two). Only the address space of the largest size is
   * reserved; memory is taken as the ring grows into it.
   *
   * @throws {RangeError} when a size is out of range.
   */
  static create(bytes: number, maxBytes: number = bytes): RingMemory {
    const cap = capacityFor(bytes, "bufferSize");
    const maxCap = Math.max(cap, capacityFor(maxBytes, "maxBufferSize"));
    let sab: SharedMemory | undefined;
    if (canMap()) {
      // mapped memory: the whole largest size is reserved at once, and untouched pages take none
      sab = sharedMemory(HEADER_BYTES + maxCap);
    } else if (maxCap > cap) {
      try {
        sab = new SharedArrayBuffer(HEADER_BYTES + cap, { maxByteLength: HEADER_BYTES + maxCap });
      } catch {
        // no address space to reserve (a ulimit, say): a buffer that does not grow
      }
    }
    sab ??= new SharedArrayBuffer(HEADER_BYTES + cap);
    Atomics.store(new Int32Array(sab, 0, HEADER_BYTES / 4), CAP, cap);
    return new RingMemory(sab);
  }

  /** Maps the data area anew when another process grew it; call under either lock. */
  sync(): void {
    const cap = Atomics.load(this.i32, CAP);
    if (cap === this.cap) return;
    this.cap = cap;
    this.mask = cap - 1;
    this.data = new Uint8Array(this.sab, HEADER_BYTES, cap);
    this.view = new DataView(this.sab, HEADER_BYTES, cap);
  }

  /**
   * Under both locks (no one copies in or out): doubles the data area until `need` more bytes
   * fit, up to {@link maxCap}, and moves the unread bytes to where the new capacity maps them.
   * Each unread byte at position p moves from `p mod old` to `p mod cap`: the same place, or a
   * multiple of `old` further, past the old area. So no move overwrites a byte still to move,
   * and a process that dies midway leaves the old layout whole (CAP is stored last).
   *
   * @returns false when `need` bytes would not fit even then, or memory ran out.
   */
  grow(need: number): boolean {
    const i32 = this.i32, old = this.cap;
    const head = Atomics.load(i32, HEAD);
    const used = (Atomics.load(i32, TAIL) - head) >>> 0;
    let cap = old;
    while (cap - used < need && cap < this.maxCap) cap *= 2;
    if (cap - used < need) return false;
    try {
      if (this.sab.byteLength < HEADER_BYTES + cap) {
        (this.sab as SharedArrayBuffer).grow(HEADER_BYTES + cap);
      }
    } catch {
      return false; // out of memory: the ring stays as it is
    }
    const data = new Uint8Array(this.sab, HEADER_BYTES, cap);
    for (let p = head, left = used; left > 0;) {
      const from = p & (old - 1);
      const run = Math.min(old - from, left);
      const to = p & (cap - 1);
      if (to !== from) data.copyWithin(to, from, from + run);
      p = (p + run) | 0;
      left -= run;
    }
    Atomics.store(i32, CAP, cap);
    this.sync();
    return true;
  }

  /** Bytes published and not yet read. */
  used(): number {
    return (Atomics.load(this.i32, TAIL) - Atomics.load(this.i32, HEAD)) >>> 0;
  }

  /** Copies `src` into the ring at position `pos` (wrapping). */
  copyIn(pos: number, src: Uint8Array): void {
    copyInRing(this.data, pos, src);
  }

  /** Fills `dest` from the ring at position `pos` (wrapping). */
  copyOut(pos: number, dest: Uint8Array): void {
    copyOutRing(this.data, pos, dest);
  }

  /** Writes a little-endian u32 at position `pos` (wrapping). */
  putU32(pos: number, v: number): void {
    const p = pos & this.mask;
    if (p + 4 <= this.cap) this.view.setUint32(p, v, true);
    else for (let i = 0; i < 4; i++) this.data[(pos + i) & this.mask] = (v >>> (8 * i)) & 255;
  }

  /** Reads a little-endian u32 at position `pos` (wrapping). */
  getU32(pos: number): number {
    const p = pos & this.mask;
    if (p + 4 <= this.cap) return this.view.getUint32(p, true);
    let v = 0;
    for (let i = 0; i < 4; i++) v |= this.data[(pos + i) & this.mask] << (8 * i);
    return v >>> 0;
  }

  /** Writes a record header at position `pos`. */
  writeHeader(pos: number, len: number, kind: number, tag: number): void {
    this.putU32(pos, len);
    this.putU32(pos + 4, kind);
    this.putU32(pos + 8, tag);
  }

  /** Wakes the readers (`"r"`) or the writers (`"w"`): something changed for them. */
  bump(side: Side): void {
    // A waiter counts itself (in the word after its SEQ) before it reads SEQ and looks at the
    // ring: if it is not counted yet, it will see this change when it looks.
    const seq = SEQ_OF[side];
    if (Atomics.load(this.i32, seq + 1) > 0) {
      Atomics.add(this.i32, seq, 1);
      notifyWord(this.i32, seq);
    }
  }

  /**
   * Calls `attempt` until it returns something else than {@link RETRY}, sleeping between tries
   * until the ring changes.
   *
   * @returns what `attempt` returned, or RETRY once the deadline has passed.
   */
  async until<R>(side: Side, attempt: () => R | Retry, limits: WaitLimits): Promise<R | Retry> {
    const SEQ = SEQ_OF[side], WAITERS = SEQ + 1;
    // No spin for a call served for another process: what it waits for comes through this
    // thread's event loop, which a spin would only hold up.
    let spun = limits.alive !== undefined;
    for (;;) {
      let r = attempt();
      if (r !== RETRY) return r;
      if (!spun) {
        // A short spin first: the other side usually answers within microseconds, far sooner
        // than a wake-up from Atomics.waitAsync.
        spun = true;
        const end = performance.now() + SPIN_MS;
        do {
          for (let i = 0; i < 8; i++) { // the clock is a call into the runtime: read it less often
            r = attempt();
            if (r !== RETRY) return r;
          }
        } while (performance.now() < end);
        continue;
      }
      Atomics.add(this.i32, WAITERS, 1);
      try {
        const seq = Atomics.load(this.i32, SEQ);
        r = attempt();
        if (r !== RETRY) return r;
        if (!await sleep(this.i32, SEQ, seq, limits)) return RETRY;
      } finally {
        Atomics.sub(this.i32, WAITERS, 1);
      }
    }
  }
}

/**
 * Marks one task done in `i32` (a ring's header), waking `join()` when none is left.
 *
 * @returns false when no task was unfinished.
 */
export function markOneDone(i32: Int32Array): boolean {
  for (;;) {
    const n = Atomics.load(i32, UNFINISHED);
    if (n <= 0) return false;
    if (Atomics.compareExchange(i32, UNFINISHED, n, n - 1) === n) {
      if (n === 1) {
        Atomics.add(i32, UNFINISHED_SEQ, 1);
        notifyWord(i32, UNFINISHED_SEQ);
      }
      return true;
    }
  }
}
