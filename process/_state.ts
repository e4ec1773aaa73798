// Per-OS-thread state of this package, kept on `globalThis` so that two copies of the package
// loaded from different URLs in one program still agree on who the current process is.

import { isMainThread } from "node:worker_threads";
import type { RpcEndpoint } from "./_rpc.ts";

/** How a child process is started. */
export type StartMethod = "worker" | "subprocess";

/** What a process knows about itself. */
export interface SelfInfo {
  name: string;
  daemon: boolean;
  /** Position in the process tree: `[]` for the main process, `[2]` for its second child. */
  identity: number[];
  /** This process's slot in the liveness table of the OS process that owns its shared memory. */
  ident: number;
  pid: number;
  isChild: boolean;
}

/** What a process knows about its parent. */
export interface ParentInfo {
  name: string;
  pid: number;
}

/** The bookkeeping a child handle exposes to the package-wide state. */
export interface ChildEntry {
  readonly daemon: boolean;
  isAlive(): boolean;
  join(): Promise<void>;
  terminate(): void;
  /** Resolves once the child exited, or was told to stop and cannot be; holds no event loop. */
  readonly [ENDED]: Promise<void>;
}

/** Size of the liveness table: idents are recycled modulo this size. */
export const TABLE_SIZE = 1 << 16;

/** Package-wide state of one JavaScript realm (main thread or worker). */
export interface State {
  startMethod: StartMethod;
  self: SelfInfo;
  parent: ParentInfo | undefined;
  childCounter: number;
  children: Set<ChildEntry>;
  /** True while a child re-imports its main module, before the target runs. */
  importingMain: boolean;
  /**
   * Liveness table shared by every thread of this OS process: slot `ident % TABLE_SIZE` holds
   * `ident` while that process is alive. Slot 0 holds the next ident to hand out.
   */
  table: Int32Array;
  /** The connection to the parent, in a child. */
  parentRpc: RpcEndpoint | undefined;
  /** URL of the main module: in a child, the module its target came from. */
  mainModule: string;
  /** What runs first when this process's work ends (a pool's end): see ./_exit.ts. */
  exitHooks: Set<() => void>;
  /** Whether the exit rules listen for this process's end. */
  exitWatched: boolean;
}

/** Key of the internal hook that makes a `Process` object stand for the current process. */
export const ADOPT: unique symbol = Symbol.for("@mp/multiprocessing.adopt") as never;

/**
 * Key of a started child's exit, as a promise that (unlike `join()`) keeps no event loop alive:
 * for watching a child without keeping the program alive for it.
 */
export const EXITED: unique symbol = Symbol.for("@mp/multiprocessing.exited") as never;

/**
 * Key of a started child's end: its exit or, for a child told to stop that cannot be (a worker
 * thread stuck in synchronous code), the moment that became known. What waits for children to
 * go (the exit rules, a pool's terminate()) waits for this; `join()` waits for the exit.
 */
export const ENDED: unique symbol = Symbol.for("@mp/multiprocessing.ended") as never;

const KEY = Symbol.for("@mp/multiprocessing.state");

function createRootState(): State {
  const table = new Int32Array(new SharedArrayBuffer(4 * TABLE_SIZE));
  table[0] = 2;
  table[1] = 1;
  return {
    startMethod: "worker",
    self: {
      name: "MainProcess",
      daemon: false,
      identity: [],
      ident: 1,
      pid: Deno.pid,
      isChild: false,
    },
    parent: undefined,
    childCounter: 0,
    children: new Set(),
    importingMain: false,
    table,
    parentRpc: undefined,
    mainModule: Deno.mainModule,
    exitHooks: new Set(),
    exitWatched: false,
  };
}

/** Whether this realm is the main thread of its OS process (not a worker of any kind). */
export function onMainThread(): boolean {
  return isMainThread && !("WorkerGlobalScope" in globalThis);
}

/** Returns this realm's state, creating the main process's on first use. */
export function state(): State {
  const g = globalThis as unknown as Record<symbol, State | undefined>;
  return g[KEY] ??= createRootState();
}

/** Replaces this realm's state; used once by a child's bootstrap before user code runs. */
export function installState(s: State): void {
  (globalThis as unknown as Record<symbol, State>)[KEY] = s;
}

/** Hands out a fresh ident and marks it alive. */
export function allocateIdent(table: Int32Array): number {
  for (;;) {
    const ident = Atomics.add(table, 0, 1);
    const slot = ident % TABLE_SIZE;
    if (slot < 2) continue; // slot 0 is the counter, slot 1 the main process
    Atomics.store(table, slot, ident);
    return ident;
  }
}

/** Marks an ident dead and wakes everything waiting on its slot. */
export function releaseIdent(table: Int32Array, ident: number): void {
  const slot = ident % TABLE_SIZE;
  Atomics.compareExchange(table, slot, ident, 0);
  Atomics.notify(table, slot);
}

/** Whether the process with this ident is still alive. */
export function identAlive(table: Int32Array, ident: number): boolean {
  return Atomics.load(table, ident % TABLE_SIZE) === ident;
}
