// Entry of a worker child: a Web Worker, or a `node:worker_threads` Worker for a daemon.

import { parentPort } from "node:worker_threads";
import { type PortLike, PortLink } from "./_link.ts";
import { RpcEndpoint } from "./_rpc.ts";
import type { ExitMessage, StartMessage } from "./_runtime.ts";
import { becomeChild, reportError, runChild } from "./_child.ts";

type Scope = {
  postMessage(m: unknown, t: Transferable[]): void;
  onmessage: ((e: MessageEvent) => void) | null;
  close(): void;
};

const scope = globalThis as unknown as Scope;
const port: PortLike = parentPort
  ? {
    post: (m, t) => parentPort!.postMessage(m, t as never),
    listen: (fn) => parentPort!.on("message", fn),
  }
  : {
    post: (m, t) => scope.postMessage(m, t),
    listen: (fn) => scope.onmessage = (e) => fn(e.data),
  };
const link = new PortLink(port);

const realExit = Deno.exit;
let exiting = false;

// Deno.exit() in a worker ends the worker alone, at once.
function exit(code: number): never {
  if (!exiting) {
    exiting = true;
    link.post({ t: "exit", code } satisfies ExitMessage);
  }
  return realExit(code);
}

// A worker that exits or closes itself gives its parent no event: report the code first.
(Deno as { exit: (code?: number) => never }).exit = (code = 0) => exit(code);
if (typeof scope.close === "function") scope.close = () => exit(0);

function fail(e: Event, error: unknown): void {
  e.preventDefault();
  reportError(error);
  exit(1);
}
globalThis.addEventListener("error", (e) => fail(e, (e as ErrorEvent).error));
globalThis.addEventListener("unhandledrejection", (e) => fail(e, e.reason));

link.onmessage = (msg) => {
  if (msg.t === "start") {
    const { payload } = msg as StartMessage;
    const rpc = new RpcEndpoint("worker", { ident: payload.self.ident });
    rpc.attach(link);
    link.onmessage = (m) => rpc.handle(m);
    becomeChild(payload.self, payload.parent, payload.startMethod, payload.module, payload.table);
    runChild(payload, { rpc, load: (m) => import(m), exit });
  }
};
