// A real redis-server for one test suite: on a unix socket in a fresh temporary directory (no
// port to race for), without persistence, ended by SIGTERM. Suites that need it check
// `haveRedisServer()` first and skip with one line when the Debian package is not installed.

/** Whether `redis-server` is on PATH. */
export function haveRedisServer(): boolean {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      if (Deno.statSync(`${dir}/redis-server`).isFile) return true;
    } catch {
      // not there
    }
  }
  return false;
}

/** Prints the one line a suite prints when it skips for want of redis-server. */
export function skipLine(suite: string): void {
  console.log(
    `${suite}: skipped, redis-server is not on PATH (install the Debian package: ` +
      "apt-get install -y redis-server)",
  );
}

/** A running redis-server. */
export interface RedisServer extends AsyncDisposable {
  /** `unix:///.../redis.sock`, with the password when one is set. */
  readonly url: string;
  /** The socket's path. */
  readonly socket: string;
  /** Whether it still runs. */
  readonly running: boolean;
  /** Stops it (SIGTERM) and waits for it to exit; its directory is removed on dispose. */
  stop(): Promise<void>;
}

async function answers(path: string): Promise<boolean> {
  try {
    const c = await Deno.connect({ transport: "unix", path });
    try {
      await c.write(new TextEncoder().encode("PING\r\n"));
      const buf = new Uint8Array(64);
      return (await c.read(buf) ?? 0) > 0; // +PONG, or -NOAUTH with a password: it is up
    } finally {
      c.close();
    }
  } catch {
    return false;
  }
}

/** Starts a redis-server and waits until it answers (a few ms). */
export async function startRedisServer(options: { password?: string } = {}): Promise<RedisServer> {
  const dir = await Deno.makeTempDir({ prefix: "mp-redis-" });
  const socket = `${dir}/redis.sock`;
  const args = [
    "--port",
    "0",
    "--unixsocket",
    socket,
    "--unixsocketperm",
    "700",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    dir,
  ];
  if (options.password !== undefined) args.push("--requirepass", options.password);
  const child = new Deno.Command("redis-server", { args, stdout: "null", stderr: "null" }).spawn();
  let running = true;
  const status = child.status.then((s) => {
    running = false;
    return s;
  });
  const deadline = performance.now() + 10_000;
  while (!(await answers(socket))) {
    if (!running || performance.now() > deadline) {
      if (running) child.kill("SIGKILL");
      await status;
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      throw new Error("redis-server did not start");
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const pw = options.password === undefined
    ? ""
    : `?password=${encodeURIComponent(options.password)}`;
  const stop = async () => {
    if (running) child.kill("SIGTERM");
    await status;
  };
  return {
    url: `unix://${socket}${pw}`,
    socket,
    get running() {
      return running;
    },
    stop,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Runs `redis-cli` against the server and returns its output, trimmed. */
export async function redisCli(server: RedisServer, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-s", server.socket, ...args],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}
