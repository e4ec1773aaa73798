// The package's one codec and tag scheme, for the shared byte rings (the queues' and pipes' in
// ../ipc/; the pool's frames, ../pool/_codec.ts, carry the same tags): a kind tag, then the
// value's bytes: a number, string or boolean as such, raw bytes, plain data as a tree
// (./_tree.ts), and `node:v8` serialization for everything else structured-cloneable.

import { cloneFromBytes, cloneToBytes } from "./_clone.ts";
import { decode, encode, type ReduceContext } from "./_reduce.ts";
import { readTree, TreeWriter } from "./_tree.ts";

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
  /** V8 serialization of a value that holds handles (locks, queues...), revived on decoding. */
  V8_HANDLES: 10,
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
const scratch = new TreeWriter();

let handles = false;

/** A context that notes any handle met, and refuses with `why` one that needs sharing. */
function walkContext(maps: boolean, why: string): ReduceContext {
  return {
    sameProcess: false,
    maps,
    transfer: [],
    reduced: () => void (handles = true),
    share(): never {
      throw new TypeError(why);
    },
  };
}

// Items may be read in any process that reaches the queue: a handle travels in them as its
// shared memory, which every process that maps memory maps.
const NO_SHARE = walkContext(
  true,
  "a handle whose memory other OS processes cannot map (this process lacks --allow-ffi, or " +
    "it reaches the handle through its parent) cannot travel in a queue or pipe; pass it to " +
    "a Process in its args",
);

// Items bound for another host (a pool's tasks on Redis): only handles that carry their own way
// there (a queue on Redis, a manager proxy) travel; one that lives in this machine's memory or
// process is refused.
const FAR = walkContext(
  false,
  "a handle that lives on this machine (its memory or its owner process) cannot reach " +
    "another host; use a queue on Redis (Queue.connect) or a manager proxy instead",
);

/**
 * Encodes one item.
 *
 * @param value the item.
 * @param what names the item in error messages (`"item"`).
 * @param far whether the item goes to another host: handles bound to this machine are refused.
 * @throws {TypeError} naming the position of a part that cannot be sent.
 */
export function encodeItem(value: unknown, what: string, far = false): Encoded {
  switch (typeof value) {
    case "number":
      numOut64[0] = value;
      return NUM_ENCODED;
    case "string":
      if (!value.isWellFormed()) break; // a lone surrogate: UTF-8 cannot carry it
      if (value.length < 256) {
        scratch.at = 0;
        scratch.room(value.length * 3);
        const { written } = textEncoder.encodeInto(value, scratch.bytes);
        return { kind: Kind.STR, bytes: scratch.bytes.subarray(0, written) };
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
    value.buffer instanceof ArrayBuffer && value.byteLength === value.buffer.byteLength &&
    !value.buffer.resizable
  ) { // a whole fixed buffer's view: structured clone keeps a larger or resizable one as it is
    return { kind: Kind.U8, bytes: value };
  }
  if (typeof value === "object") {
    scratch.at = 0;
    if (scratch.put(value)) return { kind: Kind.TREE, bytes: scratch.written };
  }
  let walked: unknown;
  try {
    handles = false;
    walked = encode(value, far ? FAR : NO_SHARE, what);
  } catch (e) {
    throw e instanceof TypeError ? e : new TypeError(`${what} cannot be sent: ${e}`);
  }
  try {
    return { kind: handles ? Kind.V8_HANDLES : Kind.V8, bytes: cloneToBytes(walked) };
  } catch (e) {
    throw new TypeError(
      `${what} cannot be sent through a queue or pipe: ${(e as Error).message}; ` +
        "pass handles (locks, queues, pipe ends, shared memory) to a Process in its args",
    );
  }
}

const num64 = new Float64Array(1);
const num8 = new Uint8Array(num64.buffer);

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
      return readTree(bytes);
    case Kind.V8:
      return cloneFromBytes(bytes);
    case Kind.V8_HANDLES:
      return decode(cloneFromBytes(bytes), { rpc: undefined });
    default:
      throw new Error(`Corrupt item in a shared queue: unknown kind ${kind}`);
  }
}
