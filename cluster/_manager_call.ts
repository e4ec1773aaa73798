// One call of a Redis manager's proxy (./_manager_redis.ts): the object it is made on, the
// link it goes through, the words its broker errors use, and the values' wire forms.

import { Buffer } from "node:buffer";
import { decodeItem, encodeItem } from "../_core/_codec.ts";
import { type Blocking, type Link, type Reply, type Script, sendWoken } from "./_client.ts";
import { keysOf, type Kind } from "./_manager_scripts.ts";

/** A command argument. */
export type Arg = string | Buffer;

/** What a proxy of a Redis object is made of; it travels to other processes as this. */
export interface RedisState {
  readonly kind: Kind;
  /** The broker URL. */
  readonly url: string;
  /** The object's name. */
  readonly name: string;
  /** Milliseconds after which an unnamed object's keys expire unless refreshed; 0 when named. */
  readonly ttl: number;
  /** A queue's maxsize (0: no bound), a lock's lease in milliseconds; else 0. */
  readonly param: number;
}

/** A value no encoded value equals (none starts with 0xff): a list's placeholder. */
export const TOMB: Buffer = Buffer.from([0xff, 0x6d, 0x70]);

/** How many spare blocking connections a link keeps for the next wait. */
const SPARE_BLOCKING = 2;
const spares = new WeakMap<Link, Blocking[]>();

/** A call of method `method` on the object `s`, through `link`. */
export class Call {
  readonly link: Link;
  readonly s: RedisState;
  /** The object's keys: meta first, then those of its kind. */
  readonly keys: string[];
  /** What the call does, as a broker error says it ("Cannot …"). */
  readonly what: string;
  readonly signal: AbortSignal | undefined;

  constructor(link: Link, s: RedisState, method: string, signal?: AbortSignal) {
    this.link = link;
    this.s = s;
    this.keys = keysOf(s.kind, s.name);
    this.what = `call ${method}() on the manager's ${s.kind} '${s.name}'`;
    this.signal = signal;
  }

  /** The object's expiry, as the scripts' first argument. */
  get ttl(): string {
    return String(this.s.ttl);
  }

  /** Sends one command. */
  send(args: Arg[]): Promise<Reply> {
    return this.link.send(args, this.what);
  }

  /** Runs a script on the object's keys. */
  eval(script: Script, argv: Arg[]): Promise<Reply> {
    return this.link.eval(script, this.keys, argv, this.what);
  }

  /**
   * Runs a blocking command (BLPOP) on a connection of its own (a spare one when there is). An
   * abort of the call's signal wakes it as if it timed out (./_client.ts, sendWoken: an item it
   * took meanwhile is still returned); the caller then sees the abort.
   */
  async blocking(args: Arg[]): Promise<Reply> {
    this.signal?.throwIfAborted();
    let spare = spares.get(this.link);
    if (!spare) spares.set(this.link, spare = []);
    let b = spare.pop();
    while (b && !b.open) b = spare.pop();
    b ??= await this.link.blocking(this.what);
    try {
      return await sendWoken(b, args, this.what, { signal: this.signal });
    } finally {
      if (b.open && !this.link.closed && spare.length < SPARE_BLOCKING) spare.push(b);
      else b.close();
    }
  }
}

/** A value's wire form: its codec kind, then its bytes. */
export function enc(value: unknown, what: string): Buffer {
  const { kind, bytes } = encodeItem(value, what);
  const b = Buffer.allocUnsafe(bytes.length + 1);
  b[0] = kind;
  b.set(bytes, 1);
  return b;
}

/** A value from its wire form. */
export function dec(b: Reply): unknown {
  const buf = b as Buffer;
  // a plain view: decodeItem copies a Uint8Array item with slice(), which a Buffer shares
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset + 1, buf.length - 1);
  return decodeItem(buf[0], bytes, false);
}

/** A dict key as a hash field, tagged by its type. */
export function fieldOf(key: unknown): string {
  switch (typeof key) {
    case "string":
      return "s" + key;
    case "number":
      return "n" + (Object.is(key, -0) ? "0" : String(key));
    case "bigint":
      return "i" + key;
    case "boolean":
      return key ? "t" : "f";
    case "undefined":
      return "u";
  }
  if (key === null) return "z";
  throw new TypeError(
    `A dict key must be a string, number, bigint, boolean or null, not ${typeof key}`,
  );
}

/** A dict key from its hash field. */
export function keyOf(field: Reply): unknown {
  const text = String(field);
  const rest = text.slice(1);
  switch (text[0]) {
    case "s":
      return rest;
    case "n":
      return Number(rest);
    case "i":
      return BigInt(rest);
    case "t":
      return true;
    case "f":
      return false;
    case "z":
      return null;
    case "u":
      return undefined;
  }
  throw new Error(`Corrupt dict key in Redis: '${text}'`);
}

/** A list index, checked as a local manager's list checks it. */
export function checkIndex(i: unknown, what: string): number {
  if (!Number.isInteger(i)) throw new TypeError(`Cannot ${what}: index must be an integer`);
  return i as number;
}

/** A local manager's list error for an index out of range. */
export function outOfRange(what: string, i: unknown, length: unknown): RangeError {
  return new RangeError(`Cannot ${what}: index ${i} is out of range (length ${length})`);
}
