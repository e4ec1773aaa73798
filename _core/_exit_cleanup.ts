// The temporary paths this package makes (private directories that hold Unix sockets) are removed
// however this process ends, short of SIGKILL: at its normal end or `Deno.exit()` (the "unload"
// event), after an uncaught error, and on SIGINT, SIGTERM or SIGHUP. Handling those signals
// changes nothing else: the package listens only while it has a path to remove, leaves a signal
// that anybody else listens to alone (their listener decides; an exit it makes still runs
// "unload"), and otherwise removes the paths, stops listening and raises the signal again, so
// that it ends the program just as it would have without the package.
//
// One registry per JavaScript realm, kept on `globalThis` so that two copies of the package in
// one program share it.

import { onMainThread, SIGNAL_EXIT } from "../process/_runtime.ts";

type NodeProcess = { listenerCount(event: string): number };
let nodeProcess: Promise<NodeProcess> | undefined;

/**
 * Node's `process`, whose signal listeners are left alone: imported once the main thread listens
 * to signals (see below), not before: its import costs ~20 ms, which a program that never makes
 * a path does not pay, nor a worker child.
 */
function nodeSignals(): Promise<NodeProcess> {
  return nodeProcess ??= import("node:process").then(
    (m) => m.default as NodeProcess,
    () => ({ listenerCount: () => 0 }),
  );
}

const SIGNALS: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

interface Registry {
  /** Registers `path` for removal at exit; the function returned removes it now. */
  add(path: string): () => void;
}

function removeQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // already gone
  }
}

function createRegistry(): Registry {
  const paths = new Set<string>();
  // Signal listeners added by anybody but this registry (since the package was loaded, which is
  // before the main module runs): while one is there, a signal does not end the program, so
  // neither this registry's listener nor a raised signal may decide it.
  const others = new Map<Deno.Signal, Set<() => void>>();
  const addSignal = Deno.addSignalListener;
  const removeSignal = Deno.removeSignalListener;
  Object.assign(Deno, {
    addSignalListener(signal: Deno.Signal, handler: () => void): void {
      addSignal(signal, handler);
      const set = others.get(signal) ?? new Set();
      set.add(handler);
      others.set(signal, set);
    },
    removeSignalListener(signal: Deno.Signal, handler: () => void): void {
      removeSignal(signal, handler);
      others.get(signal)?.delete(handler);
    },
  });
  // Signals are process-wide, and another thread's listeners cannot be seen from here: only the
  // main thread listens.
  const mainThread = onMainThread();
  const handlers = new Map(SIGNALS.map((s) => [s, () => onSignal(s)]));
  let listening = false;
  let hooked = false;

  function listen(on: boolean): void {
    if (on === listening || !mainThread) return;
    listening = on;
    if (on) nodeSignals(); // loaded by the time a signal comes, but for the first moments
    for (const [signal, handler] of handlers) {
      try {
        if (on) addSignal(signal, handler);
        else removeSignal(signal, handler);
      } catch {
        // not a signal of this platform
      }
    }
  }

  function removeAll(): void {
    for (const path of paths) removeQuietly(path);
    paths.clear();
    listen(false);
  }

  async function onSignal(signal: Deno.Signal): Promise<void> {
    const node = await nodeSignals();
    if ((others.get(signal)?.size ?? 0) > 0 || node.listenerCount(signal) > 0) return;
    removeAll();
    try {
      Deno.kill(Deno.pid, signal); // no listener is left: the default action ends the program
    } catch {
      Deno.exit(128 - SIGNAL_EXIT[signal]); // where a process cannot signal itself, the shell's code
    }
  }

  function hook(): void {
    if (hooked) return;
    hooked = true;
    globalThis.addEventListener("unload", removeAll);
    // An uncaught error ends the program unless a listener prevents it; "unload" does not run.
    // (A listener added after this one that prevents it comes too late to keep the paths.)
    const onError = (e: Event) => {
      if (!e.defaultPrevented) removeAll();
    };
    globalThis.addEventListener("error", onError);
    globalThis.addEventListener("unhandledrejection", onError);
  }

  return {
    add(path: string): () => void {
      hook();
      paths.add(path);
      listen(true);
      return () => {
        if (!paths.delete(path)) return;
        removeQuietly(path);
        if (paths.size === 0) listen(false);
      };
    },
  };
}

const KEY = Symbol.for("@mp/multiprocessing/exit-cleanup");
const registry: Registry =
  ((globalThis as Record<symbol, unknown>)[KEY] ??= createRegistry()) as Registry;

/**
 * Removes `path` (a file, or a directory with its contents) when this process ends, however it
 * ends short of SIGKILL.
 *
 * @returns a function that removes it at once and forgets it.
 */
export function removeAtExit(path: string): () => void {
  return registry.add(path);
}
