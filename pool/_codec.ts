// Bytes for a message on a shared-memory ring. `node:v8` carries every structured-cloneable
// value but costs ~14 us a call in Deno; JSON costs well under a microsecond and is exact for
// finite numbers, strings, booleans, null, arrays and plain objects, so it carries those.

import { deserialize, serialize } from "node:v8";

const RAW_TAG = 0; // JSON of a value that needed no encoding walk: no decoding walk either
const JSON_TAG = 1;
const V8_TAG = 2;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let scratch = new Uint8Array(1 << 16);

/** Whether JSON carries `value` exactly (checked to a bounded depth). */
export function jsonExact(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value) && !Object.is(value, -0);
    case "object": {
      if (value === null) return true;
      if (depth > 32) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !jsonExact(value[i], depth + 1)) return false;
        }
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if ((proto !== Object.prototype && proto !== null) || "toJSON" in value) return false;
      for (const key in value) {
        if (key === "__proto__") return false;
        if (!jsonExact((value as Record<string, unknown>)[key], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
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

function packJson(value: unknown, tag: number): Uint8Array {
  const text = JSON.stringify(value);
  if (text.length * 3 + 1 > scratch.length) scratch = new Uint8Array(text.length * 3 + 1);
  scratch[0] = tag;
  const { written } = encoder.encodeInto(text, scratch.subarray(1));
  return scratch.subarray(0, written + 1);
}

/**
 * The bytes of `value`, a tag byte first: a view of a buffer that the next call reuses.
 * `value` is sent as it is when JSON carries it exactly (it then holds no handles); otherwise
 * `encodeIt(value)` is sent, for the receiver to decode. `bytes` is `undefined` when the encoded
 * value holds shared memory (which `node:v8` copies) or `node:v8` cannot carry it: the encoded
 * value must then go another way.
 *
 * @throws {TypeError} from `encodeIt`, for a value that cannot be sent.
 */
export function pack(
  value: unknown,
  encodeIt: (value: unknown) => unknown,
): { bytes: Uint8Array | undefined; encoded: unknown } {
  if (jsonExact(value, 0)) return { bytes: packJson(value, RAW_TAG), encoded: value };
  const encoded = encodeIt(value);
  if (jsonExact(encoded, 0)) return { bytes: packJson(encoded, JSON_TAG), encoded };
  if (holdsShared(encoded, new Set())) return { bytes: undefined, encoded };
  try {
    const body = serialize(encoded);
    const bytes = new Uint8Array(body.length + 1);
    bytes[0] = V8_TAG;
    bytes.set(body, 1);
    return { bytes, encoded };
  } catch {
    return { bytes: undefined, encoded };
  }
}

/** The value of bytes made by {@link pack}, and whether it still needs decoding. */
export function unpack(bytes: Uint8Array): { value: unknown; encoded: boolean } {
  const body = bytes.subarray(1);
  const tag = bytes[0];
  const value = tag === V8_TAG ? deserialize(body) : JSON.parse(decoder.decode(body));
  return { value, encoded: tag !== RAW_TAG };
}
