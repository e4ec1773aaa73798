// Manager.connect(redis URL) against a real redis-server (one per test, on a unix socket):
// the proxies' semantics and misuse errors (those of a local manager), sharing between
// processes of both start methods (by passing proxies and by name), the lock across processes
// and after its holder is SIGKILLed, and a BrokerError, as the queues give, when the server is
// missing, refuses the password or stops mid-call.

import assert from "node:assert/strict";
import { METHODS, readUntil, spawnDeno, startOne, within } from "./_helpers.ts";
import { HAVE_REDIS, skipRedisSuite, startRedis } from "./_redis.ts";
import { BrokerError } from "../cluster/mod.ts";
import {
  type DictKey,
  type DictProxy,
  type ListProxy,
  type LockProxy,
  Manager,
  Process,
  QueueEmptyError,
  QueueFullError,
  type QueueProxy,
} from "../mod.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Adds to a dict and a list it was passed, then to the same ones found by name. */
export async function addTo(
  d: DictProxy<string, string>,
  l: ListProxy<string>,
  url: string,
  tag: string,
): Promise<void> {
  await d.set(tag, "passed");
  await l.push(`${tag} passed`);
  await using m = await Manager.connect(url);
  await (await m.dict<string, string>("shared")).set(tag, "named");
  await (await m.list<string>("log")).push(`${tag} named`);
}

/** Increments `count` `n` times under the named lock, yielding between its read and write. */
export async function count(url: string, n: number): Promise<void> {
  await using m = await Manager.connect(url);
  const d = await m.dict<string, number>("counter");
  const lock = await m.lock("counter");
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    try {
      const v = await d.get("count", 0);
      await new Promise((r) => setTimeout(r, 1));
      await d.set("count", v! + 1);
    } finally {
      await lock.release();
    }
  }
}

/** Takes the lock, says so, and holds it until killed. */
export async function holdForever(lock: LockProxy, q: QueueProxy<string>): Promise<void> {
  await lock.acquire();
  await q.put("held");
  setInterval(() => {}, 1000);
  await new Promise(() => {});
}

/** Misuses of each kind of proxy: the errors they give, by name and message. */
async function misuses(m: Manager): Promise<string[]> {
  const l = await m.list<number>([1, 2]);
  const d = await m.dict();
  const lock = await m.lock();
  const q = await m.queue<number>(1);
  const calls: (() => Promise<unknown>)[] = [
    () => l.get(2),
    () => l.get(-3),
    () => l.set(5, 0),
    () => l.set(-3, 0),
    () => l.pop(9),
    () => l.get(1.5),
    async () => {
      await l.clear();
      return await l.pop();
    },
    () => d.set({} as unknown as string, 1),
    () => lock.release(),
    () => q.getNowait(),
    () => q.get({ timeout: 10 }),
    async () => {
      await q.put(1);
      return await q.putNowait(2);
    },
    () => q.put(3, { timeout: 10 }),
  ];
  const out = [];
  for (const call of calls) {
    try {
      await call();
      out.push("no error");
    } catch (e) {
      out.push(`${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  return out;
}

// ---- tests --------------------------------------------------------------------------------

if (!HAVE_REDIS) {
  skipRedisSuite();
} else {
  Deno.test("redis manager: the proxies behave as a local manager's", async () => {
    await using srv = await startRedis();
    await using m = await Manager.connect(srv.url);
    const d = await m.dict<DictKey, unknown>({ a: 1 });
    await d.set(2, { x: [1, 2n] });
    await d.set(null, new Uint8Array([1, 2]));
    await d.update([["a", 10], [false, "f"]]);
    assert.deepEqual(await d.keys(), ["a", 2, null, false]);
    assert.deepEqual(await d.entries(), [
      ["a", 10],
      [2, { x: [1, 2n] }],
      [null, new Uint8Array([1, 2])],
      [false, "f"],
    ]);
    assert.equal(await d.size(), 4);
    assert.equal(await d.get("missing", 7), 7);
    assert.equal(await d.has(2), true);
    assert.equal(await d.pop("a"), 10);
    assert.equal(await d.delete("a"), false);
    assert.equal(await d.setDefault(true, "t"), "t");
    assert.equal(await d.setDefault(true, "u"), "t");
    assert.deepEqual(await d.values(), [{ x: [1, 2n] }, new Uint8Array([1, 2]), "f", "t"]);
    await d.clear();
    assert.equal(await d.size(), 0);

    const l = await m.list<number>([1, 2, 3, 4]);
    assert.equal(await l.push(5, 6), 6);
    await l.insert(1, 9);
    await l.insert(-100, 0);
    assert.deepEqual(await l.toArray(), [0, 1, 9, 2, 3, 4, 5, 6]);
    assert.equal(await l.pop(), 6);
    assert.equal(await l.pop(3), 2);
    assert.equal(await l.get(-1), 5);
    await l.set(-1, 50);
    assert.deepEqual(await l.slice(1, -1), [1, 9, 3, 4]);
    assert.deepEqual(await l.slice(-2), [4, 50]);
    assert.deepEqual(await l.slice(3, 2), []);
    assert.equal(await l.indexOf(4), 4);
    assert.equal(await l.includes(77), false);
    assert.equal(await l.remove(9), true);
    await l.reverse();
    assert.deepEqual(await l.toArray(), [50, 4, 3, 1, 0]);
    await assert.rejects(l.get(99), RangeError);
    await assert.rejects(l.set(5, 1), RangeError);
    await l.clear();
    await assert.rejects(l.pop(), RangeError);

    const ns = await m.namespace<{ x: number; y: string }>({ x: 1 });
    await ns.set("y", "b");
    assert.deepEqual(await ns.toObject(), { x: 1, y: "b" });
    assert.equal(await ns.delete("x"), true);
    assert.equal(await ns.has("x"), false);

    const q = await m.queue<string>(2);
    await q.put("a");
    await q.putNowait("b");
    assert.equal(await q.full(), true);
    assert.equal(await q.qsize(), 2);
    await assert.rejects(q.put("c", { timeout: 50 }), QueueFullError);
    const late = q.put("c"); // waits for room
    assert.equal(await q.get(), "a");
    await late;
    assert.deepEqual([await q.getNowait(), await q.get()], ["b", "c"]);
    await assert.rejects(q.get({ timeout: 50 }), QueueEmptyError);
    await assert.rejects(q.getNowait(), QueueEmptyError);
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error("stop")), 30);
    await assert.rejects(q.get({ signal: ac.signal }), /stop/);
    for (const delay of [0, 1, 2]) { // as the wait starts
      const early = new AbortController();
      setTimeout(() => early.abort(new Error("early")), delay);
      await within(assert.rejects(q.get({ signal: early.signal }), /early/), 5000, "get");
    }
    setTimeout(() => q.put("later"), 30);
    assert.equal(await q.get({ timeout: 5000 }), "later");

    const lock = await m.lock({ lease: 300 });
    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire({ timeout: 500 }), false, "a live holder's lease is renewed");
    assert.equal(await lock.locked(), true);
    await lock.release();
    assert.equal(await lock.locked(), false);
    await assert.rejects(lock.release(), RangeError);
  });

  Deno.test("redis manager: a misuse fails with the local manager's error", async () => {
    await using srv = await startRedis();
    await using local = await Manager.start();
    await using redis = await Manager.connect(srv.url);
    const expected = await misuses(local);
    assert.ok(!expected.includes("no error"), expected.join("\n"));
    assert.deepEqual(await misuses(redis), expected);
  });

  Deno.test("redis manager: names are shared; unnamed objects go with their manager", async () => {
    await using srv = await startRedis();
    await using a = await Manager.connect(srv.url);
    {
      await using b = await Manager.connect(srv.url);
      const da = await a.dict("scores", { x: 1 });
      const db = await b.dict("scores", { x: 2, y: 3 }); // exists: its init is not applied
      await db.set("z", 4);
      assert.deepEqual(await da.toObject(), { x: 1, z: 4 });
      assert.equal(da.name, "scores");
      assert.equal((await b.queue("jobs", 5)).name, "jobs");
      await (await b.list("scores")).push("a list of the same name is another object");
      assert.equal(await da.size(), 2);
      await assert.rejects(b.dict("a{b}"), TypeError);
      const anon = await b.list([1]);
      assert.match(anon.name!, /^anon-/);
      assert.match(await srv.cli("PTTL", `mp:m:{list:${anon.name}}:l`), /^[1-9]\d*$/);
      assert.equal(await srv.cli("PTTL", "mp:m:{dict:scores}:h"), "-1");
    }
    const keys = (await srv.cli("KEYS", "mp:m:*")).split("\n").sort();
    assert.deepEqual(keys, [
      "mp:m:{dict:scores}:h",
      "mp:m:{dict:scores}:meta",
      "mp:m:{dict:scores}:o",
      "mp:m:{list:scores}:l",
      "mp:m:{list:scores}:meta",
      "mp:m:{queue:jobs}:meta",
    ]);
    await using local = await Manager.start();
    await assert.rejects(local.dict("scores"), /names are for a manager connected to Redis/);
  });

  for (const method of METHODS) {
    Deno.test(`redis manager: two processes share a dict and a list (${method})`, async () => {
      await using srv = await startRedis();
      await using m = await Manager.connect(srv.url);
      const d = await m.dict<string, string>();
      const l = await m.list<string>(["parent"]);
      const p = startOne(addTo, [d, l, srv.url, "child"], method, module);
      await p.join();
      assert.equal(p.exitCode, 0);
      assert.deepEqual(await d.toObject(), { child: "passed" });
      assert.deepEqual(await l.toArray(), ["parent", "child passed"]);
      assert.deepEqual(await (await m.dict("shared")).toObject(), { child: "named" });
      assert.deepEqual(await (await m.list("log")).toArray(), ["child named"]);
    });
  }

  Deno.test("redis manager: the lock excludes across processes", async () => {
    await using srv = await startRedis();
    const ps = [...METHODS, "subprocess" as const].map((method) =>
      startOne(count, [srv.url, 10], method, module)
    );
    for (const p of ps) await p.join();
    assert.deepEqual(ps.map((p) => p.exitCode), [0, 0, 0]);
    await using m = await Manager.connect(srv.url);
    assert.equal(await (await m.dict("counter")).get("count"), 30);
    assert.equal(await (await m.lock("counter")).locked(), false);
  });

  Deno.test("redis manager: a SIGKILLed holder's lock frees after its lease", async () => {
    await using srv = await startRedis();
    await using m = await Manager.connect(srv.url);
    const lock = await m.lock("held", { lease: 1000 });
    const q = await m.queue<string>();
    const p = new Process({ target: holdForever, args: [lock, q], module });
    p.start();
    assert.equal(await q.get({ timeout: 20_000 }), "held");
    assert.equal(await lock.acquire({ timeout: 1500 }), false, "a live holder keeps it");
    p.kill();
    await p.join();
    const t0 = performance.now();
    assert.equal(await lock.acquire({ timeout: 5000 }), true);
    const waited = performance.now() - t0;
    assert.ok(waited < 3000, `freed ${waited.toFixed(0)} ms after the kill`);
    await lock.release();
  });

  Deno.test("redis manager: a wait holds the program; a manager left open does not", async () => {
    await using srv = await startRedis();
    const child = spawnDeno(["run", "-A", "tests/fixtures/redis_manager_open.ts", srv.url]);
    assert.match(await readUntil(child, (t) => t.includes("waiting")), /waiting/);
    // the get waits in a BLPOP, holding the program
    while (!/blocked_clients:1/.test(await srv.cli("INFO", "clients"))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    {
      await using m = await Manager.connect(srv.url);
      await (await m.queue<string>("open")).put("late");
    }
    const out = await within(child.output(), 10_000, "the program");
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "got late");
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  });

  Deno.test("redis manager: a stopped server fails calls with a clear error", async () => {
    await using srv = await startRedis();
    const m = await Manager.connect(srv.url);
    const q = await m.queue<number>("q");
    const d = await m.dict("d");
    await d.set("a", 1);
    const waiting = assert.rejects(q.get(), BrokerError);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    await srv.stop();
    await waiting;
    await assert.rejects(d.get("a"), (e: Error) => {
      assert.ok(e instanceof BrokerError);
      // refused (the socket is gone) or lost (the call met the closing connection): both say so
      assert.match(
        e.message,
        /^Cannot .*: the Redis broker at unix:\/\/.* failed: .*; (check that|the connection was lost)/,
      );
      return true;
    });
    const t1 = performance.now();
    await m.shutdown(); // with the server gone too
    const t2 = performance.now();
    assert.ok(t1 - t0 < 3000 && t2 - t1 < 3000, `${t1 - t0} ms, then ${t2 - t1} ms`);
    await assert.rejects(d.get("a"), /closed/);
  });

  Deno.test("redis manager: a missing server or a wrong password fails at once", async () => {
    await using srv = await startRedis({ password: "secret" });
    const t0 = performance.now();
    const fails = async (url: string, advice: RegExp) => {
      await assert.rejects(Manager.connect(url), (e: Error) => {
        assert.ok(e instanceof BrokerError, `${e}`);
        assert.match(e.message, /^Cannot connect: the Redis broker at /);
        assert.match(e.message, advice);
        assert.doesNotMatch(e.message, /password=wrong/, "the password is not shown");
        return true;
      });
    };
    await fails(`${srv.url}?password=wrong`, /check the user and password/);
    await fails("unix:///nonexistent/redis.sock", /check that redis-server runs at that address/);
    await fails("redis://127.0.0.1:1", /check that redis-server runs at that address/);
    await assert.rejects(Manager.connect("redis://"), TypeError);
    assert.ok(performance.now() - t0 < 3000);
    await using m = await Manager.connect(`${srv.url}?password=secret`);
    assert.equal(await (await m.namespace({ ok: true })).get("ok"), true);
  });
}
