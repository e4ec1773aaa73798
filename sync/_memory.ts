// The one implementation behind Value and SharedArray: typed elements in shared memory, an
// optional lock, and element reads and writes through the parent in a process that cannot map
// that memory (no FFI, or not Linux).

import { decode, encode, type ReduceContext, type Reduced } from "../_core/_reduce.ts";
import type { Caller, RemoteTarget, RpcEndpoint } from "../_core/_rpc.ts";
import { fromParent, Link, revive, revived, unknownMethod } from "./_handle.ts";
import {
  allocate,
  checkElement,
  elementType,
  load,
  type SharedTypedArray,
  store,
  type Typecode,
} from "./_typecodes.ts";
import { Lock } from "./lock.ts";

/** The `lock` option of Value and SharedArray. */
export type LockOption = boolean | Lock;

interface Sent {
  code: Typecode;
  length: number;
  lock: unknown;
}

/** Elements of one typecode, in this process's memory or reached through the parent. */
export class MemoryCore {
  readonly what: string;
  readonly code: Typecode;
  readonly type: ReturnType<typeof elementType>;
  readonly length: number;
  readonly a: SharedTypedArray | undefined;
  readonly lock: Lock | undefined;
  readonly link: Link;
  /** What a write's error messages begin with, made once rather than at every write. */
  readonly #cannotSet: string;

  /**
   * @param initial the initial elements (already checked for count), or the length.
   */
  constructor(
    what: string,
    code: Typecode,
    initial: number | ArrayLike<unknown>,
    lock: LockOption,
  ) {
    this.what = what;
    this.#cannotSet = `Cannot set ${what}`;
    this.type = elementType(code, `Cannot create ${what}`);
    this.code = code;
    if (lock !== true && lock !== false && !(lock instanceof Lock)) {
      throw new TypeError(`Cannot create ${what}: lock must be true, false, a Lock or an RLock`);
    }
    this.lock = lock === true ? new Lock() : lock === false ? undefined : lock;
    const r = revived();
    this.link = new Link(r?.remote);
    this.length = typeof initial === "number" ? initial : initial.length;
    if (r?.remote) return;
    if (r) {
      this.a = r.local as SharedTypedArray;
      return;
    }
    const a = this.a = this.#allocate();
    if (typeof initial !== "number") {
      for (let i = 0; i < initial.length; i++) {
        store(this.type, a, i, checkElement(this.type, initial[i], `Cannot create ${what}`));
      }
    }
  }

  #allocate(): SharedTypedArray {
    try {
      return allocate(this.type, this.length);
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      const bytes = this.length * this.type.ctor.BYTES_PER_ELEMENT;
      throw new RangeError(
        `Cannot create ${this.what}: ${this.length} ${this.type.name} elements (${bytes} bytes) ` +
          "do not fit in shared memory; use fewer elements",
        { cause: e },
      );
    }
  }

  getLock(): Lock {
    if (!this.lock) {
      throw new TypeError(`Cannot get the lock of ${this.what}: it was created with lock: false`);
    }
    return this.lock;
  }

  /** The typed array, where memory is shared; `verb` and `instead` as for `noSync`. */
  view(what: string, instead: string, verb?: string): SharedTypedArray {
    if (!this.a) this.link.noSync(`${this.what}.${what}`, instead, verb);
    return this.a;
  }

  index(i: unknown, what: string): number {
    if (typeof i !== "number" || !Number.isInteger(i)) {
      throw new TypeError(`${what}: an index must be an integer, got ${String(i)}`);
    }
    if (i < 0 || i >= this.length) {
      throw new RangeError(`${what}: index ${i} is out of range for ${this.length} element(s)`);
    }
    return i;
  }

  read(i: number): number | bigint {
    return load(this.type, this.view("value", "await v.get()"), i);
  }

  write(i: number, v: unknown): void {
    const a = this.view("value", "await v.set(x)", "write");
    store(this.type, a, i, checkElement(this.type, v, this.#cannotSet));
  }

  async get(i: number): Promise<number | bigint> {
    this.index(i, `Cannot get ${this.what} element`);
    const { remote } = this.link;
    return remote ? await remote.call("get", [i]) as number | bigint : this.read(i);
  }

  async set(i: number, v: unknown): Promise<void> {
    this.index(i, `Cannot set ${this.what} element`);
    const { remote } = this.link;
    if (!remote) return this.write(i, v);
    checkElement(this.type, v, this.#cannotSet);
    await remote.call("set", [i, v]);
  }

  async toArray(): Promise<(number | bigint)[]> {
    const { remote } = this.link;
    if (remote) return await remote.call("toArray") as (number | bigint)[];
    return Array.from({ length: this.length }, (_, i) => this.read(i));
  }

  reduce(type: string, self: RemoteTarget, ctx: ReduceContext): Reduced {
    const reduced = this.link.reduce(type, self, ctx, () => this.a);
    const sent: Sent = {
      code: this.code,
      length: this.length,
      lock: this.lock ? encode(this.lock, ctx, "lock") : false,
    };
    return { type, state: { ...(reduced.state as object), ...sent } };
  }

  serve(method: string, args: unknown[], caller: Caller): unknown {
    return this.link.serve(method, args, caller, (m, a) => {
      switch (m) {
        case "get":
          return this.get(a[0] as number);
        case "set":
          return this.set(a[0] as number, a[1]);
        case "toArray":
          return this.toArray();
      }
      return unknownMethod(this.what, m);
    });
  }
}

/** Rebuilds a Value or SharedArray sent by a parent: `make(code, length, lock)`. */
export function reviveMemory<T>(
  s: unknown,
  rpc: RpcEndpoint | undefined,
  make: (code: Typecode, length: number, lock: LockOption) => T,
): T {
  const sent = s as Sent;
  const lock = sent.lock === false ? false : decode(sent.lock, { rpc }) as Lock;
  return revive(fromParent(s, rpc), () => make(sent.code, sent.length, lock));
}
