// Shared by the Redis example, the cluster bench and the Redis test suites (tests/_redis.ts): a
// real redis-server (the Debian package redis-server) listening on a unix socket in a temporary
// directory (or on a free loopback port, with TLS if asked), stopped (SIGTERM) and its directory
// removed at its end; and the worker command (cluster/worker.ts) started against it, as an
// operator starts it on every host.

/** Whether `command` is on PATH and `command ...args` succeeds. */
function runs(command: string, ...args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Whether redis-server is on PATH. */
export const HAVE_REDIS: boolean = runs("redis-server", "--version");

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** The password clients must give (`requirepass`). @default {undefined} */
  password?: string;
  /** Listen on a free loopback TCP port instead of a unix socket. @default {false} */
  tcp?: boolean;
  /**
   * Listen with TLS only, on a free loopback port (`rediss://localhost:PORT`), with a certificate
   * made for the run by `openssl`; clients trust it through `caFile` (DENO_CERT). @default {false}
   */
  tls?: boolean;
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** Its OS process id. */
  readonly pid: number;
  /** The address clients connect to: `unix:///…/redis.sock` or `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** With `tls`: the file of the CA certificate that signed the server's. */
  readonly caFile?: string;
  /** Stops the server (SIGTERM) and waits for its exit; the directory stays. */
  stop(): Promise<void>;
  /** Runs `redis-cli` against the server; its output, trimmed. */
  cli(...args: string[]): Promise<string>;
}

/** A loopback port that was free a moment ago. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = l.addr as Deno.NetAddr;
  l.close();
  return port;
}

/** Whether `openssl` is on PATH (for {@link RedisServerOptions.tls}). */
export const HAVE_OPENSSL: boolean = runs("openssl", "version");

/** Makes, in `dir`, a CA (ca.pem) and a server certificate for localhost and 127.0.0.1 it signed. */
async function makeCertificates(dir: string): Promise<void> {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  await Deno.writeTextFile(`${dir}/san.cnf`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  await run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=mp-test-ca",
  );
  await run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  await run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "san.cnf",
  );
}

/** Waits until a connection made by `connect` succeeds and PING gets +PONG. */
async function waitUntilAnswering(connect: () => Promise<Deno.Conn>) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      const conn = await connect();
      try {
        await conn.write(new TextEncoder().encode("PING\r\n"));
        const buf = new Uint8Array(64);
        const n = await conn.read(buf);
        // An answer at all (+PONG, or -NOAUTH with a password) means it is up.
        if (n && (buf[0] === 0x2b || buf[0] === 0x2d)) return;
      } finally {
        conn.close();
      }
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error("redis-server did not answer within 10 s");
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts redis-server in a new temporary directory and waits until it answers. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "mp-redis-" });
  const sock = `${dir}/redis.sock`;
  const tls = options.tls ?? false;
  const tcp = tls || (options.tcp ?? false);
  const port = tcp ? freePort() : 0;
  const caFile = tls ? `${dir}/ca.pem` : undefined;
  const args = tls
    ? ["--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1"]
    : tcp
    ? ["--port", String(port), "--bind", "127.0.0.1"]
    : ["--port", "0", "--unixsocket", sock, "--unixsocketperm", "700"];
  if (tls) {
    await makeCertificates(dir).catch(async (e) => {
      await Deno.remove(dir, { recursive: true });
      throw e;
    });
    args.push("--tls-cert-file", `${dir}/server.pem`, "--tls-key-file", `${dir}/server.key`);
    args.push("--tls-ca-cert-file", caFile!, "--tls-auth-clients", "no");
  }
  args.push("--save", "", "--appendonly", "no", "--dir", dir);
  if (options.password !== undefined) args.push("--requirepass", options.password);
  const child = new Deno.Command("redis-server", { args, stdout: "null", stderr: "inherit" })
    .spawn();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    })();
  try {
    const caCerts = tls ? [await Deno.readTextFile(caFile!)] : [];
    await waitUntilAnswering(() =>
      tls
        ? Deno.connectTls({ hostname: "localhost", port, caCerts })
        : tcp
        ? Deno.connect({ hostname: "127.0.0.1", port })
        : Deno.connect({ transport: "unix", path: sock })
    );
  } catch (e) {
    await stop();
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  const where = tls
    ? ["--tls", "--cacert", caFile!, "-h", "localhost", "-p", String(port)]
    : tcp
    ? ["-p", String(port)]
    : ["-s", sock];
  if (options.password !== undefined) where.push("--no-auth-warning", "-a", options.password);
  return {
    pid: child.pid,
    url: tls ? `rediss://localhost:${port}` : tcp ? `redis://127.0.0.1:${port}` : `unix://${sock}`,
    caFile,
    stop,
    async cli(...args: string[]): Promise<string> {
      const out = await new Deno.Command("redis-cli", {
        args: [...where, ...args],
        stderr: "inherit",
      })
        .output();
      return new TextDecoder().decode(out.stdout).trim();
    },
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Options of {@link startWorkerCommand}. */
export interface WorkerCommandOptions {
  /** `--processes`: how many local processes the command runs tasks in. @default {2} */
  processes?: number;
  /** `--start-method`: how it starts those processes; the command's own default when absent. @default {undefined} */
  startMethod?: "worker" | "subprocess";
  /** More arguments of the command. @default {[]} */
  args?: string[];
  /** Drop what the command writes on stderr (a test that stops its broker on purpose). @default {false} */
  quiet?: boolean;
}

/** A running worker command (`deno run -A cluster/worker.ts --broker URL --processes N`). */
export interface WorkerCommand extends AsyncDisposable {
  /** Its OS process id. */
  readonly pid: number;
  /** Its exit status, once it exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Sends it `signal` (SIGKILL by default: a host gone, as far as the broker can tell). */
  kill(signal?: Deno.Signal): void;
  /** Asks it to stop (SIGTERM), waits for its exit (SIGKILL after `graceMs`, 10 s). */
  stop(graceMs?: number): Promise<Deno.CommandStatus>;
}

const ROOT = new URL("../", import.meta.url);

/**
 * Starts the worker command of this checkout against `broker`, from the project's root, and
 * waits until it says it serves (its first line); the rest of its output is dropped.
 */
export async function startWorkerCommand(
  broker: string,
  options: WorkerCommandOptions = {},
): Promise<WorkerCommand> {
  const { processes = 2, startMethod, quiet = false } = options;
  const args = ["run", "-A", "cluster/worker.ts", "--broker", broker];
  args.push("--processes", String(processes));
  if (startMethod) args.push("--start-method", startMethod);
  args.push(...options.args ?? []);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: quiet ? "null" : "inherit",
  }).spawn();
  let status: Promise<Deno.CommandStatus> = child.status;
  const kill = (signal: Deno.Signal = "SIGKILL"): void => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  };
  const stop = async (graceMs = 10_000): Promise<Deno.CommandStatus> => {
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), graceMs);
    try {
      return await status;
    } finally {
      clearTimeout(timer);
    }
  };
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let said = "";
  while (!said.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) {
      await child.status;
      throw new Error(`the worker command exited before it served ${broker}`);
    }
    said += value;
  }
  const drained = (async () => {
    while (!(await lines.read()).done) { /* drop */ }
  })();
  // Its exit, once its stdout is read to the end too (nothing left open).
  status = Promise.all([child.status, drained]).then(([s]) => s);
  return {
    pid: child.pid,
    status,
    kill,
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
    },
  };
}
