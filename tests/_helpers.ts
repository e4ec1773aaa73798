// Shared by the tests: the start methods, starting children of one test module, joining them.

import { Process, type StartMethod } from "../mod.ts";

/** The two start methods every suite runs under. */
export const METHODS: readonly StartMethod[] = ["worker", "subprocess"] as const;

/** Starts a child running `target(...args)`, exported from `module`. */
export function startOne(
  target: (...a: never[]) => unknown,
  args: unknown[],
  startMethod: StartMethod,
  module: string,
  daemon = false,
): Process {
  const p = new Process({ target: target as never, args, startMethod, module, daemon });
  p.start();
  return p;
}

/** A `startOne` bound to the test module `module`: `(method, target, args, daemon?)`. */
export function starter(
  module: string,
): (
  method: StartMethod,
  target: (...a: never[]) => unknown,
  args: unknown[],
  daemon?: boolean,
) => Process {
  return (method, target, args, daemon = false) => startOne(target, args, method, module, daemon);
}

/** Starts one child per `args` entry running `target`, exported from `module`. */
export function spawn(
  target: (...a: never[]) => unknown,
  argsList: unknown[][],
  startMethod: StartMethod,
  module: string,
): Process[] {
  return argsList.map((args) => startOne(target, args, startMethod, module));
}

/**
 * In a child: runs `action` and exits 0 when it throws an `Expected`, 4 for another error, 5 when
 * nothing is thrown.
 */
export async function exitOnError(
  Expected: new (...a: never[]) => Error,
  action: () => Promise<unknown>,
): Promise<never> {
  try {
    await action();
  } catch (e) {
    Deno.exit(e instanceof Expected ? 0 : 4);
  }
  Deno.exit(5);
}

/** Joins every child and returns their exit codes. */
export async function joinAll(ps: Process[]): Promise<(number | null)[]> {
  await Promise.all(ps.map((p) => p.join()));
  return ps.map((p) => p.exitCode);
}

/**
 * Runs `wait` once with a 20 ms timeout and once with a signal that aborts after 20 ms, on
 * something that stays unavailable: 1 when the first resolves false, +2 when the second rejects
 * with the signal's TimeoutError.
 */
export async function timeoutAndAbort(
  wait: (options: { timeout?: number; signal?: AbortSignal }) => Promise<unknown>,
): Promise<number> {
  let r = (await wait({ timeout: 20 })) === false ? 1 : 0;
  try {
    await wait({ signal: AbortSignal.timeout(20) });
  } catch (e) {
    if ((e as DOMException).name === "TimeoutError") r += 2;
  }
  return r;
}
