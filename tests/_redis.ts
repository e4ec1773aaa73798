// Shared by the Redis suites: the server of examples/_redis.ts, started for a test and stopped at
// its end; and `redisTest`, which skips a test when redis-server is not on PATH, printing one
// line that names the package to install.

import {
  HAVE_REDIS,
  type RedisServer,
  type RedisServerOptions,
  startRedis,
  startWorkerCommand,
  type WorkerCommand,
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
  /** The commands, in start order. */
  readonly children: WorkerCommand[];
  /** Sends SIGKILL to worker `i` and waits for its exit. */
  kill(i: number): Promise<void>;
}

/**
 * Starts `n` worker commands (`--processes 2`, plus `args`), their stderr dropped (tests stop
 * brokers on purpose), and waits until each serves; disposing kills the ones still running.
 */
export async function startWorkers(
  server: RedisServer,
  n: number,
  args: string[] = [],
): Promise<WorkerCommands> {
  const started = await Promise.allSettled(
    Array.from({ length: n }, () => startWorkerCommand(server.url, { args, quiet: true })),
  );
  const children = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const kill = async (i: number) => {
    children[i].kill("SIGKILL");
    await children[i].status;
  };
  const all = {
    children,
    kill,
    [Symbol.asyncDispose]: () => Promise.all(children.map((_, i) => kill(i))).then(() => {}),
  };
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await all[Symbol.asyncDispose]();
    throw (failed as PromiseRejectedResult).reason;
  }
  return all;
}
