// The "worker" start method. Every Worker of this OS process is created on its main thread, the
// "host": a worker that starts a worker asks the host to create it (Deno delays a worker started
// from a worker by about a second), and talks to its child over a MessageChannel of its own.
// No worker keeps the program alive by itself (see ./_thread.ts): the exit rules do.

import { wakeAll } from "../_core/_shm.ts";
import { PortLink, unrefPort } from "../_core/_link.ts";
import {
  checkModulesReadable,
  type PermissionValue,
  type ProcessPermissions,
  workerPermissions,
} from "./_permissions.ts";
import type { ChildHandle, ExitMessage, Runtime, SpawnSpec, StartMessage } from "./_runtime.ts";
import { ENTRY, startThread, type Thread } from "./_thread.ts";
import { state } from "../_core/_state.ts";
import { workerOptionsEnabled } from "./_unstable.ts";
import { clearTimer, delay, setTimer, type Timer, unrefTimer } from "../_core/_timers.ts";

/** What the host needs to create a worker. */
interface WorkerRequest {
  daemon: boolean;
  name: string;
  permissions: Record<string, PermissionValue> | undefined;
  /** The child's end of the channel to its parent. */
  link: MessagePort;
}

/** Sent by the host to a new worker, before anything else. */
export interface AdoptMessage {
  t: "adopt";
  /** The channel to the worker's parent. */
  link: MessagePort;
  /** The channel to the host, for starting workers of its own and for saying it exits. */
  host: MessagePort;
}

type HostMessage =
  | (WorkerRequest & { op: "spawn"; id: number })
  | { op: "stop"; id: number; wait: boolean }
  | { op: "exit"; code: number }
  | { op: "exited"; id: number; code: number };

/**
 * Creates a worker and reports its end; returns a function that stops it: `wait` when the stop
 * comes from outside (terminate(), kill()), so that the end is reported once the thread is gone,
 * not when it exits by itself.
 */
type Spawner = (
  req: WorkerRequest,
  onExit: (code: number) => void,
) => (wait: boolean) => void;

/**
 * How long a thread told to stop may take before it is said to be stuck. An idle thread is gone
 * in milliseconds, but on a loaded machine its teardown was seen to pass one second.
 */
const STOP_GRACE_MS = 3000;

/** Resolves once none of `thread`'s code can run any more (or that cannot be known). */
async function whenStopped(thread: Thread): Promise<void> {
  for (let ms = 1; thread.stopped() === false; ms = Math.min(ms * 2, 100)) {
    await delay(ms, false);
  }
}

/** On the host: create the worker, and serve its own requests. */
function createWorker(
  req: WorkerRequest,
  onExit: (code: number) => void,
): (wait: boolean) => void {
  const host = new MessageChannel();
  let done = false;
  /** `stopped`: the thread was told to stop from outside; its end is awaited before it counts. */
  const finish = (code: number, stopped: boolean) => {
    if (done) return;
    done = true;
    thread.terminate();
    wakeAll(); // a futex call the thread has pending ends now, not at its timeout
    host.port1.close();
    if (stopped) whenStopped(thread).then(() => onExit(code));
    else onExit(code);
  };
  const thread = startThread({
    name: req.name,
    daemon: req.daemon,
    permissions: req.permissions,
    onExit: (code) => finish(code, false),
  });
  const adopt = { t: "adopt", link: req.link, host: host.port2 } satisfies AdoptMessage;
  thread.post(adopt, [req.link, host.port2]);
  serve(host.port1, (code) => finish(code, false));
  unrefPort(host.port1);
  return (wait) => finish(-15, wait);
}

/** On the host: serve the requests a worker sends over its host port. */
function serve(port: MessagePort, finishSelf: (code: number) => void): void {
  const stops = new Map<number, (wait: boolean) => void>();
  port.onmessage = (e: MessageEvent<HostMessage>) => {
    const m = e.data;
    if (m.op === "exit") finishSelf(m.code);
    else if (m.op === "stop") stops.get(m.id)?.(m.wait);
    else if (m.op === "spawn") {
      stops.set(
        m.id,
        createWorker(m, (code) => {
          stops.delete(m.id);
          port.postMessage({ op: "exited", id: m.id, code } satisfies HostMessage);
        }),
      );
    }
  };
}

let hostPort: MessagePort | undefined;

/** In a worker: the port to the host, received with the adopt message. */
export function setHostPort(port: MessagePort): void {
  hostPort = port;
  port.onmessage = (e: MessageEvent<HostMessage>) => {
    const m = e.data;
    if (m.op === "exited") exits.get(m.id)?.(m.code);
  };
}

/** In a worker: tells the host that this worker exits. */
export function notifyHostOfExit(code: number): void {
  hostPort?.postMessage({ op: "exit", code } satisfies HostMessage);
}

const exits = new Map<number, (code: number) => void>();
let nextId = 1;

const remoteSpawner: Spawner = (req, onExit) => {
  const id = nextId++;
  exits.set(id, (code) => {
    exits.delete(id);
    onExit(code);
  });
  hostPort!.postMessage({ op: "spawn", id, ...req } satisfies HostMessage, [req.link]);
  return (wait) => hostPort!.postMessage({ op: "stop", id, wait } satisfies HostMessage);
};

function spawner(): Spawner {
  return hostPort ? remoteSpawner : createWorker;
}

class WorkerChild implements ChildHandle {
  readonly pid: number = Deno.pid;
  readonly exited: Promise<number>;
  #stop: (wait: boolean) => void;
  #link: PortLink;
  #settle!: (code: number) => void;
  #done = false;
  #name: string;
  /** The exit code that `terminate()` or `kill()` asked for, once asked. */
  #asked: number | undefined;
  #unstoppable = Promise.withResolvers<void>();
  #graceTimer: Timer | undefined;

  get unstoppable(): Promise<void> {
    return this.#unstoppable.promise;
  }

  constructor(spec: SpawnSpec) {
    if (spec.daemon && spec.permissions) {
      throw new TypeError(
        "Cannot start process: a daemon worker cannot have its own permissions; use the 'subprocess' start method",
      );
    }
    if (spec.permissions && !workerOptionsEnabled(state().mainModule)) {
      throw new TypeError(
        `Cannot start process '${spec.payload.self.name}' with permissions under the 'worker' ` +
          "start method: a Worker's own permissions need Deno's unstable worker-options feature, " +
          "and without it Deno would end the whole program; run with --unstable-worker-options, " +
          'or add "unstable": ["worker-options"] to deno.json, or use the \'subprocess\' start method',
      );
    }
    checkModulesReadable(
      `Cannot start process '${spec.payload.self.name}' with the 'worker' start method`,
      [ENTRY.href, spec.payload.module],
    );
    this.#name = spec.payload.self.name;
    this.exited = new Promise((resolve) => this.#settle = resolve);
    const { port1, port2 } = new MessageChannel();
    this.#link = new PortLink(port1);
    this.#link.unref(); // the exit rules, not the link, keep the program alive for the child
    this.#link.onmessage = (msg) => {
      if (msg.t === "exit") this.#finish(this.#asked ?? (msg as ExitMessage).code);
      else spec.rpc.handle(msg);
    };
    this.#stop = spawner()({
      daemon: spec.daemon,
      name: spec.payload.self.name,
      permissions: spec.permissions && workerPermissions(spec.permissions as ProcessPermissions),
      link: port2,
    }, (code) => this.#finish(this.#asked ?? code));
    spec.rpc.attach(this.#link);
    this.#link.post({ t: "start", payload: spec.payload } satisfies StartMessage, spec.transfer);
  }

  #finish(code: number): void {
    if (this.#done) return;
    this.#done = true;
    clearTimer(this.#graceTimer);
    this.#stop(false); // it exited by itself, or its thread is gone: nothing to wait for
    this.#link.close();
    this.#link.closed().then(() => this.#settle(code)); // nothing of it left running then
  }

  /** Asks the host to stop the thread; the child has exited once the thread is gone. */
  #ask(code: number): void {
    if (this.#done || this.#asked !== undefined) return;
    this.#asked = code;
    this.#graceTimer = unrefTimer(setTimer(() => {
      console.error(
        `Process '${this.#name}' did not stop within ${STOP_GRACE_MS} ms of terminate() or ` +
          "kill(): its worker thread runs synchronous code, which Deno cannot interrupt. It stays " +
          "alive, keeping the locks it holds, until that code returns; give work that may have " +
          "to be stopped the 'subprocess' start method",
      );
      // Asked to end, it is not listened to any more: no port of ours waits on it meanwhile.
      this.#link.close();
      this.#unstoppable.resolve();
    }, STOP_GRACE_MS));
    this.#stop(true);
  }

  terminate(): void {
    this.#ask(-15);
  }

  kill(): void {
    this.#ask(-9);
  }
}

/** Starts children as workers in this OS process. */
export const workerRuntime: Runtime = {
  spawn: (spec) => new WorkerChild(spec),
};
