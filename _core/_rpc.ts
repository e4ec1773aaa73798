// Calls on objects that live in another process: a child's proxy (a lock, a queue...) sends
// `call` messages over the link to its parent, which runs them on the real object and answers.

import { decode, encode, type ReduceContext } from "./_reduce.ts";
import type { Link } from "./_link.ts";

/** Method through which a shared object runs a call that came from another process. */
export const remoteCall: unique symbol = Symbol.for("@mp/multiprocessing.remoteCall") as never;

/** Who made a remote call: its ident in this OS process's liveness table. */
export interface Caller {
  readonly ident: number;
}

/** What memory a process reaches: this OS process's SharedArrayBuffers, mapped segments. */
export interface Reach {
  readonly sameProcess: boolean;
  readonly maps: boolean;
}

/** An object that serves calls from other processes. */
export interface RemoteTarget {
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown;
}

interface CallMessage {
  t: "call";
  /** The call's number, for its return; 0 for a call that wants none. */
  c: number;
  id: number;
  m: string;
  a: unknown[];
}

interface ReturnMessage {
  t: "ret";
  c: number;
  ok: boolean;
  v: unknown;
}

const ERRORS_KEY = Symbol.for("@mp/multiprocessing.errors");
const errorClasses: Map<string, new (message: string) => Error> =
  ((globalThis as unknown as Record<symbol, Map<string, new (message: string) => Error>>)[
    ERRORS_KEY
  ] ??= new Map());

/** Registers an error class so that errors of its name are rebuilt as instances of it. */
export function registerError(cls: new (message: string) => Error, name: string = cls.name): void {
  errorClasses.set(name, cls);
}

/**
 * What travels for a thrown value: an `Error` as its name, message and stack (so that the
 * receiver rebuilds its registered class), with its `cause` and own fields when structured clone
 * carries them; anything else thrown (`throw { code: 42 }`) as `thrown`, itself, as Python
 * pickles a raised object.
 */
export type ErrorData =
  | { name: string; message: string; stack?: string; cause?: unknown; fields?: object }
  | { thrown: unknown };

/** Whether structured clone carries `value` (shared memory aside, which links refuse). */
function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** Turns a thrown value into data that any transport carries (see {@link ErrorData}). */
export function errorToData(e: unknown): ErrorData {
  if (!(e instanceof Error)) return { thrown: cloneable(e) ? e : String(e) };
  const d: ErrorData = { name: e.name, message: e.message, stack: e.stack };
  if ("cause" in e && cloneable(e.cause)) d.cause = e.cause;
  const fields = Object.fromEntries(
    Object.entries(e).filter(([k, v]) => k !== "name" && k !== "message" && cloneable(v)),
  );
  if (Object.keys(fields).length > 0) d.fields = fields;
  return d;
}

/** Rebuilds what was thrown from {@link errorToData}: an error as its registered class. */
export function dataToError(data: unknown): unknown {
  const d = data as ErrorData;
  if ("thrown" in d) return d.thrown;
  const Cls = errorClasses.get(d.name) ??
    (globalThis as unknown as Record<string, new (m: string) => Error>)[d.name];
  const err = typeof Cls === "function" ? new Cls(d.message) : new Error(d.message);
  if (err.name !== d.name) err.name = d.name;
  if (d.stack !== undefined) err.stack = d.stack;
  if ("cause" in d) {
    Object.defineProperty(err, "cause", { value: d.cause, writable: true, configurable: true });
  }
  if (d.fields) Object.assign(err, d.fields);
  return err;
}

/** One side of a parent-child connection, serving local objects and calling remote ones. */
export class RpcEndpoint {
  #link: Link | undefined;
  #backlog: [unknown, Transferable[]][] = [];
  #far: Reach;
  #caller: Caller;
  #objects = new Map<number, RemoteTarget>();
  #ids = new WeakMap<RemoteTarget, number>();
  #nextId = 1;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #nextCall = 1;
  #closedWith: Error | undefined;

  /**
   * @param far what memory the other side reaches, which decides how handles travel.
   * @param caller who the other side is, as seen by the objects it calls here.
   */
  constructor(far: Reach, caller: Caller) {
    this.#far = far;
    this.#caller = caller;
  }

  /** Starts speaking over `link`, sending what was posted before it existed. */
  attach(link: Link): void {
    this.#link = link;
    for (const [msg, transfer] of this.#backlog) link.post(msg, transfer);
    this.#backlog = [];
  }

  #post(msg: unknown, transfer: Transferable[]): void {
    if (this.#link) this.#link.post(msg, transfer);
    else this.#backlog.push([msg, transfer]);
  }

  /** Resolves once what was sent is written out; undefined when it already is. */
  written(): Promise<void> | undefined {
    return this.#link?.written?.();
  }

  /** A context for encoding values sent to the other side. */
  context(transfer: Transferable[] = []): ReduceContext {
    return {
      sameProcess: this.#far.sameProcess,
      maps: this.#far.maps,
      transfer,
      share: (t) => this.share(t),
      ident: this.#caller.ident,
    };
  }

  /** Serves `target` to the other side and returns its id there. */
  share(target: RemoteTarget): number {
    let id = this.#ids.get(target);
    if (id === undefined) {
      id = this.#nextId++;
      this.#ids.set(target, id);
      this.#objects.set(id, target);
    }
    return id;
  }

  /** Calls `method` on the other side's object `id`. */
  call(id: number, method: string, args: unknown[]): Promise<unknown> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const c = this.#nextCall++;
    const transfer: Transferable[] = [];
    const a = encode(args, this.context(transfer), "args") as unknown[];
    return new Promise((resolve, reject) => {
      this.#pending.set(c, { resolve, reject });
      this.#post({ t: "call", c, id, m: method, a } satisfies CallMessage, transfer);
    });
  }

  /**
   * Calls `method` on the other side's object `id` without waiting for, or being sent, a
   * return: its value and its error are dropped there.
   *
   * @throws {TypeError} when an argument cannot be sent.
   */
  notify(id: number, method: string, args: unknown[]): void {
    if (this.#closedWith) return;
    const transfer: Transferable[] = [];
    const a = encode(args, this.context(transfer), "args") as unknown[];
    this.#post({ t: "call", c: 0, id, m: method, a } satisfies CallMessage, transfer);
  }

  /** Handles a message if it belongs to this endpoint; returns whether it did. */
  handle(msg: { t?: unknown }): boolean {
    if (msg.t === "call") {
      this.#serve(msg as CallMessage);
      return true;
    }
    if (msg.t === "ret") {
      const r = msg as ReturnMessage;
      const p = this.#pending.get(r.c);
      if (p) {
        this.#pending.delete(r.c);
        if (r.ok) p.resolve(decode(r.v, { rpc: this }));
        else p.reject(dataToError(r.v));
      }
      return true;
    }
    return false;
  }

  async #serve(msg: CallMessage): Promise<void> {
    let ok = true;
    let v: unknown;
    try {
      const target = this.#objects.get(msg.id);
      if (!target) throw new ReferenceError(`No shared object ${msg.id} in this process`);
      v = await target[remoteCall](msg.m, decode(msg.a, { rpc: this }) as unknown[], this.#caller);
    } catch (e) {
      ok = false;
      v = errorToData(e);
    }
    if (this.#closedWith || msg.c === 0) return;
    const transfer: Transferable[] = [];
    try {
      if (ok) v = encode(v, this.context(transfer), "result");
    } catch (e) {
      ok = false;
      v = errorToData(e);
    }
    this.#post({ t: "ret", c: msg.c, ok, v } satisfies ReturnMessage, transfer);
  }

  /** Fails every pending call: the other side is gone. */
  close(reason: Error): void {
    this.#closedWith ??= reason;
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
    this.#objects.clear();
  }
}
