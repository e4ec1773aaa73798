// How values travel to another process: a deep walk that refuses what cannot be sent, naming
// its position, and replaces the package's own handles (locks, queues, pipe ends...) with a
// marker that the receiving side turns back into a handle meaning the same object.

import type { RemoteTarget, RpcEndpoint } from "./_rpc.ts";

/** Method by which a handle describes itself for a child of a given start method. */
export const reduce: unique symbol = Symbol.for("@mp/multiprocessing.reduce") as never;

/** What a handle may use while it describes itself. */
export interface ReduceContext {
  /** Whether the receiving side is a thread of this OS process (a SharedArrayBuffer reaches it). */
  readonly sameProcess: boolean;
  /** Whether the receiving side maps shared memory segments (./_shm.ts). */
  readonly maps: boolean;
  /** Objects to transfer with the message (MessagePorts), for a worker. */
  readonly transfer: Transferable[];
  /** Called for each handle that the walk replaces with a marker. */
  readonly reduced?: () => void;
  /** Serves `target` to the receiving side; returns the id its proxy calls. */
  share(target: RemoteTarget): number;
  /**
   * The receiving process's ident in this OS process's liveness table, when it is a child
   * being started or served (handles that count their holders register it).
   */
  readonly ident?: number;
}

/** What a handle may use while it is rebuilt on the receiving side. */
export interface ReviveContext {
  /** The connection over which proxies reach the object's owner. */
  readonly rpc: RpcEndpoint | undefined;
}

/** A handle's self-description: a registered type name and structured-cloneable state. */
export interface Reduced {
  type: string;
  state: unknown;
}

/** Something that can travel to a child and mean the same object there. */
export interface Reducible {
  [reduce](ctx: ReduceContext): Reduced;
}

type Reviver = (state: unknown, ctx: ReviveContext) => unknown;

const REVIVERS_KEY = Symbol.for("@mp/multiprocessing.revivers");
const revivers: Map<string, Reviver> =
  ((globalThis as unknown as Record<symbol, Map<string, Reviver>>)[REVIVERS_KEY] ??= new Map());

/** Registers how handles of `type` are rebuilt. Each handle module calls this once. */
export function registerReviver(type: string, reviver: Reviver): void {
  revivers.set(type, reviver);
}

const MARK = "@mp$handle";

function isReducible(value: object): value is Reducible {
  return typeof (value as Partial<Reducible>)[reduce] === "function";
}

const CLONEABLE: unknown[] = [
  Date,
  RegExp,
  ArrayBuffer,
  Boolean,
  String,
  Number,
  BigInt,
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
];

function describe(value: unknown): string {
  if (typeof value === "function") return `a function${value.name ? ` ('${value.name}')` : ""}`;
  if (typeof value === "symbol") return "a symbol";
  const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
  return ctor ? `a ${ctor}` : "an object of unknown kind";
}

/**
 * Copies `value` into a form that `postMessage` or `node:v8` can carry to a child started with
 * the receiving side of `ctx`, replacing handles by markers.
 *
 * @throws {TypeError} naming the position (`args[1].conn`) of a value that cannot be sent.
 */
export function encode(value: unknown, ctx: ReduceContext, path = "value"): unknown {
  return walkOut(value, ctx, path, new Map());
}

/** Whether `v` is a primitive that is sent as it is. */
function isPlain(v: unknown): boolean {
  const t = typeof v;
  return t === "number" || t === "string" || t === "boolean" || t === "undefined" || v === null ||
    t === "bigint";
}

function walkOut(
  value: unknown,
  ctx: ReduceContext,
  path: string,
  seen: Map<object, unknown>,
): unknown {
  if (value === null) return value;
  const t = typeof value;
  if (t === "function" || t === "symbol") {
    throw new TypeError(`${path} is ${describe(value)}, which cannot be sent to another process`);
  }
  if (t !== "object") return value;
  const obj = value as object;
  if (seen.has(obj)) return seen.get(obj);
  if (isReducible(obj)) {
    ctx.reduced?.();
    const { type, state } = obj[reduce](ctx);
    const out = { [MARK]: type, state };
    seen.set(obj, out);
    return out;
  }
  if (Array.isArray(obj)) {
    let i = 0;
    while (i < obj.length && isPlain(obj[i])) i++;
    if (i === obj.length) { // primitives only (a chunk of numbers, say): sent as it is, uncopied
      seen.set(obj, obj);
      return obj;
    }
    const out: unknown[] = obj.slice(0, i);
    out.length = obj.length; // a hole stays a hole
    seen.set(obj, out);
    for (; i < obj.length; i++) {
      if (!(i in obj)) continue;
      const v = obj[i];
      out[i] = isPlain(v) ? v : walkOut(v, ctx, `${path}[${i}]`, seen); // no path string per number
    }
    return out;
  }
  if (obj instanceof Map) {
    const out = new Map();
    seen.set(obj, out);
    let n = 0;
    for (const [k, v] of obj) {
      // An object key is named by its place: String() throws for one without a prototype.
      const key = typeof k === "object" && k !== null ? `key #${n}` : String(k);
      out.set(walkOut(k, ctx, `${path} key`, seen), walkOut(v, ctx, `${path}.get(${key})`, seen));
      n++;
    }
    return out;
  }
  if (obj instanceof Set) {
    const out = new Set();
    seen.set(obj, out);
    for (const v of obj) out.add(walkOut(v, ctx, `${path} item`, seen));
    return out;
  }
  if (obj instanceof Blob || obj instanceof DOMException) { // the byte codecs would lose them
    const instead = obj instanceof Blob ? "its bytes (await blob.bytes())" : "an Error";
    throw new TypeError(
      `${path} is ${describe(obj)}, which cannot be sent to another process; send ${instead}`,
    );
  }
  if (obj instanceof Error && Object.hasOwn(obj, "cause")) return copyError(obj, ctx, path, seen);
  if (ArrayBuffer.isView(obj) || CLONEABLE.some((c) => obj instanceof (c as typeof Object))) {
    return obj;
  }
  if (obj instanceof SharedArrayBuffer) {
    if (ctx.sameProcess) return obj;
    throw new TypeError(
      `${path} is a SharedArrayBuffer, which another OS process cannot share; use SharedArray or Value`,
    );
  }
  if (obj instanceof MessagePort) {
    if (ctx.sameProcess) {
      ctx.transfer.push(obj);
      return obj;
    }
    throw new TypeError(`${path} is a MessagePort, which cannot reach a subprocess; use Pipe`);
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    seen.set(obj, out);
    for (const key of Object.keys(obj)) {
      const v = (obj as Record<string, unknown>)[key];
      out[key] = isPlain(v) ? v : walkOut(v, ctx, `${path}.${key}`, seen);
    }
    return out;
  }
  throw new TypeError(`${path} is ${describe(obj)}, which cannot be sent to another process`);
}

/**
 * A copy of an error with a cause, whose cause is walked: it may hold objects that the walk
 * copies (or the error's own container, in a cycle), which must stay one object. It keeps what
 * structured clone carries of an error: its prototype (and so its name), message, stack, cause.
 */
function copyError(e: Error, ctx: ReduceContext, path: string, seen: Map<object, unknown>): Error {
  const out = Object.hasOwn(e, "message") ? new Error(e.message) : new Error();
  Object.setPrototypeOf(out, Object.getPrototypeOf(e));
  seen.set(e, out);
  for (const key of ["name", "stack"] as const) {
    if (Object.hasOwn(e, key)) own(out, key, e[key]);
  }
  own(out, "cause", walkOut(e.cause, ctx, `${path}.cause`, seen));
  return out;
}

/** Defines `key` as a writable, non-enumerable own property, as an error's own fields are. */
function own(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, configurable: true });
}

/** Rebuilds what {@link encode} produced, turning markers back into handles. */
export function decode(value: unknown, ctx: ReviveContext): unknown {
  return walkIn(value, ctx, new Map());
}

function walkIn(value: unknown, ctx: ReviveContext, seen: Map<object, unknown>): unknown {
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  if (seen.has(obj)) return seen.get(obj);
  if (Array.isArray(obj)) {
    seen.set(obj, obj);
    for (let i = 0; i < obj.length; i++) if (i in obj) obj[i] = walkIn(obj[i], ctx, seen);
    return obj;
  }
  // Maps, Sets and errors are rebuilt in place, as arrays and objects are: another part of the
  // value may refer to them (an error's cause, say), and must still refer to what is returned.
  if (obj instanceof Map) {
    seen.set(obj, obj);
    const entries = [...obj].map(([k, v]) => [walkIn(k, ctx, seen), walkIn(v, ctx, seen)]);
    obj.clear();
    for (const [k, v] of entries) obj.set(k, v);
    return obj;
  }
  if (obj instanceof Set) {
    seen.set(obj, obj);
    const items = [...obj].map((v) => walkIn(v, ctx, seen));
    obj.clear();
    for (const v of items) obj.add(v);
    return obj;
  }
  if (obj instanceof Error) {
    seen.set(obj, obj);
    if (Object.hasOwn(obj, "cause")) obj.cause = walkIn(obj.cause, ctx, seen);
    return obj;
  }
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return obj;
  if (typeof obj[MARK] === "string") {
    const type = obj[MARK] as string;
    const reviver = revivers.get(type);
    if (!reviver) {
      throw new TypeError(`Cannot receive a '${type}' handle: its module is not loaded here`);
    }
    const out = reviver(obj.state, ctx);
    seen.set(obj, out);
    return out;
  }
  seen.set(obj, obj);
  for (const key of Object.keys(obj)) obj[key] = walkIn(obj[key], ctx, seen);
  return obj;
}
