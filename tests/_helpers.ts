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

/**
 * Starts a subprocess child that may not use FFI, so that it cannot map shared memory and
 * reaches every shared object through its parent (the fallback of a process without FFI).
 */
export function startUnmapped(
  target: (...a: never[]) => unknown,
  args: unknown[],
  module: string,
): Process {
  const p = new Process({
    target: target as never,
    args,
    startMethod: "subprocess",
    module,
    permissions: { ffi: false },
  });
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

/** What `action` gives: its value, or the message of what it throws. */
export async function outcome(action: () => unknown): Promise<unknown> {
  try {
    return await action();
  } catch (e) {
    return (e as Error).message;
  }
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

/** The repository's root, the working directory of the programs the tests run. */
const ROOT = new URL("../", import.meta.url);

/**
 * Runs `deno <args>` from the repository root, with `env` added to the environment; its exit
 * code (and the signal that ended it), and stdout then stderr.
 */
export async function runDeno(
  args: string[],
  env?: Record<string, string>,
): Promise<{ code: number; signal: Deno.Signal | null; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdin: "null", env })
    .output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, signal: out.signal, output };
}

/** Starts `deno <args>` from the repository root with piped stdout and stderr, `env` added. */
export function spawnDeno(args: string[], env?: Record<string, string>): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
}

/**
 * Runs `body` with a fresh directory for a program's TMPDIR, and returns the names left in it
 * at the end (the directory itself is removed).
 */
export async function leftInTmp(
  body: (env: { TMPDIR: string }) => Promise<void>,
): Promise<string[]> {
  const tmp = await Deno.makeTempDir({ prefix: "mp-test-tmp-" });
  try {
    await body({ TMPDIR: tmp });
    return [...Deno.readDirSync(tmp)].map((e) => e.name);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/** Reads `child`'s stdout until `enough(text)` or its end; releases the stream for `output()`. */
export async function readUntil(
  child: Deno.ChildProcess,
  enough: (text: string) => boolean,
): Promise<string> {
  const reader = child.stdout.getReader();
  let text = "";
  try {
    while (!enough(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    reader.releaseLock();
  }
  return text;
}

/** Waits (polling every 10 ms) until `cond()` holds; fails after `ms` naming `what`. */
export async function until(cond: () => boolean, what = "the condition", ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  if (!cond()) throw new Error(`${what} did not hold within ${ms} ms`);
}

/** `promise`, or a rejection naming `what` once `ms` pass first. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not end within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether OS process `pid` runs (exists and is not a zombie). */
export function pidAlive(pid: number): boolean {
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].startsWith("Z");
  } catch {
    return false;
  }
}

/** Waits up to `ms` for the processes `pids` to end; returns those still running. */
export async function stillRunning(pids: number[], ms = 2000): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (pids.some(pidAlive) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return pids.filter(pidAlive);
}

/**
 * The running processes of this user whose environment holds `entry` (`"NAME=value"`): e.g.
 * every descendant of a program started with a TMPDIR of its own, even one its parent lost.
 */
export function pidsWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const env = Deno.readTextFileSync(`/proc/${pid}/environ`).split("\0");
      if (env.includes(entry) && pidAlive(pid)) pids.push(pid);
    } catch {
      // gone, or not ours
    }
  }
  return pids;
}

/** `n` bytes of a recognizable pattern, for items that must arrive whole. */
export function pattern(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 12)) & 255;
  return b;
}

/** What a received value is: "whole" ({@link pattern} of `n` bytes), a number, or else. */
export function describe(value: unknown, n: number): string {
  if (typeof value === "number") return String(value);
  if (!(value instanceof Uint8Array)) return `phantom ${String(value)}`;
  const whole = value.length === n && value.every((b, i) => b === ((i * 31 + (i >>> 12)) & 255));
  return whole ? "whole" : `partial or damaged, ${value.length} bytes`;
}
