// Python's exit rules (`multiprocessing.util._exit_function`): when a process's own work ends,
// normally or by an uncaught error, its exit hooks run (an open pool ends its workers), its
// daemon children are terminated, then every other child is joined, and only then does it exit,
// with its own code (1 after an uncaught error).
//
// A child applies them when its target settles (../process/_child.ts). The main process applies
// them when its event loop has nothing left to do (`beforeunload`; no child keeps the loop alive,
// see ../process/_thread.ts), holding the loop while it joins, and on an uncaught error or
// unhandled rejection while it has children: Deno would exit at once, killing them. `Deno.exit()`
// cannot wait: at `unload` every child still alive is terminated.

import { ENDED, onMainThread, state } from "./_state.ts";
import { until } from "./_until.ts";

/**
 * Runs `hook` once when this process's work ends, before its daemons are terminated.
 *
 * @returns a function that removes the hook.
 */
export function addExitHook(hook: () => void): () => void {
  const hooks = state().exitHooks;
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/**
 * Runs the exit hooks, terminates the daemon children, then waits for every child to exit.
 *
 * @returns whether a child was left running because it cannot be stopped (a worker thread stuck
 * in synchronous code): Deno would wait for that thread at exit, so the caller exits explicitly.
 */
export async function finishChildren(): Promise<boolean> {
  const s = state();
  const hooks = [...s.exitHooks];
  s.exitHooks.clear();
  for (const hook of hooks) hook();
  const children = [...s.children];
  for (const c of children) if (c.daemon) c.terminate();
  // A child that cannot be stopped (a worker stuck in synchronous code) goes with the process.
  await until(Promise.all(children.map((c) => c[ENDED])), undefined, undefined, "exit");
  return children.some((c) => c.isAlive());
}

/** Whether the end of this process's work has anything to do. */
function pending(): boolean {
  const s = state();
  return s.children.size > 0 || s.exitHooks.size > 0;
}

let finishing = false;
let failing = false;

/** The event loop ran dry: apply the rules, keeping it running until the children are joined. */
function onLoopEnd(e: Event): void {
  if (finishing || !pending()) return;
  e.preventDefault();
  finishing = true;
  finishChildren().then((stuck) => { // the joins hold the loop meanwhile
    finishing = false;
    if (stuck) Deno.exit(); // with Deno.exitCode
  });
}

/** Prints an uncaught error as Deno does (without the source line), then applies the rules. */
function onUncaught(e: Event, error: unknown): void {
  if (e.defaultPrevented || (!failing && !pending())) return; // Deno reports it and exits
  e.preventDefault();
  const colors = !Deno.noColor && Deno.stderr.isTerminal();
  const label = colors ? "\x1b[1m\x1b[31merror\x1b[0m" : "error";
  const where = e.type === "unhandledrejection" ? "(in promise) " : "";
  console.error(`${label}: Uncaught ${where}${Deno.inspect(error, { colors })}`);
  if (failing) return;
  failing = true;
  finishChildren().finally(() => Deno.exit(1));
}

/** Terminates what is still alive when the process goes anyway (`Deno.exit()`). */
function onUnload(): void {
  for (const c of state().children) if (c.isAlive()) c.terminate();
}

/**
 * Makes this process apply the exit rules: called when it starts its first child. A child's
 * target end applies them already; the main thread of the main process listens for its end.
 */
export function watchExit(): void {
  const s = state();
  if (s.exitWatched) return;
  s.exitWatched = true;
  globalThis.addEventListener("unload", onUnload);
  if (s.self.isChild || !onMainThread()) return;
  globalThis.addEventListener("beforeunload", onLoopEnd);
  globalThis.addEventListener("error", (e) => onUncaught(e, (e as ErrorEvent).error));
  globalThis.addEventListener("unhandledrejection", (e) => onUncaught(e, e.reason));
}
