// A transport whose code is loaded when the pool is made (the Redis one: a program without a
// broker never loads the Redis client): what is submitted meanwhile waits, and a transport that
// fails to load fails those tasks with its error.

import type { Task, Transport, TransportEvents, TransportFactory } from "../_core/_transport.ts";

/** Stands in for the transport that `load` makes, until it is there. */
export class LateTransport implements Transport {
  #events: TransportEvents;
  #transport: Transport | undefined;
  #waiting: Task[] = [];
  #error: unknown;
  #loaded: Promise<Transport | undefined>;

  constructor(events: TransportEvents, load: Promise<TransportFactory>) {
    this.#events = events;
    this.#loaded = load.then((connect) => {
      const t = this.#transport = connect(events);
      if (this.#waiting.length > 0) t.submit(this.#waiting.splice(0));
      return t;
    }, (e) => {
      this.#error = e;
      this.#refuse(this.#waiting.splice(0));
      return undefined;
    });
  }

  #refuse(tasks: readonly Task[]): void {
    for (const task of tasks) this.#events.settled(task.id, false, this.#error);
  }

  submit(tasks: readonly Task[]): void {
    if (this.#transport) this.#transport.submit(tasks);
    else if (this.#error !== undefined) this.#refuse(tasks);
    else this.#waiting.push(...tasks);
  }

  runningOn(id: number): string | undefined {
    return this.#transport?.runningOn(id);
  }

  abort(id: number, error: Error): void {
    if (this.#transport) this.#transport.abort(id, error);
    else this.#events.settled(id, false, error);
  }

  async close(): Promise<void> {
    await (await this.#loaded)?.close();
  }

  async terminate(error?: () => Error): Promise<void> {
    const t = await this.#loaded;
    await t?.terminate(error);
  }
}
