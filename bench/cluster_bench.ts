// The Pool on a Redis broker, in one run against one redis-server (loopback TCP) with two worker
// commands (`cluster/worker.ts --processes 1` each, so two processes run tasks, as in
// Python's `Pool(2)`), beside its peers measured in the same run:
//
// - 20,000 no-op tasks (`applyAsync` each, then every result) against BullMQ 6 on the same
//   server (`Queue.addBulk`, then until none waits or runs; two worker processes, concurrency
//   100 each, BullMQ's defaults otherwise): jobs/s, higher is better. Target: >= 3x BullMQ.
// - `map` of 100,000 items over the broker (default chunks, and chunksize 1) against Python's
//   LOCAL `multiprocessing.Pool(2).map(f, range(100000), chunksize=1)`: microseconds per item.
//   Target: no slower than Python's.
// - `apply` round trip over the broker, beside Python's local `Pool(2).apply`. Target: <= 1 ms
//   warm.
//
// Each figure runs in a fresh process (a fresh pool or BullMQ queue): four untimed tasks, the
// timed cold call, then the warm runs (the median is the warm figure). Skipped, with one line,
// where redis-server is not on PATH. BullMQ is loaded by this file only (npm:bullmq), never by
// the package.
//
//   deno run -A bench/cluster_bench.ts [--quick] [--runs=5]

import { Pool } from "../mod.ts";
import { HAVE_REDIS, startRedis, startWorkerCommand } from "../examples/_redis.ts";
import {
  coldWarm,
  fresh,
  type Params,
  perSecond,
  QUICK,
  range,
  type Sample,
  serveCase,
  size,
  timePool,
} from "./_measure.ts";
import { pythonSample } from "./_python.ts";
import {
  type Figure,
  markdownTable,
  report,
  type Row,
  runStamp,
  speedUp,
  toFigure,
  writeBetween,
} from "./_results.ts";

/** bench/README.md's table of these figures lies between two such lines. */
const MARKER = "<!-- cluster:table -->";

/** The task of every figure: a no-op on a number. */
export function same(x: number): number {
  return x;
}

const BULLMQ = "npm:bullmq@^6.7.0";
const IOREDIS = "npm:ioredis@^5.11.1";
const BULL_QUEUE = "cluster-bench";

type Op = "tasks" | "map" | "map1" | "apply";

/** What one call of each measured operation does with its items, on a broker pool. */
const OPS: Record<Op, (pool: Pool, xs: number[]) => Promise<unknown>> = {
  tasks: (pool, xs) => Promise.all(xs.map((x) => pool.applyAsync(same, [x])).map((r) => r.get())),
  map: (pool, xs) => pool.map(same, xs),
  map1: (pool, xs) => pool.map(same, xs, { chunksize: 1 }),
  apply: async (pool, xs) => {
    for (const x of xs) await pool.apply(same, [x]);
  },
};

/** Our side of one figure, in a fresh process: `{ op, n, broker }`. */
async function ours(params: Params): Promise<Sample> {
  const op = params.op as Op, n = params.n as number;
  await using pool = new Pool({ broker: params.broker as string, module: import.meta.url });
  return await timePool((xs) => OPS[op](pool, xs), n, op === "apply");
}

/** An ioredis connection to `broker` (`redis://127.0.0.1:PORT`), as BullMQ wants it. */
async function ioredis(broker: string) {
  const { Redis } = await import(IOREDIS);
  const { hostname, port } = new URL(broker);
  return new Redis({ host: hostname, port: Number(port), maxRetriesPerRequest: null });
}

/** BullMQ's side, in a fresh process: `{ n, broker }`; adds jobs, waits until none is left. */
async function bull(params: Params): Promise<Sample> {
  const { Queue } = await import(BULLMQ);
  const n = params.n as number;
  const connection = await ioredis(params.broker as string);
  const queue = new Queue(BULL_QUEUE, { connection });
  try {
    const run = async (count: number) => {
      await queue.addBulk(range(count).map((x) => ({ name: "same", data: x })));
      for (;;) {
        const c = await queue.getJobCounts("wait", "active", "delayed", "prioritized");
        if (c.wait + c.active + c.delayed + c.prioritized === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    return await coldWarm({ warmUp: () => run(4), run: () => run(n), per: n });
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** A BullMQ worker process (concurrency 100) until SIGTERM; prints "ready" once it listens. */
async function bullWorker(params: Params): Promise<Sample> {
  const { Worker } = await import(BULLMQ);
  const connection = await ioredis(params.broker as string);
  const worker = new Worker(BULL_QUEUE, (job: { data: number }) => Promise.resolve(job.data), {
    connection,
    concurrency: 100,
  });
  await worker.waitUntilReady();
  console.error("ready");
  const { promise, resolve } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", resolve);
  await promise;
  await worker.close();
  connection.disconnect();
  return { cold: 0, runs: [] };
}

/** Python's local `Pool(2)` on the same items: `map` with chunksize 1, or `apply`. */
function pythonSide(op: "map1" | "apply", n: number): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
def same(x):
    return x
OPS = {
    "apply": lambda p, xs: [p.apply(same, (x,)) for x in xs],
    "map1": lambda p, xs: p.map(same, xs, chunksize=1),
}
if __name__ == "__main__":
    op, n, xs, four = "${op}", ${n}, list(range(${n})), list(range(4))
    with mp.get_context("fork").Pool(2) as p:
        cold_warm(lambda: OPS[op](p, xs), n, warm_up=lambda: OPS[op](p, four),
                  cold=(lambda: OPS[op](p, [0])) if op == "apply" else None,
                  cold_per=1 if op == "apply" else None)
`);
}

/** Starts a BullMQ worker process of this file and waits until it listens. */
async function startBullWorker(broker: string): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.url,
      "--case=bullWorker",
      `--params=${JSON.stringify({ broker })}`,
    ],
    cwd: new URL("..", import.meta.url),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`a BullMQ worker failed to start:\n${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stderr.cancel().catch(() => {});
  return child;
}

if (import.meta.main && !await serveCase({ ours, bull, bullWorker })) {
  if (!HAVE_REDIS) {
    console.log(
      "Skipping bench/cluster_bench.ts: redis-server is not on PATH; install the package " +
        "redis-server (apt-get install -y redis-server)",
    );
    Deno.exit(0);
  }
  await using server = await startRedis({ tcp: true });
  const broker = server.url;
  const rows: Row[] = [], targets: ((f: Figure) => string)[] = [];
  /** Adds a row, and its target (issue 12's words) with what the run says of it. */
  const add = (row: Row, target: string, met: (f: Figure) => boolean | undefined) => {
    rows.push(row);
    targets.push((f) => {
      const v = met(f);
      return `${target}: ${v === undefined ? "n/a" : v ? "met" : "missed"}`;
    });
    console.log(`  done: ${row.what}`);
  };
  const speedUpWarm = (f: Figure) => speedUp(f, f.ours.warm, f.python?.warm);
  const atLeast = (x: number) => (f: Figure) => {
    const r = speedUpWarm(f);
    return r === undefined ? undefined : r >= x;
  };
  {
    await using _a = await startWorkerCommand(broker, { processes: 1 });
    await using _b = await startWorkerCommand(broker, { processes: 1 });
    const n = size(20_000);
    const ours = perSecond(await fresh(import.meta.url, "ours", { op: "tasks", n, broker }));
    const bullWorkers = [await startBullWorker(broker), await startBullWorker(broker)];
    let theirs: Sample;
    try {
      theirs = perSecond(await fresh(import.meta.url, "bull", { n, broker }));
    } finally {
      for (const w of bullWorkers) {
        w.kill("SIGTERM");
        await w.status;
      }
    }
    add(
      {
        what: `Pool on Redis: ${n.toLocaleString("en-US")} no-op tasks (applyAsync), jobs/s`,
        method: "worker",
        unit: "/s",
        ours,
        pythonAs: "BullMQ 6 (Python columns), addBulk, 2 workers x concurrency 100",
        python: theirs,
      },
      ">= 3x BullMQ's jobs/s",
      atLeast(3),
    );
    const m = size(100_000);
    const python = await pythonSide("map1", m);
    for (const op of ["map", "map1"] as const) {
      const chunks = op === "map" ? "default chunks" : "chunksize 1";
      add(
        {
          what: `Pool on Redis: map, ${chunks}, per item (${m.toLocaleString("en-US")} items)`,
          method: "worker",
          unit: "us",
          ours: await fresh(import.meta.url, "ours", { op, n: m, broker }),
          pythonAs: "local Pool(2).map, chunksize 1, fork",
          python,
        },
        "no slower than Python's local Pool.map(chunksize=1)",
        atLeast(1),
      );
    }
    const k = size(1_000);
    add(
      {
        what: `Pool on Redis: apply round trip (${k.toLocaleString("en-US")} calls)`,
        method: "worker",
        unit: "us",
        ours: await fresh(import.meta.url, "ours", { op: "apply", n: k, broker }),
        pythonAs: "local Pool(2).apply, fork",
        python: await pythonSide("apply", k),
      },
      "<= 1 ms warm",
      (f) => f.ours.warm <= 1000,
    );
  }
  await report(import.meta.url, "Pool on Redis: 2 worker commands of 1 process each", rows);
  if (!QUICK) {
    const figures = rows.map((r) => toFigure("cluster_bench.ts", r));
    const cells = figures.map((f, i) => targets[i](f));
    const table = markdownTable(figures, { head: "target", cells });
    const stamp = runStamp("deno run -A bench/cluster_bench.ts");
    await writeBetween(new URL("./README.md", import.meta.url), MARKER, `${stamp}:\n\n${table}`);
  }
}
