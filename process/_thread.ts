// The thread a worker child runs in, created on the host. None keeps the program alive: the
// exit rules (../_core/_exit.ts) decide when the program ends, as Python's do. Every child runs in
// a web Worker, unref'd by Deno's private hook (web Workers have no public `unref()`): a
// symbol-keyed method of `Worker.prototype` that unrefs the worker's pending ops, found by what
// its code does. Where it is missing (another Deno), a child runs in an unref'd
// `node:worker_threads` Worker, which takes about twice as long to start (measured: ~70 ms
// against ~37 ms, the constructor blocking this thread for most of it), unless it has its own
// permissions, which only a web Worker takes: that one then keeps the program alive until it
// exits. tests/fixtures/no_unref_hook.ts runs the fallback, the hook taken away.

import type { PermissionValue } from "./_permissions.ts";
import { onMainThread } from "./_runtime.ts";
import { clearTimer, setUpkeepTimer, type Timer } from "../_core/_timers.ts";

/** The module every worker child starts from. */
export const ENTRY: URL = new URL("./_worker_child.ts", import.meta.url);
/** The same module for a `node:worker_threads` Worker, which it then reads its messages from. */
const NODE_ENTRY = new URL("?node", ENTRY);

/** What a new thread is and what its host hears of it. */
export interface ThreadSpec {
  name: string;
  daemon: boolean;
  permissions: Record<string, PermissionValue> | undefined;
  /** Called when the thread ends, with its exit code (1 after an error). */
  onExit(code: number): void;
}

/** A started thread, as its host sees it. */
export interface Thread {
  post(msg: unknown, transfer: Transferable[]): void;
  /**
   * Asks the thread to end. Deno ends a thread that waits for events at once, but not one that
   * runs synchronous code (measured: a loop goes on after `terminate()`, for web and node Workers
   * alike): that one ends when its code returns to the event loop.
   */
  terminate(): void;
  /**
   * Whether the OS thread is gone, so that none of its code can run any more; `undefined` when
   * this cannot be known (no read access to `/proc`, or not Linux).
   */
  stopped(): boolean | undefined;
}

/** The ids of this process's OS threads, or undefined where `/proc` cannot be read. */
function threadIds(): Set<string> | undefined {
  try {
    const ids = new Set<string>();
    for (const e of Deno.readDirSync("/proc/self/task")) ids.add(e.name);
    return ids;
  } catch {
    return undefined;
  }
}

/**
 * The OS thread that `create` made, found by its name: Deno names a worker's thread `worker-<n>`
 * and creates it before the Worker's constructor returns.
 */
function withThreadId<T>(create: () => T): { made: T; tid: string | undefined } {
  const before = threadIds();
  const made = create();
  let tid: string | undefined;
  for (const id of before ? threadIds() ?? [] : []) {
    if (before!.has(id)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/self/task/${id}/comm`).startsWith("worker-")) tid = id;
    } catch {
      // gone already
    }
  }
  return { made, tid };
}

function threadGone(tid: string | undefined): boolean | undefined {
  if (tid === undefined) return undefined;
  try {
    Deno.statSync(`/proc/self/task/${tid}`);
    return false;
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? true : undefined;
  }
}

type RefHook = (this: Worker, ref: boolean) => void;

/** Deno's private `Worker.prototype[symbol](ref)`, which (un)refs the worker's pending ops. */
function findRefHook(): RefHook | undefined {
  if (typeof Worker !== "function") return undefined;
  for (const key of Object.getOwnPropertySymbols(Worker.prototype)) {
    const fn = Object.getOwnPropertyDescriptor(Worker.prototype, key)?.value;
    if (typeof fn !== "function" || fn.length !== 1) continue;
    const source = Function.prototype.toString.call(fn);
    if (source.includes("unrefOpPromise") && source.includes("refOpPromise")) return fn;
  }
  return undefined;
}

const refHook: RefHook | undefined = findRefHook();

/** Whether a web Worker can let the program end while it runs (true on Deno 2.9). */
export const webWorkersUnref: boolean = refHook !== undefined;

// Threads are created on the main thread (the host, see ./_worker_runtime.ts): only there, and
// only without the hook, is `node:worker_threads` imported (~10 ms, and ~10 ms more of a worker
// child's start if a child imported it).
const NodeWorker: typeof import("node:worker_threads").Worker | undefined =
  onMainThread() && !webWorkersUnref ? (await import("node:worker_threads")).Worker : undefined;

function startNode(spec: ThreadSpec): Thread {
  const { made: w, tid } = withThreadId(() => new NodeWorker!(NODE_ENTRY));
  w.on("error", () => spec.onExit(1));
  w.on("exit", (code: number) => spec.onExit(code));
  w.unref();
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer as never),
    terminate: () => void w.terminate(),
    stopped: () => threadGone(tid),
  };
}

/** A web Worker and what its host knows of it. */
interface WebThread {
  w: Worker;
  tid: string | undefined;
  /** Who hears of its errors: the process it runs, once it was given one. */
  owner: ThreadSpec | undefined;
}

function makeWeb(name: string, permissions: ThreadSpec["permissions"]): WebThread {
  const { made: w, tid } = withThreadId(() =>
    new Worker(ENTRY, {
      type: "module",
      name,
      ...(permissions ? { deno: { permissions } } : {}),
    } as WorkerOptions)
  );
  const t: WebThread = { w, tid, owner: undefined };
  w.onerror = (e) => {
    e.preventDefault();
    if (t.owner) {
      console.error(`Process ${t.owner.name}: ${e.message}`);
      t.owner.onExit(1);
    } else if (spare === t) {
      spare = undefined; // a spare that failed to load is not given to anyone
      w.terminate();
    }
  };
  refHook?.call(w, false);
  return t;
}

// Python's forkserver keeps a process ready to fork from. Deno has no fork: a web Worker's
// constructor blocks this thread while it makes the isolate (20-40 ms, measured), then the
// worker loads the child runtime (the whole package, ~70 ms of CPU) before it can take its
// process. So once a child of this program has ended, each start() without permissions of its
// own has one web Worker made ahead, which the next such start() takes: it has only the target's
// module left to import. A program that replaces its children (start, join, start again; a pool
// that recycles its workers) gets each from a spare; one that starts its children together and
// keeps them (a pool's start) makes none, which would only take the CPU from them as they start.
// When the spare is made: a start that took none, or came soon after a child ended (within
// BACK_TO_BACK_MS: the next start may come as soon), has the next made at once, while its own
// child runs; a start that took one, later, has the next made SETTLE_MS after its child ended
// (once that child's join settled), or once its child ran SPARE_AFTER_MS: a short child's exit
// is heard on this thread, which the making blocks (start + join 200 ms apart: 14-18 -> ~8 ms).
// A spare holds no port, timer or other op of this thread (the test sanitizers see nothing of a
// Worker, nor of the upkeep timer that makes it), keeps no program alive (unref'd as every child), and is replaced once taken. It has
// this process's permissions of the time it was made, so it is dropped when they changed
// (`Deno.permissions.revoke`) before it is taken.

/** The web Worker made ahead, not yet given a process. */
let spare: WebThread | undefined;
/** This process's permissions when the spare was made. */
let spareGrants = "";
let spareDue = false;
/** When a web Worker child was last told to end (`performance.now()`), if one was. */
let endedAt: number | undefined;
/**
 * A start within this many milliseconds of a child's end replaces children one after another
 * (a join settles 0.1-2 ms after the end, measured, and a program may do some work before it
 * starts the next).
 */
const BACK_TO_BACK_MS = 10;
/** How long after a child's end its join has surely settled. */
const SETTLE_MS = 5;
/** How long the child that took a spare runs before the next spare is made anyway. */
const SPARE_AFTER_MS = 50;
/** The timer that makes the next spare, while one is owed. */
let spareTimer: Timer | undefined;

/** This process's permission states, by kind, as one string. */
function grants(): string {
  return (["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const)
    .map((name) => Deno.permissions.querySync({ name }).state).join();
}

/** Makes a spare in a microtask: once for the starts of one synchronous run of code. */
function spareSoon(): void {
  if (spareDue || spare) return;
  spareDue = true;
  queueMicrotask(() => {
    spareDue = false;
    clearTimer(spareTimer);
    spareTimer = undefined;
    if (spare) return;
    try {
      spareGrants = grants();
      spare = makeWeb("spare", undefined);
    } catch {
      // the next start makes its own worker, and reports what fails
    }
  });
}

/** Makes a spare in `ms` milliseconds, unless one is made before (at once, without a timer). */
function spareAfter(ms: number): void {
  clearTimer(spareTimer);
  spareTimer = setUpkeepTimer(spareSoon, ms);
  if (spareTimer === undefined) spareSoon();
}

/** The spare, for a child without permissions of its own, when it is still fit to take. */
function takeSpare(): WebThread | undefined {
  const t = spare;
  if (!t) return undefined;
  spare = undefined;
  if (grants() === spareGrants) return t;
  t.w.terminate();
  return undefined;
}

function startWeb(spec: ThreadSpec): Thread {
  // measured before a worker is made here, which takes longer than BACK_TO_BACK_MS
  const soon = endedAt !== undefined && performance.now() - endedAt < BACK_TO_BACK_MS;
  const taken = spec.permissions ? undefined : takeSpare();
  const t = taken ?? makeWeb(spec.name, spec.permissions);
  t.owner = spec;
  if (!spec.permissions && endedAt !== undefined) {
    if (soon || !taken) spareSoon();
    else spareAfter(SPARE_AFTER_MS);
  }
  return {
    post: (msg, transfer) => t.w.postMessage(msg, transfer),
    terminate: () => {
      endedAt = performance.now();
      if (spareTimer !== undefined) spareAfter(SETTLE_MS);
      t.w.terminate();
    },
    stopped: () => threadGone(t.tid),
  };
}

/** Starts a worker child's thread, of the kind the header describes. */
export function startThread(spec: ThreadSpec): Thread {
  const web = webWorkersUnref || spec.permissions !== undefined;
  return web ? startWeb(spec) : startNode(spec);
}
