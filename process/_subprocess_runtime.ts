// The "subprocess" start method: each child is `deno run` on a small entry module (a `data:`
// URL, so no file is left behind) that statically imports the child bootstrap and the target's
// module, and talks to its parent over a Unix socket in a directory only this user can enter.
// The directory lives only until the child has connected (either side removes it then), so that
// even a parent killed with SIGKILL leaves nothing behind once its children have started.

import { childConfigFlags } from "./_config.ts";
import { SocketLink } from "../_core/_link.ts";
import { until } from "../_core/_until.ts";
import { need, permissionFlags } from "./_permissions.ts";
import { listenPrivately } from "../_core/_private_socket.ts";
import {
  type ChildHandle,
  type Runtime,
  SIGNAL_EXIT,
  type SpawnSpec,
  type StartMessage,
} from "./_runtime.ts";

/** How long an exited child's socket may take to deliver what it sent before it went. */
const LAST_WORDS_MS = 1000;
const CHILD = new URL("./_subprocess_child.ts", import.meta.url).href;

function entryFor(module: string): string {
  const code = `import { runSubprocessChild } from ${JSON.stringify(CHILD)};\n` +
    `import * as target from ${JSON.stringify(module)};\n` +
    `await runSubprocessChild(target);\n`;
  return `data:application/typescript,${encodeURIComponent(code)}`;
}

class SubprocessChild implements ChildHandle {
  readonly pid: number;
  readonly exited: Promise<number>;
  #child: Deno.ChildProcess;
  #done = false;

  constructor(spec: SpawnSpec) {
    const { payload } = spec;
    const { name, daemon, identity } = payload.self;
    const deno = Deno.execPath();
    const sock = listenPrivately(
      "child.sock",
      `Cannot start process '${name}' with the 'subprocess' start method`,
      [need("run", deno, "to start 'deno run' children")],
      "use the 'worker' start method",
    );
    const { listener, path: socket } = sock;
    const early = { name, daemon, identity, module: payload.module };
    try {
      const flags = permissionFlags(spec.permissions, socket);
      const entry = entryFor(payload.module);
      this.#child = new Deno.Command(deno, {
        args: [
          "run",
          "--no-prompt",
          ...childConfigFlags(),
          ...flags,
          entry,
          socket,
          JSON.stringify(early),
          ...Deno.args,
        ],
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (e) {
      sock.close();
      throw e;
    }
    this.pid = this.#child.pid;
    // The exit rules (../_core/_exit.ts), not the child, keep the program alive while it runs.
    this.#child.unref();
    listener.unref();
    const status = this.#child.status.then((s) => s.signal ? SIGNAL_EXIT[s.signal] ?? -1 : s.code);
    let link: SocketLink | undefined;
    const accepted = listener.accept().then((conn) => {
      link = new SocketLink(conn);
      link.unref();
      link.onmessage = (msg) => {
        if (msg.t !== "exit") spec.rpc.handle(msg);
      };
      spec.rpc.attach(link);
      link.post({ t: "start", payload } satisfies StartMessage);
    }, () => {});
    accepted.then(sock.close);
    this.exited = status.then(async (code) => {
      this.#done = true;
      sock.close();
      await accepted;
      if (link) await until(link.ended, LAST_WORDS_MS, undefined, "exit"); // its last messages
      link?.close();
      return code;
    });
  }

  #signal(sig: Deno.Signal): void {
    if (this.#done) return;
    try {
      this.#child.kill(sig);
    } catch {
      // already exited
    }
  }

  terminate(): void {
    this.#signal("SIGTERM");
  }

  kill(): void {
    this.#signal("SIGKILL");
  }
}

/** Starts children as `deno run` subprocesses. */
export const subprocessRuntime: Runtime = {
  spawn: (spec) => new SubprocessChild(spec),
};
