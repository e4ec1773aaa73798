// The one implementation behind Lock and RLock, for shared memory and for proxies alike.

import type { ReduceContext, Reduced } from "../_core/_reduce.ts";
import type { Caller, RemoteTarget } from "../_core/_rpc.ts";
import { Link, localWho, revived, unknownMethod, type Who } from "./_handle.ts";
import {
  acquire,
  free,
  type Got,
  isLocked,
  isMutex,
  leave,
  newMutex,
  NO,
  owns,
  POLL_MS,
  RECOVERED,
  takeSoon,
  tryAcquire,
  tryTake,
} from "./_mutex.ts";
import { startWait, type SyncWaitOptions } from "./_wait.ts";

/** What `hold()` returns: the held lock, released at the end of a `using` block. */
export interface LockHold extends Disposable {
  /** True when this holding began by taking the lock over from a holder that had died. */
  readonly recovered: boolean;
  /** Releases the lock (once; later calls do nothing). */
  release(): void;
}

/** What tells a Lock from an RLock: the name in messages, re-entry, and the handle type. */
export const kind: unique symbol = Symbol("kind") as never;

/** Description of a lock class. */
export interface LockKind {
  /** Class name, for messages. */
  name: string;
  /** Whether the owner may acquire again. */
  reentrant: boolean;
  /** Registered handle type. */
  type: string;
}

/** The core of each Lock and RLock, for Condition. */
export const cores: WeakMap<object, LockCore> = new WeakMap();

const TRUE: Promise<boolean> = Promise.resolve(true);

/** Lock or RLock state, with its way across processes. */
export class LockCore {
  readonly name: string;
  readonly reentrant: boolean;
  /** The mutex memory, where this process shares it. */
  readonly w: Int32Array | undefined;
  readonly link: Link;
  /** Whether the latest acquire through this handle took the lock over from a dead holder. */
  recovered = false;
  /** Acquires made through this proxy and not yet released (proxies only). */
  heldHere = 0;
  /** Acquires through this proxy still on their way to the owner (proxies only). */
  acquiringHere = 0;

  constructor(name: string, reentrant: boolean) {
    this.name = name;
    this.reentrant = reentrant;
    const r = revived();
    this.link = new Link(r?.remote);
    if (r?.remote) return;
    if (r && !isMutex(r.local)) throw new TypeError(`Cannot receive ${name}: malformed state`);
    this.w = r ? r.local as Int32Array : newMutex();
  }

  acquire(options: SyncWaitOptions, who: Who = localWho()): Promise<boolean> {
    const w = this.w;
    if (
      typeof options !== "object" || options === null || options.timeout !== undefined ||
      options.signal
    ) {
      try {
        startWait(options, `Cannot acquire ${this.name}`);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    // A hand-off between threads usually takes less than takeSoon() polls for; a timeout shorter
    // than that only tries.
    const take = options.timeout === undefined || options.timeout > POLL_MS ? takeSoon : tryTake;
    if (w && !(this.reentrant && owns(w, who)) && take(w, who)) {
      this.recovered = false;
      return TRUE;
    }
    return this.#acquireSlow(options, who);
  }

  async #acquireSlow(options: SyncWaitOptions, who: Who): Promise<boolean> {
    const proxy = !this.w;
    if (proxy) this.acquiringHere++;
    let got: Got;
    try {
      got = await this.acquireGot(options, who);
    } finally {
      if (proxy) this.acquiringHere--;
    }
    if (got === NO) return false;
    this.recovered = got === RECOVERED;
    if (proxy) this.heldHere++;
    return true;
  }

  /** Acquires, telling how; on a proxy, through the owner. */
  async acquireGot(options: SyncWaitOptions, who: Who): Promise<Got> {
    const deadline = startWait(options, `Cannot acquire ${this.name}`);
    const { remote } = this.link;
    if (remote) {
      return await remote.wait(
        "acquire",
        [options.timeout],
        options.signal,
        (got) => got ? remote.call("release") : undefined,
      ) as Got;
    }
    const w = this.w!;
    const got = await acquire(w, who, this.reentrant, deadline, options.signal);
    if (got !== NO && who.alive && !who.alive()) {
      leave(w);
      return NO;
    }
    return got;
  }

  release(who?: Who): void {
    const w = this.w;
    if (!w) {
      if (this.heldHere === 0) {
        throw new TypeError(
          this.acquiringHere > 0
            ? `Cannot release ${this.name}: its acquire() has not completed yet; in a process ` +
              "that reaches the lock through its parent it takes a round trip there, so await " +
              "lock.acquire() before release()"
            : `Cannot release ${this.name}: this process does not hold it; await lock.acquire() first`,
        );
      }
      this.heldHere--;
      this.recovered = false;
      this.link.remote!.send("release");
      return;
    }
    if (this.reentrant) {
      who ??= localWho();
      if (!owns(w, who)) {
        throw new TypeError(
          `Cannot release ${this.name}: ${
            isLocked(w) ? "another process holds it" : "it is not held"
          }`,
        );
      }
      if (leave(w) === 0) this.recovered = false;
      return;
    }
    if (!free(w)) throw new TypeError(`Cannot release ${this.name}: it is not locked`);
    this.recovered = false;
  }

  tryAcquire(who: Who = localWho()): boolean {
    if (!this.w) {
      this.link.noSync(`${this.name}.tryAcquire()`, "await acquire({ timeout: 0 })", "call");
    }
    const got = tryAcquire(this.w, who, this.reentrant);
    if (got === NO) return false;
    this.recovered = got === RECOVERED;
    return true;
  }

  locked(): boolean {
    if (!this.w) this.link.noSync(`${this.name}.locked()`, "await lockedAsync()");
    return isLocked(this.w);
  }

  async lockedAsync(): Promise<boolean> {
    const { remote } = this.link;
    return remote ? await remote.call("locked") as boolean : isLocked(this.w!);
  }

  async hold(options: SyncWaitOptions): Promise<LockHold> {
    if (!await this.acquire(options)) {
      throw new DOMException(
        `Cannot hold ${this.name}: not acquired within ${options.timeout} ms`,
        "TimeoutError",
      );
    }
    let held = true;
    const release = () => {
      if (held) {
        held = false;
        this.release();
      }
    };
    return { recovered: this.recovered, release, [Symbol.dispose]: release };
  }

  reduce(type: string, self: RemoteTarget, ctx: ReduceContext): Reduced {
    return this.link.reduce(type, self, ctx, () => this.w);
  }

  serve(method: string, args: unknown[], caller: Caller): unknown {
    return this.link.serve(method, args, caller, (m, a, who, signal) => {
      switch (m) {
        case "acquire":
          return this.acquireGot({ timeout: a[0] as number | undefined, signal }, who);
        case "release":
          return this.release(who);
        case "locked":
          return this.locked();
      }
      return unknownMethod(this.name, m);
    });
  }
}
