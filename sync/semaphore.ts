/**
 * `Semaphore` and `BoundedSemaphore`: counters shared by processes, with the meaning of Python's
 * `multiprocessing.Semaphore` and `BoundedSemaphore`.
 *
 * @module
 */

import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, remoteCall } from "../_core/_rpc.ts";
import { checkInteger } from "./_check.ts";
import { fromParent, Link, localWho, revive, revived, unknownMethod, type Who } from "./_handle.ts";
import { MAX_COUNT, SemCount } from "./_sem_count.ts";
import { startWait, type SyncWaitOptions } from "./_wait.ts";

export type { SyncWaitOptions };

const kBounded: unique symbol = Symbol("bounded") as never;

/** Options of a {@link Semaphore} or a {@link BoundedSemaphore}. */
export interface SemaphoreOptions {
  /**
   * Gives the slots held by a process that died (a killed child) back to the count, where
   * Python's semaphore would keep them taken forever. This needs to know who holds what, so a
   * slot is then owned: only the process that acquired it may release it (a release by another
   * process throws a TypeError), and the count never grows past its initial value, which must be
   * at least 1. Slots come back when some process would otherwise wait for one, within a tenth
   * of a second of the holder's death while others wait. The data the slots guard may have been
   * left half-updated by the dead holder. A holder is a process as the liveness table knows it:
   * each process that shares or maps the semaphore's memory, and a child that reaches it through
   * its parent (no FFI, or not Linux) together with everything it started; at most 1024
   * processes hold slots at once (more wait for one of them to release).
   * @default {false}
   */
  recoverDead?: boolean;
}

/**
 * A counter that `acquire()` decrements, waiting while it is 0, and `release()` increments: at
 * most `value` holders at once, in any processes. It can be passed to children of either start
 * method in `args`.
 *
 * In a process that cannot map shared memory (no FFI, or not Linux) and reaches it through its
 * parent (see the `sync` module): `getValue()` throws there (use `getValueAsync()`), and an error
 * of `release()` (a bounded semaphore released too often) is thrown by the next call on that
 * handle.
 *
 * A holder that dies keeps its slots, as in Python, unless the semaphore was created with
 * `recoverDead: true` (see {@link SemaphoreOptions.recoverDead}); a wait for a slot can always
 * be given a `timeout` or a `signal`.
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
 *
 * @example A slot held by a child that dies comes back
 * ```ts
 * import { Semaphore } from "@mp/multiprocessing/sync";
 *
 * const sem = new Semaphore(2, { recoverDead: true });
 * await sem.acquire();
 * sem.release(); // only the process that acquired a slot may release it
 * console.log(sem.getValue()); // 2
 * ```
 */
export class Semaphore {
  /** @ignore */
  static readonly [kBounded]: boolean = false;
  #count: SemCount | undefined;
  #link: Link;

  /**
   * Creates a semaphore whose count starts at `value`.
   *
   * @param value the initial count.
   * @param options `recoverDead`.
   * @throws {TypeError} for a non-integer value or malformed options.
   * @throws {RangeError} for a value below 0 (below 1 with `recoverDead`) or above 2^31 - 1.
   */
  constructor(value: number = 1, options: SemaphoreOptions = {}) {
    const r = revived();
    this.#link = new Link(r?.remote);
    const name = new.target.name;
    if (r?.remote) return;
    if (r) {
      if (!SemCount.fits(r.local)) throw new TypeError(`Cannot receive ${name}: malformed state`);
      this.#count = new SemCount(name, r.local);
      return;
    }
    const what = `Cannot create ${name}`;
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`${what}: options must be an object, got ${String(options)}`);
    }
    const { recoverDead = false } = options;
    if (typeof recoverDead !== "boolean") {
      throw new TypeError(`${what}: recoverDead must be true or false, got ${String(recoverDead)}`);
    }
    checkInteger(
      value,
      `${what}: value${recoverDead ? " (with recoverDead)" : ""}`,
      recoverDead ? 1 : 0,
      MAX_COUNT,
    );
    const bounded = (new.target as typeof Semaphore)[kBounded];
    this.#count = new SemCount(name, { value, bounded, recoverDead });
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
    return await this.#count!.acquire(who, deadline, options.signal);
  }

  /**
   * Increments the count by `n`, waking up to `n` waiters.
   *
   * @param n how much to add.
   * @throws {TypeError} when `n` is not an integer, or for a semaphore created with
   * `recoverDead`, when this process holds fewer than `n` slots.
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
    this.#release(n, localWho());
  }

  #release(n: number, who: Who): void {
    checkInteger(n, `Cannot release ${this.constructor.name}: n`, 1, MAX_COUNT);
    const { remote } = this.#link;
    if (remote) return remote.send("release", [n]);
    this.#count!.release(n, who);
  }

  /**
   * The current count (with `recoverDead`, after taking back the slots of holders that died).
   *
   * @returns the count.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the semaphore through its parent: use `getValueAsync()`.
   *
   * @example
   * ```ts
   * import { Semaphore } from "@mp/multiprocessing/sync";
   *
   * console.log(new Semaphore(3).getValue()); // 3
   * ```
   */
  getValue(): number {
    if (!this.#count) this.#link.noSync("Semaphore.getValue()", "await getValueAsync()");
    return this.#count.value();
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
    return this.#link.reduce(typeName(this), this, ctx, () => this.#count!.memory);
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#link.serve(method, args, caller, (m, a, who, signal) => {
      switch (m) {
        case "acquire":
          return this.#acquire({ timeout: a[0] as number | undefined, signal }, who);
        case "release":
          return this.#release(a[0] as number, who);
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
