// The loop a pool worker runs: the pool starts a `Process` whose target is `poolWorker`, with
// the worker's end of its channel in the arguments. Task functions are imported by module URL
// and looked up by export name, as a `Process` target is.

import { importUrl } from "../_core/_import.ts";
import { errorToData } from "../_core/_rpc.ts";
import { state } from "../_core/_state.ts";
import { moduleLabel } from "../_core/_target.ts";
import { hold, unhold } from "../_core/_wait.ts";
import { type ChildEnd, type FnRef, Kind } from "./_channel.ts";
import { warmCodec } from "./_codec.ts";

/** How a pool worker sets itself up. */
export interface WorkerConfig {
  /** Module and export name of the initializer, if any. */
  initializer: FnRef | undefined;
  initArgs: unknown[];
}

type Fn = (...args: unknown[]) => unknown;

async function load(module: string, name: string): Promise<Fn> {
  const ns = await importUrl(module);
  const found = ns[name];
  if (typeof found !== "function") {
    throw new TypeError(
      `Cannot run task: '${name}' is not an exported function of ${moduleLabel(module)}`,
    );
  }
  return found as Fn;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") &&
    typeof (v as { then?: unknown }).then === "function";
}

/** Runs a chunk's items in order; synchronously for as long as `fn` returns plain values. */
function runChunk(fn: Fn, kind: Kind, items: unknown[]): unknown[] | Promise<unknown[]> {
  const out = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const v = kind === Kind.map ? fn(items[i]) : fn(...(items[i] as unknown[]));
    if (isThenable(v)) return finishChunk(fn, kind, items, out, i, v);
    out[i] = v;
  }
  return out;
}

async function finishChunk(
  fn: Fn,
  kind: Kind,
  items: unknown[],
  out: unknown[],
  from: number,
  pending: PromiseLike<unknown>,
): Promise<unknown[]> {
  out[from] = await pending;
  for (let i = from + 1; i < items.length; i++) {
    out[i] = await (kind === Kind.map ? fn(items[i]) : fn(...(items[i] as unknown[])));
  }
  return out;
}

/**
 * Runs `runChunk` on sample items a few times, so that a first large chunk does not run its loop
 * in the interpreter (the task function's own first calls are the task's).
 */
function warmRunner(): void {
  const items = Array.from({ length: 1024 }, (_, i) => i);
  for (let i = 0; i < 4; i++) runChunk((x) => x, Kind.map, items);
}

/**
 * Runs tasks from `end` until told to stop.
 *
 * @param end the worker's end of the pool's channel.
 * @param config the initializer and its arguments.
 */
export async function poolWorker(end: ChildEnd, config: WorkerConfig): Promise<void> {
  // Atomics.waitAsync neither keeps this thread's event loop alive nor wakes it: hold it awake
  // for as long as the loop runs, or a resolved wait may never be noticed.
  hold();
  try {
    await serve(end, config);
  } finally {
    unhold();
  }
}

async function serve(end: ChildEnd, config: WorkerConfig): Promise<void> {
  const s = state();
  (end as { setIdent?(ident: number): void }).setIdent?.(s.self.ident);
  // Ctrl-C reaches the whole process group: the pool, not each worker, decides what happens.
  if (s.self.isChild && Deno.pid !== s.parent?.pid) Deno.addSignalListener("SIGINT", () => {});
  let initError: unknown;
  if (config.initializer) {
    try {
      const init = await load(...config.initializer);
      await init(...config.initArgs);
    } catch (e) {
      initError = e; // every task of this worker fails with it, rather than workers dying forever
    }
  }
  warmCodec();
  warmRunner();
  const defined = new Map<number, [module: string, name: string]>(); // by the pool's numbers
  const byNumber = new Map<number, Fn>();
  for (;;) {
    const batch = await end.recv();
    let last = performance.now(); // tasks run back to back: one clock reading each
    for (const msg of batch) {
      if (msg[0] === 1) return;
      if (msg[0] === 2) {
        defined.set(msg[1], [msg[2], msg[3]]);
        continue;
      }
      const [, seq, fnNumber, kind, payload] = msg;
      const sending = end.sent?.();
      if (sending) await sending;
      end.setRunning(seq);
      let ok = true;
      let value: unknown;
      try {
        if (initError !== undefined) throw initError;
        let fn = byNumber.get(fnNumber);
        if (fn === undefined) {
          const ref = defined.get(fnNumber);
          if (!ref) throw new Error(`Pool worker protocol error: function ${fnNumber} undefined`);
          fn = await load(...ref);
          byNumber.set(fnNumber, fn);
          last = performance.now(); // the import is not the task's run time
        }
        value = kind === Kind.apply
          ? fn(...(payload as unknown[]))
          : runChunk(fn, kind, payload as unknown[]);
        if (isThenable(value)) value = await value;
      } catch (e) {
        ok = false;
        value = errorToData(e);
      }
      const now = performance.now();
      end.send([seq, ok, value], Math.round((now - last) * 1000));
      last = now;
      end.setRunning(0);
    }
  }
}
