import assert from "node:assert/strict";
import {
  describe,
  METHODS,
  outcome,
  pattern,
  starter,
  startUnmapped,
  until,
  within,
} from "./_helpers.ts";
import { Queue, QueueEmptyError, QueueFullError, SimpleQueue, Value } from "../mod.ts";
import { releaseIdent, state } from "../_core/_state.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Puts `[id, i]` for i < n. */
export async function produce(q: Queue<[number, number]>, id: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await q.put([id, i]);
}

/**
 * Takes `[producer, i]` items until `null`; checks each producer's order and reports, per
 * producer, a bitmap of the indices received.
 */
export async function consume(
  q: Queue<[number, number] | null>,
  out: Queue<Uint8Array[] | string>,
  producers: number,
  n: number,
): Promise<void> {
  const seen = Array.from({ length: producers }, () => new Uint8Array(n));
  const last = new Array(producers).fill(-1);
  for (;;) {
    const item = await q.get();
    if (item === null) break;
    const [p, i] = item;
    if (i <= last[p]) {
      await out.put(`producer ${p}: ${i} after ${last[p]}`);
      return;
    }
    last[p] = i;
    seen[p][i]++;
  }
  await out.put(seen);
}

/** Puts one item, then exits at once. */
export async function putAndExit(q: Queue<string>): Promise<void> {
  await q.put("last words");
  Deno.exit(0);
}

/** Puts `n` items, then waits until killed. */
export async function putAndHang(q: Queue<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await q.put(i);
  await new Promise(() => setInterval(() => {}, 1000));
}

/** Puts a 64 MiB item with a recognizable pattern. */
export async function putBig(q: Queue<Uint8Array>): Promise<void> {
  await q.put(pattern(64 << 20));
}

/** Puts a 16 MiB item, then the numbers given. */
export async function putBigThen(q: Queue<Uint8Array | number>, ...after: number[]): Promise<void> {
  await q.put(pattern(16 << 20));
  for (const n of after) await q.put(n);
}

/**
 * Reports its ident, puts a 16 MiB item, sets `returned` once that put() returned, then waits
 * to be killed: marked dead while it streams, it plays a thread that runs on after its death
 * (which can write no queue, but can set a Value).
 */
export async function identThenBig(
  q: Queue<Uint8Array | number>,
  out: Queue<number>,
  returned: Value<"i">,
): Promise<void> {
  await out.put(state().self.ident);
  await q.put(pattern(16 << 20));
  returned.value = 1;
  await new Promise(() => setInterval(() => {}, 1000));
}

/** Puts a 16 MiB item and two numbers; then exits at once, or waits to be killed. */
export async function putBigThenEnd(q: Queue<Uint8Array | number>, end: "exit" | "hang") {
  await q.put(pattern(16 << 20));
  await q.put(1);
  await q.put(2);
  if (end === "exit") Deno.exit(0);
  await new Promise(() => setInterval(() => {}, 1000));
}

/** Says that it begins, then puts a 16 MiB item. */
export async function sayThenPutBig(q: Queue<Uint8Array | number>, out: Queue<string>) {
  await out.put("putting");
  await q.put(pattern(16 << 20));
}

/** Takes items until 0, reporting each ("whole", a number, or what is wrong with it). */
export async function describeUntilZero(
  q: Queue<Uint8Array | number>,
  out: Queue<string>,
): Promise<void> {
  for (;;) {
    let item: unknown;
    try {
      item = await q.get({ timeout: 10_000 });
    } catch (e) {
      return await out.put(`${(e as Error).name}: ${(e as Error).message}`);
    }
    await out.put(describe(item, 16 << 20));
    if (item === 0) return;
  }
}

/** Waits for an item that never comes: reports the error's name. */
export async function getWithTimeout(q: Queue<number>, out: Queue<string>): Promise<void> {
  try {
    await q.get({ timeout: 50 });
    await out.put("got something");
  } catch (e) {
    await out.put((e as Error).name);
  }
  try {
    await q.get({ signal: AbortSignal.timeout(50) });
    await out.put("got something");
  } catch (e) {
    await out.put((e as Error).name);
  }
}

/** Reports in `out` what `q[call]()` gives (a count, a boolean, or an error's message). */
export async function sizeCall(
  q: Queue<number>,
  call: "qsize" | "empty" | "full" | "qsizeAsync" | "emptyAsync" | "fullAsync",
  out: Queue<unknown>,
): Promise<void> {
  await out.put(await outcome(() => q[call]()));
}

/** Waits for an item forever (until killed). */
export async function getForever(q: Queue<number>): Promise<void> {
  await q.get();
}

const start = starter(module);

/** A queue whose buffer never grows: its 16 MiB items stream through it in pieces. */
const STREAMING = { bufferSize: 65536, maxBufferSize: 65536 };

/**
 * Takes what `first` resolves to, and what follows: the large item whole or not at all, then 0,
 * then nothing.
 */
async function wholeOrNoneThenZero(
  q: Queue<Uint8Array | number>,
  first: Promise<Uint8Array | number>,
): Promise<void> {
  let got = await first;
  if (typeof got !== "number") {
    assert.equal(describe(got, 16 << 20), "whole");
    got = await q.get({ timeout: 10_000 });
  }
  assert.equal(got, 0);
  assert.equal(q.qsize(), 0);
  assert.throws(() => q.getNowait(), QueueEmptyError);
}

/** After a writer's death: five putNowait() on the empty queue, counted and taken exactly. */
function assertCountsExactly(q: Queue<Uint8Array | number>): void {
  for (let i = 1; i <= 5; i++) q.putNowait(i);
  assert.equal(q.qsize(), 5);
  for (let i = 1; i <= 5; i++) assert.equal(q.getNowait(), i);
  assert.equal(q.qsize(), 0);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- in one process ----------------------------------------------------------------------

Deno.test("Queue.putNowait() throws QueueFullError at maxsize; getNowait() QueueEmptyError when empty", () => {
  const q = new Queue<number>(5);
  for (let i = 1; i <= 5; i++) q.putNowait(i);
  assert.equal(q.qsize(), 5);
  assert.ok(q.full());
  assert.throws(() => q.putNowait(6), QueueFullError);
  for (let i = 1; i <= 5; i++) assert.equal(q.getNowait(), i);
  assert.ok(q.empty());
  assert.throws(() => q.getNowait(), QueueEmptyError);
});

Deno.test("Queue.put() and get() time out with QueueFullError and QueueEmptyError", async () => {
  const q = new Queue<number>(1);
  await assert.rejects(q.get({ timeout: 20 }), QueueEmptyError);
  await q.put(1);
  await assert.rejects(q.put(2, { timeout: 20 }), QueueFullError);
  assert.equal(await q.get({ timeout: 20 }), 1);
});

Deno.test("Queue.get() and put() stop when their signal aborts", async () => {
  const q = new Queue<number>(1);
  const ctl = new AbortController();
  const got = q.get({ signal: ctl.signal });
  ctl.abort(new Error("stop"));
  await assert.rejects(got, /stop/);
  await q.put(1);
  await assert.rejects(q.put(2, { signal: AbortSignal.timeout(20) }), { name: "TimeoutError" });
  assert.equal(q.getNowait(), 1);
  await assert.rejects(q.get({ signal: AbortSignal.abort() }), { name: "AbortError" });
});

Deno.test("Queue carries numbers, strings, nested objects, Maps, Dates, bytes and undefined", async () => {
  const q = new SimpleQueue<unknown>();
  const items = [
    0,
    -0,
    1.5,
    NaN,
    2 ** 40,
    "",
    "héllo ✓",
    "x".repeat(10_000),
    true,
    false,
    null,
    undefined,
    [1, [2, "three"], { four: 4 }],
    { a: { b: [null, undefined, true] } },
    JSON.parse('{"__proto__": {"own": true}}'),
    new Map([["k", new Date(0)]]),
    new Uint8Array([1, 2, 3]),
    10n,
  ];
  for (const item of items) await q.put(item);
  for (const item of items) assert.deepEqual(await q.get(), item);
  assert.ok(q.empty());
  await q.put(JSON.parse('{"__proto__": {"own": true}}'));
  const got = await q.get() as object;
  assert.equal(Object.getPrototypeOf(got), Object.prototype, "an own __proto__ key stays a key");
  assert.deepEqual(Object.keys(got), ["__proto__"]);
  const shared = { n: 1 };
  await q.put([shared, shared]);
  const [a, b] = await q.get() as object[];
  assert.ok(a === b, "an object met twice in an item arrives as one object");
});

Deno.test("Queue refuses what cannot be sent, naming where it is", async () => {
  const q = new Queue();
  await assert.rejects(
    q.put({ f: () => 1 }),
    (e: Error) => e instanceof TypeError && /item\.f/.test(e.message),
  );
  assert.throws(() => new Queue(-1), RangeError);
  q.close();
  await assert.rejects(q.put(1), TypeError);
});

Deno.test("Queue: an item larger than its largest buffer passes while a reader takes it", async () => {
  const q = new Queue<Uint8Array>(0, { bufferSize: 4096, maxBufferSize: 4096 });
  const big = pattern(100_000);
  const [, got] = await Promise.all([q.put(big), q.get()]);
  assert.deepEqual(got, big);
});

Deno.test("Queue: a producer marked dead mid-item whose thread runs on leaves no partial or phantom item (worker)", async () => {
  const q = new Queue<Uint8Array | number>(0, STREAMING);
  const out = new Queue<number>();
  const returned = new Value("i", 0, { lock: false });
  const p = start("worker", identThenBig, [q, out, returned]);
  const ident = await out.get({ timeout: 10_000 });
  await until(() => q.qsize() === 1); // its first piece is in; the rest waits for room
  releaseIdent(state().table, ident); // dead to every other process, yet its thread runs on
  const first = q.get({ timeout: 10_000 });
  await q.put(0);
  await wholeOrNoneThenZero(q, first);
  await until(() => returned.value === 1, "the dead producer's put() returning");
  assert.equal(q.qsize(), 0, "the dead producer published more after its death");
  assertCountsExactly(q);
  p.kill();
  await p.join();
});

Deno.test("Queue: an unbounded put() of items larger than the buffer returns at once, and qsize() counts them", async () => {
  const q = new Queue<Uint8Array | number>(0, { bufferSize: 4096 });
  await within(q.put(pattern(1 << 20)), 5000, "put() of an item larger than the buffer");
  q.putNowait(pattern(100_000));
  await q.put(1);
  assert.equal(q.qsize(), 3);
  assert.equal(describe(q.getNowait(), 1 << 20), "whole");
  assert.equal(describe(await q.get(), 100_000), "whole");
  assert.equal(await q.get(), 1);
  assert.equal(q.qsize(), 0);
});

Deno.test("Queue(maxsize): items larger than the buffer still wait while maxsize items are in", async () => {
  const q = new Queue<Uint8Array>(2, { bufferSize: 4096 });
  await within(q.put(pattern(10_000)), 5000, "the first put()");
  await within(q.put(pattern(10_000)), 5000, "the second put()");
  assert.ok(q.full());
  await assert.rejects(q.put(pattern(10), { timeout: 50 }), QueueFullError);
  assert.throws(() => q.putNowait(pattern(10)), QueueFullError);
  assert.equal(describe(q.getNowait(), 10_000), "whole");
  q.putNowait(pattern(10));
  assert.equal(q.qsize(), 2);
});

Deno.test("Queue: the buffer grows up to maxBufferSize; beyond, put() waits and larger items stream", async () => {
  const q = new Queue<Uint8Array>(0, { bufferSize: 4096, maxBufferSize: 8192 });
  await q.put(pattern(4000), { timeout: 1000 });
  await q.put(pattern(4000), { timeout: 1000 }); // the buffer grew to 8192 bytes
  await assert.rejects(q.put(pattern(4000), { timeout: 50 }), QueueFullError);
  assert.throws(() => q.putNowait(pattern(4000)), QueueFullError);
  assert.equal(describe(await q.get(), 4000), "whole");
  assert.equal(describe(await q.get(), 4000), "whole");
  const [, got] = await Promise.all([q.put(pattern(100_000)), q.get()]); // in pieces
  assert.equal(describe(got, 100_000), "whole");
  assert.throws(() => new Queue(0, { bufferSize: 8192, maxBufferSize: 4096 }), RangeError);
});

// ---- across processes --------------------------------------------------------------------

for (const method of METHODS) {
  Deno.test(`Queue [${method}]: four producers x N items through Queue(100) reach two consumers exactly once, in order`, async () => {
    const producers = 4;
    const n = method === "worker" ? 50_000 : 2_000;
    const q = new Queue<[number, number] | null>(100);
    const out = new Queue<Uint8Array[] | string>();
    const cs = [0, 1].map(() => start(method, consume, [q, out, producers, n]));
    const ps = Array.from({ length: producers }, (_, id) => start(method, produce, [q, id, n]));
    await Promise.all(ps.map((p) => p.join()));
    assert.ok(q.qsize() <= 100);
    await q.put(null);
    await q.put(null);
    const reports = [await out.get(), await out.get()];
    await Promise.all(cs.map((c) => c.join()));
    for (const r of reports) assert.ok(typeof r !== "string", r as string);
    for (let p = 0; p < producers; p++) {
      for (let i = 0; i < n; i++) {
        const times = (reports[0] as Uint8Array[])[p][i] + (reports[1] as Uint8Array[])[p][i];
        if (times !== 1) assert.fail(`item ${i} of producer ${p} arrived ${times} times`);
      }
    }
    assert.equal(q.qsize(), 0);
  });

  Deno.test(`Queue [${method}]: put() waits while full, counted across processes, and qsize() is exact`, async () => {
    const q = new Queue<number>(3);
    const p = start(method, putAndHang, [q, 5]);
    await until(() => q.qsize() === 3);
    await pause(50);
    assert.equal(q.qsize(), 3);
    assert.ok(q.full());
    assert.equal(await q.get(), 0);
    await until(() => q.qsize() === 3);
    for (let i = 1; i < 5; i++) assert.equal(await q.get(), i);
    assert.equal(q.qsize(), 0);
    p.kill();
    await p.join();
  });

  Deno.test(`Queue [${method}]: get() in a child times out and aborts`, async () => {
    const q = new Queue<number>();
    const out = new Queue<string>();
    const p = start(method, getWithTimeout, [q, out]);
    assert.equal(await out.get(), "QueueEmptyError");
    assert.equal(await out.get(), "TimeoutError");
    await p.join();
    assert.equal(p.exitCode, 0);
    await q.put(7);
    assert.equal(q.getNowait(), 7); // the aborted get took nothing
  });

  Deno.test(`Queue [${method}]: a 64 MiB item passes intact`, async () => {
    const q = new Queue<Uint8Array>();
    const p = start(method, putBig, [q]);
    const got = await q.get();
    await p.join();
    assert.equal(got.length, 64 << 20);
    assert.ok(got.every((b, i) => b === ((i * 31 + (i >>> 12)) & 255)), "the item was damaged");
  });

  Deno.test(`Queue [${method}]: a producer of items larger than the buffer never waits for a reader, and loses none when it exits or is killed`, async () => {
    for (const end of ["exit", "hang"] as const) {
      const q = new Queue<Uint8Array | number>(0, { bufferSize: 65536 });
      const p = start(method, putBigThenEnd, [q, end]);
      if (end === "hang") {
        await until(() => q.qsize() === 3, "three items put");
        p.kill();
      }
      await within(p.join(), 20_000, `join() of a producer that put and then ended (${end})`);
      assert.equal(q.qsize(), 3);
      assert.equal(describe(await q.get({ timeout: 1000 }), 16 << 20), "whole");
      assert.equal(await q.get({ timeout: 1000 }), 1);
      assert.equal(await q.get({ timeout: 1000 }), 2);
      assert.equal(q.qsize(), 0);
    }
  });

  Deno.test(`Queue [${method}]: a process that exits right after put() does not lose the item`, async () => {
    const q = new Queue<string>();
    const p = start(method, putAndExit, [q]);
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(await q.get({ timeout: 5000 }), "last words");
  });

  Deno.test(`Queue [${method}]: a killed producer loses nothing it put, and a killed consumer takes nothing`, async () => {
    const q = new Queue<number>(10);
    const p = start(method, putAndHang, [q, 10]);
    await until(() => q.qsize() === 10);
    p.kill();
    await p.join();
    for (let i = 0; i < 10; i++) assert.equal(await q.get({ timeout: 1000 }), i);
    const waiting = start(method, getForever, [q]);
    await pause(300);
    waiting.kill();
    await waiting.join();
    await pause(100);
    await q.put(42);
    assert.equal(await q.get({ timeout: 1000 }), 42);
  });

  Deno.test(`Queue [${method}]: a producer killed while a large item streams does not jam the queue`, async () => {
    const q = new Queue<Uint8Array | number>(0, STREAMING);
    const p = start(method, putBigThen, [q]);
    await until(() => q.qsize() === 1); // the large item has begun
    await pause(50);
    p.kill();
    await p.join();
    const p2 = start(method, putBigThen, [q, 1, 2]);
    const got: (Uint8Array | number)[] = [];
    while (!got.includes(2)) got.push(await q.get({ timeout: 10_000 }));
    await p2.join();
    const big = pattern(16 << 20);
    for (const item of got) {
      if (item instanceof Uint8Array) { // whole, or not at all
        assert.ok(item.length === big.length && item.every((b, i) => b === big[i]), "damaged");
      }
    }
    assert.deepEqual(got.filter((x) => typeof x === "number"), [1, 2]);
  });

  Deno.test(`Queue [${method}]: a producer killed mid-item leaves no partial or phantom item, and the count stays exact`, async () => {
    for (let round = 0; round < 12; round++) {
      const q = new Queue<Uint8Array | number>(0, STREAMING);
      const out = new Queue<string>();
      const c = start(method, describeUntilZero, [q, out]);
      const p = start(method, sayThenPutBig, [q, out]);
      assert.equal(await out.get({ timeout: 10_000 }), "putting");
      await pause(round); // each round, the kill lands at another moment of the streaming
      p.kill();
      await p.join();
      await q.put(0);
      const got: string[] = [];
      while (!/^0$|Error/.test(got.at(-1) ?? "")) got.push(await out.get({ timeout: 20_000 }));
      await c.join();
      assert.ok(
        /^(whole,)?0$/.test(got.join()),
        `round ${round}: the consumer got ${got.join(", ")}`,
      );
      assert.equal(q.qsize(), 0);
      assertCountsExactly(q);
    }
  });

  Deno.test(`Queue [${method}]: a consumer killed while a large item streams does not jam the queue`, async () => {
    const q = new Queue<Uint8Array | number>(0, STREAMING);
    const c = start(method, getForever, [q]);
    await pause(500); // the consumer waits in get()
    const putting = q.put(pattern(16 << 20));
    await pause(5); // it has begun to take the item
    c.kill();
    await c.join();
    const next = q.get({ timeout: 10_000 }); // takes over from the dead reader
    await putting;
    await q.put(7);
    const got = await next;
    assert.ok(got === 7, `expected 7, got ${got instanceof Uint8Array ? "the large item" : got}`);
  });
}

for (const call of ["qsize", "empty", "full"] as const) {
  Deno.test(`Queue: ${call}() in a child without FFI names await q.${call}Async()`, async () => {
    const q = new Queue<number>(1);
    const out = new Queue<unknown>();
    const p = startUnmapped(sizeCall, [q, call, out], module);
    const message = await out.get();
    await p.join();
    assert.equal(
      message,
      `Cannot call ${call}() in this process: it reaches the queue through its parent, as it ` +
        "cannot map shared memory (it may not use FFI, or does not run on Linux), and the parent " +
        `cannot answer synchronously; use await q.${call}Async()`,
    );
  });
}

for (const method of METHODS) {
  Deno.test(`Queue [${method}]: qsizeAsync(), emptyAsync() and fullAsync() answer in a child`, async () => {
    const q = new Queue<number>(2);
    const out = new Queue<unknown>();
    const ask = async (call: Parameters<typeof sizeCall>[1]) => {
      const p = start(method, sizeCall, [q, call, out]);
      const answer = await out.get();
      await p.join();
      return answer;
    };
    assert.deepEqual([await ask("qsizeAsync"), await ask("emptyAsync")], [0, true]);
    await q.put(1);
    assert.deepEqual([await ask("qsizeAsync"), await ask("emptyAsync")], [1, false]);
    assert.equal(await ask("fullAsync"), false);
    await q.put(2);
    assert.deepEqual([await ask("qsizeAsync"), await ask("fullAsync")], [2, true]);
    assert.deepEqual([await q.qsizeAsync(), await q.emptyAsync(), await q.fullAsync()], [
      2,
      false,
      true,
    ]);
  });
}

Deno.test("Queue: a Blob or a DOMException is refused with a TypeError, not sent as {}", async () => {
  const q = new Queue();
  await assert.rejects(q.put({ file: new Blob(["x"]) }), /item\.file is a Blob.*await blob\.bytes/);
  assert.throws(() => q.putNowait([new DOMException("no", "AbortError")]), TypeError);
  assert.equal(q.qsize(), 0);
  q.close();
});

Deno.test("Queue: bad arguments throw TypeError or RangeError naming them", async () => {
  const bad = (maxsize: unknown, name: string, message: RegExp) =>
    assert.throws(() => new Queue(maxsize as number), { name, message });
  bad(-1, "RangeError", /^Cannot create queue: maxsize must be from 0 to 2147483647, got -1$/);
  bad(1.5, "TypeError", /maxsize must be an integer, got 1\.5 \(a number\)/);
  bad("3", "TypeError", /maxsize must be an integer, got "3" \(a string\)/);
  assert.throws(() => new Queue(0, { bufferSize: "64" as unknown as number }), {
    name: "TypeError",
  });
  const q = new Queue();
  try {
    for (const [timeout, name] of [[NaN, "RangeError"], [-1, "RangeError"], ["3", "TypeError"]]) {
      await assert.rejects(q.get({ timeout: timeout as number }), { name, message: /timeout/ });
    }
  } finally {
    q.close();
  }
});
