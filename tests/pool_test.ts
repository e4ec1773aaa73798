import assert from "node:assert/strict";
import {
  AsyncResult,
  currentProcess,
  Pool,
  type PoolOptions,
  Process,
  type StartMethod,
  TaskTimeoutError,
  TimeoutError,
  WorkerLostError,
} from "../mod.ts";
import { METHODS, readUntil, runDeno, spawnDeno, stillRunning } from "./_helpers.ts";

// --- task functions: exported, found by name in this module ---

export function square(x: number): number {
  return x * x;
}

export function add(a: number, b: number): number {
  return a + b;
}

export async function slowSquare(x: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, (x % 3) * 20));
  return x * x;
}

export function workerName(): string {
  return currentProcess().name;
}

/** A 3 KB string that ends with `x`. */
export function pad(x: number): string {
  return `${"x".repeat(3000)}${x}`;
}

/** Keeps its worker busy for `ms`, then says which worker it was. */
export function busyName(ms: number): string {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* busy */ }
  return currentProcess().name;
}

export function fail(message: string): never {
  throw new RangeError(message);
}

export function failOn(x: number): number {
  if (x === 13) throw new Error("unlucky 13");
  return x;
}

export function exitNow(code: number): void {
  Deno.exit(code);
}

/** Notes `x` in `file`, then exits with code 5 when `x` is `exitAt`. */
export function noteThenMaybeExit(x: number, file: string, exitAt: number): number {
  Deno.writeTextFileSync(file, `${x}\n`, { append: true });
  if (x === exitAt) Deno.exit(5);
  return x;
}

export function killSelf(): void {
  Deno.kill(Deno.pid, "SIGKILL");
}

/** Stuck in synchronous code for 0.8 s, past the tests' taskTimeout (Deno cannot stop it). */
export function spin(): void {
  const end = performance.now() + 800;
  while (performance.now() < end) {
    // stuck on purpose
  }
}

export function sleep(ms: number): Promise<number> {
  return new Promise((resolve) => setTimeout(() => resolve(ms), ms));
}

export function echo<T>(value: T): T {
  return value;
}

/** `size` bytes of `n`, in the typed array kind `kind` names. */
export function filled(n: number, size: number, kind = "Uint8Array"): ArrayBufferView {
  const Ctor = (globalThis as unknown as Record<string, new (b: ArrayBuffer) => ArrayBufferView>)[
    kind
  ];
  const buf = new ArrayBuffer(size);
  new Uint8Array(buf).fill(n);
  return new Ctor(buf);
}

export function throwValue(value: unknown): never {
  throw value;
}

export function failWithCause(): never {
  throw Object.assign(new Error("outer", { cause: { code: 7 } }), { errno: 3 });
}

export function makeFunction(): () => void {
  return () => {};
}

export function bump(counter: Int32Array): number {
  return Atomics.add(counter, 0, 1) + 1;
}

let initialized: string | undefined;

export function init(tag: string): void {
  initialized = `${tag}:${currentProcess().name}`;
}

export function initTag(): string | undefined {
  return initialized;
}

export function badInit(): void {
  throw new TypeError("initializer broke");
}

/** Exits 3 unless a pool made here without `module` finds `square` in this child's module. */
export async function poolInChild(method: StartMethod): Promise<void> {
  await using p = new Pool({ processes: 1, startMethod: method });
  if (await p.apply(square, [4]) !== 16) Deno.exit(3);
}

function pool(method: StartMethod, options: PoolOptions = {}): Pool {
  return new Pool({ processes: 2, startMethod: method, module: import.meta.url, ...options });
}

for (const method of METHODS) {
  Deno.test(`Pool.apply() and applyAsync() return the function's value (${method})`, async () => {
    await using p = pool(method);
    const n: number = await p.apply(square, [7]);
    assert.equal(n, 49);
    assert.equal(await p.apply(add, [2, 3]), 5);
    assert.equal(await p.apply(slowSquare, [2]), 4);
    const r = p.applyAsync(add, [40, 2]);
    assert.equal(await r.get(), 42);
    assert.equal(r.ready(), true);
    assert.equal(r.successful(), true);
    assert.match(await p.apply(workerName), /^PoolWorker-\d+$/);
  });

  Deno.test(`Pool.map() carries results many times its ring's size, in order (${method})`, async () => {
    await using p = pool(method);
    const xs = Array.from({ length: 3000 }, (_, i) => i);
    await p.map(square, xs, { chunksize: 1 }); // timed as quick: deep batches
    const got = await p.map(pad, xs, { chunksize: 1 }); // 3000 x 3 KB: the results overflow
    assert.equal(got.length, xs.length);
    for (const x of xs) assert.equal(got[x], pad(x));
  });

  Deno.test(`Pool.map() keeps order under every chunksize (${method})`, async () => {
    await using p = pool(method);
    const xs = Array.from({ length: 20 }, (_, i) => i);
    const want = xs.map((x) => x * x);
    const got: number[] = await p.map(square, xs);
    assert.deepEqual(got, want);
    assert.deepEqual(await p.map(square, xs, { chunksize: 1 }), want);
    assert.deepEqual(await p.map(square, xs, { chunksize: 7 }), want);
    assert.deepEqual(await p.map(slowSquare, xs, { chunksize: 2 }), want);
    assert.deepEqual(await p.map(square, []), []);
    async function* gen() {
      for (const x of xs) yield x;
    }
    assert.deepEqual(await p.map(square, gen()), want);
  });

  Deno.test(`Pool.map() reports progress by chunk, default chunks as Python's (${method})`, async () => {
    await using p = pool(method);
    const seen: [number, number][] = [];
    await p.map(square, Array.from({ length: 20 }, (_, i) => i), {
      onProgress: (done, total) => seen.push([done, total]),
    });
    // ceil(20 / (4 * 2)) = 3 items a chunk: 7 chunks
    assert.equal(seen.length, 7);
    assert.deepEqual(seen.at(-1), [20, 20]);
    assert.ok(seen.every(([d], i) => i === 0 || d > seen[i - 1][0]));
  });

  Deno.test(`Pool.starmap(), starmapAsync() and mapAsync() (${method})`, async () => {
    await using p = pool(method);
    assert.deepEqual(await p.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
    let called: number[] | undefined;
    const r = p.starmapAsync(add, [[5, 5], [6, 6]], { callback: (v) => called = v });
    assert.deepEqual(await r.get(), [10, 12]);
    assert.deepEqual(called, [10, 12]);
    assert.deepEqual(await p.mapAsync(square, [3, 4], { chunksize: 1 }).get(), [9, 16]);
  });

  Deno.test(`Pool.imap() is ordered, imapUnordered() yields every value (${method})`, async () => {
    await using p = pool(method);
    const xs = Array.from({ length: 12 }, (_, i) => i);
    const ordered: number[] = [];
    for await (const y of p.imap(slowSquare, xs)) ordered.push(y);
    assert.deepEqual(ordered, xs.map((x) => x * x));
    const unordered: number[] = [];
    for await (const y of p.imapUnordered(slowSquare, xs, { chunksize: 2 })) unordered.push(y);
    assert.deepEqual(unordered.sort((a, b) => a - b), xs.map((x) => x * x));
  });

  Deno.test(`Pool.imap() reads an endless input lazily, with bounded tasks in flight (${method})`, async () => {
    await using p = pool(method);
    let read = 0;
    function* naturals() {
      for (let i = 0;; i++) {
        read++;
        yield i;
      }
    }
    let n = 0;
    for await (const y of p.imap(square, naturals(), { chunksize: 2, maxInFlight: 3 })) {
      assert.equal(y, n * n);
      if (++n === 50) break;
    }
    assert.ok(read <= 50 + 3 * 2 + 2, `read ${read} items for 50 results`);
    n = 0;
    read = 0;
    for await (const _ of p.imapUnordered(square, naturals(), { maxInFlight: 4 })) {
      if (++n === 30) break;
    }
    assert.ok(read <= 30 + 4 + 1, `read ${read} items for 30 results`);
  });

  Deno.test(`Pool task errors keep name, message and the worker's stack (${method})`, async () => {
    await using p = pool(method);
    const e = await p.apply(fail, ["no good"]).catch((e) => e);
    assert.ok(e instanceof RangeError);
    assert.equal(e.message, "no good");
    assert.match(e.stack ?? "", /at fail /);
    await assert.rejects(p.map(failOn, Array.from({ length: 20 }, (_, i) => i)), /unlucky 13/);
    const r = p.applyAsync(fail, ["later"]);
    assert.equal(await r.wait(), true);
    assert.equal(r.successful(), false);
    await assert.rejects(r.get(), RangeError);
    assert.equal(await p.apply(square, [3]), 9, "the pool still works");
  });

  Deno.test(`Pool made in a child finds its functions in the child's target module (${method})`, async () => {
    const child = new Process({
      target: poolInChild,
      args: [method],
      module: import.meta.url,
      startMethod: method,
    });
    child.start();
    await child.join();
    assert.equal(child.exitCode, 0);
  });

  Deno.test(`Pool results keep their bytes after later results arrive (${method})`, async () => {
    await using p = pool(method);
    const one = await p.apply(filled, [7, 100]) as Uint8Array;
    await p.apply(filled, [9, 100]);
    assert.equal(one[0], 7, "a result is not a view into a reused buffer");
    const sizes = [0, 8, 96, 4088, 4104, 65_528, 65_544, 300_000]; // around the side paths
    const kinds = ["Uint8Array", "Float64Array", "Int16Array", "BigInt64Array"];
    const args = Array.from({ length: 64 }, (_, i) => [i, sizes[i % 8], kinds[i % 4]]);
    const got = await p.starmap(filled, args as [number, number, string][]);
    const nested = await p.map(echo, got.map((v) => ({ v, more: [v] })));
    await p.starmap(filled, args.map(([, size, kind]) => [255, size, kind]) as never);
    args.forEach(([n, size, kind], i) => {
      for (const view of [got[i], nested[i].v, nested[i].more[0]]) {
        assert.equal(view.constructor.name, kind);
        assert.equal(view.byteLength, size);
        const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
        assert.ok(bytes.every((b) => b === n), `result ${i} (${size} bytes) changed`);
      }
    });
  });

  Deno.test(`Pool rejects with a thrown non-Error value itself, and keeps an error's cause (${method})`, async () => {
    await using p = pool(method);
    assert.deepEqual(await p.apply(throwValue, [{ code: 42 }]).catch((e) => e), { code: 42 });
    assert.equal(await p.apply(throwValue, ["text"]).catch((e) => e), "text");
    assert.equal(await p.apply(throwValue, [undefined]).catch((e) => e), undefined);
    const e = await p.apply(failWithCause).catch((e) => e);
    assert.ok(e instanceof Error);
    assert.deepEqual(e.cause, { code: 7 });
    assert.equal((e as Error & { errno?: number }).errno, 3);
    const seen = Promise.withResolvers<unknown>();
    p.applyAsync(throwValue, [[1, 2]], { errorCallback: seen.resolve });
    assert.deepEqual(await seen.promise, [1, 2]);
  });

  Deno.test(`Pool callbacks run in the parent; a throwing one fails only its result (${method})`, async () => {
    await using p = pool(method);
    let where: string | undefined;
    let value: number | undefined;
    const ok = p.applyAsync(square, [4], {
      callback: (v) => {
        value = v;
        where = currentProcess().name;
      },
    });
    await ok.get();
    assert.equal(value, 16);
    assert.equal(where, "MainProcess");
    let seen: Error | undefined;
    const bad = p.applyAsync(fail, ["boom"], { errorCallback: (e) => seen = e });
    await assert.rejects(bad.get(), /boom/);
    assert.equal(seen?.name, "RangeError");
    const throwing = p.applyAsync(square, [5], {
      callback: () => {
        throw new Error("callback broke");
      },
    });
    await assert.rejects(throwing.get(), /callback broke/);
    assert.equal(await p.apply(square, [6]), 36, "the pool still works");
  });

  Deno.test(`Pool fails only the task of a worker that exits, and replaces it (${method})`, async () => {
    await using p = pool(method);
    const others = [1, 2, 3, 4].map((x) => p.applyAsync(slowSquare, [x]));
    const started = Date.now();
    const lost = p.applyAsync(exitNow, [3]);
    const e = await lost.get().catch((e) => e);
    assert.ok(e instanceof WorkerLostError, String(e));
    assert.match(e.message, /exited with code 3/);
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(await Promise.all(others.map((r) => r.get())), [1, 4, 9, 16]);
    assert.deepEqual(await p.map(square, [1, 2, 3], { chunksize: 1 }), [1, 4, 9]);
    if (method === "subprocess") {
      await assert.rejects(p.apply(killSelf), WorkerLostError);
      assert.equal(await p.apply(square, [8]), 64);
    }
  });

  Deno.test(`Pool queues no task behind a long one while another worker is free (${method})`, async () => {
    await using p = pool(method);
    await p.map(square, Array.from({ length: 500 }, (_, i) => i), { chunksize: 1 }); // quick: deep
    const long = p.apply(busyName, [600]);
    const short = Array.from({ length: 10 }, () => p.apply(busyName, [20]));
    const longWorker = await long;
    const shortWorkers = await Promise.all(short);
    assert.ok(!shortWorkers.includes(longWorker), `short tasks ran on ${shortWorkers}`);
  });

  Deno.test(`Pool queues no task behind a long one that started a while before (${method})`, async () => {
    await using p = pool(method);
    const quick = Array.from({ length: 500 }, () => 0);
    await p.map(busyName, quick, { chunksize: 1 }); // busyName is quick so far: deep
    const long = p.apply(busyName, [600]);
    await new Promise((r) => setTimeout(r, 50)); // the long task is no longer young
    const shortWorkers = new Set(await p.map(busyName, quick, { chunksize: 1 }));
    const longWorker = await long;
    assert.ok(!shortWorkers.has(longWorker), `short tasks ran on ${[...shortWorkers]}`);
  });

  Deno.test(`Pool loses one task, and runs none twice, when a worker exits amid many (${method})`, async () => {
    await using p = pool(method);
    await p.map(square, Array.from({ length: 500 }, (_, i) => i), { chunksize: 1 }); // quick: deep
    const file = await Deno.makeTempFile();
    try {
      const rs = Array.from(
        { length: 100 },
        (_, i) => p.applyAsync(noteThenMaybeExit, [i, file, 37]),
      );
      const out = await Promise.allSettled(rs.map((r) => r.get()));
      const failed = out.flatMap((o, i) => o.status === "rejected" ? [i] : []);
      assert.deepEqual(failed, [37]);
      assert.ok((out[37] as PromiseRejectedResult).reason instanceof WorkerLostError);
      const ran = (await Deno.readTextFile(file)).trim().split("\n").map(Number).sort((a, b) =>
        a - b
      );
      assert.deepEqual(ran, Array.from({ length: 100 }, (_, i) => i), "each task ran once");
    } finally {
      await Deno.remove(file);
    }
  });

  Deno.test(`Pool taskTimeout kills only the stuck worker and fails only its task (${method})`, async () => {
    await using p = pool(method, { taskTimeout: 500 });
    const stuck = p.applyAsync(spin);
    const quick = [1, 2, 3].map((x) => p.applyAsync(square, [x]));
    await assert.rejects(stuck.get(), TaskTimeoutError);
    assert.deepEqual(await Promise.all(quick.map((r) => r.get())), [1, 4, 9]);
    assert.equal(await p.apply(square, [9]), 81);
  });

  Deno.test(`Pool maxTasksPerChild recycles workers (${method})`, async () => {
    await using p = pool(method, { processes: 1, maxTasksPerChild: 2 });
    const names: string[] = [];
    for (let i = 0; i < 6; i++) names.push(await p.apply(workerName));
    assert.equal(new Set(names).size, 3);
    assert.equal(names[0], names[1]);
    assert.notEqual(names[1], names[2]);
  });

  Deno.test(`Pool initializer runs once in each worker (${method})`, async () => {
    await using p = pool(method, { processes: 1, initializer: init, initArgs: ["ready"] });
    const name = await p.apply(workerName);
    assert.equal(await p.apply(initTag), `ready:${name}`);
    await using q = pool(method, { processes: 1, initializer: badInit });
    await assert.rejects(q.apply(square, [2]), /initializer broke/);
  });

  Deno.test(`Pool close() refuses work, join() waits for it (${method})`, async () => {
    const p = pool(method);
    const pending = [1, 2, 3].map((x) => p.applyAsync(slowSquare, [x]));
    await assert.rejects(p.join(), TypeError);
    p.close();
    assert.throws(() => p.applyAsync(square, [1]), TypeError);
    await assert.rejects(p.apply(square, [1]), /closed/);
    await p.join();
    assert.deepEqual(pending.map((r) => r.ready()), [true, true, true]);
    assert.deepEqual(await Promise.all(pending.map((r) => r.get())), [1, 4, 9]);
  });

  Deno.test(`Pool terminate() stops now and fails what is pending (${method})`, async () => {
    const p = pool(method);
    await p.apply(square, [1]);
    const pending = [p.applyAsync(sleep, [10_000]), p.applyAsync(sleep, [10_000])];
    const queued = p.applyAsync(square, [2]);
    await p.terminate();
    for (const r of [...pending, queued]) await assert.rejects(r.get(), /terminated/);
    assert.throws(() => p.applyAsync(square, [1]), /terminated/);
    await p.join();
  });

  Deno.test(`Pool carries large and rich values, and refuses what cannot travel (${method})`, async () => {
    await using p = pool(method);
    const big = "x".repeat(3_000_000);
    assert.equal(await p.apply(echo, [big]), big);
    const rich = { m: new Map([[1, "a"]]), d: new Date(0), n: NaN, u: undefined, b: 10n };
    assert.deepEqual(await p.apply(echo, [rich]), rich);
    const shared = { n: 1 };
    const [one, two] = await p.apply(echo, [[shared, shared]]) as object[];
    assert.ok(one === two, "an object met twice arrives as one object");
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const back = await p.apply(echo, [cycle]) as Record<string, unknown>;
    assert.ok(back.self === back, "a cycle survives");
    await assert.rejects(p.apply(echo, [() => 1]), /args.* is a function/);
    await assert.rejects(p.apply(makeFunction), /result is a function/);
    assert.equal(await p.apply(square, [5]), 25, "the pool still works");
  });

  if (method === "worker") {
    Deno.test("Pool shares SharedArrayBuffers with worker tasks (worker)", async () => {
      await using p = pool(method);
      const counter = new Int32Array(new SharedArrayBuffer(4));
      await Promise.all([1, 2, 3, 4].map(() => p.apply(bump, [counter])));
      assert.equal(counter[0], 4);
    });
  }

  Deno.test(`AsyncResult.get() times out while the task runs (${method})`, async () => {
    await using p = pool(method);
    const r = p.applyAsync(sleep, [300]);
    await assert.rejects(r.get({ timeout: 10 }), TimeoutError);
    assert.equal(await r.wait({ timeout: 10 }), false);
    assert.equal(r.ready(), false);
    assert.throws(() => r.successful(), TypeError);
    assert.equal(await r.get(), 300);
  });
}

for (const method of METHODS) {
  Deno.test(`Pool ends its workers on Ctrl-C (SIGINT), with one line and no orphan (${method})`, async () => {
    const parent = spawnDeno(["run", "-A", "tests/fixtures/pool_sigint.ts", method]);
    const text = await readUntil(parent, (t) => (t.match(/worker \d+/g) ?? []).length === 2);
    const pids = [...text.matchAll(/worker (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 2, text);
    const started = Date.now();
    parent.kill("SIGINT");
    const { code, stdout, stderr } = await parent.output();
    assert.ok(Date.now() - started < 10_000, "the pool ended, no hang");
    assert.equal(code, 130);
    assert.doesNotMatch(new TextDecoder().decode(stdout), /never reached/);
    const lines = new TextDecoder().decode(stderr).trim().split("\n");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /Interrupted \(SIGINT\): ending 2 pool worker/);
    if (method === "subprocess") assert.deepEqual(await stillRunning(pids), [], "no orphan");
  });
}

for (const method of METHODS) {
  Deno.test(`Pool: one never closed does not keep a finished program alive (${method})`, async () => {
    const started = Date.now();
    const { code, output } = await runDeno(["run", "-A", "tests/fixtures/open_pool.ts", method]);
    assert.ok(Date.now() - started < 10_000, "the program ended promptly");
    assert.equal(code, 0, output);
    assert.match(output, /\n361\n/);
    const pids = (output.match(/worker pids: ([\d ]+)/)?.[1] ?? "").split(" ").map(Number);
    assert.ok(pids.length > 0 && pids.every((pid) => pid > 0), output);
    if (method === "subprocess") assert.deepEqual(await stillRunning(pids), [], "no worker left");
  });
}

Deno.test("Pool refuses a function that is not exported", async () => {
  await using p = new Pool({ processes: 1, module: import.meta.url });
  const local = (x: number) => x;
  assert.throws(() => p.applyAsync(local, [1]), /not exported/);
  assert.throws(() => new Pool({ processes: 0 }), RangeError);
});

Deno.test("AsyncResult wraps a promise and runs its callbacks", async () => {
  const r = new AsyncResult(Promise.reject(new Error("x")), { errorCallback: () => {} });
  assert.equal(await r.wait(), true);
  assert.equal(r.successful(), false);
});

Deno.test("Pool: bad options and arguments throw TypeError or RangeError naming them", async () => {
  const bad = (options: unknown, name: string, message: RegExp) =>
    assert.throws(() => new Pool(options as PoolOptions), { name, message });
  bad({ processes: 0 }, "RangeError", /^Cannot create pool: processes must be >= 1, got 0$/);
  bad({ processes: 1.5 }, "TypeError", /processes must be an integer, got 1\.5 \(a number\)/);
  bad({ processes: "2" }, "TypeError", /processes must be an integer, got "2" \(a string\)/);
  bad({ maxTasksPerChild: 1.5 }, "TypeError", /maxTasksPerChild must be an integer/);
  bad({ maxTasksPerChild: 0 }, "RangeError", /maxTasksPerChild must be >= 1/);
  bad({ module: "not a url" }, "TypeError", /module must be a URL/);
  await using pool = new Pool({ processes: 1 });
  await assert.rejects(pool.map(square, 5 as unknown as number[]), {
    name: "TypeError",
    message: /^Cannot map: the items must be iterable or async iterable .*got 5 \(a number\)$/,
  });
  for (const chunksize of [0, 1.5, "2"]) {
    await assert.rejects(pool.map(square, [1], { chunksize: chunksize as number }), {
      message: /^Cannot map: chunksize must be/,
    });
  }
  await assert.rejects(pool.starmap(add, [[1, 2], 3] as unknown as [number, number][]), {
    name: "TypeError",
    message: /^Cannot starmap: item 1 must be an array of arguments, got 3 \(a number\)$/,
  });
  assert.throws(() => pool.imap(square, 5 as unknown as number[]), { name: "TypeError" });
  assert.deepEqual(await pool.map(square, [2, 3]), [4, 9]);
});
