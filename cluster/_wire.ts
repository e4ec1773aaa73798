// Values on the wire to a Redis broker: one byte of codec kind (../process/_codec.ts), then the
// value's bytes. Queue items and a pool's tasks, configs and results all travel so.

import { Buffer } from "node:buffer";
import { decodeItem, encodeItem } from "../process/_codec.ts";

/**
 * The wire form of `value` (a fresh Buffer).
 *
 * @param what names the value in errors.
 * @param far whether it goes to another host: handles bound to this machine are refused.
 * @throws {TypeError} naming the part that cannot be sent.
 */
export function toWire(value: unknown, what = "item", far = false): Buffer {
  const enc = encodeItem(value, what, far);
  const out = Buffer.allocUnsafe(enc.bytes.length + 1);
  out[0] = enc.kind;
  out.set(enc.bytes, 1);
  return out;
}

/** A value from its wire form (copied out of the client's buffer). */
export function fromWire(buf: Buffer): unknown {
  const bytes = new Uint8Array(buf.length - 1);
  bytes.set(buf.subarray(1));
  return decodeItem(buf[0], bytes, true);
}

/**
 * Packs many strings and byte strings into one, each as a 4-byte little-endian length and its
 * bytes: a batch sent as one argument of a script (which reads it with {@link UNPACK_LUA}) costs
 * the client one argument, not thousands.
 */
export function pack(fields: readonly (string | Uint8Array)[]): Buffer {
  let size = 0;
  for (const f of fields) size += 4 + (typeof f === "string" ? Buffer.byteLength(f) : f.length);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const f of fields) {
    // strings written in place: no Buffer of their own
    const n = typeof f === "string" ? out.write(f, at + 4) : (out.set(f, at + 4), f.length);
    out.writeUInt32LE(n, at);
    at += 4 + n;
  }
  return out;
}

/** Lua: `unpack_fields(s)`, the fields of a {@link pack}ed string, as a table. */
export const UNPACK_LUA = `
local function unpack_fields(s)
  local out, pos, n = {}, 1, #s
  while pos <= n do
    local len, at = struct.unpack('<I4', s, pos)
    out[#out + 1] = string.sub(s, at, at + len - 1)
    pos = at + len
  end
  return out
end
`;
