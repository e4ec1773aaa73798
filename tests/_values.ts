// Seeded random structured-cloneable values for the property tests: every kind that structured
// clone carries, binary sizes around the thresholds of the package's rings and side channels,
// shared references and cycles. The same seed and index give the same value in any process.
//
// Not generated: class instances (structured clone makes plain objects of them; the package
// refuses them by design), and Deno's platform objects (Blob, DOMException), which only a worker's
// postMessage carries: node:v8 makes {} of a Blob and a plain Error of a DOMException.

/** A small fast PRNG (mulberry32); deterministic from its seed. */
export class Rng {
  #s: number;

  /** @param seed any 32-bit integer. */
  constructor(seed: number) {
    this.#s = seed | 0;
  }

  /** The next 32-bit unsigned integer. */
  u32(): number {
    let t = (this.#s = (this.#s + 0x6D2B79F5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** Whether an event of probability `p` happens. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)];
  }
}

/** What a channel can carry beyond plain structured-cloneable values. */
export interface ValueOptions {
  /** Whether SharedArrayBuffers (and views of them) may appear: only where memory is shared. */
  shared?: boolean;
  /** The largest binary payload, in bytes. @default {4 MiB} */
  maxBytes?: number;
  /** Whether an array may have a named property besides its elements. @default {true} */
  arrayProperties?: boolean;
}

/** The seed of value `index` of the stream `seed`. */
export function seedOf(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9E3779B9, 0x85EBCA6B) ^ Math.imul(index + 1, 0xC2B2AE35);
  h = Math.imul(h ^ (h >>> 16), 0x7FEB352D);
  return (h ^ (h >>> 15)) | 0;
}

/** Value `index` of the stream `seed`: the same in every process that asks. */
export function valueAt(seed: number, index: number, options: ValueOptions = {}): unknown {
  return new Gen(new Rng(seedOf(seed, index)), options).top();
}

const KiB = 1024, MiB = 1024 * KiB;

/**
 * Binary sizes that take a different path somewhere: ipc/_ring.ts's read scratch and smallest
 * ring (4 KiB); pool/_channel.ts's early flush (16 KiB), largest inline frame (64 KiB, also the
 * socket link's first read buffer in _core/_link.ts), and ring (256 KiB, a quarter of a Queue's
 * or Pipe's default ring); the default Queue/Pipe ring (1 MiB): larger records stream in pieces.
 */
export const THRESHOLDS: readonly number[] = [4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB];
const THRESHOLD_WEIGHTS = [0.3, 0.25, 0.25, 0.15, 0.05];
/** The bytes one value may hold, unless it is one of the rare large ones. */
const VALUE_BUDGET = 1.5 * MiB;
/** The share of values that hold one binary payload of more than a megabyte. */
const LARGE_SHARE = 1 / 150;
/** The most containers and binaries in one value. */
const MAX_NODES = 60;
const MAX_DEPTH = 5;

const TYPED: readonly string[] = [
  "Int8Array",
  "Uint8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float16Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
].filter((name) => name in globalThis);

type TypedCtor = new (
  buffer: ArrayBufferLike,
  offset?: number,
  length?: number,
) => ArrayBufferView & {
  BYTES_PER_ELEMENT: number;
};

/** The typed array constructor of `name`. */
function typedCtor(name: string): TypedCtor & { BYTES_PER_ELEMENT: number } {
  return (globalThis as unknown as Record<string, TypedCtor & { BYTES_PER_ELEMENT: number }>)[name];
}

/** The standard Error constructors, which structured clone keeps apart. */
export const ERROR_NAMES: readonly string[] = [
  "Error",
  "EvalError",
  "RangeError",
  "ReferenceError",
  "SyntaxError",
  "TypeError",
  "URIError",
];

const WORDS = ["", "a", "key", "value", "héllo", "日本", "😀x", "\u0000", "a b", "constructor"];
const ODD_KEYS = ["__proto__", "0", "1", "42", "-1", "01", "1.5", "4294967295", "", "toString"];
const REGEXPS = ["abc", "a+?b*", "^x$", "(?<g>\\d+)-\\k<g>", "[a-z]{2,}", "", "\\/\\n", "😀."];

const FLOAT = new Float64Array(1);
const BITS = new Uint32Array(FLOAT.buffer);

/** Fills `bytes` with xorshift32 words from `seed`: far quicker than one Rng call a word. */
function fill(bytes: Uint8Array, seed: number): void {
  const words = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2);
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let i = words.length * 4; i < bytes.length; i++) bytes[i] = x >>> (8 * (i & 3));
}

/** Generates one value; `made` holds the objects so far, for shared references and cycles. */
class Gen {
  #r: Rng;
  #shared: boolean;
  #maxBytes: number;
  #arrayProperties: boolean;
  #made: object[] = [];
  #nodes = 0;
  #budget: number;
  #large: boolean;

  constructor(rng: Rng, options: ValueOptions) {
    this.#r = rng;
    this.#shared = options.shared ?? false;
    this.#maxBytes = options.maxBytes ?? 4 * MiB;
    this.#arrayProperties = options.arrayProperties ?? true;
    this.#large = rng.chance(LARGE_SHARE);
    this.#budget = VALUE_BUDGET;
  }

  /** A whole value: a primitive, a rare deep chain, or anything else. */
  top(): unknown {
    const r = this.#r;
    if (r.chance(0.25)) return this.primitive();
    if (r.chance(0.01)) return this.deep();
    if (r.chance(0.06)) return this.rawBytes();
    if (r.chance(0.1)) return this.leafObject();
    return this.any(0);
  }

  /**
   * A Uint8Array over a whole buffer (the codecs' raw-bytes path): fixed, resizable, or one that
   * tracks the length of its resizable buffer.
   */
  rawBytes(): Uint8Array {
    const r = this.#r;
    const n = this.size();
    const kind = r.int(0, 2);
    if (kind === 0) return new Uint8Array(this.buffer(n));
    const b = new ArrayBuffer(n, { maxByteLength: n + r.int(8, 64) });
    new Uint8Array(b).set(new Uint8Array(this.buffer(n)));
    return kind === 1 ? new Uint8Array(b, 0, n) : new Uint8Array(b);
  }

  /** Any value at `depth`. */
  any(depth: number): unknown {
    const r = this.#r;
    if (this.#made.length > 0 && r.chance(0.08)) return r.pick(this.#made); // shared, or a cycle
    if (depth >= MAX_DEPTH || this.#nodes >= MAX_NODES || r.chance(0.35)) {
      return r.chance(0.6) ? this.primitive() : this.leafObject();
    }
    this.#nodes++;
    switch (r.int(0, 8)) {
      case 0:
      case 1:
        return this.array(depth);
      case 2:
        return this.sparse(depth);
      case 3:
      case 4:
        return this.object(depth);
      case 5:
        return this.map(depth);
      case 6:
        return this.set(depth);
      case 7:
        return this.error(depth);
      default:
        return this.views();
    }
  }

  /** A number, bigint, string, boolean, null or undefined. */
  primitive(): unknown {
    const r = this.#r;
    switch (r.int(0, 9)) {
      case 0:
      case 1:
      case 2:
        return this.number();
      case 3:
        return this.bigint();
      case 4:
      case 5:
      case 6:
        return this.string();
      case 7:
        return r.chance(0.5);
      case 8:
        return null;
      default:
        return undefined;
    }
  }

  number(): number {
    const r = this.#r;
    switch (r.int(0, 5)) {
      case 0:
        return r.int(-1000, 1000);
      case 1:
        return r.pick([
          -0,
          NaN,
          Infinity,
          -Infinity,
          2 ** 31 - 1,
          -(2 ** 31),
          2 ** 31,
          2 ** 32,
          2 ** 53 - 1,
          -(2 ** 53),
          Number.MAX_VALUE,
          Number.MIN_VALUE,
          Number.EPSILON,
        ]);
      case 2:
        return (r.float() - 0.5) * 2 ** r.int(0, 80);
      case 3: // any bit pattern: subnormals, huge exponents, NaN
        BITS[0] = r.u32();
        BITS[1] = r.u32();
        return FLOAT[0];
      default:
        return r.int(-(2 ** 31), 2 ** 31 - 1) * (r.chance(0.5) ? 1 : 2 ** r.int(1, 21));
    }
  }

  bigint(): bigint {
    const r = this.#r;
    let n = 0n;
    for (let i = r.pick([0, 1, 2, 4, 32]); i > 0; i--) n = (n << 32n) | BigInt(r.u32());
    return r.chance(0.5) ? -n : n;
  }

  string(): string {
    const r = this.#r;
    switch (r.int(0, 7)) {
      case 0:
        return "";
      case 1:
        return r.pick(WORDS);
      case 2: { // lone surrogates, pairs, BMP and ASCII, mixed
        const units: number[] = [];
        for (let i = r.int(1, 24); i > 0; i--) {
          units.push(r.pick([0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0x41, 0xE9, 0xFFFD, 0]));
          if (r.chance(0.3)) units.push(0xD83D, 0xDE00); // 😀
        }
        const s = String.fromCharCode(...units);
        return r.chance(0.2) ? s.repeat(Math.ceil(300 / s.length)) : s; // past 256: another path
      }
      case 3:
        if (r.chance(0.08) && this.#spend(300 * KiB)) return this.long();
        return "x".repeat(r.int(0, 300));
      default: {
        let s = "";
        for (let i = r.int(1, 12); i > 0; i--) s += String.fromCharCode(r.int(32, 126));
        return s;
      }
    }
  }

  /** A string of 100 KB or more, with a lone surrogate somewhere now and then. */
  long(): string {
    const r = this.#r;
    const unit = "0123456789abcdef😀é".repeat(4) + (r.chance(0.5) ? "\uD800" : "");
    return unit.repeat(Math.ceil(r.int(100 * KiB, 250 * KiB) / unit.length)) + r.u32();
  }

  /** A Date, RegExp, boxed primitive, ArrayBuffer, DataView or typed array. */
  leafObject(): object {
    const r = this.#r;
    const made = this.#leaf(r.int(0, 8));
    this.#made.push(made);
    return made;
  }

  #leaf(which: number): object {
    const r = this.#r;
    switch (which) {
      case 0:
        return new Date(r.pick([NaN, 0, r.int(-8.64e15, 8.64e15), r.int(0, 2e12)]));
      case 1:
        return this.regexp();
      case 2:
        return r.pick([
          () => new Number(this.number()),
          () => new String(this.string()),
          () => new Boolean(r.chance(0.5)),
          () => Object(this.bigint()),
        ])();
      case 3:
        return this.buffer(this.size());
      case 4:
        return new DataView(this.buffer(this.size() + 16), r.int(0, 16));
      default:
        return this.typed();
    }
  }

  regexp(): RegExp {
    const r = this.#r;
    const source = r.pick(REGEXPS);
    let flags = [..."dgimsy"].filter(() => r.chance(0.3)).join("");
    if (r.chance(0.4)) flags += r.pick(["u", "v"]);
    let re: RegExp;
    try {
      re = new RegExp(source, flags);
    } catch {
      re = new RegExp(source, flags.replace(/[uv]/, ""));
    }
    re.lastIndex = r.int(0, 5); // structured clone resets it
    return re;
  }

  /** A byte size: mostly small, often around a threshold, rarely more than a megabyte. */
  size(): number {
    const r = this.#r;
    if (this.#large) {
      this.#large = false;
      return Math.min(this.#maxBytes, r.int(1.2 * MiB, 4 * MiB));
    }
    let n: number;
    const x = r.float();
    if (x < 0.55) n = r.int(0, 64);
    else if (x < 0.8) n = r.int(65, 4000);
    else {
      let w = r.float(), i = 0;
      while (i < THRESHOLDS.length - 1 && (w -= THRESHOLD_WEIGHTS[i]) > 0) i++;
      n = Math.max(0, THRESHOLDS[i] + r.int(-40, 40));
    }
    n = Math.min(n, this.#maxBytes);
    return this.#spend(n) ? n : r.int(0, 64);
  }

  #spend(n: number): boolean {
    if (n > this.#budget && n > 64) return false;
    this.#budget -= n;
    return true;
  }

  /** An ArrayBuffer (now and then resizable or shared) of `n` random bytes. */
  buffer(n: number): ArrayBuffer {
    const r = this.#r;
    let b: ArrayBufferLike;
    if (this.#shared && r.chance(0.15)) b = new SharedArrayBuffer(n);
    else if (r.chance(0.08)) b = new ArrayBuffer(n, { maxByteLength: n + r.int(8, 64) });
    else b = new ArrayBuffer(n);
    fill(new Uint8Array(b), r.u32());
    return b as ArrayBuffer;
  }

  /** A typed array of a random kind, now and then a view at an offset into a larger buffer. */
  typed(): ArrayBufferView {
    const r = this.#r;
    const Ctor = typedCtor(r.pick(TYPED));
    const bpe = Ctor.BYTES_PER_ELEMENT;
    const length = Math.floor(this.size() / bpe);
    const whole = r.chance(0.7);
    const before = whole ? 0 : r.int(1, 8) * bpe, after = whole ? 0 : r.int(0, 3) * bpe;
    const buffer = this.buffer(before + length * bpe + after);
    if (buffer.resizable && r.chance(0.5)) return new Ctor(buffer, before); // tracks its length
    return new Ctor(buffer, before, length);
  }

  /** Two or three views of one buffer, now and then with the buffer itself. */
  views(): unknown[] {
    const r = this.#r;
    const buffer = this.buffer(8 * r.int(2, 64));
    const out: unknown[] = [];
    this.#made.push(out);
    for (let i = r.int(2, 3); i > 0; i--) {
      const name = r.pick([...TYPED, "DataView"]);
      const bpe = name === "DataView" ? 1 : typedCtor(name).BYTES_PER_ELEMENT;
      const offset = bpe * r.int(0, buffer.byteLength / bpe / 2);
      const length = r.int(0, (buffer.byteLength - offset) / bpe);
      out.push(
        name === "DataView"
          ? new DataView(buffer, offset, length)
          : new (typedCtor(name))(buffer, offset, length),
      );
    }
    if (r.chance(0.5)) out.splice(r.int(0, out.length), 0, buffer);
    return out;
  }

  array(depth: number): unknown[] {
    const r = this.#r;
    if (r.chance(0.15)) return this.numbers();
    const out: unknown[] = [];
    this.#made.push(out);
    for (let i = r.int(0, 8); i > 0; i--) out.push(this.any(depth + 1));
    if (r.chance(0.05) && this.#arrayProperties) {
      (out as unknown as Record<string, unknown>).extra = this.primitive();
    }
    return out;
  }

  /** An array of numbers only, sized like a binary payload. */
  numbers(): number[] {
    const out: number[] = [];
    for (let i = Math.floor(this.size() / 8); i > 0; i--) out.push(this.number());
    this.#made.push(out);
    return out;
  }

  /** An array with holes. */
  sparse(depth: number): unknown[] {
    const r = this.#r;
    const out: unknown[] = new Array(r.int(1, 20));
    this.#made.push(out);
    for (let i = r.int(0, 4); i > 0; i--) out[r.int(0, out.length - 1)] = this.any(depth + 1);
    return out;
  }

  object(depth: number): Record<string, unknown> {
    const r = this.#r;
    const out: Record<string, unknown> = r.chance(0.1) ? Object.create(null) : {};
    this.#made.push(out);
    for (let i = r.int(0, 7); i > 0; i--) {
      const key = r.chance(0.3) ? r.pick(ODD_KEYS) : this.string().slice(0, 12);
      Object.defineProperty(out, key, {
        value: this.any(depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  map(depth: number): Map<unknown, unknown> {
    const r = this.#r;
    const out = new Map<unknown, unknown>();
    this.#made.push(out);
    for (let i = r.int(0, 6); i > 0; i--) {
      const key = r.chance(0.3) ? this.any(depth + 1) : this.primitive();
      out.set(key, this.any(depth + 1));
    }
    return out;
  }

  set(depth: number): Set<unknown> {
    const r = this.#r;
    const out = new Set<unknown>();
    this.#made.push(out);
    for (let i = r.int(0, 6); i > 0; i--) {
      out.add(r.chance(0.6) ? this.primitive() : this.any(depth + 1));
    }
    return out;
  }

  error(depth: number): Error {
    const r = this.#r;
    const Ctor = (globalThis as unknown as Record<string, ErrorConstructor>)[r.pick(ERROR_NAMES)];
    const message = r.chance(0.1) ? undefined : this.string().slice(0, 200);
    const withCause = r.chance(0.3);
    const e = withCause ? new Ctor(message, { cause: undefined }) : new Ctor(message);
    if (r.chance(0.1)) e.name = r.pick([...ERROR_NAMES, "CustomError"]);
    this.#made.push(e);
    if (withCause) e.cause = this.any(depth + 1); // may be the error itself or an ancestor
    return e;
  }

  /** A chain of nested arrays and objects deeper than the tree codec goes (64). */
  deep(): unknown {
    const r = this.#r;
    let v: unknown = this.primitive();
    for (let i = r.int(60, 80); i > 0; i--) v = r.chance(0.5) ? [v] : { v };
    return v;
  }
}

/**
 * Filler `index` of the stream `seed`: random bytes from 64 KiB to 1.1 MiB, sent after the values
 * of a test so that buffers a channel reuses are overwritten before the values are checked again.
 */
export function fillerAt(seed: number, index: number): Uint8Array | Float64Array {
  const r = new Rng(seedOf(~seed, index));
  const bytes = new Uint8Array(8 * r.int(8 * KiB, 140 * KiB));
  fill(bytes, r.u32());
  return r.chance(0.5) ? bytes : new Float64Array(bytes.buffer);
}
