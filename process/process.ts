/**
 * `Process`: a child running a target function, or the `run()` of a subclass, in a Web Worker
 * or a `deno run` subprocess, with the meaning of Python's `multiprocessing.Process`.
 *
 * @module
 */

import { attachWhile, canMap, registryRef } from "../_core/_shm.ts";
import { encode } from "../_core/_reduce.ts";
import { RpcEndpoint } from "../_core/_rpc.ts";
import type { ChildHandle, Runtime, StartPayload } from "./_runtime.ts";
import { subprocessRuntime } from "./_subprocess_runtime.ts";
import { workerRuntime } from "./_worker_runtime.ts";
import { findExport, moduleLabel } from "../_core/_target.ts";
import { until } from "../_core/_until.ts";
import {
  checkPermissions,
  checkPermissionShape,
  mayMap,
  type ProcessPermissions,
} from "./_permissions.ts";
import { watchExit } from "../_core/_exit.ts";
import {
  checkBoolean,
  checkModuleUrl,
  checkStartMethod,
  checkString,
  wrongType,
} from "../_core/_check.ts";
import {
  ADOPT,
  allocateIdent,
  ENDED,
  EXITED,
  identRunsIn,
  releaseIdent,
  type SelfInfo,
  type StartMethod,
  type State,
  state,
} from "../_core/_state.ts";

export type { ProcessPermissions, StartMethod };
export type { PermissionValue } from "./_permissions.ts";

/** Options of a {@link Process}. */
// deno-lint-ignore no-explicit-any
export interface ProcessOptions<A extends any[] = any[]> {
  /**
   * The function the child runs: exported from the main module, or from `module`. It may be
   * async; the child ends when it settles.
   * @default {undefined} (the child runs `run()`, which does nothing unless overridden)
   */
  target?: (...args: A) => unknown;
  /**
   * Arguments for `target`: structured-cloneable values and this package's handles (locks,
   * queues, pipe ends), also nested in arrays and plain objects.
   * @default {[]}
   */
  args?: A;
  /** The process's name. @default {"Process-N"} */
  name?: string;
  /**
   * Whether the child is terminated, not joined, when its parent's work is done; a daemon may not
   * start children of its own.
   * @default {false}
   */
  daemon?: boolean;
  /**
   * URL of the module that exports `target` (or the subclass): pass `import.meta.url` when it is
   * not the main module.
   * @default {Deno.mainModule}
   */
  module?: string | URL;
  /** How the child is started. @default {getStartMethod()} */
  startMethod?: StartMethod;
  /**
   * The child's permissions, never more than this process has. Narrowing a worker's needs
   * `--unstable-worker-options`. Where this process maps shared memory (FFI on Linux), a child
   * maps it too only with `ffi` inherited or `true`; with `ffi: false` or a list it reaches
   * shared objects through this process (and their synchronous members throw there). Deno does
   * not sandbox FFI: a child that may use it can get around the rest of its `permissions`, so a
   * child narrowed for safety needs `ffi: false` too.
   * @default {every kind "inherit"}
   */
  permissions?: ProcessPermissions;
}

const RUNTIMES: Record<StartMethod, Runtime> = {
  worker: workerRuntime,
  subprocess: subprocessRuntime,
};

/**
 * A process: the unit of work that runs in parallel with its parent, as in Python.
 *
 * Give it an exported `target` and `args`, or subclass it and override `run()`; `start()` it,
 * then `join()` it. Under the `"worker"` start method the child is a Web Worker; under
 * `"subprocess"` it is a `deno run` child process with at most this process's permissions,
 * which exits when its parent does. Either kind of child shares the locks, values, queues and
 * pipes it is given: where both processes may use FFI on Linux, through the same mapped memory,
 * and a worker child through `SharedArrayBuffer`s where its parent does not map; otherwise it
 * reaches them through its parent (see the `sync` module).
 *
 * Python's exit rules hold: when a process's own work is done (for the main process: its event
 * loop has nothing left but children; for a child: its target settled), or it fails with an
 * uncaught error, its daemon children are terminated first, then its other children are joined,
 * and then it exits with its own code (1 after the error). `Deno.exit()` cannot wait: it ends the
 * program at once and terminates every child still running.
 *
 * @example Start a child and wait for it
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 *
 * export function greet(who: string): void {
 *   console.log(`hello, ${who}`);
 * }
 *
 * if (import.meta.main) {
 *   const p = new Process({ target: greet, args: ["world"] });
 *   p.start();
 *   await p.join();
 *   console.log(p.exitCode); // 0
 * }
 * ```
 *
 * @example A daemon is terminated when its parent's work is done; the others are joined
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 *
 * export async function work(ms: number): Promise<void> {
 *   await new Promise((resolve) => setTimeout(resolve, ms));
 *   console.log(`worked ${ms} ms`);
 * }
 *
 * if (import.meta.main) {
 *   new Process({ target: work, args: [60_000], daemon: true }).start(); // never prints
 *   new Process({ target: work, args: [10] }).start(); // prints "worked 10 ms"
 *   console.log("main: done"); // then the program ends, with exit code 0
 * }
 * ```
 *
 * @example A subclass with its own `run()`
 * ```ts
 * import { Process } from "@mp/multiprocessing/process";
 *
 * export class Walker extends Process {
 *   steps = 3;
 *   override run(): void {
 *     for (let i = 0; i < this.steps; i++) console.log(`${this.name} step ${i}`);
 *   }
 * }
 *
 * if (import.meta.main) {
 *   const w = new Walker();
 *   w.start();
 *   await w.join();
 * }
 * ```
 */
// deno-lint-ignore no-explicit-any
export class Process<A extends any[] = any[]> {
  #target: ((...args: A) => unknown) | undefined;
  #args: A;
  #name: string;
  #daemon: boolean;
  #module: string | undefined;
  #startMethod: StartMethod | undefined;
  #permissions: ProcessPermissions | undefined;
  #identity: number[] = [];
  #handle: ChildHandle | undefined;
  #exitCode: number | null = null;
  #exited: Promise<void> | undefined;
  #closed = false;
  #self: SelfInfo | undefined;

  /**
   * Describes a process; nothing runs until `start()`.
   *
   * @param options what to run and how.
   * @throws {TypeError} when an option has the wrong type: `target` not a function, `args` not
   * an array, `name` not a string, `daemon` not a boolean, `module` not a URL, `startMethod`
   * unknown, or `permissions` not an object of known kinds with `"inherit"`, a boolean or a list
   * of strings.
   */
  constructor(options: ProcessOptions<A> = {}) {
    const what = "Cannot create process";
    if (options === null || typeof options !== "object") {
      wrongType(what, "options", "an object", options);
    }
    const { target, args, name, daemon, module, startMethod, permissions } = options;
    if (target !== undefined && typeof target !== "function") {
      wrongType(what, "target", "a function", target);
    }
    if (args !== undefined && !Array.isArray(args)) wrongType(what, "args", "an array", args);
    checkString(name, what, "name");
    checkBoolean(daemon, what, "daemon");
    this.#target = target;
    this.#args = (args ?? []) as A;
    const s = state();
    this.#daemon = daemon ?? s.self.daemon;
    this.#module = module === undefined ? undefined : checkModuleUrl(module, what);
    this.#startMethod = startMethod === undefined ? undefined : checkStartMethod(startMethod);
    this.#permissions = checkPermissionShape(permissions, what);
    if (name !== undefined) {
      this.#name = name;
    } else {
      this.#identity = [...s.self.identity, ++s.childCounter];
      this.#name = `Process-${this.#identity.join(":")}`;
    }
  }

  /**
   * Makes `p` stand for the current process (in a child, or the main process).
   *
   * @ignore
   */
  static [ADOPT](p: Process, self: SelfInfo): void {
    p.#self = self;
    p.#name = self.name;
    p.#daemon = self.daemon;
    p.#identity = self.identity;
  }

  /**
   * What the child does: calls `target(...args)`. Override it in a subclass; it then runs in the
   * child, with the instance's own fields copied there.
   *
   * @returns what the target returns.
   */
  run(): void | Promise<void> {
    return this.#target?.(...this.#args) as void | Promise<void>;
  }

  /** The process's name: `"Process-1"`, `"Process-2"`... unless given. */
  get name(): string {
    return this.#name;
  }

  /** @throws {TypeError} when `value` is not a string. */
  set name(value: string) {
    this.#name = checkString(value, "Cannot set process name", "name") ?? wrongType(
      "Cannot set process name",
      "name",
      "a string",
      value,
    );
  }

  /** Whether the child is terminated, not joined, when its parent's work is done. */
  get daemon(): boolean {
    return this.#daemon;
  }

  /** @throws {TypeError} once the process has started. */
  set daemon(value: boolean) {
    if (this.#handle || this.#self) {
      throw new TypeError(`Cannot set daemon of process '${this.#name}': it has already started`);
    }
    const what = `Cannot set daemon of process '${this.#name}'`;
    this.#daemon = checkBoolean(value, what, "daemon") ??
      wrongType(what, "daemon", "true or false", value);
  }

  /**
   * The child's OS pid; `undefined` before `start()`. A worker child runs in this OS process, so
   * its `pid` is this process's own (`Deno.pid`): `Deno.kill(p.pid, sig)` would signal the whole
   * program. Stop a child of either start method with `terminate()` (SIGTERM) or `kill()`
   * (SIGKILL); signal handling in a child needs the `"subprocess"` start method.
   */
  get pid(): number | undefined {
    return this.#self ? this.#self.pid : this.#handle?.pid;
  }

  /**
   * `null` until the child exits; then 0, 1 after an uncaught error, n after `Deno.exit(n)`, and
   * -15 after `terminate()` or -9 after `kill()` (for workers too).
   */
  get exitCode(): number | null {
    return this.#exitCode;
  }

  /** Start method of this process's child. */
  get startMethod(): StartMethod {
    return this.#startMethod ?? state().startMethod;
  }

  /**
   * Starts the child.
   *
   * @throws {TypeError} when started twice or after `close()`, when the target is not exported
   * from its module, when an argument cannot be sent, or when asked for permissions this process
   * lacks.
   * @throws {Error} in a daemon process, or while a child is still importing its main module.
   * @throws {Deno.errors.NotCapable} when this process lacks a permission its start method needs;
   * the message names each missing flag, why it is needed and what to do.
   */
  start(): void {
    const s = state();
    const what = `Cannot start process '${this.#name}'`;
    if (this.#self) throw new TypeError(`${what}: it is the current process`);
    if (this.#closed) throw new TypeError(`${what}: it is closed`);
    if (this.#handle) throw new TypeError(`${what}: a process can only be started once`);
    if (s.importingMain) {
      throw new Error(
        `${what}: this child is still importing its main module; guard the code that starts ` +
          "processes with `if (import.meta.main)`",
      );
    }
    if (s.self.daemon) {
      throw new Error(`${what}: daemonic processes are not allowed to have children`);
    }
    const method = this.startMethod;
    const { module, exportName, kind } = this.#resolve(s);
    checkPermissions(this.#permissions);
    const ident = allocateIdent(s.table);
    try {
      const sameProcess = method === "worker";
      const maps = canMap() && mayMap(this.#permissions);
      const rpc = new RpcEndpoint({ sameProcess, maps }, { ident });
      const transfer: Transferable[] = [];
      const ctx = rpc.context(transfer);
      const payload: StartPayload = {
        module,
        exportName,
        kind,
        fields: kind === "class" ? encode({ ...this }, ctx, "this") : undefined,
        args: kind === "function" ? encode(this.#args, ctx, "args") : [],
        self: {
          name: this.#name,
          daemon: this.#daemon,
          identity: this.#identity,
          ident,
          pid: 0,
          isChild: true,
        },
        parent: { name: s.self.name, pid: Deno.pid },
        startMethod: s.startMethod,
        registry: registryRef(s.registry, sameProcess, maps),
        maps,
      };
      const handle = RUNTIMES[method].spawn({
        payload,
        transfer,
        rpc,
        daemon: this.#daemon,
        permissions: this.#permissions,
      });
      this.#handle = handle;
      if (!sameProcess) identRunsIn(s.table, ident, handle.pid);
      if (!sameProcess && maps) attachWhile(handle.exited);
      s.children.add(this);
      this.#exited = handle.exited.then((code) => {
        this.#exitCode ??= code;
        releaseIdent(s.table, ident);
        rpc.close(new Error(`Process '${this.#name}' has exited`));
        s.children.delete(this);
      });
    } catch (e) {
      releaseIdent(s.table, ident);
      throw e;
    }
    watchExit();
  }

  #resolve(
    s: State,
  ): { module: string; exportName: string | undefined; kind: StartPayload["kind"] } {
    const module = this.#module ?? s.mainModule;
    const subclass = Object.getPrototypeOf(this).run !== Process.prototype.run;
    const fn: { name: string } | undefined = subclass ? this.constructor : this.#target;
    if (!fn) return { module, exportName: undefined, kind: "none" };
    const what = subclass ? "Process subclass" : "target";
    if (!fn.name) {
      throw new TypeError(
        `Cannot start process: the ${what} has no name; it must be an exported, named ${
          subclass ? "class" : "function"
        }`,
      );
    }
    const exportName = findExport(module, fn.name);
    if (exportName === null) {
      throw new TypeError(
        `Cannot start process: ${what} '${fn.name}' is not exported from ${moduleLabel(module)}` +
          (this.#module ? "" : "; export it, or pass `module: import.meta.url` from its module"),
      );
    }
    return { module, exportName: exportName ?? fn.name, kind: subclass ? "class" : "function" };
  }

  /**
   * Waits for the child to exit, or for `timeout` milliseconds to pass.
   *
   * @param timeout the most milliseconds to wait; wait forever when left out.
   * @param options `signal` to stop waiting early.
   * @returns once the child has exited or the wait ended; check `exitCode` or `isAlive()`.
   * @throws {TypeError} before `start()`, or when joining the current process.
   * @throws {DOMException} the signal's reason when it aborts.
   */
  async join(timeout?: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#self) {
      throw new TypeError(`Cannot join process '${this.#name}': it is the current process`);
    }
    if (!this.#exited) {
      throw new TypeError(`Cannot join process '${this.#name}': it has not been started`);
    }
    await until(this.#exited, timeout, options.signal, "Cannot join process");
  }

  /**
   * The child's exit, resolved when `join()` would return; keeps no event loop alive.
   *
   * @ignore
   */
  get [EXITED](): Promise<void> {
    if (!this.#exited) throw new TypeError(`Process '${this.#name}' has not been started`);
    return this.#exited;
  }

  /**
   * The child's exit, or the moment it was found unstoppable after `terminate()` or `kill()`;
   * keeps no event loop alive.
   *
   * @ignore
   */
  get [ENDED](): Promise<void> {
    const exited = this[EXITED];
    const unstoppable = this.#handle?.unstoppable;
    return unstoppable ? Promise.race([exited, unstoppable]) : exited;
  }

  /** Whether the child has started and not yet exited (always true for the current process). */
  isAlive(): boolean {
    if (this.#self) return true;
    return this.#handle !== undefined && this.#exitCode === null;
  }

  /**
   * Asks the child to stop: SIGTERM for a subprocess (which may handle it), an immediate end for
   * a worker. `exitCode` becomes -15 unless the child exits otherwise.
   */
  terminate(): void {
    if (this.#exitCode === null) this.#handle?.terminate();
  }

  /**
   * Stops the child at once: SIGKILL for a subprocess. `exitCode` becomes -9.
   *
   * A worker child running synchronous code cannot be stopped (Deno cannot interrupt a thread's
   * code, measured for web and node Workers alike): it stays alive, with what it holds, until
   * that code returns to its event loop, and after a second a line on stderr says so. A program
   * whose work is done does not wait for it. Work that may have to be stopped belongs to the
   * `"subprocess"` start method.
   */
  kill(): void {
    if (this.#exitCode === null) this.#handle?.kill();
  }

  /**
   * Releases the process object; later calls on it throw.
   *
   * @throws {TypeError} while the child is still running.
   */
  close(): void {
    if (this.isAlive() && !this.#self) {
      throw new TypeError(
        `Cannot close process '${this.#name}': it is still running; join() or terminate() it first`,
      );
    }
    this.#closed = true;
  }

  /** Ends the child if it still runs, so that `using p = new Process(...)` never leaks one. */
  [Symbol.dispose](): void {
    if (this.isAlive() && !this.#self) this.kill();
  }
}
