import assert from "node:assert/strict";
import { leftInTmp, METHODS, readUntil, runDeno, spawnDeno, stillRunning } from "./_helpers.ts";
import { webWorkersUnref } from "../process/_thread.ts";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  Event,
  getContext,
  getStartMethod,
  parentProcess,
  Process,
  type ProcessOptions,
  setStartMethod,
  type StartMethod,
} from "../mod.ts";

const module = import.meta.url;
const isMain = import.meta.main;

// ---- targets, run in the children --------------------------------------------------------

/** Exits 0 when the arguments arrived intact, 7 otherwise. */
export function checkArgs(n: number, obj: { a: number[]; m: Map<string, Date> }): void {
  const ok = n === 42 && obj.a.join() === "1,2,3" && obj.m.get("d") instanceof Date;
  if (!ok) Deno.exit(7);
}

/** Exits with `code`. */
export function exitWith(code: number): void {
  Deno.exit(code);
}

/** Throws asynchronously. */
export async function failLater(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  throw new Error("failed in the child");
}

/** Sleeps for `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exits 0 when the child sees itself, its parent and `import.meta.main` as expected. */
export function identify(name: string, parentPid: number, sameOsProcess: boolean): void {
  if (currentProcess().name !== name) Deno.exit(2);
  if (parentProcess()?.name !== "MainProcess" || parentProcess()?.pid !== parentPid) Deno.exit(3);
  if (isMain) Deno.exit(4);
  if ((Deno.pid === parentPid) !== sameOsProcess) Deno.exit(5);
}

let calls = 0;

/**
 * Exits 0 when this is its process's first call (fresh module state and globals) and it is not
 * main.
 */
export function firstCall(name: string): void {
  const global = globalThis as { calledBefore?: boolean };
  if (++calls !== 1) Deno.exit(10 + calls);
  if (global.calledBefore) Deno.exit(9);
  global.calledBefore = true;
  if (isMain || currentProcess().name !== name) Deno.exit(2);
}

/** Starts a child of its own: exits 0 when that works, 6 when it throws. */
export async function startGrandchild(): Promise<void> {
  try {
    const p = new Process({ target: exitWith, args: [0], module });
    p.start();
    await p.join();
    Deno.exit(p.exitCode === 0 ? 0 : 8);
  } catch {
    Deno.exit(6);
  }
}

/** Exits with 42 on SIGTERM; sets `ready` once it listens. */
export async function handleTerm(ready: Event): Promise<void> {
  Deno.addSignalListener("SIGTERM", () => Deno.exit(42));
  ready.set();
  await sleep(30_000);
}

/** Exits 0 when network access is denied, 9 when it is allowed. */
export function cannotConnect(): void {
  Deno.exit(Deno.permissions.querySync({ name: "net" }).state === "granted" ? 9 : 0);
}

/** A subclass whose fields travel to the child. */
export class Doubler extends Process {
  input = 0;
  override run(): void {
    Deno.exit(this.input * 2 + (this.name === "doubler" ? 0 : 100));
  }
}

function notExported(): void {}

function started(options: ConstructorParameters<typeof Process>[0]): Process {
  const p = new Process({ module, ...options });
  p.start();
  return p;
}

// ---- tests --------------------------------------------------------------------------------

for (const startMethod of METHODS) {
  const t = (name: string, fn: () => Promise<void> | void) =>
    Deno.test(`${name} (${startMethod})`, fn);

  t("Process.join() waits for the child to exit, and exitCode is 0", async () => {
    const p = new Process({ target: sleep, args: [50], startMethod, module });
    assert.equal(p.exitCode, null);
    assert.equal(p.pid, undefined);
    p.start();
    assert.ok(p.isAlive());
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.ok(!p.isAlive());
  });

  t("Process passes structured-cloneable args to the target", async () => {
    const p = started({
      target: checkArgs,
      args: [42, { a: [1, 2, 3], m: new Map([["d", new Date()]]) }],
      startMethod,
    });
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  t(
    "Process.exitCode is 1 after an uncaught error, which the child prints, and n after Deno.exit(n)",
    async () => {
      // in a program of its own, so that the child's error is read here, not printed
      const { code, output } = await runDeno([
        "run",
        "-A",
        "tests/fixtures/child_error.ts",
        startMethod,
      ]);
      assert.equal(code, 0, output);
      assert.match(output, /^Process Process-1:\nError: failed in the child\n +at failLater /m);
      assert.match(output, /^exit codes: 1 3$/m);
    },
  );

  t("Process.terminate() and kill() give -15 and -9", async () => {
    const a = started({ target: sleep, args: [30_000], startMethod });
    const b = started({ target: sleep, args: [30_000], startMethod });
    await sleep(100);
    a.terminate();
    b.kill();
    await Promise.all([a.join(), b.join()]);
    assert.equal(a.exitCode, -15);
    assert.equal(b.exitCode, -9);
  });

  t("Process.join(timeout) returns while the child still runs", async () => {
    const p = started({ target: sleep, args: [30_000], startMethod });
    await p.join(50);
    assert.ok(p.isAlive());
    assert.equal(p.exitCode, null);
    p.kill();
    await p.join();
  });

  t("Process.join(timeout) with a timeout past a timer's longest (2^31 - 1 ms) waits", async () => {
    const p = started({ target: sleep, args: [100], startMethod });
    await p.join(3e9); // a timer of more than 2^31 - 1 ms would fire at once
    assert.equal(p.exitCode, 0);
  });

  t("Process.join() stops waiting when its signal aborts", async () => {
    const p = started({ target: sleep, args: [30_000], startMethod });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("enough")), 30);
    await assert.rejects(p.join(undefined, { signal: controller.signal }), /enough/);
    p.kill();
    await p.join();
  });

  t("Process child knows its name, its parent and that it is not the main module", async () => {
    const p = new Process({
      target: identify,
      name: "finder",
      args: ["finder", Deno.pid, startMethod === "worker"],
      startMethod,
      module,
    });
    p.start();
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  t("Process children started one after another each begin with fresh module state", async () => {
    // back to back, then apart: a worker child may run in a Web Worker made ahead either way
    for (const name of ["first", "second", "third", "fourth", "apart-1", "apart-2"]) {
      if (name.startsWith("apart")) await sleep(20);
      const p = started({ target: firstCall, args: [name], name, startMethod });
      await p.join();
      assert.equal(p.exitCode, 0, name);
    }
    const both = ["fifth", "sixth"].map((name) =>
      started({ target: firstCall, args: [name], name, startMethod })
    );
    for (const p of both) await p.join();
    assert.deepEqual(both.map((p) => p.exitCode), [0, 0]);
  });

  t("Process.pid is the child's OS pid, or this one's for a worker", async () => {
    const p = started({ target: exitWith, args: [0], startMethod });
    assert.equal(typeof p.pid, "number");
    assert.equal(p.pid === Deno.pid, startMethod === "worker");
    await p.join();
  });

  t("Process subclass fields travel to the child and run() runs there", async () => {
    const d = new Doubler({ name: "doubler", startMethod, module });
    d.input = 21;
    d.start();
    await d.join();
    assert.equal(d.exitCode, 42);
  });

  t("Process children may start children, daemons may not", async () => {
    const a = started({ target: startGrandchild, startMethod });
    const b = started({ target: startGrandchild, startMethod, daemon: true });
    await Promise.all([a.join(), b.join()]);
    assert.equal(a.exitCode, 0);
    assert.equal(b.exitCode, 6);
  });

  t("activeChildren() lists the children still running", async () => {
    const p = started({ target: sleep, args: [30_000], startMethod });
    assert.ok(activeChildren().includes(p));
    p.kill();
    await p.join();
    assert.ok(!activeChildren().includes(p));
  });

  t("Process.start() refuses a target that is not exported, before spawning", () => {
    const before = activeChildren().length;
    assert.throws(
      () => started({ target: notExported, startMethod }),
      (e: Error) =>
        e instanceof TypeError && e.message.includes("'notExported' is not exported") &&
        e.message.includes("process_test.ts"),
    );
    assert.equal(activeChildren().length, before);
  });

  t("Process.start() refuses args that cannot be sent, naming their position", () => {
    assert.throws(
      () => started({ target: checkArgs, args: [1, { a: [() => 1] }] as never, startMethod }),
      (e: Error) => e instanceof TypeError && e.message.startsWith("args[1].a[0] is a function"),
    );
    assert.throws(
      () => started({ target: checkArgs, args: [Symbol("s")] as never, startMethod }),
      /args\[0\] is a symbol/,
    );
    assert.throws(
      () => started({ target: checkArgs, args: [new URLSearchParams()] as never, startMethod }),
      /args\[0\] is a URLSearchParams/,
    );
  });

  t("Process.start() twice throws, and daemon cannot change after start", async () => {
    const p = started({ target: exitWith, args: [0], startMethod });
    assert.throws(() => p.start(), TypeError);
    assert.throws(() => (p.daemon = true), TypeError);
    assert.throws(() => p.close(), TypeError);
    await p.join();
    p.close();
    assert.throws(() => p.start(), TypeError);
  });

  t("Process child's permissions can be narrowed", async () => {
    const p = started({ target: cannotConnect, startMethod, permissions: { net: false } });
    await p.join();
    assert.equal(p.exitCode, 0);
  });
}

Deno.test("Process.terminate() sends SIGTERM, which a subprocess child may handle", async () => {
  const ready = new Event();
  const p = started({ target: handleTerm, args: [ready], startMethod: "subprocess" });
  await ready.wait();
  p.terminate();
  await p.join();
  assert.equal(p.exitCode, 42);
});

Deno.test("Process names default to Process-N, as in Python", () => {
  const a = new Process();
  const b = new Process();
  assert.match(a.name, /^Process-\d+$/);
  assert.equal(Number(b.name.slice(8)), Number(a.name.slice(8)) + 1);
  assert.equal(new Process({ name: "x" }).name, "x");
});

Deno.test("Process.join() before start() throws a TypeError", async () => {
  await assert.rejects(new Process().join(), TypeError);
});

Deno.test("currentProcess() is MainProcess and parentProcess() is null in the main process", () => {
  assert.equal(currentProcess().name, "MainProcess");
  assert.equal(currentProcess().pid, Deno.pid);
  assert.equal(parentProcess(), null);
  assert.ok(cpuCount() >= 1);
});

Deno.test("setStartMethod() and getContext() choose the start method", () => {
  assert.equal(getStartMethod(), "worker");
  setStartMethod("subprocess");
  try {
    assert.equal(getStartMethod(), "subprocess");
    assert.equal(new Process().startMethod, "subprocess");
  } finally {
    setStartMethod("worker");
  }
  const ctx = getContext("subprocess");
  assert.equal(new ctx.Process().startMethod, "subprocess");
  assert.throws(() => setStartMethod("fork" as StartMethod), TypeError);
  assert.throws(() => getContext("spawn" as StartMethod), TypeError);
});

for (const startMethod of METHODS) {
  Deno.test(`Process child started at import time gets a clear error (${startMethod})`, async () => {
    const { output: out } = await runDeno([
      "run",
      "-A",
      "tests/fixtures/unguarded.ts",
      startMethod,
    ]);
    assert.match(out, /still importing its main module/);
    assert.match(out, /exit code 1/);
  });
}

Deno.test("Process subprocess child exits when its parent is killed with SIGKILL, leaving no temp directory", async () => {
  const left = await leftInTmp(async (env) => {
    const parent = spawnDeno(["run", "-A", "tests/fixtures/orphan_parent.ts"], env);
    const childPid = Number((await readUntil(parent, (t) => t.includes("\n"))).trim());
    assert.ok(childPid > 0);
    parent.kill("SIGKILL");
    await parent.output();
    assert.deepEqual(await stillRunning([childPid]), [], "the child outlived its parent");
  });
  assert.deepEqual(left, []);
});

for (const signal of ["SIGKILL", "SIGINT", "SIGTERM"] as const) {
  Deno.test(`Process subprocess child busy in synchronous code ends when its parent dies of ${signal}`, async () => {
    const parent = spawnDeno(["run", "-A", "tests/fixtures/orphan_parent.ts", "busy"]);
    const childPid = Number((await readUntil(parent, (t) => t.includes("\n"))).trim());
    assert.ok(childPid > 0);
    parent.kill(signal); // the parent's pid alone, not its process group
    await parent.status; // not its output: the child holds the same pipes open while it lives
    const left = await stillRunning([childPid], 3000);
    if (left.length > 0) Deno.kill(childPid, "SIGKILL");
    await Promise.all([parent.stdout.cancel(), parent.stderr.cancel()]);
    assert.deepEqual(left, [], "the busy child outlived its parent");
  });
}

/** The pids a fixture's children printed as `(pid N)`, other than this test's own. */
function childPids(output: string): number[] {
  return [...output.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1])).filter((pid) =>
    pid !== Deno.pid
  );
}

for (const startMethod of METHODS) {
  Deno.test(`Process: main's end terminates daemons first, then joins the others (${startMethod})`, async () => {
    const { code, output } = await runDeno([
      "run",
      "-A",
      "tests/fixtures/course_daemon.ts",
      startMethod,
      "1000",
    ]);
    assert.equal(code, 0, output);
    assert.match(output, /main: done\n(.|\n)*>>>>>> end 4/, "main prints at once, the other ends");
    assert.doesNotMatch(output, />>>>>> end 2/, "the daemon was terminated at main's end");
    if (startMethod === "subprocess") {
      assert.deepEqual(await stillRunning(childPids(output)), [], "no orphan");
    }
  });

  Deno.test(`Process: an uncaught error in main joins the non-daemon children, then exits 1 (${startMethod})`, async () => {
    const { code, output } = await runDeno([
      "run",
      "-A",
      "tests/fixtures/uncaught_in_main.ts",
      startMethod,
    ]);
    assert.equal(code, 1, output);
    assert.match(output, /error: Uncaught \(in promise\) Error: boom in main\n +at /);
    assert.match(output, /^end 2$/m, "the non-daemon child was joined");
    assert.doesNotMatch(output, /^end 1$/m, "the daemon child was terminated");
    if (startMethod === "subprocess") {
      assert.equal(childPids(output).length, 2, output);
      assert.deepEqual(await stillRunning(childPids(output)), [], "no orphan");
    }
  });
}

Deno.test("Process: worker children let a program end, by Deno's Worker unref hook", () => {
  assert.ok(
    webWorkersUnref,
    "Deno's private Worker.prototype unref hook was not found: worker children now run in " +
      "node:worker_threads Workers (slower to start), and one with `permissions` keeps the " +
      "program alive until it exits",
  );
});

Deno.test("Process: without Deno's Worker unref hook, worker children run in node Workers and the program still ends (worker)", async () => {
  const { code, output } = await runDeno(["run", "-A", "tests/fixtures/no_unref_hook.ts"]);
  assert.equal(code, 0, output);
  assert.match(output, /^hook found: false$/m);
  assert.match(output, /^squares: 1,4,9$/m, "the pool's workers ran");
  assert.match(output, /main: done\n(.|\n)*>>>>>> end 4/, "the non-daemon child was joined");
  assert.doesNotMatch(output, />>>>>> end 2/, "the daemon was terminated at main's end");
});

Deno.test("Process: a killed worker stuck in synchronous code stays alive, holding its lock, until its code returns (worker)", async () => {
  const { code, output } = await runDeno(["run", "-A", "tests/fixtures/stuck_worker.ts", "4000"]);
  assert.equal(code, 0, output);
  assert.match(output, /after kill: alive true, exitCode null, lock taken false/);
  assert.match(output, /did not stop within 3000 ms of terminate\(\) or kill\(\)/);
  assert.match(output, /after join: exitCode -9, lock taken true, recovered true/);
});

Deno.test("Process: a program ends although a killed worker is stuck in synchronous code forever (worker)", async () => {
  const { code, output } = await runDeno([
    "run",
    "-A",
    "tests/fixtures/stuck_worker.ts",
    "Infinity",
  ]);
  assert.equal(code, 0, output);
  assert.match(output, /after kill: alive true, exitCode null, lock taken false/);
  assert.match(output, /'subprocess' start method/);
});

Deno.test("Process: bad options throw TypeError or RangeError naming the option", async () => {
  const bad = (options: unknown, message: RegExp) =>
    assert.throws(() => new Process(options as ProcessOptions), { name: "TypeError", message });
  bad({ name: 5 }, /^Cannot create process: name must be a string, got 5 \(a number\)$/);
  bad({ daemon: "yes" }, /daemon must be true or false, got "yes" \(a string\)/);
  bad({ permissions: { bogus: true } }, /permissions has an unknown kind 'bogus'/);
  bad({ permissions: { read: "yes" } }, /permissions\.read must be "inherit", true, false/);
  bad({ permissions: ["read"] }, /permissions must be an object/);
  bad({ module: "not a url" }, /module must be a URL such as `import\.meta\.url`/);
  bad({ target: 5 }, /target must be a function, got 5/);
  bad({ args: "x" }, /args must be an array/);
  bad({ startMethod: "fork" }, /start method 'fork'/);
  const p = new Process();
  assert.throws(() => p.name = 5 as unknown as string, { name: "TypeError", message: /name/ });
  assert.throws(() => p.daemon = "yes" as unknown as boolean, { name: "TypeError" });
  p.start();
  for (const [timeout, name] of [[NaN, "RangeError"], [-1, "RangeError"], ["3", "TypeError"]]) {
    await assert.rejects(p.join(timeout as number), { name, message: /timeout must be/ });
  }
  await p.join();
});

Deno.test("Process: permissions of a worker without the worker-options feature throw at start()", async () => {
  const fixture = "tests/fixtures/worker_permissions.ts";
  const off = await runDeno(["run", "-A", "--no-config", fixture]);
  assert.equal(off.code, 0, off.output);
  assert.match(off.output, /^TypeError: Cannot start process 'Process-1' with permissions/);
  assert.match(
    off.output,
    /--unstable-worker-options.*"unstable": \["worker-options"\].*'subprocess'/,
  );
  const on = await runDeno(["run", "-A", "--no-config", "--unstable-worker-options", fixture]);
  assert.match(on.output, /child: ran\nexit code 0/);
});
