// The first transport: a pool's worker processes on this machine, one slot each. A slot holds
// the tasks sent to its worker; the balancer (./_balancer.ts) chooses the slot of each queued
// task. A worker that exits, or is killed, fails the task it was running and gives its other
// tasks back to the queue; it is replaced, as a worker past `maxTasksPerChild` is, unless the
// pool is stopping.

import { Process, type StartMethod } from "../process/process.ts";
import { dataToError } from "../_core/_rpc.ts";
import { ENDED, EXITED } from "../_core/_state.ts";
import { Balancer, type Lane } from "./_balancer.ts";
import { type ChildEnd, openChannel, type ParentEnd } from "./_channel.ts";
import { Deque } from "./_deque.ts";
import type { Task, Transport, TransportEvents } from "../_core/_transport.ts";
import { poolWorker, type WorkerConfig } from "./_worker.ts";
import { WorkerLostError } from "./errors.ts";
import { clearTimer, setTimer, type Timer } from "../_core/_timers.ts";

// After sending quick tasks, few at a time, this thread polls the result rings for up to SPIN_MS
// rather than sleep: a worker wakes a sleeping event loop in ~50 us, and a quick task's round trip
// takes far less. Never for more than STREAK_MS without letting the event loop run.
const SPIN_MS = 0.1;
const STREAK_MS = 4;
const WORKER_MODULE = new URL("./_worker.ts", import.meta.url).href;
let workerCounter = 0;

/** How a pool's local workers are made. */
export interface LocalWorkersOptions {
  /** How the workers are started. */
  method: StartMethod;
  /** How many workers are kept. */
  processes: number;
  /** Tasks a worker runs before it is replaced by a fresh one. */
  maxTasksPerChild: number;
  /** The initializer, passed to each worker. */
  config: WorkerConfig;
}

/** One worker process and the tasks it holds. */
interface Slot extends Lane {
  process: Process;
  end: ParentEnd;
  held: Task[];
  sent: number;
  retiring: boolean;
  gone: boolean;
  ran: boolean;
  since: number;
  exited: Promise<void>;
}

/** A pool's worker processes on this machine: the local {@link Transport}. */
export class LocalWorkers implements Transport {
  #events: TransportEvents;
  #method: StartMethod;
  #maxTasks: number;
  #config: WorkerConfig;
  #balancer = new Balancer();
  #slots = new Set<Slot>();
  /** Every slot whose process has not exited yet, the ones taken out included. */
  #unexited = new Set<Slot>();
  #queue = new Deque<Task>();
  /** Set by close() and terminate(): workers that go are not replaced. */
  #stopping = false;
  #startFailures = 0;
  /** Pumps once the results that arrived together are all taken: one send per worker. */
  #pumpSoon: () => void = coalesced(() => this.#pump());
  /** Spins once the code that sent the tasks is done (it may send more). */
  #spinSoon: () => void = coalesced(() => this.#spin());
  /** Results received so far, to see one arrive while spinning. */
  #received = 0;
  /** Milliseconds spent spinning since the event loop last ran a timer. */
  #streak = 0;
  #streakTimer: Timer | undefined;

  /** Starts `options.processes` workers, which report to `events`. */
  constructor(events: TransportEvents, options: LocalWorkersOptions) {
    this.#events = events;
    this.#method = options.method;
    this.#maxTasks = options.maxTasksPerChild;
    this.#config = options.config;
    for (let i = 0; i < options.processes; i++) this.#spawn();
  }

  submit(tasks: readonly Task[]): void {
    for (const task of tasks) this.#queue.push(task);
    this.#pumpSoon(); // once for the tasks submitted together
  }

  runningOn(id: number): string | undefined {
    const slot = this.#slotRunning(id);
    return slot && slot.end.running() === id ? slot.process.name : undefined;
  }

  abort(id: number, error: Error): void {
    const slot = this.#slotRunning(id);
    if (slot) this.#lose(slot, (t) => t.id === id ? error : undefined, true);
  }

  async close(): Promise<void> {
    this.#stopping = true;
    this.#endStreak();
    for (const slot of [...this.#slots]) this.#retire(slot, false);
    await this.#allEnded();
  }

  async terminate(error?: () => Error): Promise<void> {
    this.#stopping = true;
    this.#endStreak();
    if (error) {
      for (let t = this.#queue.shift(); t; t = this.#queue.shift()) {
        this.#events.settled(t.id, false, error());
      }
    }
    const failed = error ?? (() => undefined);
    for (const slot of [...this.#slots]) this.#lose(slot, failed, true);
    await this.#allEnded();
  }

  /** The slot whose worker has task `id` next, or runs it. */
  #slotRunning(id: number): Slot | undefined {
    for (const s of this.#slots) if (s.held[0]?.id === id) return s;
    return undefined;
  }

  /**
   * Resolves once every worker the pool started has exited, those it took out (a task's timeout,
   * a recycle) included, or was found unstoppable (a worker thread stuck in synchronous code).
   */
  #allEnded(): Promise<unknown> {
    return Promise.all(
      [...this.#unexited].map((s) =>
        // one found unstoppable is not listened to any more: its channel closes now
        Promise.race([s.exited, s.process[ENDED].then(() => s.end.close())])
      ),
    );
  }

  #spawn(): void {
    const end = openChannel(this.#method);
    const process = new Process({
      target: poolWorker,
      args: [end as unknown as ChildEnd, this.#config], // revived as the worker's end
      name: `PoolWorker-${++workerCounter}`,
      daemon: true,
      module: WORKER_MODULE,
      startMethod: this.#method,
    });
    const slot: Slot = {
      process,
      end,
      held: [],
      sent: 0,
      retiring: false,
      gone: false,
      ran: false,
      since: 0,
      exited: Promise.resolve(),
    };
    end.onresult = (seq, ok, value, us) => this.#onResult(slot, seq, ok, value, us);
    process.start();
    this.#unexited.add(slot);
    slot.exited = process[EXITED].then(() => { // keeps no program alive
      this.#unexited.delete(slot);
      this.#onExit(slot);
    });
    this.#slots.add(slot);
  }

  #pump(): void {
    const sent = this.#balancer.distribute(
      this.#queue,
      this.#slots,
      (s, t) => this.#dispatch(s, t),
    );
    for (const s of sent) s.end.flush();
    if (this.#method === "worker" && this.#balancer.fewAndQuick(sent)) this.#spinSoon();
  }

  /** Forgets the spinning streak, and its timer: no op is left behind when the pool ends. */
  #endStreak(): void {
    clearTimer(this.#streakTimer);
    this.#streakTimer = undefined;
    this.#streak = 0;
  }

  /** Polls the result rings until a result arrives, for SPIN_MS at most. */
  #spin(): void {
    if (this.#streak >= STREAK_MS) return;
    this.#streakTimer ??= setTimer(() => this.#endStreak(), 0); // the event loop ran
    const start = performance.now();
    const before = this.#received;
    let now = start;
    while (this.#received === before && now - start < SPIN_MS) {
      for (const s of this.#slots) if (s.held.length > 0) s.end.drain();
      now = performance.now();
    }
    this.#streak += now - start;
  }

  #dispatch(slot: Slot, task: Task): void {
    try {
      slot.end.send([0, task.id, task.fn, task.kind, task.payload]);
    } catch (e) {
      this.#events.settled(task.id, false, e);
      return;
    }
    slot.held.push(task);
    if (++slot.sent >= this.#maxTasks) slot.retiring = true;
    if (slot.held.length === 1) this.#headStarted(slot);
  }

  #headStarted(slot: Slot): void {
    slot.since = -1; // now: read by the next pump, when it needs the time
    const head = slot.held[0];
    if (head) this.#events.started(head.id);
  }

  #onResult(slot: Slot, seq: number, ok: boolean, value: unknown, us: number): void {
    const i = slot.held[0]?.id === seq ? 0 : slot.held.findIndex((t) => t.id === seq);
    if (i < 0) return;
    this.#received++;
    const task = i === 0 ? slot.held.shift()! : slot.held.splice(i, 1)[0];
    this.#balancer.record(task, us);
    slot.ran = true;
    this.#startFailures = 0;
    if (i === 0) this.#headStarted(slot);
    this.#events.settled(task.id, ok, ok ? value : dataToError(value));
    if (slot.retiring && slot.held.length === 0 && !slot.gone) this.#retire(slot, !this.#stopping);
    this.#pumpSoon();
  }

  /** Lets a worker finish on its own, and starts another in its place when asked. */
  #retire(slot: Slot, replace: boolean): void {
    if (slot.gone) return;
    slot.gone = true;
    this.#slots.delete(slot);
    slot.end.send([1]);
    slot.end.flush();
    if (replace) this.#spawn();
  }

  /**
   * Takes a worker out: `failed(task)` is the error of each task it held that is lost with it
   * (undefined: the task goes back to the queue); `kill` stops the process.
   */
  #lose(slot: Slot, failed: (task: Task) => Error | undefined, kill: boolean): void {
    if (slot.gone) return;
    slot.gone = true;
    this.#slots.delete(slot);
    if (kill) slot.process.kill();
    else slot.end.drain();
    const held = slot.held;
    slot.held = [];
    const back: Task[] = [];
    for (const t of held) {
      const e = failed(t);
      if (e) this.#events.settled(t.id, false, e);
      else back.push(t);
    }
    this.#queue.unshiftAll(back);
    if (this.#stopping) return;
    if (!slot.ran && held.length > 0 && back.length === held.length) {
      if (++this.#startFailures >= 3) {
        const e = new WorkerLostError(
          `Pool workers keep exiting before their first task (last: '${slot.process.name}', ` +
            `exit code ${slot.process.exitCode})`,
        );
        for (let t = this.#queue.shift(); t; t = this.#queue.shift()) {
          this.#events.settled(t.id, false, e);
        }
      }
    }
    this.#spawn();
    this.#pump();
  }

  #onExit(slot: Slot): void {
    if (!slot.gone) {
      const running = slot.end.running();
      const { name, pid, exitCode } = slot.process;
      this.#lose(slot, (t) =>
        t.id === running
          ? new WorkerLostError(
            `Pool worker '${name}' (pid ${pid}) exited with code ${exitCode} while running task ` +
              `'${t.fn[1]}'; the pool replaced it`,
          )
          : undefined, false);
    }
    slot.end.close();
  }
}

/** A function that runs `fn` in a microtask, once however often it is called before then. */
function coalesced(fn: () => void): () => void {
  let due = false;
  return () => {
    if (due) return;
    due = true;
    queueMicrotask(() => {
      due = false;
      fn();
    });
  };
}
