// The thread a worker child runs in, created on the host. None keeps the program alive: the
// exit rules (./_exit.ts) decide when the program ends, as Python's do. A daemon runs in an
// unref'd `node:worker_threads` Worker. Any other child runs in a web Worker, which starts in
// about half the time (measured: ~37 ms against ~70 ms) but has no public `unref()`: Deno's
// private one, a symbol-keyed method of `Worker.prototype` that unrefs the worker's pending ops,
// is found by what its code does. Where it is missing (another Deno), a child runs as a daemon
// does, unless it has its own permissions, which only a web Worker takes: that one then keeps
// the program alive until it exits. Daemons stay on node Workers, so that this fallback is the
// path every daemon takes, tested.

import { Worker as NodeWorker } from "node:worker_threads";
import type { PermissionValue } from "./_permissions.ts";

/** The module every worker child starts from. */
export const ENTRY: URL = new URL("./_worker_child.ts", import.meta.url);

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
  /** Ends the thread at once. */
  terminate(): void;
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
  const w = new NodeWorker(ENTRY);
  w.on("error", () => spec.onExit(1));
  w.on("exit", (code: number) => spec.onExit(code));
  w.unref();
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer as never),
    terminate: () => void w.terminate(),
  };
}

function startWeb(spec: ThreadSpec): Thread {
  const w = new Worker(ENTRY, {
    type: "module",
    name: spec.name,
    ...(spec.permissions ? { deno: { permissions: spec.permissions } } : {}),
  } as WorkerOptions);
  w.onerror = (e) => {
    e.preventDefault();
    console.error(`Process ${spec.name}: ${e.message}`);
    spec.onExit(1);
  };
  refHook?.call(w, false);
  return { post: (msg, transfer) => w.postMessage(msg, transfer), terminate: () => w.terminate() };
}

/** Starts a worker child's thread, of the kind the header describes. */
export function startThread(spec: ThreadSpec): Thread {
  const web = !spec.daemon && (webWorkersUnref || spec.permissions !== undefined);
  return web ? startWeb(spec) : startNode(spec);
}
