/**
 * `Condition`: a condition variable shared by processes, with the meaning of Python's
 * `multiprocessing.Condition`.
 *
 * @module
 */

import {
  decode,
  encode,
  reduce,
  type ReduceContext,
  type Reduced,
  registerReviver,
} from "../_core/_reduce.ts";
import { type Caller, remoteCall } from "../_core/_rpc.ts";
import {
  callerDied,
  fromParent,
  Link,
  localWho,
  revive,
  revived,
  unknownMethod,
  type Who,
} from "./_handle.ts";
import { cores, type LockCore, type LockHold } from "./_lock_core.ts";
import { checkInteger } from "./_check.ts";
import { Waiters, type WaitersMemory } from "./_cond_waiters.ts";
import { acquire, depth, free, NO, owns, setDepth } from "./_mutex.ts";
import { remaining, startWait, type SyncWaitOptions } from "./_wait.ts";
import { Lock } from "./lock.ts";
import { RLock } from "./rlock.ts";

export type { SyncWaitOptions };

/**
 * A condition variable: holders of its lock `wait()` (releasing the lock while they wait) until
 * another holder calls `notify()` or `notifyAll()`. Exactly `n` waiters are woken by
 * `notify(n)`. It can be passed to children of either start method in `args`; its lock goes
 * with it.
 *
 * A waiter that dies while it waits (a killed child, of either start method) is taken out before
 * the next notify: `notify(n)` wakes `n` live waiters when there are that many, and leaves no
 * notification over for a later waiter; the dead waiter never takes the lock back. (Python's
 * `notify()` can then wait forever for the dead waiter to wake.)
 *
 * In a process that cannot map shared memory (no FFI, or not Linux) and reaches it through its
 * parent (see the `sync` module), its methods work the same.
 *
 * @example
 * ```ts
 * import { Condition } from "@mp/multiprocessing/sync";
 *
 * const cond = new Condition();
 * let ready = false;
 * setTimeout(async () => {
 *   using _held = await cond.hold();
 *   ready = true;
 *   cond.notifyAll();
 * }, 10);
 * using _held = await cond.hold();
 * console.log(await cond.waitFor(() => ready, { timeout: 5000 })); // true
 * ```
 */
export class Condition {
  #lock: Lock;
  #waiters: Waiters | undefined;
  #link: Link;

  /**
   * Creates a condition variable over `lock`.
   *
   * @param lock the lock (a `Lock` or an `RLock`) to use; a new `RLock` when left out, as in
   * Python. It must have been created in this process or reached through shared memory (a
   * lock that this process reaches through its parent will not do).
   * @throws {TypeError} when `lock` is not a Lock or RLock, or is reached through the parent.
   */
  constructor(lock?: Lock) {
    const r = revived();
    this.#link = new Link(r?.remote);
    if (lock !== undefined && !(lock instanceof Lock)) {
      throw new TypeError("Cannot create Condition: lock must be a Lock or an RLock");
    }
    this.#lock = lock ?? new RLock();
    if (r?.remote) return;
    if (!cores.get(this.#lock)!.w) {
      throw new TypeError(
        "Cannot create Condition: its lock is reached through a parent process; create the " +
          "Condition where the lock was created and pass it here",
      );
    }
    if (r && !Waiters.fits(r.local)) {
      throw new TypeError("Cannot receive Condition: malformed state");
    }
    this.#waiters = new Waiters(r?.local as WaitersMemory | undefined);
  }

  /**
   * Acquires the condition's lock.
   *
   * @param options `timeout` in ms and `signal`.
   * @returns `true` once acquired, `false` when the timeout passed first.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * console.log(await cond.acquire()); // true
   * cond.release();
   * ```
   */
  acquire(options: SyncWaitOptions = {}): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /**
   * Releases the condition's lock.
   *
   * @throws {TypeError} when the lock is not held.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * await cond.acquire();
   * cond.release();
   * ```
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Acquires the condition's lock for a `using` block.
   *
   * @param options `timeout` in ms and `signal`.
   * @returns the holding.
   * @throws {DOMException} a `TimeoutError` when the timeout passes, or the signal's reason.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * {
   *   using _held = await cond.hold();
   * }
   * ```
   */
  hold(options: SyncWaitOptions = {}): Promise<LockHold> {
    return this.#lock.hold(options);
  }

  /**
   * Releases the lock, waits for a notification, and acquires the lock again before returning
   * (also when it times out or is aborted).
   *
   * @param options `timeout` in ms (wait forever when left out) and `signal`.
   * @returns `true` when notified, `false` when the timeout passed first.
   * @throws {TypeError} when the lock is not held by this process.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * using _held = await cond.hold();
   * console.log(await cond.wait({ timeout: 10 })); // false: nobody notified
   * ```
   */
  wait(options: SyncWaitOptions = {}): Promise<boolean> {
    return this.#wait(options, localWho());
  }

  async #wait(options: SyncWaitOptions, who: Who): Promise<boolean> {
    const deadline = startWait(options, "Cannot wait on Condition");
    const { remote } = this.#link;
    if (remote) return await remote.wait("wait", [options.timeout], options.signal) as boolean;
    const lw = this.#core().w!;
    if (!owns(lw, who)) {
      throw new TypeError("Cannot wait on Condition: its lock is not held by this process");
    }
    const waiters = this.#waiters!;
    const me = waiters.enter(who.ident);
    const saved = depth(lw);
    free(lw);
    let notified = false;
    let abandoned = false;
    try {
      for (;;) {
        const seq = waiters.seq();
        if (callerDied(who)) break;
        if (waiters.takeWake(me)) {
          notified = true;
          break;
        }
        if (remaining(deadline) === 0) break;
        await waiters.sleep(seq, deadline, options.signal);
      }
    } catch (e) {
      abandoned = true;
      throw e;
    } finally {
      if (!notified) notified = waiters.leave(me, abandoned || callerDied(who));
      await this.#reacquire(lw, who, saved, notified);
    }
    return notified;
  }

  // Takes the lock back after a wait, with its re-entry depth. A caller that died meanwhile
  // (a child that reaches the condition through this process, whose wait this process served)
  // never takes it, and a notification it got goes on to another waiter.
  async #reacquire(lw: Int32Array, who: Who, saved: number, notified: boolean): Promise<void> {
    let got = callerDied(who) ? NO : await acquire(lw, who, false, Infinity, undefined);
    if (got !== NO && callerDied(who)) {
      free(lw);
      got = NO;
    }
    if (got !== NO) setDepth(lw, saved);
    else if (notified) this.#waiters!.notify(1);
  }

  /**
   * Waits until `predicate` returns a truthy value, re-checking it after each notification.
   *
   * @param predicate what is waited for; it may be async.
   * @param options `timeout` in ms for the whole wait and `signal`.
   * @returns the predicate's last result (falsy when the timeout passed).
   * @throws {TypeError} when the lock is not held by this process.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * using _held = await cond.hold();
   * console.log(await cond.waitFor(() => 42)); // 42
   * ```
   */
  async waitFor<T>(predicate: () => T | Promise<T>, options: SyncWaitOptions = {}): Promise<T> {
    const deadline = startWait(options, "Cannot wait on Condition");
    let result = await predicate();
    while (!result) {
      const left = remaining(deadline);
      if (left === 0) break;
      await this.wait({ timeout: left === Infinity ? undefined : left, signal: options.signal });
      result = await predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` waiters; they return from `wait()` once they get the lock back.
   *
   * @param n how many waiters to wake (`Infinity`: all of them).
   * @throws {TypeError} when the lock is not held by this process, or `n` is not an integer.
   * @throws {RangeError} when `n` is negative.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * using _held = await cond.hold();
   * cond.notify(); // nobody waits: nothing happens
   * ```
   */
  notify(n: number = 1): void {
    if (n !== Infinity) checkInteger(n, "Cannot notify Condition: n", 0, Number.MAX_SAFE_INTEGER);
    this.#notify(n, localWho());
  }

  /**
   * Wakes every waiter.
   *
   * @throws {TypeError} when the lock is not held by this process.
   *
   * @example
   * ```ts
   * import { Condition } from "@mp/multiprocessing/sync";
   *
   * const cond = new Condition();
   * using _held = await cond.hold();
   * cond.notifyAll();
   * ```
   */
  notifyAll(): void {
    this.#notify(Infinity, localWho());
  }

  #notify(n: number, who: Who): void {
    const { remote } = this.#link;
    if (remote) return remote.send("notify", [n === Infinity ? -1 : n]);
    if (!owns(this.#core().w!, who)) {
      throw new TypeError("Cannot notify Condition: its lock is not held by this process");
    }
    this.#waiters!.notify(n);
  }

  #core(): LockCore {
    return cores.get(this.#lock)!;
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    const { type, state } = this.#link.reduce(
      "sync.Condition",
      this,
      ctx,
      () => this.#waiters!.memory,
    );
    return { type, state: { ...(state as object), lock: encode(this.#lock, ctx, "lock") } };
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#link.serve(method, args, caller, (m, a, who, signal) => {
      switch (m) {
        case "wait":
          return this.#wait({ timeout: a[0] as number | undefined, signal }, who);
        case "notify":
          return this.#notify(a[0] === -1 ? Infinity : a[0] as number, who);
      }
      return unknownMethod("Condition", m);
    });
  }
}

registerReviver("sync.Condition", (s, { rpc }) => {
  const lock = decode((s as { lock: unknown }).lock, { rpc }) as Lock;
  return revive(fromParent(s, rpc), () => new Condition(lock));
});
