/**
 * `Event`: a flag shared by processes that others wait for, with the meaning of Python's
 * `multiprocessing.Event`.
 *
 * @module
 */

import { notifyWord, sharedMemory } from "../_core/_shm.ts";
import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, remoteCall } from "../_core/_rpc.ts";
import { fromParent, Link, revive, revived, unknownMethod, type Who } from "./_handle.ts";
import { remaining, startWait, type SyncWaitOptions, waitSlice } from "./_wait.ts";

export type { SyncWaitOptions };

/**
 * A flag, initially false: `set()` makes it true and wakes every waiter, in any process;
 * `clear()` makes it false again. It can be passed to children of either start method in `args`.
 *
 * In a process that cannot map shared memory (no FFI, or not Linux) and reaches it through its
 * parent (see the `sync` module): `isSet()` throws there (use `isSetAsync()`); `set()` and
 * `clear()` are sent in order with later calls.
 *
 * @example
 * ```ts
 * import { Event } from "@mp/multiprocessing/sync";
 *
 * const ev = new Event();
 * setTimeout(() => ev.set(), 10);
 * console.log(await ev.wait()); // true
 * ```
 */
export class Event {
  #w: Int32Array | undefined;
  #link: Link;

  /** Creates an event that is not set. */
  constructor() {
    const r = revived();
    this.#link = new Link(r?.remote);
    if (!r?.remote) this.#w = (r?.local as Int32Array) ?? new Int32Array(sharedMemory(4));
  }

  /**
   * Sets the flag and wakes every waiter.
   *
   * @example
   * ```ts
   * import { Event } from "@mp/multiprocessing/sync";
   *
   * const ev = new Event();
   * ev.set();
   * console.log(ev.isSet()); // true
   * ```
   */
  set(): void {
    const w = this.#w;
    if (!w) return this.#link.remote!.send("set");
    Atomics.store(w, 0, 1);
    notifyWord(w, 0);
  }

  /**
   * Clears the flag: later `wait()` calls wait again.
   *
   * @example
   * ```ts
   * import { Event } from "@mp/multiprocessing/sync";
   *
   * const ev = new Event();
   * ev.set();
   * ev.clear();
   * console.log(ev.isSet()); // false
   * ```
   */
  clear(): void {
    const w = this.#w;
    if (!w) return this.#link.remote!.send("clear");
    Atomics.store(w, 0, 0);
  }

  /**
   * Whether the flag is set.
   *
   * @returns the flag.
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the event through its parent: use `isSetAsync()`.
   *
   * @example
   * ```ts
   * import { Event } from "@mp/multiprocessing/sync";
   *
   * console.log(new Event().isSet()); // false
   * ```
   */
  isSet(): boolean {
    if (!this.#w) this.#link.noSync("Event.isSet()", "await isSetAsync()");
    return Atomics.load(this.#w, 0) === 1;
  }

  /**
   * Whether the flag is set, in any process.
   *
   * @returns the flag.
   *
   * @example
   * ```ts
   * import { Event } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Event().isSetAsync()); // false
   * ```
   */
  async isSetAsync(): Promise<boolean> {
    const { remote } = this.#link;
    return remote ? await remote.call("isSet") as boolean : this.isSet();
  }

  /**
   * Waits until the flag is set.
   *
   * @param options `timeout` in ms (wait forever when left out) and `signal`.
   * @returns `true` when the flag is set, `false` when the timeout passed first.
   * @throws {RangeError} for a negative timeout.
   * @throws {DOMException} the signal's reason when it aborts.
   *
   * @example
   * ```ts
   * import { Event } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Event().wait({ timeout: 10 })); // false
   * ```
   */
  wait(options: SyncWaitOptions = {}): Promise<boolean> {
    return this.#wait(options, undefined);
  }

  async #wait(options: SyncWaitOptions, who: Who | undefined): Promise<boolean> {
    const deadline = startWait(options, "Cannot wait for Event");
    const { remote } = this.#link;
    if (remote) return await remote.wait("wait", [options.timeout], options.signal) as boolean;
    const w = this.#w!;
    for (;;) {
      if (Atomics.load(w, 0) === 1) return true;
      if (remaining(deadline) === 0 || (who?.alive && !who.alive())) return false;
      await waitSlice(w, 0, 0, deadline, options.signal);
    }
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    return this.#link.reduce("sync.Event", this, ctx, () => this.#w);
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#link.serve(method, args, caller, (m, a, who, signal) => {
      switch (m) {
        case "set":
          return this.set();
        case "clear":
          return this.clear();
        case "isSet":
          return this.isSet();
        case "wait":
          return this.#wait({ timeout: a[0] as number | undefined, signal }, who);
      }
      return unknownMethod("Event", m);
    });
  }
}

registerReviver("sync.Event", (s, { rpc }) => revive(fromParent(s, rpc), () => new Event()));
