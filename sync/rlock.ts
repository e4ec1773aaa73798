/**
 * `RLock`: a re-entrant lock shared by processes, with the meaning of Python's
 * `multiprocessing.RLock`.
 *
 * @module
 */

import { registerReviver } from "../_core/_reduce.ts";
import { fromParent, revive } from "./_handle.ts";
import { kind, type LockKind } from "./_lock_core.ts";
import { Lock } from "./lock.ts";

/**
 * A re-entrant lock: the process that holds it may acquire it again, and must release it as many
 * times; a release by another process throws. Everything else is as for {@link Lock} (of which it
 * is a subclass): waits, timeouts, signals, passing to children, and taking over from a dead
 * holder. The owner is the process: two async tasks of one process both count as the owner.
 *
 * @example
 * ```ts
 * import { RLock } from "@mp/multiprocessing/sync";
 *
 * const lock = new RLock();
 * await lock.acquire();
 * await lock.acquire(); // the owner re-enters
 * lock.release();
 * lock.release();
 * console.log(lock.locked()); // false
 * ```
 */
export class RLock extends Lock {
  /** @ignore */
  static override readonly [kind]: LockKind = {
    name: "RLock",
    reentrant: true,
    type: "sync.RLock",
  };
}

registerReviver(RLock[kind].type, (s, { rpc }) => revive(fromParent(s, rpc), () => new RLock()));
