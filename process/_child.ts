// What every child does, whatever started it: become the process its parent described, import
// the target's module, run the target, end its own children by the exit rules, and report how it
// ended.

import "../mod.ts"; // every handle type registers its reviver, so any handle can arrive
import { decode } from "../_core/_reduce.ts";
import type { RpcEndpoint } from "../_core/_rpc.ts";
import type { StartPayload } from "./_runtime.ts";
import {
  ADOPT,
  installState,
  newRegistry,
  type State,
  state,
  useRegistry,
} from "../_core/_state.ts";
import { joinRegistry, type RegistryRef } from "../_core/_shm.ts";
import { moduleLabel } from "../_core/_target.ts";
import { Process } from "./process.ts";
import { setCurrentProcess } from "./_current.ts";
import { finishChildren } from "../_core/_exit.ts";

/** How a child of one start method reaches the outside. */
export interface ChildHost {
  rpc: RpcEndpoint;
  /** Imports the target's module. */
  load(module: string): Promise<Record<string, unknown>>;
  /** Reports the exit code to the parent and ends this process. */
  exit(code: number): void | Promise<void>;
}

/** Prints an uncaught error the way Python's child does: `Process <name>:` and the stack. */
export function reportError(error: unknown): void {
  const text = error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : String(error);
  console.error(`Process ${state().self.name}:\n${text}`);
}

/** Installs the state of a child that is about to import its main module. */
export function becomeChild(
  self: State["self"],
  parent: State["parent"],
  startMethod: State["startMethod"],
  mainModule: string,
  ref?: RegistryRef,
): State {
  const registry = ref ? joinRegistry(ref) : newRegistry();
  const s: State = {
    startMethod,
    self: { ...self, pid: Deno.pid, isChild: true },
    parent,
    childCounter: 0,
    children: new Set(),
    importingMain: true,
    table: registry.table,
    registry,
    parentRpc: undefined,
    mainModule,
    exitHooks: new Set(),
    exitWatched: false,
  };
  installState(s);
  useRegistry(s, registry); // so that this realm knows which OS process each ident runs in
  return s;
}

/** Runs a child to its end. */
export async function runChild(payload: StartPayload, host: ChildHost): Promise<void> {
  const s = state();
  s.self = { ...payload.self, pid: Deno.pid, isChild: true };
  if (payload.registry === undefined) s.self.ident = 1; // first in its own table
  s.parent = payload.parent;
  s.startMethod = payload.startMethod;
  s.parentRpc = host.rpc;
  let code = 0;
  try {
    const ns = await host.load(payload.module);
    s.importingMain = false;
    const ctx = { rpc: host.rpc };
    let run: () => unknown = () => {};
    if (payload.exportName !== undefined) {
      const found = ns[payload.exportName];
      const what = payload.kind === "class" ? "Process subclass" : "target";
      if (typeof found !== "function") {
        throw new TypeError(
          `Cannot start process: ${what} '${payload.exportName}' is not exported from ${
            moduleLabel(payload.module)
          }`,
        );
      }
      if (payload.kind === "class") {
        const p = Reflect.construct(Process, [{ name: s.self.name }], found) as Process;
        Object.assign(p, decode(payload.fields, ctx));
        setCurrentProcess(p);
        run = () => p.run();
      } else {
        const args = decode(payload.args, ctx) as unknown[];
        run = () => (found as (...a: unknown[]) => unknown)(...args);
      }
    }
    if (payload.kind !== "class") {
      const p = new Process({ name: s.self.name });
      Process[ADOPT](p, s.self);
      setCurrentProcess(p);
    }
    await run();
  } catch (e) {
    reportError(e);
    code = 1;
  }
  s.importingMain = false;
  await finishChildren();
  await host.exit(code);
}
