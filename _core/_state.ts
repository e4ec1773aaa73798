// Per-OS-thread state of this package, kept on `globalThis` so that two copies of the package
// loaded from different URLs in one program still agree on who the current process is.

import type { RpcEndpoint } from "./_rpc.ts";
import { onMainThread } from "../process/_runtime.ts";
import { createRegistry, notifyWord, onFirstMap, pidAlive, type Registry } from "./_shm.ts";

/** How a child process is started. */
export type StartMethod = "worker" | "subprocess";

/** What a process knows about itself. */
export interface SelfInfo {
  name: string;
  daemon: boolean;
  /** Position in the process tree: `[]` for the main process, `[2]` for its second child. */
  identity: number[];
  /**
   * This process's slot in its liveness table: the registry's, shared by every process that maps
   * or shares its memory (a child that does neither starts a table of its own).
   */
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
   * Liveness table shared by every process that maps or shares the registry: slot
   * `ident % TABLE_SIZE` holds `ident` while that process is alive. Slot 0 holds the next ident
   * to hand out.
   */
  table: Int32Array;
  /** The program's registry that holds {@link State.table}: mapped where processes can map. */
  registry: Registry;
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

/** A new liveness table, with the current process as ident 1. */
export function newRegistry(): Registry {
  const registry = createRegistry(TABLE_SIZE);
  owners.set(registry.table, registry.pids);
  registry.table[0] = 2;
  registry.table[1] = 1;
  registry.pids[1] = MY_PID;
  return registry;
}

/** Starts using a registry that a parent shared (a child's first step). */
export function useRegistry(s: State, registry: Registry): void {
  owners.set(registry.table, registry.pids);
  s.registry = registry;
  s.table = registry.table;
}

onFirstMap(() => void state());

// The pid column of each liveness table: which OS process each live ident runs in.
const owners = new WeakMap<Int32Array, Int32Array>();
const MY_PID = Deno.pid;

function createRootState(): State {
  const registry = newRegistry();
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
    table: registry.table,
    registry,
    parentRpc: undefined,
    mainModule: Deno.mainModule,
    exitHooks: new Set(),
    exitWatched: false,
  };
}

export { onMainThread };

/** Returns this realm's state, creating the main process's on first use. */
export function state(): State {
  const g = globalThis as unknown as Record<symbol, State | undefined>;
  return g[KEY] ??= createRootState();
}

/** Replaces this realm's state; used once by a child's bootstrap before user code runs. */
export function installState(s: State): void {
  (globalThis as unknown as Record<symbol, State>)[KEY] = s;
}

/** Hands out a fresh ident and marks it alive, in the OS process `pid` (this one by default). */
export function allocateIdent(table: Int32Array, pid: number = MY_PID): number {
  for (;;) {
    const ident = Atomics.add(table, 0, 1);
    const slot = ident % TABLE_SIZE;
    if (slot < 2) continue; // slot 0 is the counter, slot 1 the main process
    const pids = owners.get(table);
    if (pids) Atomics.store(pids, slot, pid);
    Atomics.store(table, slot, ident);
    return ident;
  }
}

/** Records that the process `ident` runs in the OS process `pid` (a subprocess, once started). */
export function identRunsIn(table: Int32Array, ident: number, pid: number): void {
  const pids = owners.get(table);
  if (pids && Atomics.load(table, ident % TABLE_SIZE) === ident) {
    Atomics.store(pids, ident % TABLE_SIZE, pid);
  }
}

/** Marks an ident dead and wakes everything waiting on its slot. */
export function releaseIdent(table: Int32Array, ident: number): void {
  const slot = ident % TABLE_SIZE;
  Atomics.compareExchange(table, slot, ident, 0);
  notifyWord(table, slot);
}

/**
 * Whether the process with this ident is still alive: its slot holds it, and the OS process it
 * runs in has not died (a subprocess that was SIGKILLed with its parent, whose ident nobody
 * released).
 */
export function identAlive(table: Int32Array, ident: number): boolean {
  const slot = ident % TABLE_SIZE;
  if (Atomics.load(table, slot) !== ident) return false;
  const pids = owners.get(table);
  if (!pids) return true;
  const pid = Atomics.load(pids, slot);
  return pid === MY_PID || pid === 0 || pidAlive(pid);
}
