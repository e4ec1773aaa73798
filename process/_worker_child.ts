// Entry of a worker child: a Web Worker, or a `node:worker_threads` Worker (../_thread.ts). Its
// first message comes from the host and carries the channel to its parent.

import { importUrl } from "../_core/_import.ts";
import { PortLink } from "../_core/_link.ts";
import { RpcEndpoint } from "../_core/_rpc.ts";
import type { ExitMessage, StartMessage } from "./_runtime.ts";
import { type AdoptMessage, notifyHostOfExit, setHostPort } from "./_worker_runtime.ts";
import { becomeChild, reportError, runChild } from "./_child.ts";

type Scope = { onmessage: ((e: MessageEvent) => void) | null; close(): void };
const scope = globalThis as unknown as Scope;

let link: PortLink | undefined;
const realExit = Deno.exit;
let exiting = false;

// Deno.exit() in a worker ends the worker alone, at once.
function exit(code: number): never {
  if (!exiting) {
    exiting = true;
    link?.post({ t: "exit", code } satisfies ExitMessage);
    notifyHostOfExit(code);
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

function adopt(msg: AdoptMessage): void {
  setHostPort(msg.host);
  const l = link = new PortLink(msg.link);
  l.onmessage = (m) => {
    if (m.t !== "start") return;
    const { payload } = m as StartMessage;
    const rpc = new RpcEndpoint({ sameProcess: true, maps: payload.maps }, {
      ident: payload.self.ident,
    });
    rpc.attach(l);
    l.onmessage = (msg) => rpc.handle(msg);
    becomeChild(
      payload.self,
      payload.parent,
      payload.startMethod,
      payload.module,
      payload.registry,
    );
    runChild(payload, { rpc, load: importUrl, exit });
  };
}

// A `node:worker_threads` Worker is started from this module with `?node` (../_thread.ts): only
// it imports `node:worker_threads`, whose import costs a web Worker ~10 ms of its start.
if (new URL(import.meta.url).search === "?node") {
  const { parentPort } = await import("node:worker_threads");
  parentPort!.once("message", adopt);
} else scope.onmessage = (e) => adopt(e.data);
