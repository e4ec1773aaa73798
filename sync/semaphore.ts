/**
 * `Semaphore` and `BoundedSemaphore`: counters shared by processes, with the meaning of Python's
 * `multiprocessing.Semaphore` and `BoundedSemaphore`.
 *
 * @module
 */

import { reduce, type ReduceContext, type Reduced, registerReviver } from "../process/_reduce.ts";
import { type Caller, remoteCall } from "../process/_rpc.ts";
import { checkInteger } from "./_check.ts";
import { fromParent, Link, localWho, revive, revived, unknownMethod, type Who } from "./_handle.ts";
import { remaining, spin, startWait, type SyncWaitOptions, waitSlice } from "./_wait.ts";

export type { SyncWaitOptions };

const COUNT = 0;
const WAITERS = 1;
const BOUND = 2; // the initial value of a bounded semaphore, -1 when unbounded

const kBounded: unique symbol = Symbol("bounded") as never;

/** The largest count: what an Int32 word holds. */
const MAX_COUNT = 0x7fffffff;

/**
 * A counter that `acquire()` decrements, waiting while it is 0, and `release()` increments: at
 * most `value` holders at once, in any processes. It can be passed to children of either start
 * method in `args`.
 *
 * In a subprocess child it is reached through the parent: `getValue()` throws there (use
 * `getValueAsync()`), and an error of `release()` (a bounded semaphore released too often) is
 * thrown by the next call on that handle.
 *
 * @example
 * ```ts
 * import { Semaphore } from "@mp/multiprocessing/sync";
 *
 * const sem = new Semaphore(2);
 * await sem.acquire();
 * console.log(sem.getValue()); // 1
 * sem.release();
 * ```
 */
export class Semaphore {
  /** @ignore */
  static readonly [kBounded]: boolean = false;
  #w: Int32Array | undefined;
  #link: Link;

  /**
   * Creates a semaphore whose count starts at `value`.
   *
   * @param value the initial count.
   * @throws {RangeError} for a negative value, {TypeError} for a non-integer.
   */
  constructor(value: number = 1) {
    const r = revived();
    this.#link = new Link(r?.remote);
    if (r?.remote) return;
    if (r) {
      this.#w = r.local as Int32Array;
      return;
    }
    const name = new.target.name;
    checkInteger(value, `Cannot create ${name}: value`, 0, MAX_COUNT);
    this.#w = new Int32Array(new SharedArrayBuffer(12));
    this.#w[COUNT] = value;
    this.#w[BOUND] = (new.target as typeof Semaphore)[kBounded] ? value : -1;
  }

  /**
   * Waits until the count is above 0 and decrements it.
   *
   * @param options `timeout` in ms (wait forever when left out) and `signal`.
   * @returns `true` once acquired, `false` when the timeout passed first.
   * @throws {RangeError} for a negative timeout.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/sync";
   *
   * const sem = new Semaphore(0);
   * console.log(await sem.acquire({ timeout: 10 })); // false
   * ```
   */
  acquire(options: SyncWaitOptions = {}): Promise<boolean> {
    return this.#acquire(options, localWho());
  }

  async #acquire(options: SyncWaitOptions, who: Who): Promise<boolean> {
    const deadline = startWait(options, `Cannot acquire ${this.constructor.name}`);
    const { remote } = this.#link;
    if (remote) {
      return await remote.wait(
        "acquire",
        [options.timeout],
        options.signal,
        (ok) => ok ? remote.call("release", [1]) : undefined,
      ) as boolean;
    }
    const w = this.#w!;
    const positive = () => Atomics.load(w, COUNT) > 0;
    for (;;) {
      const c = Atomics.load(w, COUNT);
      if (c > 0) {
        if (Atomics.compareExchange(w, COUNT, c, c - 1) !== c) continue;
        if (who.alive && !who.alive()) {
          this.#release(1);
          return false;
        }
        return true;
      }
      if (remaining(deadline) === 0 || (who.alive && !who.alive())) return false;
      if (spin(positive)) continue;
      Atomics.add(w, WAITERS, 1);
      try {
        await waitSlice(w, COUNT, 0, deadline, options.signal);
      } finally {
        Atomics.sub(w, WAITERS, 1);
      }
    }
  }

  /**
   * Increments the count by `n`, waking up to `n` waiters.
   *
   * @param n how much to add.
   * @throws {TypeError} when `n` is not an integer.
   * @throws {RangeError} when `n` is below 1, when the count would pass 2^31 - 1 (the count is
   * then unchanged), or for a `BoundedSemaphore`, when it would exceed its initial value.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/sync";
   *
   * const sem = new Semaphore(0);
   * sem.release(2);
   * console.log(sem.getValue()); // 2
   * ```
   */
  release(n: number = 1): void {
    checkInteger(n, `Cannot release ${this.constructor.name}: n`, 1, MAX_COUNT);
    const { remote } = this.#link;
    if (remote) return remote.send("release", [n]);
    this.#release(n);
  }

  #release(n: number): void {
    const w = this.#w!;
    const bound = w[BOUND];
    for (;;) {
      const c = Atomics.load(w, COUNT);
      if (bound >= 0 && c + n > bound) {
        throw new RangeError(
          `Cannot release ${this.constructor.name}: its value would exceed its initial value ${bound}`,
        );
      }
      if (c + n > MAX_COUNT) {
        throw new RangeError(
          `Cannot release ${this.constructor.name}: its value ${c} plus ${n} would pass ` +
            `${MAX_COUNT}, the largest it can hold`,
        );
      }
      if (Atomics.compareExchange(w, COUNT, c, c + n) === c) break;
    }
    if (Atomics.load(w, WAITERS) > 0) Atomics.notify(w, COUNT, n);
  }

  /**
   * The current count.
   *
   * @returns the count.
   * @throws {TypeError} in a subprocess child, where memory is not shared: use `getValueAsync()`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/sync";
   *
   * console.log(new Semaphore(3).getValue()); // 3
   * ```
   */
  getValue(): number {
    if (!this.#w) this.#link.noSync("Semaphore.getValue()", "await getValueAsync()");
    return Atomics.load(this.#w, COUNT);
  }

  /**
   * The current count, in any process.
   *
   * @returns the count.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Semaphore(3).getValueAsync()); // 3
   * ```
   */
  async getValueAsync(): Promise<number> {
    const { remote } = this.#link;
    return remote ? await remote.call("getValue") as number : this.getValue();
  }

  /**
   * Acquires for a `using` block, which releases at its end.
   *
   * @param options `timeout` in ms and `signal`.
   * @returns what releases it.
   * @throws {DOMException} a `TimeoutError` when the timeout passes, or the signal's reason.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/sync";
   *
   * const sem = new Semaphore(1);
   * {
   *   using _slot = await sem.hold();
   *   console.log(sem.getValue()); // 0
   * }
   * console.log(sem.getValue()); // 1
   * ```
   */
  async hold(options: SyncWaitOptions = {}): Promise<Disposable> {
    if (!await this.acquire(options)) {
      throw new DOMException(
        `Cannot hold ${this.constructor.name}: not acquired within ${options.timeout} ms`,
        "TimeoutError",
      );
    }
    let held = true;
    return {
      [Symbol.dispose]: () => {
        if (held) {
          held = false;
          this.release();
        }
      },
    };
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    return this.#link.reduce(typeName(this), this, ctx, () => this.#w);
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#link.serve(method, args, caller, (m, a, who, signal) => {
      switch (m) {
        case "acquire":
          return this.#acquire({ timeout: a[0] as number | undefined, signal }, who);
        case "release":
          return this.release(a[0] as number);
        case "getValue":
          return this.getValue();
      }
      return unknownMethod(this.constructor.name, m);
    });
  }
}

/**
 * A semaphore that refuses to be released above its initial value, which catches releases
 * without a matching acquire.
 *
 * @example
 * ```ts
 * import { BoundedSemaphore } from "@mp/multiprocessing/sync";
 *
 * const sem = new BoundedSemaphore(1);
 * try {
 *   sem.release();
 * } catch (e) {
 *   console.log((e as Error).name); // "RangeError"
 * }
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /** @ignore */
  static override readonly [kBounded]: boolean = true;
}

function typeName(s: Semaphore): string {
  return s instanceof BoundedSemaphore ? "sync.BoundedSemaphore" : "sync.Semaphore";
}

registerReviver(
  "sync.Semaphore",
  (s, { rpc }) => revive(fromParent(s, rpc), () => new Semaphore()),
);
registerReviver(
  "sync.BoundedSemaphore",
  (s, { rpc }) => revive(fromParent(s, rpc), () => new BoundedSemaphore()),
);
