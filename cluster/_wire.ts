// Values on the wire to a Redis broker: one byte of codec kind (../_core/_codec.ts), then the
// value's bytes. Queue items and a pool's tasks, configs and results all travel so.

import { decodeItem, encodeItem } from "../_core/_codec.ts";

/**
 * The wire form of `value`, in fresh memory (a Uint8Array: ./_client.ts hands node-redis a
 * Buffer over it, so that no module loaded with a queue needs `node:buffer`).
 *
 * @param what names the value in errors.
 * @param far whether it goes to another host: handles bound to this machine are refused.
 * @throws {TypeError} naming the part that cannot be sent.
 */
export function toWire(value: unknown, what = "item", far = false): Uint8Array {
  const enc = encodeItem(value, what, far);
  const out = new Uint8Array(enc.bytes.length + 1);
  out[0] = enc.kind;
  out.set(enc.bytes, 1);
  return out;
}

/** A value from its wire form (copied out of the client's buffer). */
export function fromWire(buf: Uint8Array): unknown {
  const bytes = new Uint8Array(buf.length - 1);
  bytes.set(buf.subarray(1));
  return decodeItem(buf[0], bytes, true);
}
