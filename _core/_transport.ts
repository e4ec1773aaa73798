// The one seam between a pool's engine (../pool/_engine.ts: ids, chunking, ordering, callbacks,
// progress, timeouts, shutdown) and the place where its tasks run. The engine hands a transport
// batches of tasks, each with an id; the transport runs them somewhere and reports back, by id,
// when each is next to run and how each ended. Everything Pool promises is kept by the engine,
// except what only the place of the workers can do, listed under "A transport's duties" below.
//
// The first transport is the local worker processes (../pool/_slots.ts). A second one (tasks on
// Redis, run by workers on other machines) plugs into the same engine: implement `Transport`, and
// give the engine a `TransportFactory`.
//
// A transport's duties:
// - Run each submitted task once: `fn` (an export of a module, by URL and name) applied to the
//   payload as its `kind` says, and report its outcome once with `settled`.
// - Send the worker a function's module URL and export name; it imports the module itself.
// - When a worker is lost while running a task (it crashed, was killed, exited), fail exactly
//   that task with a `WorkerLostError` naming the worker, and run the worker's other tasks, not
//   yet begun, elsewhere. Replace the worker unless the transport is closing or terminated.
// - Report `started` when a task becomes next on its worker, and say in `runningOn` whether a
//   worker has begun it: the engine's taskTimeout clock runs from the first and fails a task
//   only while the second names its worker; `abort` then stops that worker.
// - Settle each task once, by its own id. (The engine ignores an outcome for an id already
//   settled, so a queue that delivers at least once may report a task twice.)

/** How a task's payload is applied: `fn(...args)`, `fn(item)` for each, `fn(...item)` for each. */
export const Kind = { apply: 0, map: 1, star: 2 } as const;
/** One of {@link Kind}'s values. */
export type Kind = typeof Kind[keyof typeof Kind];

/** A task function, by module URL and export name. */
export type FnRef = readonly [module: string, name: string];

/** One task, as the engine hands it to a transport. Read-only: the engine owns it. */
export interface Task {
  /** A positive integer, unique among the tasks of one pool: outcomes name the task by it. */
  readonly id: number;
  /** The task function: the URL of its module and its export name. */
  readonly fn: FnRef;
  /**
   * How `fn` is applied to `payload`: `Kind.apply`, `fn(...payload)`; `Kind.map`, `fn(item)` for
   * each item of the payload, in order; `Kind.star`, `fn(...item)` for each.
   */
  readonly kind: Kind;
  /** How many calls of `fn` the task makes: 1 for `Kind.apply`, else the payload's length. */
  readonly calls: number;
  /** The argument list (`Kind.apply`), or the chunk's items (`Kind.map`, `Kind.star`). */
  readonly payload: unknown;
}

/** What a transport tells the engine about the tasks it was given. */
export interface TransportEvents {
  /**
   * A task ended: `ok` and its value (the array of the chunk's values, in order, for `Kind.map`
   * and `Kind.star`), or not `ok` and its error, revived as an `Error` of the worker's name,
   * message and stack (`WorkerLostError` when its worker was lost; any other value the task
   * threw, as is). Call it once per task; it may be called from any event-loop turn, and for an
   * id already settled it does nothing.
   */
  settled(id: number, ok: boolean, value: unknown): void;
  /**
   * A task became the next one its worker runs (or runs now): its taskTimeout clock starts,
   * again if it had started before (a task whose worker was lost, run elsewhere).
   */
  started(id: number): void;
}

/**
 * Where a pool's tasks run. Its methods may be called from within `TransportEvents.settled`
 * (a progress callback that submits more tasks, or terminates the pool), so they must not
 * assume that the transport is done handling the outcome that it is reporting.
 */
export interface Transport {
  /**
   * Takes tasks to run: those submitted together (all the chunks of a `map`, the chunks of one
   * refill of an `imap`, one `apply`). It returns at once; it may be called many times in one
   * event-loop turn, so a transport whose sends are costly queues the tasks and sends them
   * together later (in a microtask, say). A task that cannot be sent (its payload cannot be
   * serialized) is settled as failed, with a `TypeError`.
   */
  submit(tasks: readonly Task[]): void;
  /**
   * The name of the worker that has begun task `id`, for taskTimeout's error; undefined while
   * no worker has (it is queued, or next on a worker that is still starting).
   */
  runningOn(id: number): string | undefined;
  /**
   * Stops the worker running task `id` at once (the task ran past taskTimeout): the task is
   * settled with `error`, the worker's other tasks run elsewhere, and the worker is replaced.
   */
  abort(id: number, error: Error): void;
  /**
   * Ends the workers once they are idle (the engine calls it when every task has settled) and
   * resolves once they are gone; no task is submitted after it.
   */
  close(): Promise<void>;
  /**
   * Stops the workers now and resolves once they are gone, or found unstoppable. With `error`,
   * every task not settled yet is settled with a fresh `error()`, the queued ones first; without
   * it (the program is ending), they are left unsettled. No task is submitted after it.
   */
  terminate(error?: () => Error): Promise<void>;
}

/** Makes a transport that reports to `events`: how the engine is given its transport. */
export type TransportFactory = (events: TransportEvents) => Transport;
