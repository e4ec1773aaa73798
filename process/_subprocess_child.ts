// Entry of a subprocess child, imported by the generated entry module before the target's
// module: it marks this process as a child importing its main module, then connects back.

import { joinRegistry } from "../_core/_shm.ts";
import { state, useRegistry } from "../_core/_state.ts";
import { SocketLink } from "../_core/_link.ts";
import { RpcEndpoint } from "../_core/_rpc.ts";
import type { StartMessage, StartPayload } from "./_runtime.ts";
import { becomeChild, reportError, runChild } from "./_child.ts";
import { dieWithParent } from "./_parent_death.ts";

const [socket, early, ...args] = Deno.args;
const { name, daemon, identity, module } = JSON.parse(early) as {
  name: string;
  daemon: boolean;
  identity: number[];
  module: string;
};
// The child sees its parent's command-line arguments, not the bootstrap's.
Object.defineProperty(Deno, "args", { value: Object.freeze(args), configurable: true });
becomeChild(
  { name, daemon, identity, ident: 1, pid: Deno.pid, isChild: true },
  undefined,
  "worker",
  module,
);

function fail(e: Event, error: unknown): void {
  e.preventDefault();
  reportError(error);
  Deno.exit(1);
}
globalThis.addEventListener("error", (e) => fail(e, (e as ErrorEvent).error));
globalThis.addEventListener("unhandledrejection", (e) => fail(e, e.reason));

function removeDir(socket: string): void {
  try {
    Deno.removeSync(socket.slice(0, socket.lastIndexOf("/")), { recursive: true });
  } catch {
    // the parent removed it first
  }
}

/** Connects to the parent, receives the start payload, and runs the target in `ns`. */
export async function runSubprocessChild(ns: Record<string, unknown>): Promise<void> {
  const conn = await Deno.connect({ transport: "unix", path: socket }).catch(() => undefined);
  // The socket's private directory is needed no more: this child is connected, or its parent is
  // gone (even killed with SIGKILL, when nobody else would remove it).
  removeDir(socket);
  // No parent to connect to: it is gone already, and so is this child.
  if (!conn) Deno.exit(1);
  // From now on the kernel ends this child with its parent, even while the target runs
  // synchronous code (not before: a child whose parent died while it started removes the
  // directory above first).
  dieWithParent();
  const link = new SocketLink(conn);
  // The parent is gone (even killed with SIGKILL): a child never outlives it.
  link.onclose = () => Deno.exit(1);
  const payload = await new Promise<StartPayload>((resolve) => {
    link.onmessage = (msg) => {
      if (msg.t === "start") resolve((msg as StartMessage).payload);
    };
  });
  if (payload.registry) useRegistry(state(), joinRegistry(payload.registry));
  const rpc = new RpcEndpoint({ sameProcess: false, maps: payload.maps }, {
    ident: payload.registry ? payload.self.ident : 1,
  });
  rpc.attach(link);
  link.onmessage = (m) => rpc.handle(m);
  await runChild(payload, {
    rpc,
    load: () => Promise.resolve(ns),
    exit: async (code) => {
      // What the target sent last (a lock's release by `using`, say) goes out before the exit:
      // the parent reads it before it reports the exit.
      await rpc.written();
      Deno.exit(code);
    },
  });
}
