// Shared by the Redis suites: a real redis-server (the Debian package redis-server) listening on a
// unix socket in a temporary directory (or on a free loopback port), started for a test and
// stopped (SIGTERM) at its end, its directory removed; and `redisTest`, which skips a test when
// redis-server is not on PATH, printing one line that names the package to install.

/** Whether redis-server is on PATH. */
export const HAVE_REDIS: boolean = (() => {
  try {
    return new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

let told = false;

/** Prints, once per test module, why the Redis tests are skipped. */
export function skipRedisSuite(): void {
  if (told) return;
  told = true;
  console.log(
    "Skipping the Redis tests: redis-server is not on PATH; install the package redis-server " +
      "(apt-get install -y redis-server, as .ci/run does)",
  );
}

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** The password clients must give (`requirepass`). @default {undefined} */
  password?: string;
  /** Listen on a free loopback TCP port instead of a unix socket. @default {false} */
  tcp?: boolean;
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** The address clients connect to: `unix:///…/redis.sock` or `redis://127.0.0.1:PORT`. */
  readonly url: string;
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

/** Waits until a connection to `addr` succeeds and PING gets +PONG. */
async function waitUntilAnswering(addr: Deno.ConnectOptions | Deno.UnixConnectOptions) {
  const deadline = performance.now() + 10_000;
  for (;;) {
    try {
      const conn = await Deno.connect(addr as Deno.ConnectOptions);
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
  const port = options.tcp ? freePort() : 0;
  const args = options.tcp
    ? ["--port", String(port), "--bind", "127.0.0.1"]
    : ["--port", "0", "--unixsocket", sock, "--unixsocketperm", "700"];
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
    await waitUntilAnswering(
      options.tcp ? { hostname: "127.0.0.1", port } : { transport: "unix", path: sock },
    );
  } catch (e) {
    await stop();
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
  const where = options.tcp ? ["-p", String(port)] : ["-s", sock];
  if (options.password !== undefined) where.push("--no-auth-warning", "-a", options.password);
  return {
    url: options.tcp ? `redis://127.0.0.1:${port}` : `unix://${sock}`,
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

/**
 * A test that gets a fresh redis-server of its own (stopped and removed at its end), or is
 * ignored, with one printed line, where redis-server is not on PATH.
 */
export function redisTest(
  name: string,
  fn: (server: RedisServer) => Promise<void>,
  options: RedisServerOptions = {},
): void {
  if (!HAVE_REDIS) skipRedisSuite();
  Deno.test({
    name,
    ignore: !HAVE_REDIS,
    async fn() {
      await using server = await startRedis(options);
      await fn(server);
    },
  });
}

/** Worker commands (cluster/worker.ts) attached to a test's redis-server. */
export interface WorkerCommands extends AsyncDisposable {
  /** The OS processes, in start order. */
  readonly children: Deno.ChildProcess[];
  /** Sends SIGKILL to worker `i` and waits for its exit. */
  kill(i: number): Promise<void>;
}

const WORKER = new URL("../cluster/worker.ts", import.meta.url).pathname;

/**
 * Starts `n` worker commands (`deno run -A cluster/worker.ts --broker … --processes 2`, plus
 * `args`) and waits until the broker lists them all; disposing kills the ones still running.
 */
export async function startWorkers(
  server: RedisServer,
  n: number,
  args: string[] = [],
): Promise<WorkerCommands> {
  const before = Number(await server.cli("ZCARD", "mp:workers"));
  const children = Array.from({ length: n }, () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", WORKER, "--broker", server.url, "--processes", "2", ...args],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn());
  const kill = async (i: number) => {
    try {
      children[i].kill("SIGKILL");
    } catch {
      // gone already
    }
    await children[i].status;
  };
  const all = {
    children,
    kill,
    [Symbol.asyncDispose]: () => Promise.all(children.map((_, i) => kill(i))).then(() => {}),
  };
  const deadline = performance.now() + 20_000;
  while (Number(await server.cli("ZCARD", "mp:workers")) < before + n) {
    if (performance.now() > deadline) {
      await all[Symbol.asyncDispose]();
      throw new Error(`${n} worker commands did not register within 20 s`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return all;
}
