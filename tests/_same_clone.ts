// A comparator with structured clone's meaning: what a received value must be, given the value
// sent. Primitives by Object.is (-0 and NaN exact); objects by kind and prototype; sharing and
// cycles kept both ways; typed arrays with their offset, over a buffer compared (and shared) as
// the buffer it is; what structured clone changes (RegExp lastIndex, Error names) as it changes it.

import { ERROR_NAMES } from "./_values.ts";

/** Thrown by {@link assertSameClone}: its message names the path and what differs. */
export class CloneMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CloneMismatchError";
  }
}

/**
 * Asserts that `actual` is what structured clone makes of `expected`.
 *
 * @param path how the value is named in the message (`value[3].map.get(2)[5]`).
 * @throws {CloneMismatchError} at the first difference.
 */
export function assertSameClone(actual: unknown, expected: unknown, path = "value"): void {
  const problem = cloneMismatch(actual, expected, path);
  if (problem !== undefined) throw new CloneMismatchError(problem);
}

/** What {@link assertSameClone} would say: the first difference, or undefined when none. */
export function cloneMismatch(
  actual: unknown,
  expected: unknown,
  path = "value",
): string | undefined {
  try {
    new Walk().same(actual, expected, path);
    return undefined;
  } catch (e) {
    if (e instanceof Mismatch) return e.message;
    throw e;
  }
}

class Mismatch extends Error {}

const tag = (v: object): string => Object.prototype.toString.call(v);
const global = globalThis as unknown as Record<string, { prototype: object }>;

/** A short description of a value for messages. */
export function show(v: unknown): string {
  switch (typeof v) {
    case "string":
      return v.length > 40
        ? `a string of ${v.length} (${JSON.stringify(v.slice(0, 20))}...)`
        : JSON.stringify(v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return `${v}n`;
    case "object":
      if (v === null) return "null";
      if (ArrayBuffer.isView(v)) return `${tag(v)} of ${v.byteLength} bytes at ${v.byteOffset}`;
      return tag(v);
    default:
      return String(v);
  }
}

/** `.key` or `["key"]`. */
function member(key: string): string {
  if (/^(0|[1-9]\d*)$/.test(key)) return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** One parallel walk of an actual and an expected value. */
class Walk {
  /** Expected object -> the actual object it must be, and where it was first met. */
  #toActual = new Map<object, { actual: object; path: string }>();
  /** Actual object -> the expected object it stands for. */
  #toExpected = new Map<object, object>();

  #fail(path: string, what: string): never {
    throw new Mismatch(`${path}: ${what}`);
  }

  same(a: unknown, e: unknown, path: string): void {
    if (typeof e !== "object" || e === null) {
      if (typeof a !== typeof e || !Object.is(a, e)) {
        this.#fail(path, `expected ${show(e)}, got ${show(a)}`);
      }
      return;
    }
    if (typeof a !== "object" || a === null) {
      this.#fail(path, `expected ${show(e)}, got ${show(a)}`);
    }
    const met = this.#toActual.get(e);
    if (met) {
      if (met.actual !== a) {
        this.#fail(path, `expected the object met at ${met.path} again, got another`);
      }
      return;
    }
    if (this.#toExpected.has(a)) {
      this.#fail(path, "got an object met before, where a new one was sent");
    }
    this.#toActual.set(e, { actual: a, path });
    this.#toExpected.set(a, e);
    const kind = tag(e);
    if (tag(a) !== kind) this.#fail(path, `expected ${kind}, got ${tag(a)}`);
    this.#kind(a, e, kind.slice(8, -1), path);
  }

  #proto(a: object, name: string, path: string): void {
    if (Object.getPrototypeOf(a) !== global[name].prototype) {
      this.#fail(path, `expected a ${name} of this realm, got another prototype`);
    }
  }

  #kind(a: object, e: object, kind: string, path: string): void {
    switch (kind) {
      case "Array":
        return this.#properties(a, e, path, true);
      case "Object":
        if (Object.getPrototypeOf(a) !== Object.prototype) {
          this.#fail(path, "expected a plain object with Object.prototype");
        }
        return this.#properties(a, e, path, false);
      case "Map":
        return this.#map(a as Map<unknown, unknown>, e as Map<unknown, unknown>, path);
      case "Set":
        return this.#set(a as Set<unknown>, e as Set<unknown>, path);
      case "Date":
        this.#proto(a, "Date", path);
        return this.same((a as Date).getTime(), (e as Date).getTime(), `${path}.getTime()`);
      case "RegExp":
        return this.#regexp(a as RegExp, e as RegExp, path);
      case "Number":
      case "String":
      case "Boolean":
      case "BigInt":
        this.#proto(a, kind, path);
        return this.same(a.valueOf(), e.valueOf(), `${path}.valueOf()`);
      case "ArrayBuffer":
      case "SharedArrayBuffer":
        return this.#buffer(a as ArrayBuffer, e as ArrayBuffer, kind, path);
      case "Error":
        return this.#error(a as Error, e as Error, path);
      default:
        if (ArrayBuffer.isView(e)) return this.#view(a as ArrayBufferView, e, kind, path);
        this.#fail(path, `cannot compare a ${kind}`);
    }
  }

  #properties(a: object, e: object, path: string, array: boolean): void {
    if (array) {
      this.#proto(a, "Array", path);
      const [al, el] = [(a as unknown[]).length, (e as unknown[]).length];
      if (al !== el) this.#fail(path, `expected length ${el}, got ${al}`);
    }
    const ak = Object.keys(a), ek = Object.keys(e);
    if (ak.length !== ek.length || ak.some((k, i) => k !== ek[i])) {
      const missing = ek.filter((k) => !Object.hasOwn(a, k));
      const extra = ak.filter((k) => !Object.hasOwn(e, k));
      this.#fail(
        path,
        missing.length || extra.length
          ? `missing keys ${JSON.stringify(missing)}, extra keys ${JSON.stringify(extra)}` +
            (array ? " (holes and extra properties of an array count)" : "")
          : `keys in another order: ${JSON.stringify(ak)}`,
      );
    }
    const ar = a as Record<string, unknown>, er = e as Record<string, unknown>;
    for (const k of ek) this.same(ar[k], er[k], path + member(k));
  }

  #map(a: Map<unknown, unknown>, e: Map<unknown, unknown>, path: string): void {
    this.#proto(a, "Map", path);
    if (a.size !== e.size) this.#fail(path, `expected size ${e.size}, got ${a.size}`);
    const ae = [...a];
    let i = 0;
    for (const [k, v] of e) {
      const name = typeof k === "object" && k !== null ? `#${i}` : show(k);
      this.same(ae[i][0], k, `${path}.keys()[${i}]`);
      this.same(ae[i][1], v, `${path}.get(${name})`);
      i++;
    }
  }

  #set(a: Set<unknown>, e: Set<unknown>, path: string): void {
    this.#proto(a, "Set", path);
    if (a.size !== e.size) this.#fail(path, `expected size ${e.size}, got ${a.size}`);
    const ae = [...a];
    let i = 0;
    for (const v of e) this.same(ae[i], v, `${path}.values()[${i++}]`);
  }

  #regexp(a: RegExp, e: RegExp, path: string): void {
    this.#proto(a, "RegExp", path);
    if (a.source !== e.source) this.#fail(path, `expected /${e.source}/, got /${a.source}/`);
    if (a.flags !== e.flags) this.#fail(path, `expected flags "${e.flags}", got "${a.flags}"`);
    if (a.lastIndex !== 0) {
      this.#fail(path, `lastIndex ${a.lastIndex}: structured clone resets it to 0`);
    }
  }

  #buffer(a: ArrayBuffer, e: ArrayBuffer, kind: string, path: string): void {
    this.#proto(a, kind, path);
    if (a.byteLength !== e.byteLength) {
      this.#fail(path, `expected ${e.byteLength} bytes, got ${a.byteLength}`);
    }
    const resizable = kind === "ArrayBuffer" ? "resizable" : "growable";
    const ar = (a as unknown as Record<string, unknown>)[resizable];
    const er = (e as unknown as Record<string, unknown>)[resizable];
    if (ar !== er || a.maxByteLength !== e.maxByteLength) {
      this.#fail(
        path,
        `expected ${resizable} ${er} up to ${e.maxByteLength}, got ${ar} up to ${a.maxByteLength}`,
      );
    }
    const at = firstDifference(new Uint8Array(a), new Uint8Array(e));
    if (at >= 0) {
      this.#fail(
        path,
        `byte ${at} of ${e.byteLength} differs: expected ${new Uint8Array(e)[at]}, got ${
          new Uint8Array(a)[at]
        }`,
      );
    }
  }

  #view(a: ArrayBufferView, e: ArrayBufferView, kind: string, path: string): void {
    this.#proto(a, kind, path);
    if (a.byteOffset !== e.byteOffset || a.byteLength !== e.byteLength) {
      this.#fail(
        path,
        `expected ${e.byteLength} bytes at offset ${e.byteOffset}, got ${a.byteLength} at ${a.byteOffset}`,
      );
    }
    this.same(a.buffer, e.buffer, `${path}.buffer`);
    if (tracksLength(a) !== tracksLength(e)) {
      this.#fail(path, `expected a view that ${tracksLength(e) ? "tracks" : "keeps"} its length`);
    }
  }

  #error(a: Error, e: Error, path: string): void {
    const name = ERROR_NAMES.includes(e.name) ? e.name : "Error"; // as structured clone names it
    this.#proto(a, name, path);
    if (a.name !== name) this.#fail(path, `expected name ${name}, got ${show(a.name)}`);
    if (Object.hasOwn(a, "message") !== Object.hasOwn(e, "message")) {
      this.#fail(path, `expected ${Object.hasOwn(e, "message") ? "a" : "no"} message of its own`);
    }
    this.same(a.message, e.message, `${path}.message`);
    if (Object.hasOwn(a, "cause") !== Object.hasOwn(e, "cause")) {
      this.#fail(path, `expected ${Object.hasOwn(e, "cause") ? "a" : "no"} cause`);
    }
    if (Object.hasOwn(e, "cause")) this.same(a.cause, e.cause, `${path}.cause`);
  }
}

/**
 * Whether `v` is a view that tracks the length of its resizable buffer: found by growing the
 * buffer for a moment, when it has room to grow (undefined when it cannot tell).
 */
function tracksLength(v: ArrayBufferView): boolean | undefined {
  const b = v.buffer as ArrayBuffer;
  if (!(b instanceof ArrayBuffer) || !b.resizable || b.maxByteLength - b.byteLength < 8) {
    return undefined;
  }
  const before = v.byteLength, size = b.byteLength;
  b.resize(size + 8);
  const tracks = v.byteLength !== before;
  b.resize(size);
  return tracks;
}

/** The first index where two byte arrays differ (-1 when equal), word by word while it can. */
function firstDifference(a: Uint8Array, e: Uint8Array): number {
  const words = a.byteOffset % 4 === 0 && e.byteOffset % 4 === 0 ? a.length >>> 2 : 0;
  const aw = new Int32Array(a.buffer, a.byteOffset, words);
  const ew = new Int32Array(e.buffer, e.byteOffset, words);
  let i = 0;
  while (i < words && aw[i] === ew[i]) i++;
  for (i *= 4; i < a.length; i++) if (a[i] !== e[i]) return i;
  return -1;
}
