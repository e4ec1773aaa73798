// What every synchronization handle shares: who is calling (for owners and dead holders), how a
// handle travels to a child (its memory for a child that reaches it: a SharedArrayBuffer for a
// worker, a mapped segment for any child that maps; else a proxy id), and how a proxy's calls,
// cancellations included, are served by the real object.

import type { ReduceContext, Reduced } from "../_core/_reduce.ts";
import type { Caller, RemoteTarget, RpcEndpoint } from "../_core/_rpc.ts";
import { identAlive, state, TABLE_SIZE } from "../_core/_state.ts";
import { openMemory, shareMemory } from "../_core/_share.ts";
import { waitWord } from "../_core/_wait.ts";

/** Who acts on a handle: an ident in this OS process's liveness table, and a sub-owner tag. */
export interface Who {
  /** Liveness ident of the process (or the child that forwarded the call through its proxy). */
  readonly ident: number;
  /** 0 for a call the process `ident` made itself; tells apart processes behind one proxy. */
  readonly tag: number;
  /** Whether the caller still lives; a remote caller's waits end when it dies. */
  readonly alive: (() => boolean) | undefined;
}

/** Whether `who` is the caller of a call served for another process, and has died. */
export function callerDied(who: Who): boolean {
  return who.alive !== undefined && !who.alive();
}

/** The current process, acting on a handle whose memory it shares. */
export function localWho(): Who {
  const ident = state().self.ident;
  if (cached.ident !== ident) cached = { ident, tag: 0, alive: undefined };
  return cached;
}
let cached: Who = { ident: 0, tag: 0, alive: undefined };

function mix(ident: number, tag: number): number {
  return (Math.imul(ident, 65599) + tag) | 0 || 1;
}

let nextToken = Math.floor(Math.random() * 2 ** 40) * 1024;

/** A proxy's connection to the real object, which lives in an ancestor process. */
export class Remote {
  readonly rpc: RpcEndpoint;
  readonly id: number;
  #failed: unknown;

  constructor(rpc: RpcEndpoint, id: number) {
    this.rpc = rpc;
    this.id = id;
  }

  /** Calls `method` on the real object. */
  async call(method: string, args: unknown[] = []): Promise<unknown> {
    this.#throwFailed();
    const result = await this.rpc.call(this.id, method, [state().self.ident, 0, ...args]);
    this.#throwFailed(); // answers come in order: a failed earlier send is known by now
    return result;
  }

  /** Sends a call whose answer nobody awaits; the link keeps it in order with later calls. */
  send(method: string, args: unknown[] = []): void {
    this.#throwFailed();
    this.rpc.call(this.id, method, [state().self.ident, 0, ...args]).catch((e) => {
      this.#failed ??= e;
    });
  }

  // An error of a call that was only sent is thrown by the next call through this proxy.
  #throwFailed(): void {
    const e = this.#failed;
    if (e !== undefined) {
      this.#failed = undefined;
      throw e;
    }
  }

  /**
   * Calls a `method` that waits. When `signal` aborts, the real object stops waiting; a result
   * that arrived anyway is handed to `undo` (to release what was acquired), and the call rejects
   * with the signal's reason.
   */
  async wait(
    method: string,
    args: unknown[],
    signal: AbortSignal | undefined,
    undo?: (result: unknown) => Promise<unknown> | unknown,
  ): Promise<unknown> {
    signal?.throwIfAborted();
    this.#throwFailed();
    const token = ++nextToken;
    const p = this.rpc.call(this.id, method, [state().self.ident, token, ...args]);
    if (!signal) return await p;
    let onAbort!: () => void;
    const aborted = new Promise<void>((resolve) => {
      onAbort = () => {
        this.rpc.call(this.id, "cancel", [0, token]).catch(() => {});
        resolve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const first = await Promise.race([p.then((v) => ({ v })), aborted]);
      if (first) return first.v;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
    let result: unknown;
    try {
      result = await p;
    } catch {
      throw signal.reason;
    }
    await undo?.(result);
    throw signal.reason;
  }
}

let revivingState: { local?: unknown; remote?: Remote } | undefined;

/** Builds a handle from what a parent sent: the constructor reads it with {@link revived}. */
export function revive<T>(s: { local?: unknown; remote?: Remote }, make: () => T): T {
  revivingState = s;
  try {
    return make();
  } finally {
    revivingState = undefined;
  }
}

/** In a handle's constructor: the state it is being revived from, if any. */
export function revived(): { local?: unknown; remote?: Remote } | undefined {
  const s = revivingState;
  revivingState = undefined;
  return s;
}

/** What a reviver gets from a parent's state: local memory, or a proxy over `rpc`. */
export function fromParent(s: unknown, rpc: RpcEndpoint | undefined): {
  local?: unknown;
  remote?: Remote;
} {
  const { id, local } = s as { id?: number; local?: unknown };
  if (id === undefined) return { local: openMemory(local) };
  if (!rpc) throw new TypeError("Cannot receive a shared object: no connection to its owner");
  return { remote: new Remote(rpc, id) };
}

/** Signature of a handle's own method dispatch, for calls that came from another process. */
export type Dispatch = (
  method: string,
  args: unknown[],
  who: Who,
  signal: AbortSignal | undefined,
) => unknown;

/** The process-crossing half of a handle: travel, proxying and serving. */
export class Link {
  readonly remote: Remote | undefined;
  #waits: Map<string, AbortController> | undefined;

  constructor(remote: Remote | undefined) {
    this.remote = remote;
  }

  /**
   * Describes the handle `self` for another process: its memory, where that process reaches it
   * (./_shm.ts), else a proxy id.
   */
  reduce(type: string, self: RemoteTarget, ctx: ReduceContext, local: () => unknown): Reduced {
    const sent = this.remote ? undefined : shareMemory(local(), ctx);
    if (sent === undefined) return { type, state: { id: ctx.share(self) } };
    return { type, state: { local: sent } };
  }

  /** Serves a call from a child: forwards it when this handle is itself a proxy. */
  serve(method: string, args: unknown[], caller: Caller, dispatch: Dispatch): unknown {
    const [tag, token, ...rest] = args as [number, number, ...unknown[]];
    if (this.remote) {
      const t = method === "cancel" ? 0 : mix(caller.ident, tag);
      return this.remote.rpc.call(this.remote.id, method, [t, token, ...rest]);
    }
    const key = `${caller.ident}:${token}`;
    if (method === "cancel") {
      this.#waits?.get(key)?.abort(new DOMException("The caller stopped waiting", "AbortError"));
      return undefined;
    }
    const table = state().table;
    const who: Who = { ident: caller.ident, tag, alive: () => identAlive(table, caller.ident) };
    if (token === 0) return dispatch(method, rest, who, undefined);
    const waits = this.#waits ??= new Map();
    const ctl = new AbortController();
    waits.set(key, ctl);
    const unwatch = watchCaller(caller.ident, ctl);
    return (async () => {
      try {
        return await dispatch(method, rest, who, ctl.signal);
      } finally {
        waits.delete(key);
        unwatch();
      }
    })();
  }

  /**
   * Throws the error of a synchronous member used where memory is not shared: `verb` it is
   * what the caller tried ("read", "write", "call"), `instead` the call to use.
   */
  noSync(what: string, instead: string, verb = "read"): never {
    throw new TypeError(
      `Cannot ${verb} ${what} synchronously in this process: it reaches the object through its ` +
        `parent, as it cannot map shared memory (it may not use FFI, or does not run on Linux); ` +
        `use ${instead}`,
    );
  }
}

// The waits being served for each caller, by ident: they are aborted as soon as the caller's
// ident is released at its exit, which is known before its link closes and before a wait's next
// slice would notice.
const watched = new Map<number, Set<AbortController>>();

function watchCaller(ident: number, ctl: AbortController): () => void {
  let waits = watched.get(ident);
  if (!waits) {
    const mine = waits = new Set();
    watched.set(ident, mine);
    void untilDead(ident).then(() => {
      watched.delete(ident);
      const gone = new DOMException("The calling process has exited", "AbortError");
      for (const c of mine) c.abort(gone);
    });
  }
  waits.add(ctl);
  return () => void waits.delete(ctl);
}

// Resolves once `ident` is no longer alive: `releaseIdent` notifies the slot, and slices notice
// an OS process that died unreleased. These waits keep no event loop alive.
async function untilDead(ident: number): Promise<void> {
  const table = state().table;
  while (identAlive(table, ident)) {
    await waitWord(table, ident % TABLE_SIZE, ident, DEAD_SLICE_MS, undefined, "watch");
  }
}
const DEAD_SLICE_MS = 250;

/** Throws for a method name a proxy should never send. */
export function unknownMethod(type: string, method: string): never {
  throw new TypeError(`${type} has no remote method '${method}'`);
}
