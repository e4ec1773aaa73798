/**
 * The process tree as this process sees it: itself, its parent, its live children, and the
 * machine's CPU count.
 *
 * @module
 */

import { Process } from "./process.ts";
import { state } from "../_core/_state.ts";
import { current, setCurrentProcess } from "./_current.ts";

/** The parent of the current process, as the child knows it. */
export interface ParentProcess {
  /** The parent's name (`"MainProcess"` for the main process). */
  readonly name: string;
  /** The parent's OS pid. */
  readonly pid: number;
}

/**
 * The `Process` object that stands for the current process: named `"MainProcess"` in the main
 * process, and in a child the name its parent gave it (the instance itself for a subclass).
 *
 * @returns the current process.
 *
 * @example
 * ```ts
 * import { currentProcess } from "@mp/multiprocessing/process";
 *
 * console.log(currentProcess().name); // "MainProcess"
 * ```
 */
export function currentProcess(): Process {
  let p = current();
  if (!p) {
    p = new Process({ name: state().self.name });
    setCurrentProcess(p);
  }
  return p;
}

/**
 * The parent of the current process, or `null` in the main process (Python's `None`).
 *
 * @returns the parent's name and pid.
 *
 * @example
 * ```ts
 * import { parentProcess } from "@mp/multiprocessing/process";
 *
 * console.log(parentProcess()); // null in the main process
 * ```
 */
export function parentProcess(): ParentProcess | null {
  const parent = state().parent;
  return parent ? { ...parent } : null;
}

/**
 * The children of the current process that are still alive.
 *
 * @returns the live children, in the order they were started.
 *
 * @example
 * ```ts
 * import { activeChildren } from "@mp/multiprocessing/process";
 *
 * console.log(activeChildren().length); // 0
 * ```
 */
export function activeChildren(): Process[] {
  return [...state().children].filter((c) => c.isAlive()) as Process[];
}

/**
 * The number of logical CPUs of this machine.
 *
 * @returns `navigator.hardwareConcurrency`, at least 1.
 *
 * @example
 * ```ts
 * import { cpuCount } from "@mp/multiprocessing/process";
 *
 * console.log(cpuCount() >= 1); // true
 * ```
 */
export function cpuCount(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}
