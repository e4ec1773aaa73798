// The byte copying that both rings share (the pool's one-writer, one-reader ring in
// ../pool/_ring.ts and the queues' many-writer, many-reader ring in ../ipc/_ring_memory.ts): into
// and out of a data area whose size is a power of two, at a position that wraps.

/**
 * Copies `src` into `data` at position `pos` (taken modulo `data.length`, a power of two),
 * wrapping to the start.
 */
export function copyInRing(data: Uint8Array, pos: number, src: Uint8Array): void {
  const cap = data.length;
  const p = pos & (cap - 1);
  if (src.length <= 16 && p + src.length <= cap) {
    for (let i = 0; i < src.length; i++) data[p + i] = src[i];
    return;
  }
  const first = Math.min(src.length, cap - p);
  data.set(first === src.length ? src : src.subarray(0, first), p);
  if (first < src.length) data.set(src.subarray(first), 0);
}

/** Fills `dest` from `data` at position `pos` (as {@link copyInRing}), wrapping to the start. */
export function copyOutRing(data: Uint8Array, pos: number, dest: Uint8Array): void {
  const cap = data.length;
  const p = pos & (cap - 1);
  const first = Math.min(dest.length, cap - p);
  dest.set(data.subarray(p, p + first));
  if (first < dest.length) dest.set(data.subarray(0, dest.length - first), first);
}
