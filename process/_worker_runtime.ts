// The "worker" start method: a Web Worker for each child; a `node:worker_threads` Worker for a
// daemon child, since only that kind can be unref'd and so let the program end while it runs.

import { Worker as NodeWorker } from "node:worker_threads";
import { PortLink } from "./_link.ts";
import { workerPermissions } from "./_permissions.ts";
import type { ChildHandle, ExitMessage, Runtime, SpawnSpec, StartMessage } from "./_runtime.ts";

const ENTRY = new URL("./_worker_child.ts", import.meta.url);

class WorkerChild implements ChildHandle {
  readonly pid: number = Deno.pid;
  readonly exited: Promise<number>;
  #stop: () => void;
  #settle!: (code: number) => void;
  #done = false;

  constructor(spec: SpawnSpec) {
    this.exited = new Promise((resolve) => this.#settle = resolve);
    let link: PortLink;
    const onMessage = (msg: { t?: unknown }) => {
      if (msg.t === "exit") this.#finish((msg as ExitMessage).code);
      else spec.rpc.handle(msg);
    };
    if (spec.daemon) {
      if (spec.permissions) {
        throw new TypeError(
          "Cannot start process: a daemon worker cannot have its own permissions; use the 'subprocess' start method",
        );
      }
      const w = new NodeWorker(ENTRY);
      link = new PortLink({
        post: (m, t) => w.postMessage(m, t as never),
        listen: (fn) => w.on("message", fn),
        unref: () => w.unref(),
      });
      w.on("error", () => this.#finish(1));
      w.on("exit", (code: number) => this.#finish(code));
      w.unref();
      this.#stop = () => void w.terminate();
    } else {
      const w = new Worker(ENTRY, {
        type: "module",
        name: spec.payload.self.name,
        ...(spec.permissions ? { deno: { permissions: workerPermissions(spec.permissions) } } : {}),
      } as WorkerOptions);
      link = new PortLink({
        post: (m, t) => w.postMessage(m, t),
        listen: (fn) => w.onmessage = (e) => fn(e.data),
      });
      w.onerror = (e) => {
        e.preventDefault();
        console.error(`Process ${spec.payload.self.name}: ${e.message}`);
        this.#finish(1);
      };
      this.#stop = () => w.terminate();
    }
    link.onmessage = onMessage;
    spec.rpc.attach(link);
    this.exited.then(() => link.gone());
    link.post({ t: "start", payload: spec.payload } satisfies StartMessage, spec.transfer);
  }

  #finish(code: number): void {
    if (this.#done) return;
    this.#done = true;
    this.#stop();
    this.#settle(code);
  }

  terminate(): void {
    this.#finish(-15);
  }

  kill(): void {
    this.#finish(-9);
  }
}

/** Starts children as workers in this OS process. */
export const workerRuntime: Runtime = {
  spawn: (spec) => new WorkerChild(spec),
};
