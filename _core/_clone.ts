// Structured clone to bytes and back, for every value that is not plain data (./_tree.ts
// carries those): the one place the package meets `node:v8`.
//
// Node's default `v8.serialize` writes typed arrays as host objects, and `v8.deserialize` then
// returns views into the bytes it was given: a ring's or a socket's read buffer, which the next
// message overwrites. Two views of one buffer also come apart. The plain `Serializer` and
// `Deserializer` write views as `postMessage` does: every received buffer is fresh memory, and
// views that shared a buffer still share one.

import { Deserializer, Serializer } from "node:v8";

/**
 * The bytes of `value` in V8's structured clone format.
 *
 * @throws {Error} (a `DataCloneError`) for a value structured clone cannot carry.
 */
export function cloneToBytes(value: unknown): Uint8Array {
  const s = new Serializer();
  s.writeHeader();
  s.writeValue(value);
  return s.releaseBuffer();
}

/**
 * The value whose bytes {@link cloneToBytes} made. Nothing in it shares memory with `bytes`.
 *
 * @throws {Error} for bytes that are not such a value.
 */
export function cloneFromBytes(bytes: Uint8Array): unknown {
  const d = new Deserializer(bytes);
  d.readHeader();
  return d.readValue();
}
