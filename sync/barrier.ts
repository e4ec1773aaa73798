/**
 * `Barrier`: a meeting point for a fixed number of parties in any processes, with the meaning of
 * Python's `multiprocessing.Barrier`.
 *
 * @module
 */

import { importUrl } from "../_core/_import.ts";
import { notifyWord, type SharedMemory, sharedMemory } from "../_core/_shm.ts";
import { reduce, type ReduceContext, type Reduced, registerReviver } from "../_core/_reduce.ts";
import { type Caller, registerError, remoteCall } from "../_core/_rpc.ts";
import { findExport } from "../_core/_target.ts";
import { state } from "../_core/_state.ts";
import { checkInteger } from "./_check.ts";
import { fromParent, Link, localWho, revive, revived, unknownMethod, type Who } from "./_handle.ts";
import { IdentCounts } from "./_ident_counts.ts";
import {
  checkOptions,
  deadlineOf,
  remaining,
  startWait,
  type SyncWaitOptions,
  waitSlice,
} from "./_wait.ts";

export type { SyncWaitOptions };

/**
 * Raised by `Barrier.wait()` when the barrier is broken: reset or aborted while parties waited,
 * timed out, its action threw, or a waiting party died.
 *
 * @example
 * ```ts
 * import { BrokenBarrierError } from "@mp/multiprocessing/sync";
 *
 * console.log(new BrokenBarrierError("the barrier is broken").name); // "BrokenBarrierError"
 * ```
 */
export class BrokenBarrierError extends Error {
  /**
   * Creates the error.
   *
   * @param message what broke the barrier.
   * @param options the cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokenBarrierError";
  }
}
registerError(BrokenBarrierError);

/** Options of a {@link Barrier}. */
export interface BarrierOptions {
  /**
   * Called by one party when all have arrived, before any is released. To run in a child, it
   * must be an exported function of `module`. If it throws, the barrier breaks.
   * @default {undefined}
   */
  action?: () => unknown;
  /** URL of the module that exports `action`. @default {Deno.mainModule} */
  module?: string | URL;
  /** Default timeout of `wait()`, in ms. @default {Infinity} */
  timeout?: number;
}

const COUNT = 0; // parties waiting in this generation
// Generation word: generation * 4, + 1 while broken, + 2 when the previous generation was reset.
const GEN = 1;
const PARTIES = 2;

interface ActionRef {
  module: string;
  name: string;
}

interface Sent {
  w: Int32Array;
  /** The waiting parties' count per process ident. */
  ids: SharedMemory;
  action?: ActionRef;
  timeout?: number;
}

/**
 * A barrier for `parties` parties: each `wait()` waits until all have called it, then all are
 * released together and the barrier can be used again. It can be passed to children of either
 * start method in `args`.
 *
 * A wait that times out or is aborted breaks the barrier, as in Python: every waiter, and every
 * later `wait()` until `reset()`, rejects with {@link BrokenBarrierError}. So does a party that
 * dies while it waits (a killed child, of either start method), where Python's other parties
 * would wait forever: the barrier never trips with a dead party, and the parties waiting learn it
 * within a tenth of a second. A party that never arrives at all is not noticed: give `wait()` (or
 * the barrier) a `timeout` so that the others stop waiting, as in Python.
 *
 * In a process that cannot map shared memory (no FFI, or not Linux) and reaches it through its
 * parent (see the `sync` module): `parties`, `nWaiting` and `broken` throw there (use
 * `stateAsync()`).
 *
 * @example
 * ```ts
 * import { Barrier } from "@mp/multiprocessing/sync";
 *
 * const barrier = new Barrier(2);
 * const ids = await Promise.all([barrier.wait(), barrier.wait()]);
 * console.log(ids.sort()); // [0, 1]
 * ```
 */
export class Barrier {
  #w: Int32Array | undefined;
  #ids: IdentCounts | undefined;
  #link: Link;
  #action: (() => unknown) | undefined;
  #actionRef: ActionRef | undefined;
  #module: string | undefined;
  #timeout: number | undefined;

  /**
   * Creates a barrier for `parties` parties.
   *
   * @param parties how many parties meet.
   * @param options `action`, its `module`, and a default `timeout`.
   * @throws {RangeError} when `parties` is not a positive integer or the timeout is negative.
   * @throws {TypeError} when `action` is not a function.
   */
  constructor(parties: number, options: BarrierOptions = {}) {
    const r = revived();
    this.#link = new Link(r?.remote);
    checkOptions(options, "Cannot create Barrier");
    const { action, module, timeout } = options;
    if (action !== undefined && typeof action !== "function") {
      throw new TypeError("Cannot create Barrier: action must be a function");
    }
    deadlineOf(timeout, "Cannot create Barrier");
    this.#action = action;
    this.#module = module === undefined ? undefined : String(module);
    this.#timeout = timeout;
    if (r) {
      const local = r.local as Sent | undefined;
      if (local && !IdentCounts.fits(local.ids)) {
        throw new TypeError("Cannot receive Barrier: malformed state");
      }
      this.#w = local?.w;
      this.#ids = local && new IdentCounts(local.ids);
      this.#actionRef = local?.action;
      this.#timeout = local?.timeout;
      return;
    }
    checkInteger(parties, "Cannot create Barrier: parties", 1, 0xffff);
    this.#w = new Int32Array(sharedMemory(12));
    this.#w[PARTIES] = parties;
    this.#ids = IdentCounts.create(parties);
  }

  /**
   * Waits until all parties have called `wait()`.
   *
   * @param options `timeout` in ms (the barrier's default when left out) and `signal`.
   * @returns this party's arrival index, from 0 (first) to `parties - 1` (last), as in Python.
   * @throws {BrokenBarrierError} when the barrier is or becomes broken, or the timeout passes.
   * @throws {DOMException} the signal's reason when it aborts (which breaks the barrier).
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Barrier(1).wait()); // 0
   * ```
   */
  wait(options: SyncWaitOptions = {}): Promise<number> {
    return this.#wait(options, localWho());
  }

  async #wait(options: SyncWaitOptions, who: Who): Promise<number> {
    checkOptions(options, "Cannot wait on Barrier");
    const timeout = options.timeout ?? this.#timeout;
    const deadline = startWait({ timeout, signal: options.signal }, "Cannot wait on Barrier");
    const { remote } = this.#link;
    if (remote) return await remote.wait("wait", [timeout], options.signal) as number;
    const w = this.#w!;
    const gen = Atomics.load(w, GEN);
    if (gen & 1) throw new BrokenBarrierError("Cannot wait on Barrier: it is broken");
    this.#ids!.add(who.ident); // before counting in: the last party to arrive checks them all
    const index = Atomics.add(w, COUNT, 1);
    if (index === w[PARTIES] - 1) {
      this.#breakIfDead();
      try {
        await this.#runAction();
      } catch (e) {
        this.#break();
        throw e;
      }
      this.#ids!.clear();
      Atomics.store(w, COUNT, 0);
      Atomics.store(w, GEN, (gen & ~3) + 4);
      notifyWord(w, GEN);
      return index;
    }
    try {
      for (;;) {
        const now = Atomics.load(w, GEN);
        if (now !== gen) {
          if ((now & ~3) === (gen & ~3) || (now & ~3) === (gen & ~3) + 4 && now & 2) {
            throw new BrokenBarrierError("Cannot pass Barrier: it was broken while waiting");
          }
          return index;
        }
        this.#breakIfDead();
        if (remaining(deadline) === 0) {
          this.#break();
          throw new BrokenBarrierError(`Cannot pass Barrier: timed out after ${timeout} ms`);
        }
        await waitSlice(w, GEN, gen, deadline, options.signal);
      }
    } catch (e) {
      if (!(e instanceof BrokenBarrierError)) this.#break();
      throw e;
    }
  }

  async #runAction(): Promise<void> {
    if (this.#action) return void await this.#action();
    const ref = this.#actionRef;
    if (!ref) return;
    const ns = await importUrl(ref.module);
    const fn = ns[ref.name];
    if (typeof fn !== "function") {
      throw new TypeError(
        `Cannot run Barrier action: '${ref.name}' is not exported by ${ref.module}`,
      );
    }
    await fn();
  }

  // Breaks the barrier when a party that waits on it has died (the calling one included, for a
  // wait served for another process).
  #breakIfDead(): void {
    if (this.#ids!.reap() === 0) return;
    this.#break();
    throw new BrokenBarrierError("Cannot pass Barrier: a party died while waiting on it");
  }

  // Marks the current generation broken and wakes its waiters.
  #break(): void {
    const w = this.#w!;
    for (;;) {
      const g = Atomics.load(w, GEN);
      if (g & 1) break;
      if (Atomics.compareExchange(w, GEN, g, g | 1) === g) break;
    }
    notifyWord(w, GEN);
  }

  /**
   * Returns the barrier to its empty state; parties waiting on it reject with
   * {@link BrokenBarrierError}.
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * const b = new Barrier(2);
   * b.abort();
   * b.reset();
   * console.log(b.broken); // false
   * ```
   */
  reset(): void {
    const w = this.#w;
    if (!w) return this.#link.remote!.send("reset");
    for (;;) {
      const g = Atomics.load(w, GEN);
      if (Atomics.compareExchange(w, GEN, g, (g & ~3) + 4 + 2) === g) break;
    }
    this.#ids!.clear();
    Atomics.store(w, COUNT, 0);
    notifyWord(w, GEN);
  }

  /**
   * Breaks the barrier: current and later waits reject with {@link BrokenBarrierError} until
   * `reset()`.
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * const b = new Barrier(2);
   * b.abort();
   * console.log(b.broken); // true
   * ```
   */
  abort(): void {
    if (!this.#w) return this.#link.remote!.send("abort");
    this.#break();
  }

  /**
   * The number of parties.
   *
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the barrier through its parent: use `stateAsync()`.
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * console.log(new Barrier(3).parties); // 3
   * ```
   */
  get parties(): number {
    return this.#sync("parties")[PARTIES];
  }

  /**
   * The number of parties waiting now.
   *
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the barrier through its parent: use `stateAsync()`.
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * console.log(new Barrier(3).nWaiting); // 0
   * ```
   */
  get nWaiting(): number {
    const w = this.#sync("nWaiting");
    return Atomics.load(w, GEN) & 1 ? 0 : Atomics.load(w, COUNT);
  }

  /**
   * Whether the barrier is broken.
   *
   * @throws {TypeError} in a process that cannot map shared memory (no FFI, or not Linux) and
   * reaches the barrier through its parent: use `stateAsync()`.
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * console.log(new Barrier(3).broken); // false
   * ```
   */
  get broken(): boolean {
    return (Atomics.load(this.#sync("broken"), GEN) & 1) === 1;
  }

  /**
   * `parties`, `nWaiting` and `broken` together, in any process.
   *
   * @returns the barrier's state.
   *
   * @example
   * ```ts
   * import { Barrier } from "@mp/multiprocessing/sync";
   *
   * console.log(await new Barrier(2).stateAsync()); // { parties: 2, nWaiting: 0, broken: false }
   * ```
   */
  async stateAsync(): Promise<{ parties: number; nWaiting: number; broken: boolean }> {
    const { remote } = this.#link;
    if (remote) return await remote.call("state") as never;
    return { parties: this.parties, nWaiting: this.nWaiting, broken: this.broken };
  }

  #sync(what: string): Int32Array {
    if (!this.#w) this.#link.noSync(`Barrier.${what}`, "await stateAsync()");
    return this.#w;
  }

  #ref(): ActionRef | undefined {
    if (this.#actionRef || !this.#action) return this.#actionRef;
    const module = this.#module ?? state().mainModule; // in a child: its target's module
    const name = this.#action.name;
    const found = name ? findExport(module, name) : null;
    if (found === null) {
      throw new TypeError(
        `Cannot send Barrier: its action '${name}' is not exported from ${module}; export it, ` +
          "or pass `module` to the Barrier",
      );
    }
    return this.#actionRef = { module, name: found ?? name };
  }

  /** @ignore */
  [reduce](ctx: ReduceContext): Reduced {
    return this.#link.reduce("sync.Barrier", this, ctx, (): Sent => ({
      w: this.#w!,
      ids: this.#ids!.sab,
      action: this.#ref(),
      timeout: this.#timeout,
    }));
  }

  /** @ignore */
  [remoteCall](method: string, args: unknown[], caller: Caller): unknown {
    return this.#link.serve(method, args, caller, (m, a, who, signal) => {
      switch (m) {
        case "wait":
          return this.#wait({ timeout: a[0] as number | undefined, signal }, who);
        case "reset":
          return this.reset();
        case "abort":
          return this.abort();
        case "state":
          return this.stateAsync();
      }
      return unknownMethod("Barrier", m);
    });
  }
}

registerReviver(
  "sync.Barrier",
  (s, { rpc }) => revive(fromParent(s, rpc), () => new Barrier(1)),
);
