// The property tests' own tools: the generator is deterministic and covers every kind, and the
// comparator accepts what structured clone makes of a value and refuses every kind of change.

import assert from "node:assert/strict";
import { assertSameClone, CloneMismatchError } from "./_same_clone.ts";
import { valueAt } from "./_values.ts";

const SEED = 7;

/** The kinds (Object.prototype.toString tags) met in `v`, with how often. */
function kinds(v: unknown, into: Map<string, number>, seen = new Set<object>()): void {
  if (typeof v !== "object" || v === null) {
    const k = typeof v;
    into.set(k, (into.get(k) ?? 0) + 1);
    return;
  }
  if (seen.has(v)) return void into.set("shared", (into.get("shared") ?? 0) + 1);
  seen.add(v);
  const tag = Object.prototype.toString.call(v).slice(8, -1);
  into.set(tag, (into.get(tag) ?? 0) + 1);
  const inner = v instanceof Map
    ? [...v].flat()
    : v instanceof Set
    ? [...v]
    : ArrayBuffer.isView(v)
    ? [v.buffer]
    : v instanceof Error
    ? [v.cause]
    : Object.values(v);
  for (const x of inner) kinds(x, into, seen);
}

Deno.test("Values: the generator is deterministic and makes every kind structured clone carries", () => {
  const seen = new Map<string, number>();
  for (let i = 0; i < 600; i++) {
    const v = valueAt(SEED, i, { shared: true });
    kinds(v, seen);
    assertSameClone(structuredClone(valueAt(SEED, i, { shared: true })), v, `value #${i}`);
  }
  const want = [
    ..."number bigint string boolean undefined".split(" "),
    ..."Null Array Object Map Set Date RegExp Error Number String Boolean BigInt".split(" "),
    ..."ArrayBuffer SharedArrayBuffer DataView shared".split(" "),
    ..."Int8 Uint8 Uint8Clamped Int16 Uint16 Int32 Uint32 Float32 Float64 BigInt64 BigUint64"
      .split(" ").map((k) => `${k}Array`),
    ...("Float16Array" in globalThis ? ["Float16Array"] : []),
  ].filter((k) => k !== "Null");
  assert.deepEqual(want.filter((k) => !seen.has(k)), []);
});

/** Asserts that the comparator refuses `actual` for `expected`, naming `path` and `what`. */
function refuses(actual: unknown, expected: unknown, message: RegExp): void {
  assert.throws(() => assertSameClone(actual, expected), (e: Error) => {
    assert.ok(e instanceof CloneMismatchError, String(e));
    assert.match(e.message, message);
    return true;
  });
}

Deno.test("Values: the comparator refuses each kind of change and names where it is", () => {
  refuses(
    { a: new Map([[2, [0, 1, 2, 3, 4, 0]]]) },
    { a: new Map([[2, [0, 1, 2, 3, 4, -0]]]) },
    /^value\.a\.get\(2\)\[5\]: expected -0, got 0/,
  );
  refuses([0], [NaN], /value\[0\]: expected NaN/);
  refuses([1n], [1], /expected 1, got 1n/);
  const o = {};
  refuses([{}, {}], [o, o], /value\[1\]: expected the object met at value\[0\] again/);
  refuses([o, o], [{}, {}], /value\[1\]: got an object met before/);
  const cycle: unknown[] = [];
  cycle.push(cycle);
  refuses([[[]]], cycle, /value\[0\]: expected the object met at value again/);
  const buf = new ArrayBuffer(16);
  refuses(new Uint8Array(4), new Uint8Array(buf, 8, 4), /expected 4 bytes at offset 8, got 4 at 0/);
  refuses(
    [new Uint8Array(16), new Uint16Array(8)],
    [new Uint8Array(buf), new Uint16Array(buf)],
    /value\[1\]\.buffer: expected the object met at value\[0\]\.buffer/,
  );
  refuses(
    new Int32Array(2),
    new Float32Array(2),
    /expected \[object Float32Array\], got \[object Int32Array\]/,
  );
  refuses(
    new Uint8Array([1, 2, 3]),
    new Uint8Array([1, 2, 4]),
    /value\.buffer: byte 2 of 3 differs/,
  );
  refuses(new Map([[2, 2], [1, 1]]), new Map([[1, 1], [2, 2]]), /keys\(\)\[0\]: expected 1, got 2/);
  refuses(new Set(["b", "a"]), new Set(["a", "b"]), /values\(\)\[0\]/);
  refuses([undefined, 1], [, 1], /value: missing keys \[\], extra keys \["0"\]/);
  refuses(Object.assign([1], { p: 1 }), [1], /extra keys \["p"\]/);
  refuses({ b: 1, a: 1 }, { a: 1, b: 1 }, /keys in another order/);
  refuses(new RangeError("m"), new TypeError("m"), /expected a TypeError of this realm/);
  refuses(new Error("n"), new Error("m"), /value\.message: expected "m", got "n"/);
  refuses(new Error("m"), new Error("m", { cause: 0 }), /expected a cause/);
  refuses(new Date(1), new Date(0), /getTime\(\): expected 0, got 1/);
  refuses(new Date(0), new Date(NaN), /getTime\(\): expected NaN, got 0/);
  const re = /x/g;
  re.lastIndex = 2;
  refuses(re, /x/g, /lastIndex 2/);
  refuses(/x/i, /x/g, /expected flags "g", got "i"/);
  refuses(new Number(0), new Number(-0), /valueOf\(\): expected -0/);
  refuses(new ArrayBuffer(4), new ArrayBuffer(4, { maxByteLength: 8 }), /expected resizable true/);
  const growable = () => new ArrayBuffer(8, { maxByteLength: 32 });
  refuses(
    new Uint8Array(growable(), 0, 8),
    new Uint8Array(growable()),
    /a view that tracks its length/,
  );
  refuses(new ArrayBuffer(4), new SharedArrayBuffer(4), /expected \[object SharedArrayBuffer\]/);
  refuses({ __proto__: null, a: 1 }, { a: 1 }, /expected a plain object with Object\.prototype/);
});

Deno.test("Values: the comparator refuses a generated value with one byte or number changed", () => {
  let changed = 0;
  for (let i = 0; i < 300 && changed < 20; i++) {
    const clone = structuredClone(valueAt(SEED, i));
    if (!changeOne(clone, new Set())) continue;
    changed++;
    assert.throws(() => assertSameClone(clone, valueAt(SEED, i)), CloneMismatchError);
  }
  assert.equal(changed, 20);
});

/** Changes one byte of a buffer or one number of an array inside `v`; false when there is none. */
function changeOne(v: unknown, seen: Set<object>): boolean {
  if (typeof v !== "object" || v === null || seen.has(v)) return false;
  seen.add(v);
  if (v instanceof ArrayBuffer && v.byteLength > 0) {
    new Uint8Array(v)[v.byteLength - 1] ^= 1;
    return true;
  }
  if (Array.isArray(v)) {
    const i = v.findIndex((x) => typeof x === "number");
    if (i >= 0) {
      v[i] = Number.isNaN(v[i]) ? 0 : Object.is(v[i], 0) ? -0 : v[i] + 1 === v[i] ? NaN : v[i] + 1;
      return true;
    }
  }
  const inner = v instanceof Map
    ? [...v.values()]
    : v instanceof Set
    ? [...v]
    : ArrayBuffer.isView(v)
    ? [v.buffer]
    : Object.values(v);
  return inner.some((x) => changeOne(x, seen));
}
