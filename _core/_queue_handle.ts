// What every queue handle is made of, on one machine or on Redis: its core (the ring, calls to
// the process that lent it, or Redis: ../ipc/_queue_core.ts, ../cluster/_queue_core.ts), and the
// handle type of each queue class, by which a handle travels and is rebuilt around its core.

import type { WaitLimits } from "./_wait.ts";

/** The core behind each queue handle. */
export const cores: WeakMap<object, QueueCore> = new WeakMap();

/** Handle type name of each queue class, for `[reduce]`. */
export const queueTypes: Map<unknown, string> = new Map();

/** Set while a reviver constructs a queue handle around an existing core. */
export const adopting: { core: QueueCore | undefined } = { core: undefined };

/** What a queue handle does with its items. */
export interface QueueCore {
  /** Puts an item; false when the deadline passed first. */
  put(item: unknown, limits: WaitLimits): boolean | Promise<boolean>;
  /** Puts an item now; false when the queue is full. */
  putNowait(item: unknown): boolean;
  /** Takes an item; undefined when the deadline passed first. */
  get(limits: WaitLimits): { value: unknown } | Promise<{ value: unknown } | undefined>;
  /** Takes an item now; undefined when there is none. */
  getNowait(): { value: unknown } | undefined;
  /** The item count now; `call` names the public method, for the error where it cannot. */
  qsize(call?: string): number;
  /** The item count, in any process. */
  qsizeAsync(): Promise<number>;
  taskDone(): void | Promise<void>;
  /** Waits until every item is marked done; false on timeout. */
  join(limits: WaitLimits): Promise<boolean>;
  /** Ends what the core opened (connections, timers), where it opened any. */
  close?(): Promise<void>;
}

/** The handle type of a queue class (or of its nearest registered ancestor). */
export function queueTypeOf(cls: unknown): string {
  for (let c = cls; c; c = Object.getPrototypeOf(c)) {
    const t = queueTypes.get(c);
    if (t) return t;
  }
  return "mp.Queue";
}
