// The thread a worker child runs in, created on the host. None keeps the program alive: the
// exit rules (./_exit.ts) decide when the program ends, as Python's do. A daemon runs in an
// unref'd `node:worker_threads` Worker. Any other child runs in a web Worker, which starts in
// about half the time (measured: ~37 ms against ~70 ms) but has no public `unref()`: Deno's
// private one, a symbol-keyed method of `Worker.prototype` that unrefs the worker's pending ops,
// is found by what its code does. Where it is missing (another Deno), a child runs as a daemon
// does, unless it has its own permissions, which only a web Worker takes: that one then keeps
// the program alive until it exits. Daemons stay on node Workers, so that this fallback is the
// path every daemon takes, tested.

import type { PermissionValue } from "./_permissions.ts";
import { onMainThread } from "./_runtime.ts";

/** The module every worker child starts from. */
export const ENTRY: URL = new URL("./_worker_child.ts", import.meta.url);
/** The same module for a `node:worker_threads` Worker, which it then reads its messages from. */
const NODE_ENTRY = new URL("?node", ENTRY);

// Threads are created on the main thread (the host, see ./_worker_runtime.ts): only there is
// `node:worker_threads` imported (its import costs a worker child ~10 ms of its start).
const NodeWorker: typeof import("node:worker_threads").Worker | undefined = onMainThread()
  ? (await import("node:worker_threads")).Worker
  : undefined;

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

function startWeb(spec: ThreadSpec): Thread {
  const { made: w, tid } = withThreadId(() =>
    new Worker(ENTRY, {
      type: "module",
      name: spec.name,
      ...(spec.permissions ? { deno: { permissions: spec.permissions } } : {}),
    } as WorkerOptions)
  );
  w.onerror = (e) => {
    e.preventDefault();
    console.error(`Process ${spec.name}: ${e.message}`);
    spec.onExit(1);
  };
  refHook?.call(w, false);
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer),
    terminate: () => w.terminate(),
    stopped: () => threadGone(tid),
  };
}

/** Starts a worker child's thread, of the kind the header describes. */
export function startThread(spec: ThreadSpec): Thread {
  const web = !spec.daemon && (webWorkersUnref || spec.permissions !== undefined);
  return web ? startWeb(spec) : startNode(spec);
}
