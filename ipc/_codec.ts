// How items travel through the shared byte rings of this folder: a compact tagged encoding for
// the common cases (numbers, strings, booleans, null, undefined, and arrays and plain objects of
// them), raw bytes, and `node:v8` serialization for everything else structured-cloneable.

import { deserialize, serialize } from "node:v8";
import { encode, type ReduceContext } from "../process/_reduce.ts";

/** Kinds of record payload. */
export const Kind = {
  V8: 0,
  NUM: 1,
  STR: 2,
  UNDEF: 3,
  NULL: 4,
  TRUE: 5,
  FALSE: 6,
  /** Raw bytes sent with `sendBytes`. */
  BYTES: 7,
  /** The compact tree encoding. */
  TREE: 8,
  /** A `Uint8Array` item. */
  U8: 9,
} as const;
/** One of {@link Kind}'s values. */
export type Kind = typeof Kind[keyof typeof Kind];

/** An encoded item: its kind and payload bytes (valid until the next `encodeItem` call). */
export interface Encoded {
  kind: number;
  bytes: Uint8Array;
}

const EMPTY = new Uint8Array(0);
const numOut64 = new Float64Array(1);
/** Reused for every number: valid until the next `encodeItem` call, like the scratch. */
const NUM_ENCODED: Encoded = { kind: Kind.NUM, bytes: new Uint8Array(numOut64.buffer) };
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

let scratch = new Uint8Array(1024);
let view = new DataView(scratch.buffer);
let at = 0;

function room(n: number): void {
  if (at + n <= scratch.length) return;
  let size = scratch.length * 2;
  while (size < at + n) size *= 2;
  const bigger = new Uint8Array(size);
  bigger.set(scratch.subarray(0, at));
  scratch = bigger;
  view = new DataView(bigger.buffer);
}

const T_NUM = 1, T_INT = 2, T_STR = 3, T_UNDEF = 4, T_NULL = 5, T_TRUE = 6, T_FALSE = 7;
const T_ARR = 8, T_OBJ = 9;
const MAX_DEPTH = 64;
const NOT_TREE = Symbol("not a tree");

function putStr(s: string): void {
  room(5 + s.length * 3);
  const { written } = textEncoder.encodeInto(s, scratch.subarray(at + 5));
  scratch[at] = T_STR;
  view.setUint32(at + 1, written, true);
  at += 5 + written;
}

function putTree(v: unknown, depth: number): void {
  switch (typeof v) {
    case "number":
      if ((v | 0) === v && !Object.is(v, -0)) {
        room(5);
        scratch[at] = T_INT;
        view.setInt32(at + 1, v, true);
        at += 5;
      } else {
        room(9);
        scratch[at] = T_NUM;
        view.setFloat64(at + 1, v, true);
        at += 9;
      }
      return;
    case "string":
      return putStr(v);
    case "boolean":
      room(1);
      scratch[at++] = v ? T_TRUE : T_FALSE;
      return;
    case "undefined":
      room(1);
      scratch[at++] = T_UNDEF;
      return;
    case "object": {
      if (v === null) {
        room(1);
        scratch[at++] = T_NULL;
        return;
      }
      if (depth > MAX_DEPTH) throw NOT_TREE;
      if (Array.isArray(v)) {
        room(5);
        scratch[at] = T_ARR;
        view.setUint32(at + 1, v.length, true);
        at += 5;
        for (let i = 0; i < v.length; i++) {
          if (!(i in v)) throw NOT_TREE; // holes: keep them with v8
          putTree(v[i], depth + 1);
        }
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype) throw NOT_TREE;
      const keys = Object.keys(v);
      room(5);
      scratch[at] = T_OBJ;
      view.setUint32(at + 1, keys.length, true);
      at += 5;
      for (const k of keys) {
        putStr(k);
        putTree((v as Record<string, unknown>)[k], depth + 1);
      }
      return;
    }
    default:
      throw NOT_TREE;
  }
}

const NO_SHARE: ReduceContext = {
  startMethod: "worker",
  transfer: [],
  share(): number {
    throw new TypeError("a handle that a subprocess reaches over RPC cannot travel here");
  },
};

/**
 * Encodes one item.
 *
 * @param value the item.
 * @param what names the item in error messages (`"item"`).
 * @throws {TypeError} naming the position of a part that cannot be sent.
 */
export function encodeItem(value: unknown, what: string): Encoded {
  switch (typeof value) {
    case "number":
      numOut64[0] = value;
      return NUM_ENCODED;
    case "string":
      if (value.length < 256) {
        at = 0;
        room(value.length * 3);
        const { written } = textEncoder.encodeInto(value, scratch);
        return { kind: Kind.STR, bytes: scratch.subarray(0, written) };
      }
      return { kind: Kind.STR, bytes: textEncoder.encode(value) };
    case "boolean":
      return { kind: value ? Kind.TRUE : Kind.FALSE, bytes: EMPTY };
    case "undefined":
      return { kind: Kind.UNDEF, bytes: EMPTY };
  }
  if (value === null) return { kind: Kind.NULL, bytes: EMPTY };
  if (
    value instanceof Uint8Array && value.constructor === Uint8Array &&
    value.buffer instanceof ArrayBuffer
  ) {
    return { kind: Kind.U8, bytes: value };
  }
  if (typeof value === "object" && value !== null) {
    at = 0;
    try {
      putTree(value, 0);
      return { kind: Kind.TREE, bytes: scratch.subarray(0, at) };
    } catch (e) {
      if (e !== NOT_TREE) throw e;
    }
  }
  let walked: unknown;
  try {
    walked = encode(value, NO_SHARE, what);
  } catch (e) {
    throw e instanceof TypeError ? e : new TypeError(`${what} cannot be sent: ${e}`);
  }
  try {
    return { kind: Kind.V8, bytes: serialize(walked) };
  } catch (e) {
    throw new TypeError(
      `${what} cannot be sent through a queue or pipe: ${(e as Error).message}; ` +
        "pass handles (locks, queues, pipe ends, shared memory) to a Process in its args",
    );
  }
}

const num64 = new Float64Array(1);
const num8 = new Uint8Array(num64.buffer);

let rd: DataView = new DataView(scratch.buffer);
let rbuf: Uint8Array = scratch;
let rat = 0;

function getStr(): string {
  const n = rd.getUint32(rat + 1, true);
  const s = textDecoder.decode(rbuf.subarray(rat + 5, rat + 5 + n));
  rat += 5 + n;
  return s;
}

function getTree(): unknown {
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
      for (let i = 0; i < n; i++) out[i] = getTree();
      return out;
    }
    case T_OBJ: {
      const n = rd.getUint32(rat + 1, true);
      rat += 5;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = getStr();
        out[k] = getTree();
      }
      return out;
    }
    default:
      throw new Error(`Corrupt item in a shared queue: unknown tag ${tag}`);
  }
}

/**
 * Decodes one item from bytes in unshared memory.
 *
 * @param own whether `bytes` may be kept by the result (a fresh copy).
 */
export function decodeItem(kind: number, bytes: Uint8Array, own: boolean): unknown {
  switch (kind) {
    case Kind.NUM:
      num8.set(bytes.subarray(0, 8));
      return num64[0];
    case Kind.STR:
      return textDecoder.decode(bytes);
    case Kind.UNDEF:
      return undefined;
    case Kind.NULL:
      return null;
    case Kind.TRUE:
      return true;
    case Kind.FALSE:
      return false;
    case Kind.BYTES:
    case Kind.U8:
      return own ? bytes : bytes.slice();
    case Kind.TREE:
      rbuf = bytes;
      rd = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      rat = 0;
      return getTree();
    case Kind.V8:
      return deserialize(bytes);
    default:
      throw new Error(`Corrupt item in a shared queue: unknown kind ${kind}`);
  }
}
