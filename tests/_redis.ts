// Shared by the Redis suites: the server of examples/_redis.ts, started for a test and stopped at
// its end; and `redisTest`, which skips a test when redis-server is not on PATH, printing one
// line that names the package to install.

import {
  HAVE_REDIS,
  type RedisServer,
  type RedisServerOptions,
  startRedis,
} from "../examples/_redis.ts";

export { HAVE_REDIS, type RedisServer, type RedisServerOptions, startRedis };

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
