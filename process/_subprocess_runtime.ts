// The "subprocess" start method: each child is `deno run` on a small entry module that
// statically imports the child bootstrap and the target's module, and talks to its parent over
// a Unix socket in a directory only this user can read.

import { SocketLink } from "./_link.ts";
import { until } from "./_until.ts";
import { permissionFlags } from "./_permissions.ts";
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

let dir: string | undefined;
const entries = new Map<string, string>();

function workDir(): string {
  if (dir === undefined) {
    const made = Deno.makeTempDirSync({ prefix: "multiprocessing-" });
    Deno.chmodSync(made, 0o700);
    dir = made;
    globalThis.addEventListener("unload", () => {
      try {
        Deno.removeSync(made, { recursive: true });
      } catch {
        // already gone
      }
    });
  }
  return dir;
}

function entryFor(module: string): string {
  let path = entries.get(module);
  if (path === undefined) {
    path = `${workDir()}/entry-${entries.size}.ts`;
    Deno.writeTextFileSync(
      path,
      `import { runSubprocessChild } from ${JSON.stringify(CHILD)};\n` +
        `import * as target from ${JSON.stringify(module)};\n` +
        `await runSubprocessChild(target);\n`,
    );
    entries.set(module, path);
  }
  return path;
}

class SubprocessChild implements ChildHandle {
  readonly pid: number;
  readonly exited: Promise<number>;
  #child: Deno.ChildProcess;
  #done = false;

  constructor(spec: SpawnSpec) {
    const { payload } = spec;
    const socket = `${workDir()}/p${payload.self.ident}.sock`;
    const flags = permissionFlags(spec.permissions, socket);
    const entry = entryFor(payload.module);
    const listener = Deno.listen({ transport: "unix", path: socket });
    Deno.chmodSync(socket, 0o600);
    const { name, daemon, identity } = payload.self;
    const early = { name, daemon, identity, module: payload.module };
    try {
      this.#child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--no-prompt", ...flags, entry, socket, JSON.stringify(early), ...Deno.args],
        stdin: "null",
        stdout: "inherit",
        stderr: "inherit",
      }).spawn();
    } catch (e) {
      listener.close();
      Deno.removeSync(socket);
      throw e;
    }
    this.pid = this.#child.pid;
    // The exit rules (./_exit.ts), not the child, keep the program alive while it runs.
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
    const cleanup = () => {
      try {
        listener.close();
      } catch {
        // closed after accept
      }
      try {
        Deno.removeSync(socket);
      } catch {
        // removed after accept
      }
    };
    accepted.then(cleanup);
    this.exited = status.then(async (code) => {
      this.#done = true;
      cleanup();
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
