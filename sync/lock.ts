/**
 * `Lock`: a mutual-exclusion lock shared by processes, with the meaning of Python's
 * `multiprocessing.Lock`, kept in shared memory, and recovered when its holder dies.
 *
 * @module
 */

import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, remoteCall } from "../_core/_rpc.ts";
import { fromParent, revive } from "./_handle.ts";
import { cores, kind, LockCore, type LockHold, type LockKind } from "./_lock_core.ts";
import type { SyncWaitOptions } from "./_wait.ts";

export type { LockHold, SyncWaitOptions };

/** Options of `acquire()` and `hold()`. */
export interface AcquireOptions extends SyncWaitOptions {}

/**
 * A lock that one holder at a time has, whichever process (or async task) it is in: a second
 * `acquire()` in the same process waits too, as in another process. It can be passed to a child
 * of either start method in `args`, also nested in arrays and objects, and means the same lock.
 *
 * Unlike Python's lock, it knows its holder: when the holder dies (a killed child), the next
 * acquirer takes the lock over, and its {@link Lock.recovered} is `true` (so is the `recovered` of
 * what `hold()` returns) until it releases: the data the lock protects may be half-updated.
 *
 * In a process that cannot map shared memory (no FFI, or not Linux) and reaches the lock through
 * its parent (see the `sync` module): `acquire()`/`release()` work the same, `locked()` and
 * `tryAcquire()` throw (use `lockedAsync()` and `acquire({ timeout: 0 })`), and only the process
 * that acquired through its handle may release it.
 *
 * @example Hold a lock for a block, as Python's `with lock:`
 * ```ts
 * import { Lock } from "@mp/multiprocessing/sync";
 *
 * const lock = new Lock();
 * {
 *   using _held = await lock.hold();
 *   console.log(lock.locked()); // true
 * }
 * console.log(lock.locked()); // false
 * ```
 *
 * @example Share it with children
 * ```ts
 * import { Lock, Process } from "@mp/multiprocessing";
 *
 * export async function work(lock: Lock, n: number): Promise<void> {
 *   using _held = await lock.hold();
 *   console.log(`child ${n} has the lock`);
 * }
 *
 * if (import.meta.main) {
 *   const lock = new Lock();
 *   const ps = [1, 2].map((n) => new Process({ target: work, args: [lock, n] }));
 *   ps.forEach((p) => p.start());
 *   await Promise.all(ps.map((p) => p.join()));
 * }
 * ```
 */
export class Lock {
  /** @ignore */
  static readonly [kind]: LockKind = { name: "Lock", reentrant: false, type: "sync.Lock" };
  #core: LockCore;

  /** Creates an unlocked lock. */
  constructor() {
    const k = (new.target as typeof Lock)[kind];
    this.#core = new LockCore(k.name, k.reentrant);
    cores.set(this, this.#core);
  }

  /**
   * Waits until the lock is free and takes it.
   *
   * @param options `timeout` in ms (wait forever when left out; 0 only tries) and `signal`.
   * @returns `true` once acquired, `false` when the timeout passed first.
   * @throws {RangeError} for a negative timeout.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * const lock = new Lock();
   * console.log(await lock.acquire()); // true
   * console.log(await lock.acquire({ timeout: 10 })); // false: held (by us)
   * lock.release();
   * ```
   */
  acquire(options: AcquireOptions = {}): Promise<boolean> {
    return this.#core.acquire(options);
  }

  /**
   * Takes the lock if that needs no waiting, at once and synchronously: Python's
   * `lock.acquire(False)`. The fastest way in a hot loop:
   * `lock.tryAcquire() || await lock.acquire()`.
   *
   * @returns `true` when acquired (also from a holder that died), `false` when held.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the lock through its parent: use `await acquire({ timeout: 0 })`.
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * const lock = new Lock();
   * console.log(lock.tryAcquire()); // true
   * console.log(lock.tryAcquire()); // false: held
   * lock.release();
   * ```
   */
  tryAcquire(): boolean {
    return this.#core.tryAcquire();
  }

  /**
   * Releases the lock; a waiter, in any process, can then take it.
   *
   * @throws {TypeError} when the lock is not locked (or, in a process that reaches the lock
   * through its parent, not acquired through this handle).
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * const lock = new Lock();
   * await lock.acquire();
   * lock.release();
   * ```
   */
  release(): void {
    this.#core.release();
  }

  /**
   * Whether some process holds the lock.
   *
   * @returns `true` while held.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the lock through its parent: use `lockedAsync()`.
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * console.log(new Lock().locked()); // false
   * ```
   */
  locked(): boolean {
    return this.#core.locked();
  }

  /**
   * Whether some process holds the lock, in any process.
   *
   * @returns `true` while held.
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Lock().lockedAsync()); // false
   * ```
   */
  lockedAsync(): Promise<boolean> {
    return this.#core.lockedAsync();
  }

  /**
   * `true` when the current holding, taken through this handle, began by taking the lock over
   * from a holder that had died; `false` again after `release()`.
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * const lock = new Lock();
   * await lock.acquire();
   * console.log(lock.recovered); // false
   * lock.release();
   * ```
   */
  get recovered(): boolean {
    return this.#core.recovered;
  }

  /**
   * Acquires the lock for a `using` block, which releases it at its end.
   *
   * @param options `timeout` in ms and `signal`.
   * @returns the holding; its `recovered` tells whether a dead holder's lock was taken over.
   * @throws {DOMException} a `TimeoutError` when the timeout passes, or the signal's reason.
   *
   * @example
   * ```ts
   * import { Lock } from "@mp/multiprocessing/sync";
   *
   * const lock = new Lock();
   * {
   *   using held = await lock.hold({ timeout: 1000 });
   *   console.log(held.recovered); // false
   * }
   * ```
   */
  hold(options: AcquireOptions = {}): Promise<LockHold> {
    return this.#core.hold(options);
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    return this.#core.reduce((this.constructor as typeof Lock)[kind].type, this, ctx);
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#core.serve(method, args, caller);
  }
}

registerReviver(Lock[kind].type, (s, { rpc }) => revive(fromParent(s, rpc), () => new Lock()));
