// A task's entry in the stream, as a worker command reads it (fields: ./_pool_scripts.ts), and
// how it runs on the local pool (./_pool_local.ts).

import type { Buffer } from "node:buffer";
import type { Pool, TaskFunction } from "../pool/pool.ts";
import { Kind } from "../_core/_transport.ts";

/** A task's entry (./_pool_scripts.ts): its fields by their one-letter names. */
export interface Entry {
  p?: Buffer;
  i?: Buffer;
  m?: Buffer;
  f?: Buffer;
  k?: Buffer;
  d?: Buffer;
}

/** The fields of a task's entry; a field of another name is ignored. */
export function entryFields(fields: Buffer[]): Entry {
  const e: Record<string, Buffer> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    // the names are one letter: read as a byte, not decoded
    if (fields[i].length === 1) e[String.fromCharCode(fields[i][0])] = fields[i + 1];
  }
  return e as Entry;
}

/** Runs a task of `kind` on the local pool. */
export function run(
  pool: Pool,
  fn: TaskFunction,
  kind: number,
  payload: unknown[],
): Promise<unknown> {
  // A chunk of one item (chunksize 1) is one call: apply's path, lighter than a map's.
  if (kind === Kind.apply) return pool.apply(fn, payload);
  if (payload.length === 1) {
    return pool.apply(fn, kind === Kind.map ? payload : payload[0] as []).then((v) => [v]);
  }
  const chunksize = payload.length;
  if (kind === Kind.map) return pool.map(fn, payload, { chunksize });
  return pool.starmap(fn, payload as unknown[][], { chunksize });
}

/** A whole task's entry: every field there, the task id a number. */
export type TaskEntry = Required<Entry>;

/** Whether `e` is a whole task's entry (one written by something else is not). */
export function isTask(e: Entry): e is TaskEntry {
  return e.p !== undefined && e.m !== undefined && e.f !== undefined && e.k !== undefined &&
    e.d !== undefined && e.i !== undefined && Number.isFinite(Number(e.i.toString()));
}
