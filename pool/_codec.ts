// Frames for the pool's shared-memory rings: a tag byte, then either a batch of messages that are
// plain data (one tree, ../_core/_tree.ts, for many tasks or results), or one message in
// `node:v8` serialization, for the values that are not plain data.

import { cloneFromBytes, cloneToBytes } from "../_core/_clone.ts";
import { readTree, TreeWriter } from "../_core/_tree.ts";
import { Kind } from "../_core/_codec.ts";

// The frame's tag byte is the package's one tag scheme (../_core/_codec.ts): a tree (here an
// array of messages), or one value in V8 serialization.
const TREE_BATCH = Kind.TREE;
const V8_ONE = Kind.V8;

/** Collects messages that are plain data into one frame. */
export class Batch {
  #w = new TreeWriter();
  #mark = 0;
  #count = 0;
  #limit: number;

  /** @param limit the most bytes of a frame. */
  constructor(limit: number) {
    this.#limit = limit;
    this.#begin();
  }

  /** How many messages the batch holds. */
  get count(): number {
    return this.#count;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#w.at;
  }

  #begin(): void {
    this.#w.at = 0;
    this.#w.room(1);
    this.#w.bytes[this.#w.at++] = TREE_BATCH;
    this.#mark = this.#w.beginArray();
    this.#count = 0;
  }

  /**
   * Adds `msg` when it is plain data and the frame stays within the limit; otherwise adds
   * nothing and returns false.
   */
  add(msg: unknown): boolean {
    const before = this.#w.at;
    if (!this.#w.put(msg)) return false;
    if (this.#w.at > this.#limit) {
      this.#w.at = before;
      return false;
    }
    this.#count++;
    return true;
  }

  /** The frame of the messages added since the last call (a view, valid until the next add). */
  take(): Uint8Array {
    this.#w.endArray(this.#mark, this.#count);
    const frame = this.#w.written;
    this.#begin();
    return frame;
  }
}

/** Whether `value` holds shared memory, which `node:v8` would copy instead of sharing. */
function holdsShared(value: unknown, seen: Set<object>): boolean {
  if (value === null || typeof value !== "object" || seen.has(value)) return false;
  seen.add(value);
  if (value instanceof SharedArrayBuffer) return true;
  if (ArrayBuffer.isView(value)) return value.buffer instanceof SharedArrayBuffer;
  const items = value instanceof Map
    ? [...value.keys(), ...value.values()]
    : value instanceof Set
    ? [...value]
    : Object.values(value);
  return items.some((v) => holdsShared(v, seen));
}

/**
 * A frame of one message that is not plain data, or `undefined` when `node:v8` cannot carry it
 * faithfully (it holds shared memory, which `node:v8` copies, or cannot be serialized).
 */
export function singleFrame(msg: unknown): Uint8Array | undefined {
  if (holdsShared(msg, new Set())) return undefined;
  try {
    const body = cloneToBytes(msg);
    const bytes = new Uint8Array(body.length + 1);
    bytes[0] = V8_ONE;
    bytes.set(body, 1);
    return bytes;
  } catch {
    return undefined;
  }
}

/** The messages of a frame made by {@link Batch} or {@link singleFrame}. */
export function readFrame(frame: Uint8Array): unknown[] {
  return frame[0] === V8_ONE
    ? [cloneFromBytes(frame.subarray(1))]
    : readTree(frame.subarray(1)) as unknown[];
}

let warmed = false;

/**
 * Runs the frame codec on a few sample messages, once per thread: its first calls are slow
 * (functions compiled on first use, then interpreted until the JIT takes them up), so a pool
 * does this while its workers start, and each worker before its first task, rather than in the
 * first `map`.
 */
export function warmCodec(): void {
  if (warmed) return;
  warmed = true;
  const batch = new Batch(1 << 16);
  const ints = Array.from({ length: 1024 }, (_, i) => i);
  const floats = ints.map((i) => i / 2);
  for (let i = 0; i < 4; i++) {
    batch.add([0, i, 1, 1, ints, 0]);
    batch.add([i, true, floats, 1, 0]);
    batch.add([0, i, 1, 2, [["a", i], { k: null }], 0]);
    readFrame(batch.take());
  }
}
