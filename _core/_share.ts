// How a handle's memory travels to another process: the one machinery that makes a handle local
// (its memory, where the receiver reaches it: ./_shm.ts) or remote (a proxy, decided by the
// caller when this says the memory cannot reach there).

import { isMapped, openSegment, type SegmentRef, segmentRef } from "./_shm.ts";

const SEG = "@mp$seg";
const VIEWS: Record<string, new (b: ArrayBufferLike, o: number, n: number) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
} as never;

interface SentView {
  [SEG]: SegmentRef;
  /** The view's class; "" for the buffer itself. */
  k: string;
  o: number;
  n: number;
}

/**
 * Describes the memory of a handle (a view, a buffer, or an array or object of them) for a
 * process that reaches memory as `to` says; `undefined` when some of it cannot reach there
 * (a SharedArrayBuffer for another OS process, mapped memory for one that does not map), and the
 * handle must be reached through calls to its owner instead.
 */
export function shareMemory(
  local: unknown,
  to: { readonly sameProcess: boolean; readonly maps: boolean },
): unknown {
  const out = (v: unknown): unknown => {
    if (v instanceof SharedArrayBuffer) {
      if (!to.sameProcess) throw NO_REACH;
      return v;
    }
    const buf = v instanceof ArrayBuffer ? v : ArrayBuffer.isView(v) ? v.buffer : undefined;
    if (buf) {
      if (buf instanceof SharedArrayBuffer) {
        if (!to.sameProcess) throw NO_REACH;
        return v;
      }
      if (!isMapped(buf) || !to.maps) throw NO_REACH;
      const view = v as ArrayBufferView;
      const k = v instanceof ArrayBuffer ? "" : view.constructor.name;
      const n = v instanceof ArrayBuffer || v instanceof DataView
        ? (v as ArrayBuffer).byteLength
        : (view as Int32Array).length;
      return { [SEG]: segmentRef(buf), k, o: k ? view.byteOffset : 0, n } satisfies SentView;
    }
    if (Array.isArray(v)) return v.map(out);
    if (typeof v === "object" && v !== null) {
      return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, out(x)]));
    }
    return v;
  };
  try {
    return out(local);
  } catch (e) {
    if (e === NO_REACH) return undefined;
    throw e;
  }
}
const NO_REACH = Symbol("no reach");

/** Rebuilds in this process what {@link shareMemory} described. */
export function openMemory(sent: unknown): unknown {
  if (Array.isArray(sent)) return sent.map(openMemory);
  if (typeof sent !== "object" || sent === null || ArrayBuffer.isView(sent)) return sent;
  if (sent instanceof SharedArrayBuffer || sent instanceof ArrayBuffer) return sent;
  const v = sent as SentView;
  if (v[SEG]) {
    const buf = openSegment(v[SEG]);
    return v.k ? new VIEWS[v.k](buf, v.o, v.n) : buf;
  }
  return Object.fromEntries(Object.entries(sent).map(([key, x]) => [key, openMemory(x)]));
}
