import assert from "node:assert/strict";
import { within } from "./_helpers.ts";
import { redisTest, startRedis, startWorkers } from "./_redis.ts";
import { assertSameClone } from "./_same_clone.ts";
import { valueAt } from "./_values.ts";
import { Pool, WorkerLostError } from "../pool/mod.ts";
import { Queue } from "../mod.ts";
import { BrokerError } from "../cluster/mod.ts";
import {
  add,
  crashAlways,
  crashOnce,
  echo,
  fail,
  putInto,
  sleep,
  square,
} from "./fixtures/cluster_tasks.ts";

const module = new URL("./fixtures/cluster_tasks.ts", import.meta.url).href;
const SEED = 0xc1a55;
const VALUES = { maxBytes: 64 * 1024, arrayProperties: false };

/** A fresh directory for a test's marker files, removed by disposing. */
async function markers(): Promise<
  { path: string; count(prefix: string): number } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix: "mp-cluster-pool-" });
  return {
    path,
    count: (prefix) => [...Deno.readDirSync(path)].filter((e) => e.name.startsWith(prefix)).length,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

redisTest("Pool on Redis: every method runs on the worker commands", async (s) => {
  await using _workers = await startWorkers(s, 2);
  await using pool = new Pool({ broker: s.url, module });

  assert.equal(await pool.apply(square, [7]), 49);
  assert.equal(await pool.apply(add, [2, 3]), 5);

  const seen: number[] = [];
  const r = pool.applyAsync(square, [9], { callback: (v) => seen.push(v) });
  assert.equal(await r.get(), 81);
  assert.deepEqual(seen, [81]);
  const errors: Error[] = [];
  const bad = pool.applyAsync(fail, ["nope"], { errorCallback: (e) => errors.push(e as Error) });
  await assert.rejects(bad.get(), { name: "CustomError", message: "nope" });
  assert.equal(errors.length, 1);

  // error name, message, and the worker's stack
  const e = await pool.apply(fail, ["boom"]).catch((e) => e);
  assert.equal(e.name, "CustomError");
  assert.equal(e.message, "boom");
  assert.match(e.stack, /at fail \(.*cluster_tasks\.ts/);

  const xs = Array.from({ length: 200 }, (_, i) => i);
  const progress: number[] = [];
  assert.deepEqual(
    await pool.map(square, xs, { chunksize: 7, onProgress: (done) => progress.push(done) }),
    xs.map((x) => x * x),
  );
  assert.equal(progress.at(-1), 200);
  assert.deepEqual(await pool.map(square, xs), xs.map((x) => x * x)); // default chunks
  assert.deepEqual(await pool.mapAsync(square, [1, 2, 3]).get(), [1, 4, 9]);
  assert.deepEqual(await pool.starmap(add, [[1, 2], [3, 4]]), [3, 7]);
  assert.deepEqual(
    await Array.fromAsync(pool.imap(square, xs, { chunksize: 3 })),
    xs.map((x) => x * x),
  );
  const unordered = await Array.fromAsync(pool.imapUnordered(square, xs));
  assert.deepEqual(unordered.sort((a, b) => a - b), xs.map((x) => x * x));
  await assert.rejects(pool.map(fail, ["in a map"]), { name: "CustomError", message: "in a map" });

  // generated values round-trip
  const values = Array.from({ length: 60 }, (_, i) => valueAt(SEED, i, VALUES));
  const back = await pool.map(echo, values, { chunksize: 1 });
  back.forEach((v, i) => assertSameClone(v, values[i], `#${i}`));
});

redisTest("Pool on Redis: a Queue.connect handle in args reaches the task", async (s) => {
  await using _workers = await startWorkers(s, 1);
  await using pool = new Pool({ broker: s.url, module });
  await using q = await Queue.connect<string>(s.url, { name: "from-tasks" });
  assert.equal(await pool.apply(putInto, [q, "hello"]), "put");
  assert.equal(await q.get({ timeout: 5000 }), "hello");
  // a queue of this machine cannot reach another host: refused at submit
  const local = new Queue<string>();
  try {
    await assert.rejects(pool.apply(putInto, [local, "x"]), TypeError);
  } finally {
    await local.close();
  }
});

redisTest("Pool on Redis: a task whose worker command is SIGKILLed runs again", async (s) => {
  await using dir = await markers();
  await using workers = await startWorkers(s, 2);
  await using pool = new Pool({ broker: s.url, module });
  const xs = Array.from({ length: 40 }, (_, i) => i);
  const got: number[] = [];
  for await (
    const v of pool.imapUnordered(crashOnce, xs.map((x) => [x, dir.path, 17]), {
      chunksize: 1,
    })
  ) got.push(v as number);
  assert.deepEqual(got.sort((a, b) => a - b), xs.map((x) => x * x)); // each once
  assert.equal(dir.count("crashed-"), 1);
  const exited = await Promise.race(workers.children.map((c) => c.status));
  assert.equal(exited.signal, "SIGKILL");
});
