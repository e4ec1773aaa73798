// Memory that separate OS processes share. Where this process may use FFI on Linux, every
// shared object of the package lives in memfd segments mapped with libc (`Deno.dlopen`): an
// `ArrayBuffer` over the mapping is the same memory in every process that maps it, and Atomics on
// it are atomic across them. Elsewhere, SharedArrayBuffers (shared by the threads of one process
// only). This file allocates both kinds, makes a segment travel to another process (its fd,
// opened there through /proc/<pid>/fd), and wakes waiters across processes (the futex syscall).
//
// Waking: `Atomics.waitAsync` refuses a non-shared buffer, and a blocking futex call would block
// the event loop. So a notify bumps two counters: a bell that the threads of this OS process wait
// on with `Atomics.waitAsync` (a SharedArrayBuffer of their own), and, when other OS processes
// map the program's memory, the program-wide word SEQ, on which each thread that waits has at
// most one nonblocking futex call pending (Deno runs those on a small pool of threads). Waiters
// re-check what they wait for after any wake-up, so a wake meant for another object costs only a
// look.

/** The control words and liveness table every process of the program maps. */
export interface Registry {
  /** Words: SEQ, FWAITERS (futex calls pending on SEQ), ATTACHED (processes that mapped it). */
  readonly ctl: Int32Array;
  /** Liveness table: slot `ident % size` holds `ident` while that process lives. */
  readonly table: Int32Array;
  /** The pid of the OS process each live ident runs in (0: the allocating process's). */
  readonly pids: Int32Array;
}

const SEQ = 0, FWAITERS = 1, ATTACHED = 2;
const CTL_BYTES = 64;
const FUTEX_WAIT = 0, FUTEX_WAKE = 1;
const MAP_FAILED = 0xffffffffffffffffn;
/** Small allocations come from arenas of this size; larger ones get a segment of their own. */
const ARENA_BYTES = 1 << 20;
const OWN_SEGMENT = ARENA_BYTES / 4;
/** The largest mapping: as large as a SharedArrayBuffer may be. */
const MAX_BYTES = 2 ** 33;

const SYMBOLS = {
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "isize" },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  futex: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32", "buffer", "i64", "i64"],
    result: "i64",
  },
  futexAsync: {
    name: "syscall",
    parameters: ["i64", "pointer", "i32", "i32", "buffer", "i64", "i64"],
    result: "i64",
    nonblocking: true,
  },
} as const;
type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

const FUTEX_NR: Partial<Record<string, number>> = { x86_64: 202, aarch64: 98 };

let libc: Libc | null | undefined;

/** libc, where this process may map shared memory (Linux, FFI granted); else null. */
function lib(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (Deno.build.os !== "linux" || FUTEX_NR[Deno.build.arch] === undefined) return null;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch {
    libc = null;
  }
  return libc;
}

// Loaded at once: a library opened later, inside a test, would count as a leak there.
lib();

/** Whether this process can map memory that other OS processes share (Linux, FFI granted). */
export function canMap(): boolean {
  return lib() !== null;
}

interface Segment {
  readonly uid: string;
  readonly fd: number;
  readonly addr: bigint;
  readonly size: number;
}

// Which of this process's bells a word of a segment rings: a hash of the segment and the word's
// offset, the same in every thread whatever address it mapped the segment at.
const keys = new Map<string, number>();
function keyOf(uid: string): number {
  let k = keys.get(uid);
  if (k === undefined) {
    k = 0x811c9dc5;
    for (let i = 0; i < uid.length; i++) k = Math.imul(k ^ uid.charCodeAt(i), 0x01000193);
    keys.set(uid, k >>>= 0);
  }
  return k;
}

/** Where a mapped buffer lies: its segment and offset. */
interface Placement {
  readonly seg: Segment;
  readonly off: number;
}

/** A mapped buffer as it travels: its segment, the processes holding it, and where in it. */
export interface SegmentRef {
  readonly uid: string;
  readonly size: number;
  /** Processes that hold the segment open: `[pid, fd, address there]`, the sender first. */
  readonly holders: [number, number, bigint][];
  readonly off: number;
  readonly len: number;
}

const segments = new Map<string, Segment>();
const placed = new WeakMap<ArrayBufferLike, Placement>();
let arena: { seg: Segment; used: number } | undefined;

function fail(what: string): never {
  const errno = new Deno.UnsafePointerView(lib()!.__errno_location()!).getInt32();
  throw new RangeError(`Cannot map shared memory: ${what} failed (errno ${errno})`);
}

function mapFd(fd: number, size: number): bigint {
  const p = lib()!.mmap(
    null,
    BigInt(size),
    3, /* PROT_READ | PROT_WRITE */
    1, /* MAP_SHARED */
    fd,
    0n,
  );
  const addr = p === null ? 0n : Deno.UnsafePointer.value(p) as bigint;
  if (addr === 0n || addr === MAP_FAILED) fail("mmap");
  return addr;
}

function newSegment(size: number): Segment {
  const c = lib()!;
  size = Math.ceil(size / 4096) * 4096;
  const fd = c.memfd_create(new TextEncoder().encode("multiprocessing\0"), 1 /* MFD_CLOEXEC */);
  if (fd < 0) fail("memfd_create");
  if (c.ftruncate(fd, BigInt(size)) !== 0) fail("ftruncate");
  const uid = `${Deno.pid}.${crypto.randomUUID()}`;
  const seg = { uid, fd, addr: mapFd(fd, size), size };
  // The stamp: what a process that opens the segment by its fd checks it found (a pid and an fd
  // number outlive the process that held them, and may name another file by then).
  new Uint8Array(bufferAt({ seg, off: 0 }, STAMP_BYTES)).set(new TextEncoder().encode(uid));
  segments.set(uid, seg);
  return seg;
}

const STAMP_BYTES = 64;

/** Opens and maps the segment `ref` as the process `pid` holds it at `fd`; undefined if gone. */
function mapHeld(c: Libc, ref: SegmentRef, pid: number, fd: number): Segment | undefined {
  const path = new TextEncoder().encode(`/proc/${pid}/fd/${fd}\0`);
  const link = new Uint8Array(64);
  const n = Number(c.readlink(path, link, 64n));
  if (
    n <= 0 || !new TextDecoder().decode(link.subarray(0, n)).startsWith("/memfd:multiprocessing")
  ) {
    return undefined; // that process has exited, or the number names another file now
  }
  const own = c.open(path, 0o2000002 /* O_RDWR | O_CLOEXEC */);
  if (own < 0) return undefined;
  const addr = mapFd(own, ref.size);
  const ptr = Deno.UnsafePointer.create(addr)!;
  const stamp = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, STAMP_BYTES));
  const uid = new TextEncoder().encode(ref.uid);
  if (uid.every((b, i) => stamp[i] === b) && stamp[uid.length] === 0) {
    return { uid: ref.uid, fd: own, addr, size: ref.size };
  }
  c.munmap(ptr, BigInt(ref.size));
  c.close(own);
  return undefined;
}

function bufferAt(p: Placement, len: number): ArrayBuffer {
  const ptr = Deno.UnsafePointer.create(p.seg.addr + BigInt(p.off));
  const buf = Deno.UnsafePointerView.getArrayBuffer(ptr!, len);
  placed.set(buf, p);
  return buf;
}

/**
 * Zeroed memory of `bytes` bytes that child processes can share: mapped where this process can
 * map (any child that can map shares it), else a SharedArrayBuffer (worker children share it).
 * A mapped buffer is never unmapped while this process runs.
 */
export function sharedMemory(bytes: number): SharedMemory {
  if (!lib()) return new SharedArrayBuffer(bytes);
  if (!(bytes <= MAX_BYTES)) {
    throw new RangeError(`Cannot map ${bytes} bytes of shared memory: the most is ${MAX_BYTES}`);
  }
  if (!registry && !joining) {
    joining = true; // the registry is itself mapped memory
    try {
      needRegistry?.();
    } finally {
      joining = false;
    }
  }
  const len = Math.max(bytes, 1);
  let p: Placement;
  if (len > OWN_SEGMENT) {
    p = { seg: newSegment(STAMP_BYTES + len), off: STAMP_BYTES };
  } else {
    if (!arena || arena.used + len > arena.seg.size) {
      arena = { seg: newSegment(ARENA_BYTES), used: STAMP_BYTES };
    }
    p = { seg: arena.seg, off: arena.used };
    arena.used += Math.ceil(len / 64) * 64; // each object on cache lines of its own
  }
  return bufferAt(p, bytes);
}

/** Whether `buf` is mapped memory (shared with other OS processes that map it). */
export function isMapped(buf: ArrayBufferLike): boolean {
  return placed.has(buf);
}

/** Describes the mapped buffer `buf` for another process. */
export function segmentRef(buf: ArrayBufferLike): SegmentRef {
  const p = placed.get(buf)!;
  const via = received.get(p.seg.uid) ?? [];
  const holders: SegmentRef["holders"] = [[Deno.pid, p.seg.fd, p.seg.addr], ...via.slice(0, 2)];
  return { uid: p.seg.uid, size: p.seg.size, holders, off: p.off, len: buf.byteLength };
}

// The other holders a segment was received with, passed on when it travels again (the sender may
// have exited by the time a queued handle is read).
const received = new Map<string, SegmentRef["holders"]>();

/**
 * Maps what {@link segmentRef} described, in this process.
 *
 * @throws {Error} when no process that held the segment can still be reached.
 */
export function openSegment(ref: SegmentRef): ArrayBuffer {
  let seg = segments.get(ref.uid);
  if (!seg) {
    const c = lib();
    if (!c) throw new TypeError("Cannot map shared memory in this process: it lacks --allow-ffi");
    for (const [pid, fd, addr] of ref.holders) {
      if (pid === Deno.pid) {
        seg = { uid: ref.uid, fd, addr, size: ref.size }; // a thread of this process mapped it
        break;
      }
      seg = mapHeld(c, ref, pid, fd);
      if (seg) break; // else that process has exited: try the next
    }
    if (!seg) {
      throw new Error(
        "Cannot map a shared object: every process that held its memory has exited",
      );
    }
    segments.set(ref.uid, seg);
    received.set(ref.uid, ref.holders.filter(([pid]) => pid !== Deno.pid));
  }
  return bufferAt({ seg, off: ref.off }, ref.len);
}

// ---- the program's registry, the bell, and waking across processes ----

let registry: Registry | undefined;
let bell: Int32Array | undefined;
let joining = false;
let needRegistry: (() => void) | undefined;

/** Sets what makes this thread join a registry before it first maps memory (../_state.ts). */
export function onFirstMap(fn: () => void): void {
  needRegistry = fn;
}

function registryOf(buf: ArrayBufferLike, slots: number): Registry {
  return {
    ctl: new Int32Array(buf, 0, CTL_BYTES / 4),
    table: new Int32Array(buf, CTL_BYTES, slots),
    pids: new Int32Array(buf, CTL_BYTES + 4 * slots, slots),
  };
}

/** Creates the registry of a program whose root is this process: mapped where it can map. */
export function createRegistry(slots: number): Registry {
  const r = registryOf(sharedMemory(CTL_BYTES + 8 * slots), slots);
  Atomics.store(r.ctl, ATTACHED, 1);
  if (isMapped(r.ctl.buffer)) registry = r;
  bell ??= new Int32Array(new SharedArrayBuffer(4 * BELLS));
  return r;
}

/** What a child is given to join the program's registry: its memory, and this process's bell. */
export interface RegistryRef {
  readonly memory: unknown;
  readonly bell: Int32Array | undefined;
  readonly slots: number;
}

/** Describes the registry `r` for a child that `maps` shared memory, or shares this process. */
export function registryRef(
  r: Registry,
  sameProcess: boolean,
  maps: boolean,
): RegistryRef | undefined {
  const buf = r.ctl.buffer;
  const slots = r.table.length;
  if (isMapped(buf)) {
    if (!maps) return undefined;
    return { memory: segmentRef(buf), bell: sameProcess ? bell : undefined, slots };
  }
  return sameProcess ? { memory: buf, bell, slots } : undefined;
}

/**
 * Counts an OS process that maps the program's memory (a subprocess child about to start), for
 * as long as `running` has not settled: while it is more than this one, waits also listen for
 * other processes' notifications (a futex call), and stop listening once they are gone.
 */
export function attachWhile(running: Promise<unknown>): void {
  if (!registry) return;
  const ctl = registry.ctl;
  Atomics.add(ctl, ATTACHED, 1);
  void running.finally(() => Atomics.sub(ctl, ATTACHED, 1));
}

/** Joins the registry a parent described (a child's first step); undefined for a new one. */
export function joinRegistry(ref: RegistryRef): Registry {
  const buf = ref.memory instanceof SharedArrayBuffer
    ? ref.memory
    : openSegment(ref.memory as SegmentRef);
  const r = registryOf(buf, ref.slots);
  bell = ref.bell ?? new Int32Array(new SharedArrayBuffer(4 * BELLS));
  if (isMapped(buf)) {
    registry = r;
  }
  return r;
}

function addressOf(view: Int32Array, index: number): bigint {
  const p = placed.get(view.buffer)!;
  return p.seg.addr + BigInt(p.off + view.byteOffset + 4 * index);
}

const NO_TIME = new Uint8Array(0);

function futexWake(view: Int32Array, index: number): void {
  const c = lib()!;
  const ptr = Deno.UnsafePointer.create(addressOf(view, index));
  c.futex(BigInt(FUTEX_NR[Deno.build.arch]!), ptr, FUTEX_WAKE, 0x7fffffff, NO_TIME, 0n, 0n);
}

/**
 * Wakes every waiter on `view[index]` (after the caller changed it): `Atomics.notify` for a
 * SharedArrayBuffer; for mapped memory, the bell of this process and the program-wide SEQ.
 */
export function notifyWord(view: Int32Array, index: number, count = Infinity): void {
  if (!placed.has(view.buffer)) {
    Atomics.notify(view, index, count);
    return;
  }
  ringBell(bellOf(view, index));
  const ctl = registry!.ctl;
  Atomics.add(ctl, SEQ, 1);
  // (a process killed in a futex call leaves FWAITERS counted: once no other process is left,
  // its count costs nothing)
  if (Atomics.load(ctl, FWAITERS) > 0 && Atomics.load(ctl, ATTACHED) > 1) futexWake(ctl, SEQ);
}

/** Bells per OS process: waiters on different words mostly sleep on different bells. */
const BELLS = 256;

function bellOf(view: Int32Array, index: number): number {
  const p = placed.get(view.buffer)!;
  return (keyOf(p.seg.uid) + ((p.off + view.byteOffset) >>> 2) + index) & (BELLS - 1);
}

function ringBell(i: number): void {
  Atomics.add(bell!, i, 1);
  Atomics.notify(bell!, i);
}

/** Wakes every waiter of this program that sleeps on mapped memory (a thread is stopping). */
export function wakeAll(): void {
  if (!registry) return;
  for (let i = 0; i < BELLS; i++) ringBell(i);
  Atomics.add(registry.ctl, SEQ, 1);
  futexWake(registry.ctl, SEQ);
}

// The one futex call of this thread pending on SEQ, shared by all its waits.
interface FutexCall {
  readonly done: Promise<void>;
  readonly until: number;
  users: number;
  over: boolean;
}
let pending: FutexCall | undefined;

function joinFutex(ms: number): FutexCall {
  if (pending && !pending.over) {
    pending.users++;
    return pending;
  }
  const c = lib()!, ctl = registry!.ctl;
  Atomics.add(ctl, FWAITERS, 1);
  const seen = Atomics.load(ctl, SEQ);
  const wait = Math.min(ms, 1000);
  const ts = new BigInt64Array([
    BigInt(Math.floor(wait / 1000)),
    BigInt(Math.floor((wait % 1000) * 1e6)),
  ]);
  const ptr = Deno.UnsafePointer.create(addressOf(ctl, SEQ));
  const call: FutexCall = {
    done: unref(
      c.futexAsync(
        BigInt(FUTEX_NR[Deno.build.arch]!),
        ptr,
        FUTEX_WAIT,
        seen,
        new Uint8Array(ts.buffer),
        0n,
        0n,
      ),
    ).then(() => {
      call.over = true;
      Atomics.sub(ctl, FWAITERS, 1);
      if (pending === call) pending = undefined;
    }),
    until: performance.now() + wait,
    users: 1,
    over: false,
  };
  pending = call;
  return call;
}

// A pending futex call keeps the event loop alive; the waits that must do so hold it themselves
// (../_wait.ts), so the call is unref'd where Deno's core offers it.
const core = (Deno as unknown as Record<symbol, { core?: { unrefOpPromise?(p: unknown): void } }>)[
  (Deno as unknown as { internal: symbol }).internal
]?.core;
function unref<T>(p: Promise<T>): Promise<T> {
  core?.unrefOpPromise?.(p);
  return p;
}

// The last wait that needed the call went: it is ended (unless its time is up anyway) and
// awaited, so that no call outlives the waits that made it (nor holds a thread, nor keeps the
// program alive for the rest of its timeout).
function leaveFutex(call: FutexCall): Promise<void> | undefined {
  if (--call.users > 0 || call.over) return undefined;
  if (call.until - performance.now() > 1) futexWake(registry!.ctl, SEQ);
  return call.done;
}

// Waiting for another OS process polls the word for a while before it sleeps: a futex sleep and
// the wake-up of a nonblocking FFI call take ~50-150 us, more than a reply from a process that is
// awake. Polling adapts, as an adaptive mutex's spinning does: after a wait that ended within
// SHORT_MS (a conversation: a pipe's round trips, a contended lock) the next one polls up to
// SPIN_MAX_MS, so that both sides stay awake; after a longer one, SPIN_MIN_MS.
const SPIN_MIN_MS = 0.05, SPIN_MAX_MS = 1, SHORT_MS = 1;
let spinMs = SPIN_MIN_MS;

/**
 * One sleep on mapped memory while `view[index] === expected`, for `ms` at most: resolves when
 * it changed, was notified (perhaps for another word) or the time passed; the caller re-checks.
 * A `watch` (a wait that lasts as long as what it watches, such as a caller's life) is woken by
 * this OS process only, and notices other processes' changes when its slice ends: it holds no
 * futex call, which would be pending for as long as it watches.
 */
export function sleepMapped(
  view: Int32Array,
  index: number,
  expected: number,
  ms: number,
  watch = false,
): { done: Promise<unknown>; end: () => Promise<void> | undefined } | undefined {
  const ctl = registry!.ctl;
  const others = !watch && Atomics.load(ctl, ATTACHED) > 1;
  const start = others ? performance.now() : 0;
  if (others) {
    const stop = start + Math.min(spinMs, ms);
    do {
      for (let i = 0; i < 64; i++) { // the clock is a call into the runtime: read it less often
        if (Atomics.load(view, index) !== expected) {
          spinMs = SPIN_MAX_MS;
          return undefined;
        }
      }
    } while (performance.now() < stop);
  }
  const b = bellOf(view, index);
  const rung = Atomics.load(bell!, b);
  const call = others ? joinFutex(ms) : undefined;
  const r = Atomics.load(view, index) !== expected
    ? undefined
    : Atomics.waitAsync(bell!, b, rung, ms);
  if (!r?.async) return call ? { done: Promise.resolve(), end: () => leaveFutex(call) } : undefined;
  return {
    done: call ? Promise.race([r.value, call.done]) : r.value,
    end: () => {
      if (!call) return undefined;
      spinMs = performance.now() - start < SHORT_MS ? SPIN_MAX_MS : SPIN_MIN_MS;
      return leaveFutex(call);
    },
  };
}

/**
 * Whether the OS process `pid` still runs; a zombie (dead, not yet reaped: an orphan in a
 * container whose first process reaps nothing, say) does not. Only asked of processes of this
 * program.
 */
export function pidAlive(pid: number): boolean {
  const c = lib();
  if (!c || pid === Deno.pid) return true;
  // Asked at every step of some loops (a pipe checks its other end): an answer is kept for a
  // while, a death for good (its ident slot no longer names it by the time the pid is reused).
  const known = alive.get(pid);
  const now = performance.now();
  if (known !== undefined && (known < 0 || now < known)) return known >= 0;
  const yes = askPid(c, pid);
  alive.set(pid, yes ? now + PID_CACHE_MS : -1);
  if (alive.size > 4096) alive.clear();
  return yes;
}
const alive = new Map<number, number>();
const PID_CACHE_MS = 20;

function askPid(c: Libc, pid: number): boolean {
  if (c.kill(pid, 0) !== 0) {
    return new Deno.UnsafePointerView(c.__errno_location()!).getInt32() !== 3; // ESRCH: gone
  }
  const fd = c.open(new TextEncoder().encode(`/proc/${pid}/stat\0`), 0o2000000);
  if (fd < 0) return true;
  const n = Number(c.read(fd, statBuf, BigInt(statBuf.length)));
  c.close(fd);
  if (n <= 0) return true;
  const text = new TextDecoder().decode(statBuf.subarray(0, n));
  const state = text[text.lastIndexOf(")") + 2]; // "pid (name) S ..."
  return state !== "Z" && state !== "X";
}
const statBuf = new Uint8Array(512);

/** Memory that other processes may share: mapped, or a SharedArrayBuffer. */
export type SharedMemory = ArrayBuffer | SharedArrayBuffer;

/** Whether `buf` is memory that other processes may share (as made by {@link sharedMemory}). */
export function isSharedMemory(buf: unknown): buf is SharedMemory {
  return buf instanceof SharedArrayBuffer || (buf instanceof ArrayBuffer && placed.has(buf));
}
