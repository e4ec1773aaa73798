// What a pool does with its tasks, wherever they run: numbering them, cutting the input of a
// map into chunks and putting the values back in order, reading an imap's input lazily, progress,
// taskTimeout, and waiting for the work at join. The tasks run behind a `Transport`
// (../_core/_transport.ts): local worker processes, or another place with the same duties.

import { wrongType } from "../_core/_check.ts";
import { hold, unhold as release } from "../_core/_wait.ts";
import { Kind } from "./_channel.ts";
import { TaskTimeoutError } from "./errors.ts";
import type {
  FnRef,
  Task,
  Transport,
  TransportEvents,
  TransportFactory,
} from "../_core/_transport.ts";
import { clearTimer, setTimer, type Timer } from "../_core/_timers.ts";

const TERMINATED = "The pool was terminated before the task finished";

/** How an engine runs. */
export interface EngineOptions {
  /** How many workers the transport keeps: the default chunk size of a map depends on it. */
  processes: number;
  /** The most milliseconds a task may run once its worker has begun it. */
  taskTimeout: number;
}

/** A task submitted and not settled yet. */
interface Pending extends Task {
  /** Takes the task's outcome, once. */
  done(ok: boolean, value: unknown): void;
  /** The task's taskTimeout clock, once started. */
  timer: Timer | undefined;
}

type Outcome = { ok: boolean; value: unknown; settled: boolean };

/** The most items of a default chunk sent in one piece. */
const PIECE_ITEMS = 1024;
/** The most arrays joined by one `concat` call (each is one of its arguments). */
const JOIN_GROUP = 8192;

/** The values of the first `count` arrays of `parts`, in order, in one array. */
function joined(parts: unknown[][], count: number): unknown[] {
  if (count === 1) return parts[0];
  let out: unknown[] = [];
  for (let i = 0; i < count; i += JOIN_GROUP) {
    out = out.concat(...parts.slice(i, Math.min(count, i + JOIN_GROUP)));
  }
  return out;
}

/** A pool's task bookkeeping, in front of its transport. */
export class Engine {
  #transport: Transport;
  #processes: number;
  #taskTimeout: number;
  #pending = new Map<number, Pending>();
  #seq = 0;
  #busy = 0;
  #idle: (() => void)[] = [];
  #state: "run" | "close" | "terminate" = "run";
  #stopping = false;

  /** Makes the transport, with `connect`, and the engine that feeds it. */
  constructor(connect: TransportFactory, options: EngineOptions) {
    this.#processes = options.processes;
    this.#taskTimeout = options.taskTimeout;
    const events: TransportEvents = {
      settled: (id, ok, value) => this.#settled(id, ok, value),
      started: (id) => this.#started(id),
    };
    this.#transport = connect(events);
  }

  /** How many workers the transport keeps now, at least 1: default chunk sizes follow it. */
  get processes(): number {
    return this.#processes;
  }

  /** Workers on a broker come and go: their transport tells the engine how many there are. */
  set processes(n: number) {
    this.#processes = Math.max(1, n);
  }

  /**
   * Throws unless the pool takes new work.
   *
   * @throws {TypeError} naming `what` once the pool is closed or terminated.
   */
  checkOpen(what: string): void {
    if (this.#state !== "run") {
      throw new TypeError(
        `Cannot ${what}: the pool is ${this.#state === "close" ? "closed" : "terminated"}`,
      );
    }
  }

  /** Runs one task: `fn` applied to `payload` as `kind` says. */
  run(fn: FnRef, kind: Kind, payload: unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const task = this.#task(
        fn,
        kind,
        payload,
        (ok, value) => ok ? resolve(value) : reject(value),
      );
      if (task) this.#transport.submit([task]);
    });
  }

  /**
   * Reads `iterable` in full, runs `fn` on its items in chunks of `chunksize`, and resolves to
   * the values in order; `onProgress` is called as each chunk is done.
   */
  async map(
    fn: FnRef,
    kind: Kind,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number | undefined,
    onProgress: ((done: number, total: number) => void) | undefined,
  ): Promise<unknown[]> {
    let items: unknown[];
    this.#busyAdd(1);
    try {
      items = Array.isArray(iterable) ? iterable : await Array.fromAsync(iterable);
    } finally {
      this.#busyAdd(-1);
    }
    if (kind === Kind.star) {
      const bad = items.findIndex((item) => !Array.isArray(item));
      if (bad >= 0) wrongType("Cannot starmap", `item ${bad}`, "an array of arguments", items[bad]);
    }
    const n = items.length;
    const size = chunksize ?? Math.max(1, Math.ceil(n / (4 * this.#processes)));
    // Python's default chunks are large (a quarter of the items per worker over four): each is
    // sent in pieces small enough for the shared-memory rings (a larger frame would take the
    // slower side path), and counts as done, for `onProgress`, once all its pieces are.
    const piece = chunksize === undefined ? Math.min(size, PIECE_ITEMS) : size;
    if (n === 0) return [];
    // each piece's values, joined once all are in (native copies, not a loop per item)
    const parts: unknown[][] = new Array(Math.ceil(n / size) * Math.ceil(size / piece));
    let done = 0;
    let failed = false;
    return await new Promise<unknown[]>((resolve, reject) => {
      const batch: Task[] = [];
      let index = 0;
      for (let at = 0; at < n; at += size) {
        const chunkEnd = Math.min(n, at + size);
        let left = Math.ceil((chunkEnd - at) / piece);
        for (let from = at; from < chunkEnd; from += piece) {
          const part = index++;
          const items_ = items.slice(from, Math.min(chunkEnd, from + piece));
          const task = this.#task(fn, kind, items_, (ok, value) => {
            if (failed) return;
            try {
              if (!ok) throw value;
              parts[part] = value as unknown[];
              if (--left > 0) return;
              done += chunkEnd - at;
              onProgress?.(done, n);
              if (done === n) resolve(joined(parts, index));
            } catch (e) {
              failed = true;
              reject(e);
            }
          });
          if (task) batch.push(task);
        }
      }
      this.#send(batch);
    });
  }

  /**
   * Runs `fn` on the items of `iterable` in chunks of `chunksize` and yields the values, in
   * order or as they are done, reading the input lazily with at most `limit` chunks out.
   */
  async *imap(
    fn: FnRef,
    iterable: Iterable<unknown> | AsyncIterable<unknown>,
    chunksize: number,
    limit: number,
    ordered: boolean,
    onProgress: ((done: number) => void) | undefined,
  ): AsyncGenerator<unknown, void, undefined> {
    const source: Iterator<unknown> | AsyncIterator<unknown> = Symbol.asyncIterator in iterable
      ? (iterable as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (iterable as Iterable<unknown>)[Symbol.iterator]();
    let exhausted = false;
    // ordered: every chunk submitted and not yet yielded, in submission order; unordered: the
    // settled ones, in completion order
    const outcomes: Outcome[] = [];
    let inFlight = 0;
    let wake: (() => void) | undefined;
    let done = 0;
    const out = () => outcomes.length + (ordered ? 0 : inFlight);
    const batch: Task[] = [];
    try {
      for (;;) {
        if (out() <= limit / 2) { // refilled when half empty, so that the chunks go out together
          while (!exhausted && out() < limit) {
            const chunk: unknown[] = [];
            while (chunk.length < chunksize) {
              const next = source.next(); // a sync source is read without a pause per item
              let r: IteratorResult<unknown>;
              if ("then" in next) {
                this.#send(batch); // the chunks read so far go out while the source waits
                r = await next;
              } else r = next;
              if (r.done) {
                exhausted = true;
                break;
              }
              chunk.push(r.value);
            }
            if (chunk.length === 0) break;
            const o: Outcome = { ok: false, value: undefined, settled: false };
            if (ordered) outcomes.push(o);
            inFlight++;
            const task = this.#task(fn, Kind.map, chunk, (ok, value) => {
              o.ok = ok;
              o.value = value;
              o.settled = true;
              inFlight--;
              if (!ordered) outcomes.push(o);
              wake?.();
            });
            if (task) batch.push(task);
          }
          this.#send(batch);
        }
        if (outcomes.length === 0 && inFlight === 0) return;
        while (!outcomes[0]?.settled) await new Promise<void>((resolve) => wake = resolve);
        wake = undefined;
        const o = outcomes.shift()!;
        if (!o.ok) throw o.value;
        const values = o.value as unknown[];
        done += values.length;
        onProgress?.(done);
        yield* values;
      }
    } finally {
      this.#send(batch); // the chunks read before the source threw run, as if sent one by one
      if (!exhausted) await source.return?.();
    }
  }

  /** Refuses new work; what was submitted still runs. */
  close(): void {
    if (this.#state === "run") this.#state = "close";
  }

  /**
   * Waits for the submitted work to finish, then for the transport to close.
   *
   * @throws {TypeError} while the pool is still open.
   */
  async join(): Promise<void> {
    if (this.#state === "run") {
      throw new TypeError("Cannot join pool: it is still running; close() or terminate() it first");
    }
    hold();
    try {
      if (this.#busy > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      this.#stopping = true;
      await this.#transport.close();
    } finally {
      release();
    }
  }

  /** Fails what is pending and stops the transport now. */
  async terminate(): Promise<void> {
    this.#state = "terminate";
    this.#stopping = true;
    hold();
    try {
      await this.#transport.terminate(() => new Error(TERMINATED));
    } finally {
      release();
    }
    for (const wake of this.#idle.splice(0)) wake();
  }

  /** On Ctrl-C or at the program's end: stops the transport, leaving what is pending. */
  async interrupt(): Promise<void> {
    this.#state = "terminate";
    this.#stopping = true;
    for (const task of this.#pending.values()) clearTimer(task.timer);
    await this.#transport.terminate();
  }

  /** Makes a task, to submit; `done` is called once with its outcome (at once, if refused). */
  #task(
    fn: FnRef,
    kind: Kind,
    payload: unknown,
    done: (ok: boolean, value: unknown) => void,
  ): Pending | undefined {
    if (this.#state === "terminate" || this.#stopping) {
      const what = this.#state === "terminate" ? "terminated" : "joined";
      done(false, new TypeError(`Cannot submit a task: the pool is ${what}`));
      return undefined;
    }
    this.#busyAdd(1);
    const calls = kind === Kind.apply ? 1 : (payload as unknown[]).length;
    const task: Pending = { id: ++this.#seq, fn, kind, calls, payload, done, timer: undefined };
    this.#pending.set(task.id, task);
    return task;
  }

  /** Submits the tasks gathered in `batch`, emptying it. */
  #send(batch: Task[]): void {
    if (batch.length > 0) this.#transport.submit(batch.splice(0));
  }

  #settled(id: number, ok: boolean, value: unknown): void {
    const task = this.#pending.get(id);
    if (!task) return;
    this.#pending.delete(id);
    clearTimer(task.timer);
    this.#busyAdd(-1);
    task.done(ok, value);
  }

  #started(id: number): void {
    if (this.#taskTimeout === Infinity) return;
    const task = this.#pending.get(id);
    if (!task) return;
    clearTimer(task.timer);
    this.#armTimeout(task, this.#taskTimeout);
  }

  /**
   * Fails `task` with TaskTimeoutError after `ms` unless it is done by then. A task that its
   * worker has not begun yet (a worker still starting, say) gets its full time once it begins.
   */
  #armTimeout(task: Pending, ms: number): void {
    task.timer = setTimer(() => {
      const worker = this.#transport.runningOn(task.id);
      if (worker === undefined) {
        const poll = Math.min(this.#taskTimeout, 50);
        const check = () => {
          if (this.#transport.runningOn(task.id) === undefined) {
            task.timer = setTimer(check, poll);
          } else this.#armTimeout(task, this.#taskTimeout);
        };
        task.timer = setTimer(check, poll);
        return;
      }
      const error = new TaskTimeoutError(
        `Task '${task.fn[1]}' ran longer than the pool's taskTimeout (${this.#taskTimeout} ms); ` +
          `its worker '${worker}' was killed and replaced`,
      );
      this.#transport.abort(task.id, error);
    }, ms);
  }

  #busyAdd(n: number): void {
    if (this.#busy === 0 && n > 0) hold();
    this.#busy += n;
    if (this.#busy === 0 && n < 0) {
      release();
      for (const wake of this.#idle.splice(0)) wake();
    }
  }
}
