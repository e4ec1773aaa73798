import assert from "node:assert/strict";
import { within } from "./_helpers.ts";
import { HAVE_REDIS, redisTest, startRedis, startWorkers } from "./_redis.ts";
import { assertSameClone } from "./_same_clone.ts";
import { valueAt } from "./_values.ts";
import { Pool, WorkerLostError } from "../pool/mod.ts";
import { Queue } from "../mod.ts";
import { BrokerError, ClusterWorker } from "../cluster/mod.ts";
import { RETAIN } from "../cluster/_pool_scripts.ts";
import {
  add,
  crashAlways,
  crashOnce,
  echo,
  fail,
  markThenSleep,
  putInto,
  returnsFunction,
  sleep,
  sleepThenPid,
  square,
  whichProcess,
} from "./fixtures/cluster_tasks.ts";

const module = new URL("./fixtures/cluster_tasks.ts", import.meta.url).href;
const CALLER = new URL("./fixtures/cluster_caller.ts", import.meta.url).pathname;
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
  await assert.rejects(pool.apply(returnsFunction), { name: "TypeError", message: /function/ });

  // generated values round-trip, one per task and in chunks; each kept and compared again after
  // the later traffic (nothing it holds is a view of a buffer reused since)
  const values = () => Array.from({ length: 60 }, (_, i) => valueAt(SEED, i, VALUES));
  const one = await pool.map(echo, values(), { chunksize: 1 });
  one.forEach((v, i) => assertSameClone(v, values()[i], `#${i}, chunksize 1`));
  const chunked = await pool.map(echo, values(), { chunksize: 7 });
  await pool.map(echo, values().reverse(), { chunksize: 3 }); // more traffic
  const now = values();
  one.forEach((v, i) => assertSameClone(v, now[i], `#${i}, chunksize 1, at the end`));
  chunked.forEach((v, i) => assertSameClone(v, now[i], `#${i}, chunksize 7, at the end`));
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

redisTest("Pool on Redis: a task whose worker's child is killed runs again", async (s) => {
  await using dir = await markers();
  await using _workers = await startWorkers(s, 2, ["--start-method", "subprocess"]);
  await using pool = new Pool({ broker: s.url, module });
  const xs = Array.from({ length: 20 }, (_, i) => i);
  const got = await pool.map(
    crashOnce,
    xs.map((x) => [x, dir.path, 5] as [number, string, number]),
    {
      chunksize: 1,
    },
  );
  assert.deepEqual(got, xs.map((x) => x * x));
  assert.equal(dir.count("crashed-"), 1);
});

redisTest(
  "Pool on Redis: a task delivered maxDeliveries times fails with WorkerLostError, kept in mp:pool:dead",
  async (s) => {
    await using dir = await markers();
    await using _workers = await startWorkers(s, 2, ["--start-method", "subprocess"]);
    await using pool = new Pool({ broker: s.url, module, maxDeliveries: 2 });
    const e = await pool.apply(crashAlways, [dir.path]).catch((e) => e);
    assert.ok(e instanceof WorkerLostError, String(e));
    assert.match(e.message, /'crashAlways' was delivered 2 times/);
    assert.match(e.message, /mp:pool:dead/);
    assert.equal(dir.count("run-"), 2);
    assert.equal(await s.cli("XLEN", "mp:pool:dead"), "1");
    assert.equal(await pool.apply(square, [3]), 9); // the pool goes on
  },
);

redisTest("Pool on Redis: a worker whose module differs from the caller's refuses", async (s) => {
  await using dir = await markers();
  const copy = `${dir.path}/tasks.ts`;
  const source = await Deno.readTextFile(new URL(module));
  await Deno.writeTextFile(copy, source.replaceAll("../../", new URL("../", import.meta.url).href));
  await using _workers = await startWorkers(s, 1);
  await using pool = new Pool({ broker: s.url, module: new URL(`file://${copy}`) });
  // The caller has sent its digest once its config is stored; then the file changes.
  while ((await s.cli("KEYS", "mp:pool:*:config")) === "") {
    await new Promise((r) => setTimeout(r, 10));
  }
  await Deno.writeTextFile(
    copy,
    source.replaceAll("../../", new URL("../", import.meta.url).href) + "\n// v2\n",
  );
  const e = await pool.apply(square, [2]).catch((e) => e);
  assert.match(e.message, /cannot run the tasks of module file:.*tasks\.ts: its copy differs/);
  assert.match(e.message, /deploy the same checkout/);
  assert.match(e.message, new RegExp(`Pool worker ${Deno.hostname()}:\\d+`));
});

redisTest(
  "Pool on Redis: processes: 1 runs the tasks in this process, no worker command",
  async (s) => {
    await using pool = new Pool({ broker: s.url, module, processes: 1 });
    assert.equal(await pool.apply(square, [12]), 144);
    assert.deepEqual(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
  },
);

redisTest("Pool on Redis: finished tasks leave the stream, also behind a long task", async (s) => {
  await using _workers = await startWorkers(s, 1); // two processes
  await using pool = new Pool({ broker: s.url, module });
  const xs = Array.from({ length: RETAIN + 1000 }, (_, i) => i);
  assert.deepEqual(
    await pool.map(square, xs.slice(0, 500), { chunksize: 1 }),
    xs.slice(0, 500).map((x) => x * x),
  );
  assert.equal(await s.cli("XLEN", "mp:pool:tasks"), "0"); // trimmed, none pending

  // a task held long pins the stream's head: the entries behind it are deleted one by one once
  // more than RETAIN of them wait there
  const long = pool.applyAsync(sleep, [60_000]);
  while (await s.cli("XPENDING", "mp:pool:tasks", "workers") === "0") {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.deepEqual(await pool.map(square, xs, { chunksize: 1 }), xs.map((x) => x * x));
  const left = Number(await s.cli("XLEN", "mp:pool:tasks"));
  assert.ok(left <= RETAIN + 1, `${left} entries are left behind the long task`);
  await pool.terminate();
  await assert.rejects(long.get(), /terminated/);
});

redisTest(
  "Pool on Redis: finished tasks leave the stream behind a long task, also after a pool ended with tasks no worker took",
  async (s) => {
    await using _workers = await startWorkers(s, 1); // two processes
    const ended = new Pool({ broker: s.url, module });
    const never = ended.mapAsync(sleep, Array.from({ length: 1000 }, () => 20), { chunksize: 1 });
    while (await s.cli("XPENDING", "mp:pool:tasks", "workers") === "0") {
      await new Promise((r) => setTimeout(r, 10));
    }
    await ended.terminate(); // most of its entries were never delivered: deleted
    await assert.rejects(never.get(), /terminated/);

    await using pool = new Pool({ broker: s.url, module });
    const long = pool.applyAsync(sleep, [60_000]);
    while (Number(await s.cli("XLEN", "mp:pool:tasks")) !== 1) { // the long task alone is left
      await new Promise((r) => setTimeout(r, 10));
    }
    try {
      const xs = Array.from({ length: RETAIN + 1000 }, (_, i) => i);
      assert.deepEqual(await pool.map(square, xs, { chunksize: 1 }), xs.map((x) => x * x));
      const left = Number(await s.cli("XLEN", "mp:pool:tasks"));
      assert.ok(left <= RETAIN + 1, `${left} entries are left behind the long task`);
    } finally {
      await pool.terminate();
    }
    await assert.rejects(long.get(), /terminated/);
  },
);

redisTest(
  "Pool on Redis: a later pool with the same options runs on the processes an ended one left warm",
  async (s) => {
    await using _workers = await startWorkers(s, 1); // two processes per caller pool
    const ran = async (options: { initArgs?: unknown[] } = {}) => {
      await using pool = new Pool({ broker: s.url, module, ...options });
      const tokens = await pool.map(whichProcess, Array.from({ length: 200 }, () => []), {
        chunksize: 1,
      });
      return new Set(tokens);
    };
    const first = await ran();
    const again = await ran();
    assert.ok([...again].every((t) => first.has(t)), "the same options: the same processes");
    const other = await ran({ initArgs: [1] });
    assert.ok([...other].every((t) => !first.has(t)), "other options: processes of their own");
  },
);

redisTest(
  "Pool on Redis: long tasks are shared among the workers, not held by the first",
  async (s) => {
    // two worker commands of two processes each, their tasks run in threads (Deno.pid says which)
    await using workers = await startWorkers(s, 2, ["--start-method", "worker"]);
    await using pool = new Pool({ broker: s.url, module });
    const ran = await pool.map(sleepThenPid, Array.from({ length: 8 }, () => 300), {
      chunksize: 1,
    });
    for (const w of workers.children) {
      const n = ran.filter((pid) => pid === w.pid).length;
      assert.ok(n >= 2, `worker ${w.pid} ran ${n} of the 8 tasks: ${ran}`);
    }
  },
);

redisTest("Pool on Redis: close, join and terminate", async (s) => {
  await using _workers = await startWorkers(s, 1);
  const pool = new Pool({ broker: s.url, module });
  const r = pool.applyAsync(sleep, [50]);
  pool.close();
  await assert.rejects(pool.apply(square, [1]), TypeError);
  await pool.join();
  assert.equal(await r.get(), 50);
  assert.equal(await s.cli("KEYS", "mp:pool:{*"), ""); // its keys are gone

  const other = new Pool({ broker: s.url, module });
  const long = other.applyAsync(sleep, [60_000]);
  const queued = Array.from({ length: 300 }, () => other.applyAsync(sleep, [60_000]));
  while (Number(await s.cli("XLEN", "mp:pool:tasks")) < 301) { // all submitted
    await new Promise((r) => setTimeout(r, 10));
  }
  await other.terminate();
  await assert.rejects(long.get(), /terminated/);
  for (const q of queued) await assert.rejects(q.get(), /terminated/);
  assert.equal(await s.cli("KEYS", "mp:pool:{*"), "");
  assert.equal(await s.cli("XLEN", "mp:pool:tasks"), "0"); // its entries are gone
});

Deno.test("Pool on Redis: an unreachable broker fails the tasks with BrokerError, quickly", async () => {
  await using pool = new Pool({ broker: "redis://127.0.0.1:1", module, connectTimeout: 2000 });
  const e = await within(pool.apply(square, [1]).catch((e) => e), 5000, "apply");
  assert.ok(e instanceof BrokerError, String(e));
  assert.match(e.message, /127\.0\.0\.1:1/);
  await assert.rejects(pool.map(square, [1, 2]), BrokerError);
});

redisTest("Pool on Redis: a wrong password fails with BrokerError", async (s) => {
  const url = s.url.replace("redis://", "redis://:wrong@");
  await using pool = new Pool({ broker: url, module, connectTimeout: 2000 });
  const e = await within(pool.apply(square, [1]).catch((e) => e), 5000, "apply");
  assert.ok(e instanceof BrokerError, String(e));
  assert.match(e.message, /password/);
}, { password: "secret", tcp: true });

Deno.test("Pool on Redis: bad options throw at construction", () => {
  assert.throws(() => new Pool({ broker: 42 as unknown as string, module }), TypeError);
  assert.throws(() => new Pool({ broker: "http://x", module }), TypeError);
  assert.throws(() => new Pool({ broker: "redis://x", module, processes: -1 }), RangeError);
  assert.throws(() => new Pool({ broker: "redis://x", module, maxDeliveries: 0 }), RangeError);
  assert.throws(() => new Pool({ broker: "redis://x", module, expireAfter: 10 }), RangeError);
});

Deno.test({
  name: "Pool on Redis: a server stopped mid-map fails the map with BrokerError, no hang",
  ignore: !HAVE_REDIS,
  async fn() {
    const s = await startRedis();
    try {
      await using workers = await startWorkers(s, 2);
      await using pool = new Pool({ broker: s.url, module });
      await pool.apply(square, [1]); // the pool is up and running
      const xs = Array.from({ length: 200 }, () => 20);
      let done = 0;
      const map = pool.map(sleep, xs, { chunksize: 1, onProgress: (n) => void (done = n) })
        .catch((e) => e);
      while (done === 0) await new Promise((r) => setTimeout(r, 10)); // the map is under way
      await s.stop();
      const e = await within(map, 10_000, "the map");
      assert.ok(e instanceof BrokerError, String(e));
      for (const c of workers.children) { // the worker commands stop, saying why
        assert.equal((await within(c.status, 10_000, "a worker command")).code, 2);
      }
    } finally {
      await s[Symbol.asyncDispose]();
    }
  },
});

redisTest("Pool on Redis: the workers keep taskTimeout", async (s) => {
  await using _workers = await startWorkers(s, 1, ["--start-method", "subprocess"]);
  await using pool = new Pool({ broker: s.url, module, taskTimeout: 300 });
  await assert.rejects(pool.apply(sleep, [30_000]), { name: "TaskTimeoutError" });
  assert.equal(await pool.apply(sleep, [1]), 1);
});

redisTest("Pool on Redis: a killed caller's keys expire and its tasks are dropped", async (s) => {
  await using _workers = await startWorkers(s, 1);
  const caller = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CALLER, s.url, "submit"],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = caller.stdout.getReader();
  let out = "";
  while (!out.includes("submitting")) out += new TextDecoder().decode((await reader.read()).value);
  reader.releaseLock();
  await caller.stdout.cancel();
  const submitted = Date.now() + 15_000;
  while (Number(await s.cli("XLEN", "mp:pool:tasks")) < 100) {
    assert.ok(Date.now() < submitted, "the caller did not submit its tasks within 15 s");
    await new Promise((r) => setTimeout(r, 20));
  }
  caller.kill("SIGKILL");
  await caller.status;
  const deadline = Date.now() + 15_000;
  while (
    (await s.cli("KEYS", "mp:pool:{*")) !== "" || (await s.cli("XLEN", "mp:pool:tasks")) !== "0"
  ) {
    assert.ok(Date.now() < deadline, "the caller's keys and tasks are still there after 15 s");
    await new Promise((r) => setTimeout(r, 50));
  }
});

redisTest("Pool on Redis: a program that never closes its pool ends", async (s) => {
  const out = await within(
    new Deno.Command(Deno.execPath(), { args: ["run", "-A", CALLER, s.url, "forget"] }).output(),
    20_000,
    "the program",
  );
  assert.equal(new TextDecoder().decode(out.stdout).trim(), "25");
  assert.equal(out.code, 0);
});

redisTest("Pool on Redis: a worker that cannot import the module fails its tasks", async (s) => {
  await using dir = await markers();
  const broken = `${dir.path}/broken.ts`;
  await Deno.writeTextFile(
    broken,
    "export function square(x: number): number {\n  return x * x;\n}\n" +
      'throw new Error("broken at import");\n',
  );
  await using _workers = await startWorkers(s, 1);
  await using pool = new Pool({ broker: s.url, module: new URL(`file://${broken}`) });
  const e = await pool.apply(square, [2]).catch((e) => e);
  assert.match(e.message, /cannot run the tasks of module file:.*broken\.ts: it cannot import it/);
  assert.match(e.message, /broken at import/);
  assert.equal(await s.cli("XLEN", "mp:pool:dead"), "0"); // failed, not redelivered
});

redisTest(
  "Pool on Redis: a worker command stopped by SIGINT gives its task to another",
  async (s) => {
    await using dir = await markers();
    await using first = await startWorkers(s, 1);
    await using pool = new Pool({ broker: s.url, module });
    const task = pool.apply(markThenSleep, [7, dir.path, 1500]);
    while (dir.count("7-") === 0) await new Promise((r) => setTimeout(r, 10));
    await using _second = await startWorkers(s, 1);
    first.children[0].kill("SIGINT");
    assert.notEqual((await first.children[0].status).code, 0);
    assert.equal(await task, 49); // run again on the second worker, not failed
    assert.equal(dir.count("7-"), 2);
  },
);

redisTest("Pool on Redis: a ClusterWorker closed as soon as it started stops", async (s) => {
  // its first read may reach the server after the wake-up that close sends
  for (let i = 0; i < 20; i++) {
    const worker = await ClusterWorker.start({ broker: s.url, processes: 1 });
    await within(worker.close(), 5000, `close #${i}`);
    assert.equal(await worker.stopped, undefined);
  }
});

redisTest("Pool on Redis: terminate during join waits for the pool to end", async (s) => {
  const pool = new Pool({ broker: s.url, module, processes: 1 });
  assert.equal(await pool.apply(square, [3]), 9);
  pool.close();
  const joined = pool.join();
  await pool.terminate();
  assert.equal(await s.cli("KEYS", "mp:pool:{*"), ""); // ended, not still ending
  await joined;
});

redisTest(
  "Pool on Redis: a ClusterWorker whose first reclaim fails closes its connections",
  async (s) => {
    await s.cli("SET", "mp:workers", "not a sorted set"); // RECLAIM's ZADD fails: WRONGTYPE
    await assert.rejects(ClusterWorker.start({ broker: s.url, processes: 1 }), /WRONGTYPE/);
  },
); // the sanitizers see no connection left open

redisTest(
  "Pool on Redis: a pool whose keys vanish (FLUSHALL) fails its tasks with BrokerError",
  async (s) => {
    await using _workers = await startWorkers(s, 1);
    await using pool = new Pool({ broker: s.url, module });
    assert.equal(await pool.apply(square, [2]), 4); // up and running
    const task = pool.apply(sleep, [30_000]).catch((e) => e);
    while (Number(await s.cli("XLEN", "mp:pool:tasks")) === 0) { // submitted
      await new Promise((r) => setTimeout(r, 10));
    }
    await s.cli("FLUSHALL");
    const e = await within(task, 10_000, "the task");
    assert.ok(e instanceof BrokerError, String(e));
    assert.match(e.message, /expired or were removed/);
    assert.match(e.message, /longer expireAfter/);
    await assert.rejects(pool.apply(square, [1]), BrokerError); // and what comes after
    await using again = new Pool({ broker: s.url, module }); // the worker command serves on
    assert.equal(await within(again.apply(square, [5]), 10_000, "a new pool's task"), 25);
  },
);

redisTest("Pool on Redis: a broker gone silent fails the tasks with BrokerError", async (s) => {
  await using pool = new Pool({ broker: s.url, module, expireAfter: 1500 });
  const task = pool.apply(square, [2]).catch((e) => e); // no worker: it waits
  while (Number(await s.cli("XLEN", "mp:pool:tasks")) === 0) {
    await new Promise((r) => setTimeout(r, 10));
  }
  Deno.kill(s.pid, "SIGSTOP"); // answers nothing, closes nothing
  try {
    const e = await within(task, 10_000, "the task");
    assert.ok(e instanceof BrokerError, String(e));
    assert.match(e.message, /no heartbeat reached the Redis broker .* for 1500 ms/);
  } finally {
    Deno.kill(s.pid, "SIGCONT");
  }
});

redisTest(
  "Pool on Redis: a malformed entry in the task stream is dropped, the worker goes on",
  async (s) => {
    await using _workers = await startWorkers(s, 1);
    await using pool = new Pool({ broker: s.url, module });
    assert.equal(await pool.apply(square, [2]), 4); // the worker reads the stream
    await s.cli("XADD", "mp:pool:tasks", "*", "p", "some-pool"); // no task id, function, payload
    assert.equal(await within(pool.apply(square, [3]), 10_000, "a task after it"), 9);
    const deadline = Date.now() + 10_000;
    while (await s.cli("XLEN", "mp:pool:tasks") !== "0") {
      assert.ok(Date.now() < deadline, "the malformed entry is still in the stream after 10 s");
      await new Promise((r) => setTimeout(r, 20));
    }
  },
);

redisTest("Pool on Redis: a ClusterWorker that closes leaves the consumer group", async (s) => {
  const worker = await ClusterWorker.start({ broker: s.url, processes: 1 });
  const consumers = () => s.cli("XINFO", "CONSUMERS", "mp:pool:tasks", "workers");
  try {
    await using pool = new Pool({ broker: s.url, module });
    assert.equal(await pool.apply(square, [4]), 16);
    assert.ok((await consumers()).includes(worker.name));
  } finally {
    await worker.close();
  }
  assert.ok(!(await consumers()).includes(worker.name));
});

redisTest(
  "Pool on Redis: a caller stalled past expireAfter fails its tasks with BrokerError",
  async (s) => {
    await using _workers = await startWorkers(s, 1);
    await using pool = new Pool({ broker: s.url, module, expireAfter: 1000 });
    assert.equal(await pool.apply(square, [2]), 4);
    const task = pool.apply(sleep, [30_000]).catch((e) => e);
    while (Number(await s.cli("XLEN", "mp:pool:tasks")) === 0) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const until = performance.now() + 1500;
    while (performance.now() < until) { /* the event loop stalls: no heartbeat */ }
    const e = await within(task, 10_000, "the task");
    assert.ok(e instanceof BrokerError, String(e));
    assert.match(e.message, /expired or were removed \(this program stalled/);
  },
);

redisTest("Pool on Redis: the workers of a broker share one lease", async (s) => {
  await using first = await ClusterWorker.start({ broker: s.url, processes: 1, lease: 2000 });
  await assert.rejects(
    ClusterWorker.start({ broker: s.url, processes: 1, lease: 1000 }),
    (e: Error) => e instanceof RangeError && /lease of 2000 ms.*asks for 1000 ms/.test(e.message),
  );
  await using _second = await ClusterWorker.start({ broker: s.url, processes: 1 }); // adopts it
  assert.equal(await s.cli("GET", "mp:pool:lease"), "2000");
  assert.ok(first.name);
});
