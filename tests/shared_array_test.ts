import assert from "node:assert/strict";
import { SharedArray } from "../mod.ts";
import { joinAll, METHODS, spawn, startUnmapped } from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Squares every element of `a` in place, and sets `flags[k]` to 1. */
export async function squareAll(
  a: SharedArray<"d">,
  flags: SharedArray<"B">,
  k: number,
): Promise<void> {
  using _held = await a.getLock().hold();
  const items = await a.toArray();
  for (let i = 0; i < items.length; i++) await a.set(i, items[i] * items[i]);
  await flags.set(k, 1);
  try {
    await a.get(items.length);
    Deno.exit(3);
  } catch (e) {
    if (!(e instanceof RangeError)) Deno.exit(3);
  }
}

/** Exits 0 when `.array` throws a TypeError (subprocess) or reads the first element (worker). */
export function readView(a: SharedArray<"i">, shared: boolean): void {
  try {
    if (a.array[0] !== 5 || !shared) Deno.exit(3);
  } catch (e) {
    Deno.exit(e instanceof TypeError && !shared ? 0 : 4);
  }
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("SharedArray holds typed elements and checks them", async () => {
  const a = new SharedArray("i", [1, 2, 3]);
  assert.ok(a.array instanceof Int32Array);
  assert.equal(a.length, 3);
  assert.deepEqual(await a.toArray(), [1, 2, 3]);
  a.array[1] = 20;
  assert.equal(await a.get(1), 20);
  await a.set(2, 30);
  assert.deepEqual([...a.array], [1, 20, 30]);
  assert.deepEqual([...new SharedArray("d", 2).array], [0, 0]);
  assert.deepEqual([...new SharedArray("Q", [1n, 2n]).array], [1n, 2n]);
  assert.throws(() => new SharedArray("i", -1), RangeError);
  assert.throws(() => new SharedArray("i", 1.5), TypeError);
  assert.throws(() => new SharedArray("i", NaN), TypeError);
  assert.throws(
    () => new SharedArray("d", 2 ** 40),
    /Cannot create SharedArray: 1099511627776 f64 elements/,
  );
  assert.throws(() => new SharedArray("z" as "i", 2), TypeError);
  assert.throws(() => new SharedArray("B", [256]), RangeError);
  assert.throws(() => new SharedArray("i", {} as never), TypeError);
  await assert.rejects(() => a.get(3), RangeError);
  await assert.rejects(() => a.get(0.5), TypeError);
  await assert.rejects(() => a.set(0, 2 ** 40), RangeError);
  assert.throws(() => new SharedArray("i", 1, { lock: false }).getLock(), TypeError);
});

for (const method of METHODS) {
  Deno.test(`SharedArray is the same memory in children (${method})`, async () => {
    const a = new SharedArray("d", [1, 2, 3]);
    const flags = new SharedArray("B", 2, { lock: false });
    const ps = spawn(squareAll, [[a, flags, 0], [a, flags, 1]], method, module);
    assert.deepEqual(await joinAll(ps), [0, 0]);
    assert.deepEqual([...a.array], [1, 16, 81]);
    assert.deepEqual([...flags.array], [1, 1]);
  });

  Deno.test(`SharedArray.array is the shared memory itself in a child (${method})`, async () => {
    const a = new SharedArray("i", [5]);
    assert.deepEqual(await joinAll(spawn(readView, [[a, true]], method, module)), [0]);
  });
}

Deno.test("SharedArray.array in a child without FFI names the awaited calls", async () => {
  const a = new SharedArray("i", [5]);
  assert.deepEqual(await joinAll([startUnmapped(readView, [a, false], module)]), [0]);
});
