// Beyond one machine: a `map` over a Redis broker, its tasks run by two worker commands (here both
// on localhost; on a cluster, one per host). One worker command is SIGKILLed in the middle of the
// map, as a host that goes away: the tasks it held run again on the other, about a second later,
// and the map still returns every result, once, in order.
//
// Needs redis-server (Debian: apt-get install -y redis-server); the example starts its own, on a
// unix socket in a temporary directory, and stops it, the worker commands and the pool at the end.
//
//   deno task example:cluster [--start-method=worker|subprocess]

import { Pool } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";
import { bar } from "./_progress.ts";
import { HAVE_REDIS, startRedis, startWorkerCommand } from "./_redis.ts";

const ITEMS = 200;

/** The task: a square that takes 20 ms, so that the map is still running when a command dies. */
export async function slowSquare(x: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 20));
  return x * x;
}

if (import.meta.main) {
  const startMethod = useStartMethodFromArgs();
  if (!HAVE_REDIS) {
    console.error("example cluster needs redis-server on PATH: apt-get install -y redis-server");
    Deno.exit(1);
  }
  await using server = await startRedis();
  await using first = await startWorkerCommand(server.url, { processes: 2, startMethod });
  await using second = await startWorkerCommand(server.url, { processes: 2, startMethod });
  console.log(`redis-server (pid ${server.pid}) on ${server.url}`);
  console.log(`worker commands (${startMethod}): pid ${first.pid} and pid ${second.pid}`);

  let killedAt: string | undefined, killTime = 0;
  const ys = await (async () => {
    await using pool = new Pool({ broker: server.url, module: import.meta.url });
    const xs = Array.from({ length: ITEMS }, (_, i) => i);
    return await pool.map(slowSquare, xs, {
      chunksize: 2,
      onProgress(done, total) {
        bar("map", done, total);
        if (killedAt === undefined && done >= total / 3) {
          first.kill("SIGKILL"); // the host is gone: no goodbye to the broker
          killedAt = `${done}/${total} items`;
          killTime = performance.now();
        }
      },
    });
  })();
  const after = ((performance.now() - killTime) / 1000).toFixed(1);
  console.log(
    `worker command ${first.pid} SIGKILLed at ${killedAt} done; the map ended ${after} s later`,
  );
  const wrong = ys.flatMap((y, i) => y === i * i ? [] : [i]);
  console.log(
    wrong.length === 0 && ys.length === ITEMS
      ? `every result is there: ${ys.length} squares, each right, in order`
      : `WRONG: ${ys.length} results, wrong at ${wrong.slice(0, 10)}`,
  );
  console.log(`worker command ${first.pid}: ${(await first.status).signal ?? "exited"}`);
  const status = await second.stop();
  console.log(`worker command ${second.pid} stopped (SIGTERM): exit code ${status.code}`);
  if (wrong.length > 0 || ys.length !== ITEMS) Deno.exitCode = 1;
}
