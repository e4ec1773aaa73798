// A compact binary encoding of plain data (numbers, strings, booleans, null, undefined, and
// arrays and plain objects of them), shared by every byte ring of the package: far cheaper than
// `node:v8` (~14 us a call in Deno) or JSON text, and exact (-0, NaN, Infinity and undefined
// survive). Anything else is not a tree, nor is a value that holds one array or object twice
// (or in a cycle), nor a string with a lone surrogate (UTF-8 has none): callers fall back to
// structured clone (./_clone.ts), which keeps them.

const T_NUM = 1, T_INT = 2, T_STR = 3, T_UNDEF = 4, T_NULL = 5, T_TRUE = 6, T_FALSE = 7;
const T_ARR = 8, T_OBJ = 9;
/** Arrays of numbers only, packed: `T_INTS` all int32 (4 bytes each), `T_NUMS` float64 (8). */
const T_INTS = 10, T_NUMS = 11;
/** The shortest array tried as a packed one: below it, the check costs more than it saves. */
const PACK_MIN = 16;
const MAX_DEPTH = 64;
const NOT_TREE = Symbol("not a tree");
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

// Packed arrays go through these, native copies doing the conversion: one tight loop per array
// (checking that every element is a number) instead of a call per element, which matters most
// before the JIT has compiled the codec, on a program's first messages.
let packF64 = new Float64Array(1024);
let packI32 = new Int32Array(1024);
/** The longest array whose conversion buffers are kept for the next one. */
const PACK_KEEP = 1 << 16;

/** A buffer for `n` int32s: the kept one, grown, or (past PACK_KEEP) one of its own. */
function i32For(n: number): Int32Array {
  if (n > PACK_KEEP) return new Int32Array(n);
  if (packI32.length < n) packI32 = new Int32Array(PACK_KEEP);
  return packI32;
}

/** A buffer for `n` float64s, as {@link i32For}. */
function f64For(n: number): Float64Array {
  if (n > PACK_KEEP) return new Float64Array(n);
  if (packF64.length < n) packF64 = new Float64Array(PACK_KEEP);
  return packF64;
}

/** Whether `a` holds numbers only: 2 when all are int32 (not -0), 1 when some are not, 0 else. */
function numbersIn(a: unknown[]): 0 | 1 | 2 {
  let ints = true;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    if (typeof x !== "number") return 0; // a hole reads as undefined: not packed either
    if (ints && ((x | 0) !== x || (x === 0 && 1 / x < 0))) ints = false;
  }
  return ints ? 2 : 1;
}

/** Appends trees to a growable buffer; `bytes.subarray(0, at)` is what was written. */
export class TreeWriter {
  bytes: Uint8Array;
  at = 0;
  #view: DataView;
  /** The arrays and objects of the value being put: one met twice is shared, not a tree. */
  #seen = new Set<object>();

  constructor(size = 1024) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
  }

  /** What was written so far: a view of the buffer, valid until the next write. */
  get written(): Uint8Array {
    return this.bytes.subarray(0, this.at);
  }

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.at + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.at));
    this.bytes = bigger;
    this.#view = new DataView(bigger.buffer);
  }

  /**
   * Appends `value` when it is plain data; otherwise writes nothing and returns false.
   * @throws what a getter of `value` throws.
   */
  put(value: unknown): boolean {
    const start = this.at;
    try {
      this.#put(value, 0);
      return true;
    } catch (e) {
      this.at = start;
      if (e === NOT_TREE) return false;
      throw e;
    } finally {
      this.#seen.clear();
    }
  }

  /** Starts an array of as yet unknown length; returns the mark for {@link TreeWriter.endArray}. */
  beginArray(): number {
    this.room(5);
    const mark = this.at;
    this.bytes[mark] = T_ARR;
    this.at += 5;
    return mark;
  }

  /** Ends the array begun at `mark`, of `length` elements. */
  endArray(mark: number, length: number): void {
    this.#view.setUint32(mark + 1, length, true);
  }

  #str(s: string): void {
    if (!s.isWellFormed()) throw NOT_TREE; // UTF-8 cannot carry a lone surrogate
    this.room(5 + s.length * 3);
    const { written } = textEncoder.encodeInto(s, this.bytes.subarray(this.at + 5));
    this.bytes[this.at] = T_STR;
    this.#view.setUint32(this.at + 1, written, true);
    this.at += 5 + written;
  }

  /** Writes `a` as a packed array when it holds numbers only; returns whether it did. */
  #packed(a: unknown[]): boolean {
    const kind = numbersIn(a);
    if (kind === 0) return false;
    const n = a.length;
    const numbers = kind === 2 ? i32For(n) : f64For(n);
    numbers.set(a as number[]);
    const body = new Uint8Array(numbers.buffer, 0, n * numbers.BYTES_PER_ELEMENT);
    this.room(5 + body.length);
    this.bytes[this.at] = kind === 2 ? T_INTS : T_NUMS;
    this.#view.setUint32(this.at + 1, n, true);
    this.bytes.set(body, this.at + 5);
    this.at += 5 + body.length;
    return true;
  }

  #put(v: unknown, depth: number): void {
    switch (typeof v) {
      case "number":
        if ((v | 0) === v && !Object.is(v, -0)) {
          this.room(5);
          this.bytes[this.at] = T_INT;
          this.#view.setInt32(this.at + 1, v, true);
          this.at += 5;
        } else {
          this.room(9);
          this.bytes[this.at] = T_NUM;
          this.#view.setFloat64(this.at + 1, v, true);
          this.at += 9;
        }
        return;
      case "string":
        return this.#str(v);
      case "boolean":
        this.room(1);
        this.bytes[this.at++] = v ? T_TRUE : T_FALSE;
        return;
      case "undefined":
        this.room(1);
        this.bytes[this.at++] = T_UNDEF;
        return;
      case "object": {
        if (v === null) {
          this.room(1);
          this.bytes[this.at++] = T_NULL;
          return;
        }
        if (depth > MAX_DEPTH || this.#seen.has(v)) throw NOT_TREE; // node:v8 keeps sharing
        this.#seen.add(v);
        if (Array.isArray(v)) {
          if (v.length >= PACK_MIN && this.#packed(v)) return;
          const mark = this.beginArray();
          for (let i = 0; i < v.length; i++) {
            if (!(i in v)) throw NOT_TREE; // holes: keep them with v8
            this.#put(v[i], depth + 1);
          }
          this.endArray(mark, v.length);
          return;
        }
        if (Object.getPrototypeOf(v) !== Object.prototype) throw NOT_TREE;
        const keys = Object.keys(v);
        this.room(5);
        this.bytes[this.at] = T_OBJ;
        this.#view.setUint32(this.at + 1, keys.length, true);
        this.at += 5;
        for (const k of keys) {
          this.#str(k);
          this.#put((v as Record<string, unknown>)[k], depth + 1);
        }
        return;
      }
      default:
        throw NOT_TREE;
    }
  }
}

let rbuf: Uint8Array = new Uint8Array(0);
let rd: DataView = new DataView(rbuf.buffer);
let rat = 0;

/**
 * The tree at the start of `bytes` (unshared memory).
 * @throws {Error} for bytes that are not a tree.
 */
export function readTree(bytes: Uint8Array): unknown {
  if (bytes.buffer !== rbuf.buffer) { // views of one buffer, as a ring's, share one DataView
    rbuf = new Uint8Array(bytes.buffer);
    rd = new DataView(bytes.buffer);
  }
  rat = bytes.byteOffset;
  const value = get();
  if (rbuf.length > 1 << 20) rbuf = new Uint8Array(0); // not kept alive by the cache
  return value;
}

function getStr(): string {
  const n = rd.getUint32(rat + 1, true);
  const s = textDecoder.decode(rbuf.subarray(rat + 5, rat + 5 + n));
  rat += 5 + n;
  return s;
}

/** A packed array (the tag at `rat`): its bytes copied where they are aligned, then read. */
function getPacked(ints: boolean): number[] {
  const n = rd.getUint32(rat + 1, true);
  const size = ints ? 4 : 8;
  const from = rat + 5;
  rat = from + n * size;
  const source = ints ? i32For(n) : f64For(n);
  new Uint8Array(source.buffer, 0, n * size).set(rbuf.subarray(from, rat));
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = source[i];
  return out;
}

function get(): unknown {
  const tag = rbuf[rat];
  switch (tag) {
    case T_INT: {
      const v = rd.getInt32(rat + 1, true);
      rat += 5;
      return v;
    }
    case T_NUM: {
      const v = rd.getFloat64(rat + 1, true);
      rat += 9;
      return v;
    }
    case T_STR:
      return getStr();
    case T_UNDEF:
      rat++;
      return undefined;
    case T_NULL:
      rat++;
      return null;
    case T_TRUE:
      rat++;
      return true;
    case T_FALSE:
      rat++;
      return false;
    case T_ARR: {
      const n = rd.getUint32(rat + 1, true);
      rat += 5;
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = get();
      return out;
    }
    case T_INTS:
    case T_NUMS:
      return getPacked(tag === T_INTS);
    case T_OBJ: {
      const n = rd.getUint32(rat + 1, true);
      rat += 5;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = getStr();
        const v = get();
        if (k === "__proto__") {
          Object.defineProperty(out, k, {
            value: v,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          out[k] = v;
        }
      }
      return out;
    }
    default:
      throw new Error(`Corrupt data in a shared ring: unknown tag ${tag}`);
  }
}
