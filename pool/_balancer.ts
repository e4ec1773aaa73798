// Which local worker gets the next task. A worker holds several tasks, so that it never waits
// for the pool between short tasks: as many as it runs in about QUEUED_US by the tasks' average
// run time, from 1 to MAX_DEPTH; more than one only while its current task is younger than
// QUICK_MS, so that tasks do not queue behind a long one. The emptiest worker is chosen.

import type { Deque } from "./_deque.ts";
import type { FnRef, Task } from "../_core/_transport.ts";

const QUEUED_US = 2000;
const MAX_DEPTH = 256;
/** What a call of a function not yet timed is taken to cost: one task at a time, until timed. */
const UNKNOWN_US = QUEUED_US;
const QUICK_MS = 2;
/** A task expected to take longer than this is not worth spinning for. */
const SPIN_TASK_US = 50;

/** What the balancer reads of a worker's slot. */
export interface Lane {
  /** The tasks sent to the worker and not done yet, in the order sent. */
  readonly held: readonly Task[];
  /** When the task at the head of `held` started (about); -1: just now. */
  since: number;
  /** Whether the worker takes no more tasks (it is to be recycled). */
  readonly retiring: boolean;
  /** Whether the worker was taken out. */
  readonly gone: boolean;
}

/** Chooses workers for tasks, by how long each task function took so far. */
export class Balancer {
  /** Run time of one call of each function in microseconds (a moving average), for the depth. */
  #callUs = new WeakMap<FnRef, number>();

  /**
   * Takes in that `task` ran for `us` microseconds. Each call counts as one sample of the moving
   * average (weight 1/8 each): a chunk of many calls outweighs the few one-call tasks before it
   * (a first map's warm-up, say, whose calls paid for the first compilation), so that the depth
   * fits the calls' real cost from the first chunk on.
   */
  record(task: Task, us: number): void {
    const perCall = Math.max(1, us) / task.calls;
    const before = this.#callUs.get(task.fn);
    const weight = 1 - (7 / 8) ** task.calls;
    this.#callUs.set(
      task.fn,
      before === undefined ? perCall : before + (perCall - before) * weight,
    );
  }

  /** Microseconds `task` should take, by what its function took so far. */
  expectedUs(task: Task): number {
    return (this.#callUs.get(task.fn) ?? UNKNOWN_US) * task.calls;
  }

  /** How many tasks a worker may hold when `task` is next: about QUEUED_US of them. */
  #depthFor(task: Task): number {
    return Math.max(1, Math.min(MAX_DEPTH, Math.floor(QUEUED_US / this.expectedUs(task))));
  }

  /**
   * Hands tasks from the head of `queue` to `dispatch`, each with the lane that takes it, until
   * the queue is empty or no lane may take more.
   *
   * @returns the lanes that were given tasks.
   */
  distribute<L extends Lane>(
    queue: Deque<Task>,
    lanes: Iterable<L>,
    dispatch: (lane: L, task: Task) => void,
  ): Set<L> {
    let now = -1;
    const clock = () => now < 0 ? (now = performance.now()) : now; // read once, when needed
    const sent = new Set<L>(); // each is woken once, for all its tasks
    while (queue.length > 0) {
      const depth = this.#depthFor(queue.peek()!);
      let best: L | undefined;
      for (const s of lanes) {
        if (s.retiring || s.gone || s.held.length >= depth) continue;
        if (s.held.length > 0) {
          if (s.since < 0) s.since = clock();
          else if (clock() - s.since > QUICK_MS) continue;
        }
        if (!best || s.held.length < best.held.length) best = s;
        if (s.held.length === 0) break;
      }
      if (!best) break;
      dispatch(best, queue.shift()!);
      sent.add(best);
    }
    // A head task that started since the last call is timed from now, not from whenever a later
    // call first looks (a long task would look young then, and have tasks queued behind it).
    for (const s of lanes) if (s.since < 0 && s.held.length > 0) s.since = clock();
    return sent;
  }

  /** Whether `sent` were given few, quick tasks: their results are worth spinning for. */
  fewAndQuick(sent: Set<Lane>): boolean {
    if (sent.size === 0) return false;
    for (const s of sent) {
      const last = s.held[s.held.length - 1];
      if (s.held.length > 2 || (last && this.expectedUs(last) > SPIN_TASK_US)) return false;
    }
    return true;
  }
}
