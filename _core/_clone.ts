// Structured clone to bytes and back, for every value that is not plain data (./_tree.ts
// carries those): V8's serializer as Deno's own `structuredClone` and `postMessage` use it,
// through Deno's internal namespace, or `node:v8` where that is missing. `node:v8` is not the
// first choice because importing any `node:` module loads Deno's Node compatibility layer at the
// start of every process and worker of a program (with this and ../cluster/_client.ts loading
// `node:buffer` only with the Redis client, the package imports in ~21 ms instead of ~27-30).
//
// Both write typed arrays as `postMessage` does (not as host objects, which Node's default
// `v8.serialize` does, and whose `v8.deserialize` returns views into the bytes it was given: a
// ring's or a socket's read buffer, which the next message overwrites): every received buffer is
// fresh memory, and views that shared a buffer still share one. A SharedArrayBuffer is refused
// (the walk in ./_reduce.ts shares those its own way), not put in this thread's store.

import { denoCore } from "./_deno_core.ts";

interface Serializer {
  serialize(value: unknown, options: { forStorage: boolean }): Uint8Array;
  deserialize(bytes: Uint8Array, options: { forStorage: boolean }): unknown;
}

const OPTIONS = { forStorage: true }; // forStorage: refuse SharedArrayBuffers

const core = denoCore as Partial<Serializer> | undefined;

const v8: Serializer = typeof core?.serialize === "function" &&
    typeof core.deserialize === "function"
  ? core as Serializer
  : await nodeSerializer();

async function nodeSerializer(): Promise<Serializer> {
  const { Deserializer, Serializer } = await import("node:v8");
  return {
    serialize(value) {
      const s = new Serializer();
      s.writeHeader();
      s.writeValue(value);
      return s.releaseBuffer();
    },
    deserialize(bytes) {
      const d = new Deserializer(bytes);
      d.readHeader();
      return d.readValue();
    },
  };
}

/**
 * The bytes of `value` in V8's structured clone format.
 *
 * @throws {Error} for a value structured clone cannot carry.
 */
export function cloneToBytes(value: unknown): Uint8Array {
  return v8.serialize(value, OPTIONS);
}

/**
 * The value whose bytes {@link cloneToBytes} made. Nothing in it shares memory with `bytes`.
 *
 * @throws {Error} for bytes that are not such a value.
 */
export function cloneFromBytes(bytes: Uint8Array): unknown {
  return v8.deserialize(bytes, OPTIONS);
}
