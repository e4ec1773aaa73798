// The shared byte ring under Queue and Pipe in one OS process: records of (length, kind, writer)
// and payload in a SharedArrayBuffer, one writer and one reader at a time (each under a lock word
// that holds the holder's ident, so that a dead holder's lock is taken over), item and
// unfinished-task counters, and one sequence word that every change bumps and every waiter
// sleeps on. Records larger than the ring stream through it in pieces.

import { identAlive, state } from "../process/_state.ts";
import { decodeItem, type Encoded, Kind } from "./_codec.ts";
import { sleep, type WaitLimits } from "./_wait.ts";

// Int32 slots of the header; the writers' and the readers' words sit on their own cache lines.
// Items in the ring are PUTS - GETS, each counter written by one side only.
const W_LOCK = 0, TAIL = 1, W_STREAM = 2, W_GEN = 3, PUTS = 4;
const R_LOCK = 16, HEAD = 17, R_LEFT = 18, R_WRITER = 19, R_GEN = 20, GETS = 21;
// Readers sleep on R_SEQ (bumped when data arrives or the read lock frees), writers on W_SEQ
// (bumped when room appears or the write lock frees).
// Each SEQ word is followed by the count of its sleepers.
const R_SEQ = 32, W_SEQ = 48;
const UNFINISHED = 64, UNFINISHED_SEQ = 65;

/** Who waits: readers or writers. */
export type Side = "r" | "w";
const SEQ_OF = { r: R_SEQ, w: W_SEQ } as const;
const HEADER_BYTES = 512;
/** Bytes of a record header: payload length, kind, writer's ident. */
const REC = 12;
const SPIN = 64;
/** Milliseconds a lock holder must have been seen dead before its lock is taken over. */
const DEAD_GRACE_MS = 20;
/** Milliseconds a waiter polls the ring before it sleeps. */
const SPIN_MS = 0.03;

/** Returned by an attempt that must wait and try again. */
export const RETRY: unique symbol = Symbol("retry");
type Retry = typeof RETRY;

/**
 * What a read found that is not an item: the start of a record larger than the ring (`left`
 * bytes to stream in, `kind` -1 for a dead reader's record to skip), or raw bytes.
 */
export class Special {
  constructor(
    readonly left: number,
    readonly kind: number,
    readonly bytes?: Uint8Array,
  ) {}
}

/** Rounds a requested buffer size to the ring's capacity (a power of two, at least 4 KiB). */
function capacityFor(bytes: number): number {
  if (!(bytes >= 1) || bytes > 2 ** 30) {
    throw new RangeError(`bufferSize must be between 1 and 2**30 bytes, got ${bytes}`);
  }
  let cap = 4096;
  while (cap < bytes) cap *= 2;
  return cap;
}

let readScratch = new Uint8Array(4096);

/** A byte ring in shared memory; every process of the worker tree maps the same one. */
export class Ring {
  readonly sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #data: Uint8Array;
  readonly #view: DataView;
  readonly #cap: number;
  readonly #mask: number;
  readonly #table: Int32Array;
  readonly #me: number;
  // What this process last saw of the other side's words; they only grow, so a stale value
  // only underestimates what is there, and is reloaded before anything is refused.
  #tail = 0;
  #head = 0;
  #gets = 0;

  /** @param sab the memory of a ring made by {@link Ring.create}. */
  constructor(sab: SharedArrayBuffer) {
    this.sab = sab;
    this.#i32 = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.#data = new Uint8Array(sab, HEADER_BYTES);
    this.#view = new DataView(sab, HEADER_BYTES);
    this.#cap = this.#data.length;
    this.#mask = this.#cap - 1;
    this.#table = state().table;
    this.#me = state().self.ident;
    this.#tail = Atomics.load(this.#i32, TAIL);
    this.#head = Atomics.load(this.#i32, HEAD);
    this.#gets = Atomics.load(this.#i32, GETS);
  }

  /** Makes a ring holding at least `bytes` bytes. */
  static create(bytes: number): Ring {
    return new Ring(new SharedArrayBuffer(HEADER_BYTES + capacityFor(bytes)));
  }

  /** Bytes published and not yet read. */
  used(): number {
    return (Atomics.load(this.#i32, TAIL) - Atomics.load(this.#i32, HEAD)) >>> 0;
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
    // A waiter counts itself (in the word after its SEQ) before it reads SEQ and looks at the
    // ring: if it is not counted yet, it will see this change when it looks.
    const seq = SEQ_OF[side];
    if (Atomics.load(this.#i32, seq + 1) > 0) {
      Atomics.add(this.#i32, seq, 1);
      Atomics.notify(this.#i32, seq);
    }
  }

  /** Wakes everyone. */
  bumpAll(): void {
    this.bump("r");
    this.bump("w");
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
          r = attempt();
          if (r !== RETRY) return r;
        } while (performance.now() < end);
        continue;
      }
      Atomics.add(this.#i32, WAITERS, 1);
      try {
        const seq = Atomics.load(this.#i32, SEQ);
        r = attempt();
        if (r !== RETRY) return r;
        if (!await sleep(this.#i32, SEQ, seq, limits)) return RETRY;
      } finally {
        Atomics.sub(this.#i32, WAITERS, 1);
      }
    }
  }

  #lock(index: number, me: number): boolean {
    const i32 = this.#i32;
    for (let i = 0; i < SPIN; i++) {
      const holder = Atomics.compareExchange(i32, index, 0, me);
      if (holder === 0) return true;
      if (!identAlive(this.#table, holder)) {
        if (!this.#deadLongEnough(holder)) return false;
        if (Atomics.compareExchange(i32, index, holder, me) === holder) return true;
      } else if (holder === me) {
        return false; // another task of this process, across an await: no use spinning
      }
    }
    return false;
  }

  // A worker is marked dead as soon as it is told to stop, which may be a moment before its
  // thread stops running: its lock is taken over only once it has been seen dead for a while.
  #deadSeen = new Map<number, number>();

  #deadLongEnough(holder: number): boolean {
    const now = performance.now();
    const seen = this.#deadSeen.get(holder);
    if (seen === undefined) {
      this.#deadSeen.set(holder, now);
      return false;
    }
    if (now - seen < DEAD_GRACE_MS) return false;
    this.#deadSeen.delete(holder);
    return true;
  }

  #unlock(index: number): void {
    Atomics.store(this.#i32, index, 0);
  }

  #copyIn(pos: number, src: Uint8Array): void {
    const p = pos & this.#mask;
    if (src.length <= 16 && p + src.length <= this.#cap) {
      const data = this.#data;
      for (let i = 0; i < src.length; i++) data[p + i] = src[i];
      return;
    }
    const first = Math.min(src.length, this.#cap - p);
    this.#data.set(first === src.length ? src : src.subarray(0, first), p);
    if (first < src.length) this.#data.set(src.subarray(first), 0);
  }

  #copyOut(pos: number, dest: Uint8Array): void {
    const p = pos & this.#mask;
    const first = Math.min(dest.length, this.#cap - p);
    dest.set(this.#data.subarray(p, p + first));
    if (first < dest.length) dest.set(this.#data.subarray(0, dest.length - first), first);
  }

  #putU32(pos: number, v: number): void {
    const p = pos & this.#mask;
    if (p + 4 <= this.#cap) this.#view.setUint32(p, v, true);
    else for (let i = 0; i < 4; i++) this.#data[(pos + i) & this.#mask] = (v >>> (8 * i)) & 255;
  }

  #getU32(pos: number): number {
    const p = pos & this.#mask;
    if (p + 4 <= this.#cap) return this.#view.getUint32(p, true);
    let v = 0;
    for (let i = 0; i < 4; i++) v |= this.#data[(pos + i) & this.#mask] << (8 * i);
    return v >>> 0;
  }

  #writeHeader(tail: number, len: number, kind: number, me: number): void {
    this.#putU32(tail, len);
    this.#putU32(tail + 4, kind);
    this.#putU32(tail + 8, me);
  }

  /**
   * One try at writing a record without waiting.
   *
   * @returns true when written; RETRY when the ring or the count is full, or the write lock is
   * busy; `"big"` when the record is larger than the ring: the write lock is then held and the
   * caller must {@link Ring.streamOut} it.
   */
  tryWrite(enc: Encoded, maxsize: number, joinable: boolean): true | Retry | "big" {
    const i32 = this.#i32;
    const me = this.#me;
    if (!this.#lock(W_LOCK, me)) return RETRY;
    if (Atomics.load(i32, W_STREAM) !== 0) {
      // The last writer died while streaming a large record: wait until readers have taken what
      // it published, then make readers of that record give it up.
      if (this.used() !== 0) {
        this.#unlock(W_LOCK);
        return RETRY;
      }
      Atomics.add(i32, W_GEN, 1);
      Atomics.store(i32, W_STREAM, 0);
    }
    const puts = Atomics.load(i32, PUTS);
    if (maxsize > 0 && ((puts - this.#gets) | 0) >= maxsize) {
      // The readers' count, cached so that their cache line is not pulled over at every put.
      this.#gets = Atomics.load(i32, GETS);
      if (((puts - this.#gets) | 0) >= maxsize) {
        this.#unlock(W_LOCK);
        return RETRY;
      }
    }
    const len = enc.bytes.length;
    const size = REC + len;
    if (size > this.#cap) return "big";
    const tail = Atomics.load(i32, TAIL);
    if (this.#cap - ((tail - this.#head) | 0) < size) {
      this.#head = Atomics.load(i32, HEAD);
      if (this.#cap - ((tail - this.#head) | 0) < size) {
        this.#unlock(W_LOCK);
        return RETRY;
      }
    }
    this.#writeHeader(tail, len, enc.kind, me);
    this.#copyIn(tail + REC, enc.bytes);
    Atomics.store(i32, PUTS, (puts + 1) | 0);
    if (joinable) Atomics.add(i32, UNFINISHED, 1);
    Atomics.store(i32, TAIL, (tail + size) | 0);
    this.#unlock(W_LOCK);
    this.bump("r");
    this.bump("w");
    return true;
  }

  /** Streams a record larger than the ring; the caller holds the write lock ("big"). */
  async streamOut(enc: Encoded, joinable: boolean): Promise<void> {
    const i32 = this.#i32;
    const me = this.#me;
    const bytes = enc.bytes;
    const forever: WaitLimits = { deadline: Infinity };
    Atomics.store(i32, W_STREAM, me);
    try {
      await this.until("w", () => this.#cap - this.used() >= REC ? true : RETRY, forever);
      let tail = Atomics.load(i32, TAIL);
      this.#writeHeader(tail, bytes.length, enc.kind, me);
      Atomics.add(i32, PUTS, 1);
      if (joinable) Atomics.add(i32, UNFINISHED, 1);
      tail = (tail + REC) | 0;
      Atomics.store(i32, TAIL, tail);
      this.bump("r");
      let at = 0;
      while (at < bytes.length) {
        const free = await this.until("w", () => {
          const f = this.#cap - this.used();
          return f > 0 ? f : RETRY;
        }, forever) as number;
        const n = Math.min(free, bytes.length - at);
        this.#copyIn(tail, bytes.subarray(at, at + n));
        at += n;
        tail = (tail + n) | 0;
        Atomics.store(i32, TAIL, tail);
        this.bump("r");
      }
    } finally {
      Atomics.store(i32, W_STREAM, 0);
      this.#unlock(W_LOCK);
      this.bumpAll();
    }
  }

  /**
   * One try at reading a record without waiting.
   *
   * @param big whether a record larger than the ring may be started: the read lock is then held
   * and the caller must {@link Ring.streamIn} it.
   * @returns the item; RETRY when there is none (or another reader is busy);
   * `{ left, kind }` for a large record.
   */
  tryRead(big: boolean): unknown {
    const i32 = this.#i32;
    let head = Atomics.load(i32, HEAD);
    if (((this.#tail - head) | 0) < REC) {
      // The writers' tail, cached so that their cache line is not pulled over at every get.
      this.#tail = Atomics.load(i32, TAIL);
      if (((this.#tail - head) | 0) < REC && Atomics.load(i32, R_LEFT) === 0) return RETRY;
    }
    if (!this.#lock(R_LOCK, this.#me)) return RETRY;
    const left = Atomics.load(i32, R_LEFT);
    if (left !== 0) {
      // The last reader died in the middle of a large record: the rest is skipped.
      if (!big) {
        this.#unlock(R_LOCK);
        return RETRY;
      }
      return new Special(left, -1);
    }
    head = Atomics.load(i32, HEAD);
    if (((this.#tail - head) | 0) < REC) {
      this.#tail = Atomics.load(i32, TAIL);
      if (((this.#tail - head) | 0) < REC) {
        this.#unlock(R_LOCK);
        return RETRY;
      }
    }
    const len = this.#getU32(head);
    const kind = this.#getU32(head + 4);
    const gets = Atomics.load(i32, GETS);
    if (REC + len > this.#cap) {
      if (!big) {
        this.#unlock(R_LOCK);
        return RETRY;
      }
      Atomics.store(i32, R_WRITER, this.#getU32(head + 8));
      Atomics.store(i32, R_GEN, Atomics.load(i32, W_GEN));
      Atomics.store(i32, R_LEFT, len);
      Atomics.store(i32, HEAD, (head + REC) | 0);
      Atomics.store(i32, GETS, (gets + 1) | 0);
      this.bump("w");
      return new Special(len, kind);
    }
    let value: unknown;
    const at = head + REC;
    const p = at & this.#mask;
    if (kind === Kind.NUM && p + 8 <= this.#cap) {
      value = this.#view.getFloat64(p, true);
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
      this.#copyOut(at, out);
      value = kind === Kind.BYTES ? new Special(0, kind, out) : { kind, out, keep };
    }
    Atomics.store(i32, HEAD, (at + len) | 0);
    Atomics.store(i32, GETS, (gets + 1) | 0);
    this.#unlock(R_LOCK);
    this.bump("w");
    this.bump("r");
    if (value instanceof Special || typeof value !== "object") return value;
    const { out, keep } = value as { kind: number; out: Uint8Array; keep: boolean };
    return decodeItem(kind, out, keep);
  }

  /**
   * Reads the rest of a large record started by {@link Ring.tryRead}; releases the read lock.
   *
   * @returns the record's bytes, or undefined when its writer died before sending it all (or a
   * dead reader's record was skipped).
   */
  async streamIn(left: number, keep: boolean): Promise<Uint8Array | undefined> {
    const i32 = this.#i32;
    const writer = Atomics.load(i32, R_WRITER);
    const gen = Atomics.load(i32, R_GEN);
    const dest = keep ? new Uint8Array(left) : undefined;
    let at = 0;
    let complete = true;
    try {
      while (left > 0) {
        const avail = await this.until("r", () => {
          const n = this.used();
          if (Atomics.load(i32, W_GEN) !== gen) return 0;
          if (n > 0) return n;
          return identAlive(this.#table, writer) ? RETRY : 0;
        }, { deadline: Infinity }) as number;
        if (avail === 0) {
          complete = false;
          break;
        }
        const n = Math.min(avail, left);
        const head = Atomics.load(i32, HEAD);
        if (dest) this.#copyOut(head, dest.subarray(at, at + n));
        at += n;
        left -= n;
        Atomics.store(i32, R_LEFT, left);
        Atomics.store(i32, HEAD, (head + n) | 0);
        this.bump("w");
      }
    } finally {
      Atomics.store(i32, R_LEFT, 0);
      this.#unlock(R_LOCK);
      this.bumpAll();
    }
    return complete ? dest : undefined;
  }

  /**
   * Marks one task done.
   *
   * @throws {RangeError} when more tasks are marked done than were put.
   */
  taskDone(): void {
    const i32 = this.#i32;
    for (;;) {
      const n = Atomics.load(i32, UNFINISHED);
      if (n <= 0) {
        throw new RangeError(
          "Cannot mark a task done: taskDone() called more times than items put",
        );
      }
      if (Atomics.compareExchange(i32, UNFINISHED, n, n - 1) === n) {
        if (n === 1) {
          Atomics.add(i32, UNFINISHED_SEQ, 1);
          Atomics.notify(i32, UNFINISHED_SEQ);
        }
        return;
      }
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
