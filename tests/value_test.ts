import assert from "node:assert/strict";
import { Lock, Queue, RLock, Value } from "../mod.ts";
import { joinAll, METHODS, outcome, spawn, startUnmapped } from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Adds 1 to `v` `n` times under its lock: synchronously where memory is shared. */
export async function increment(v: Value<"i">, n: number): Promise<void> {
  const lock = v.getLock();
  let shared = true;
  try {
    v.value;
  } catch (e) {
    if (!(e instanceof TypeError)) throw e;
    shared = false;
  }
  for (let i = 0; i < n; i++) {
    using _held = await lock.hold();
    if (shared) v.value += 1;
    else await v.set((await v.get()) + 1);
  }
}

/** Writes values of several types; exits 3 when a check fails. */
export async function writeTyped(
  q: Value<"q">,
  d: Value<"d">,
  raw: Value<"B">,
): Promise<void> {
  await q.set((await q.get()) * 2n);
  await d.set((await d.get()) + 0.25);
  await raw.set(255);
  try {
    await raw.set(256);
    Deno.exit(3);
  } catch (e) {
    if (!(e instanceof RangeError)) Deno.exit(3);
  }
  try {
    raw.getLock();
    Deno.exit(3);
  } catch (e) {
    if (!(e instanceof TypeError)) Deno.exit(3);
  }
}

/** Reports in `out` what reading `v.value`, then assigning it, gives (the messages thrown). */
export async function useValue(v: Value<"i">, out: Queue<unknown>): Promise<void> {
  await out.put(await outcome(() => v.value));
  await out.put(await outcome(() => v.value = 5));
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Value holds each typecode's numbers and checks them", () => {
  const cases: [string, number | bigint, number | bigint][] = [
    ["b", -128, 127],
    ["B", 0, 255],
    ["h", -32768, 32767],
    ["H", 0, 65535],
    ["i", -(2 ** 31), 2 ** 31 - 1],
    ["I", 0, 2 ** 32 - 1],
    ["l", -(2n ** 63n), 2n ** 63n - 1n],
    ["L", 0n, 2n ** 64n - 1n],
    ["q", -(2n ** 63n), 2n ** 63n - 1n],
    ["Q", 0n, 2n ** 64n - 1n],
    ["i8", -128, 127],
    ["u32", 0, 2 ** 32 - 1],
    ["i64", -(2n ** 63n), 2n ** 63n - 1n],
  ];
  for (const [code, min, max] of cases) {
    const v = new Value(code as "i", min as number);
    assert.equal(v.value, min, code);
    v.value = max as number;
    assert.equal(v.value, max, code);
    const one = typeof max === "bigint" ? 1n : 1;
    assert.throws(() => v.value = ((max as number) + (one as number)) as number, RangeError, code);
    assert.throws(
      () => new Value(code as "i", ((min as number) - (one as number)) as number),
      RangeError,
    );
  }
  assert.equal(new Value("f", 1.5).value, 1.5);
  assert.equal(new Value("d").value, 0);
  assert.equal(new Value("q").value, 0n);
  assert.equal(new Value("f64", 0.1).value, 0.1);
  assert.throws(() => new Value("x" as "i"), TypeError);
  assert.throws(() => new Value("i", 1.5), TypeError);
  assert.throws(() => new Value("i", "1" as never), TypeError);
  assert.throws(() => new Value("q", 0.5 as never), TypeError);
  assert.throws(() => new Value("i", 0, { lock: "yes" as never }), TypeError);
  assert.throws(() => new Value("i", 0, { lock: false }).getLock(), TypeError);
  const lock = new RLock();
  assert.equal(new Value("i", 0, { lock }).getLock(), lock);
  assert.ok(new Value("i").getLock() instanceof Lock);
});

Deno.test("Value.get() and set() work where memory is shared too", async () => {
  const v = new Value("H", 7);
  assert.equal(await v.get(), 7);
  await v.set(9);
  assert.equal(v.value, 9);
  await assert.rejects(() => v.set(-1), RangeError);
  assert.equal(v.typecode, "H");
});

Deno.test("Value increments from async tasks under getLock() are exact", async () => {
  const v = new Value("i", 0);
  await Promise.all([0, 1, 2].map(async () => {
    for (let i = 0; i < 100; i++) {
      using _held = await v.getLock().hold();
      const x = v.value;
      await Promise.resolve();
      v.value = x + 1;
    }
  }));
  assert.equal(v.value, 300);
});

for (const method of METHODS) {
  const n = method === "worker" ? 100_000 : 5_000;
  Deno.test(`Value: 2 children x ${n} increments under getLock() are exact (${method})`, async () => {
    const v = new Value("i", 0);
    assert.deepEqual(await joinAll(spawn(increment, [[v, n], [v, n]], method, module)), [0, 0]);
    assert.equal(v.value, 2 * n);
  });

  Deno.test(`Value of 64-bit, float and raw types crosses to a child (${method})`, async () => {
    const q = new Value("q", 2n ** 40n);
    const d = new Value("d", 1.5);
    const raw = new Value("B", 0, { lock: false });
    assert.deepEqual(await joinAll(spawn(writeTyped, [[q, d, raw]], method, module)), [0]);
    assert.equal(q.value, 2n ** 41n);
    assert.equal(d.value, 1.75);
    assert.equal(raw.value, 255);
  });
}

Deno.test("Value: reading and assigning v.value in a child without FFI name await v.get() and await v.set(x)", async () => {
  const v = new Value("i", 1);
  const out = new Queue<unknown>();
  const p = startUnmapped(useValue, [v, out], module);
  const [read, write] = [await out.get(), await out.get()];
  await p.join();
  const why = "synchronously in this process: it reaches the object through its parent, as it " +
    "cannot map shared memory (it may not use FFI, or does not run on Linux)";
  assert.equal(read, `Cannot read Value.value ${why}; use await v.get()`);
  assert.equal(write, `Cannot write Value.value ${why}; use await v.set(x)`);
  assert.equal(v.value, 1);
});
