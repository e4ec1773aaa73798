// One interface for starting a child, two implementations: Web Workers and `deno run`
// subprocesses. Everything above this layer is written once for both.

import type { RpcEndpoint } from "../_core/_rpc.ts";
import type { ParentInfo, SelfInfo, StartMethod } from "../_core/_state.ts";
import type { ProcessPermissions } from "./_permissions.ts";
import type { RegistryRef } from "../_core/_shm.ts";

/**
 * Whether this realm is the main thread of its OS process (not a worker of any kind): the main
 * thread's global scope is a window, without the `postMessage` of a worker's (web or
 * `node:worker_threads`). Tested so rather than with `node:worker_threads`' `isMainThread`, whose
 * import costs a worker child ~10 ms of its start.
 */
export function onMainThread(): boolean {
  return typeof (globalThis as { postMessage?: unknown }).postMessage !== "function";
}

/** What a child needs to become the process its parent described. */
export interface StartPayload {
  /** URL of the module that exports the target. */
  module: string;
  /** Name of the export to run; `undefined` for a process with nothing to run. */
  exportName: string | undefined;
  /** A function to call, or a `Process` subclass whose `run()` to call. */
  kind: "function" | "class" | "none";
  /** The encoded own fields of a `Process` subclass instance. */
  fields: unknown;
  /** The encoded arguments. */
  args: unknown;
  self: SelfInfo;
  parent: ParentInfo;
  /** Default start method for the child's own children. */
  startMethod: StartMethod;
  /**
   * The program's registry (the liveness table), for a child that reaches its memory: a worker,
   * or any child that maps shared memory; otherwise the child keeps a table of its own.
   */
  registry?: RegistryRef;
  /** Whether the child maps shared memory segments (../_core/_shm.ts). */
  maps: boolean;
}

/** How to start one child. */
export interface SpawnSpec {
  payload: StartPayload;
  /** MessagePorts that travel with the payload (workers only). */
  transfer: Transferable[];
  /** The endpoint that serves the child's calls; the runtime attaches the link to it. */
  rpc: RpcEndpoint;
  daemon: boolean;
  permissions: ProcessPermissions | undefined;
}

/** A started child, as its runtime sees it. */
export interface ChildHandle {
  /** The child's OS pid (the host's pid for a worker). */
  readonly pid: number;
  /** Resolves with the exit code: 0, n after `Deno.exit(n)`, -signal after a signal. */
  readonly exited: Promise<number>;
  /** Asks the child to stop (SIGTERM for a subprocess); the exit code becomes -15. */
  terminate(): void;
  /** Stops the child at once (SIGKILL for a subprocess); the exit code becomes -9. */
  kill(): void;
  /**
   * Resolves when the child was told to stop and has not within a grace period because it
   * cannot be stopped (a worker thread in synchronous code); never for a child that can be.
   */
  readonly unstoppable?: Promise<void>;
}

/** A way of starting children. */
export interface Runtime {
  spawn(spec: SpawnSpec): ChildHandle;
}

/** Exit codes of the signals a child may die of, as Python reports them: minus the number. */
export const SIGNAL_EXIT: Readonly<Record<string, number>> = {
  SIGHUP: -1,
  SIGINT: -2,
  SIGQUIT: -3,
  SIGILL: -4,
  SIGTRAP: -5,
  SIGABRT: -6,
  SIGBUS: -7,
  SIGFPE: -8,
  SIGKILL: -9,
  SIGUSR1: -10,
  SIGSEGV: -11,
  SIGUSR2: -12,
  SIGPIPE: -13,
  SIGALRM: -14,
  SIGTERM: -15,
  SIGSTKFLT: -16,
  SIGXCPU: -24,
  SIGXFSZ: -25,
  SIGVTALRM: -26,
  SIGPROF: -27,
  SIGPOLL: -29,
  SIGIO: -29,
  SIGPWR: -30,
  SIGSYS: -31,
};

/** Messages only the runtimes exchange (the rest belong to the RPC endpoint). */
export interface StartMessage {
  t: "start";
  payload: StartPayload;
}

/** Sent by a child just before it goes. */
export interface ExitMessage {
  t: "exit";
  code: number;
}
