import assert from "node:assert/strict";
import { METHODS } from "./_helpers.ts";
import { decrement } from "../examples/manager_dict.ts";
import {
  type Address,
  AuthenticationError,
  type DictProxy,
  EOFError,
  type ListProxy,
  type LockProxy,
  Manager,
  type NamespaceProxy,
  Process,
  QueueEmptyError,
  QueueFullError,
  type QueueProxy,
  type StartMethod,
} from "../mod.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Uses every kind of proxy once. */
export async function touchAll(
  shared: {
    l: ListProxy<string>;
    ns: NamespaceProxy<{ seen: number }>;
    q: QueueProxy<number>;
    lock: LockProxy;
  },
): Promise<void> {
  await shared.l.push(`child ${Deno.pid}`);
  await shared.lock.acquire();
  await shared.ns.set("seen", (await shared.ns.get("seen")) + 1);
  await shared.lock.release();
  await shared.q.put(await shared.q.get() * 10);
}

/** Exits 5 unless an empty manager queue raises QueueEmptyError here too. */
export async function expectEmpty(q: QueueProxy<number>): Promise<void> {
  try {
    await q.getNowait();
  } catch (e) {
    if (e instanceof QueueEmptyError) return;
  }
  Deno.exit(5);
}

/** Connects to a manager by address: a wrong key first (exits 3 unless refused). */
export async function connectRemote(address: Address, authkey: string): Promise<void> {
  try {
    await Manager.connect(address, { authkey: authkey + "x" });
    Deno.exit(3);
  } catch (e) {
    if (!(e instanceof AuthenticationError)) Deno.exit(4);
  }
  await using remote = await Manager.connect(address, { authkey });
  const l = await remote.list([`made by ${Deno.pid}`]);
  const shared = await remote.dict<string, ListProxy<string>>();
  await shared.set("made", l);
}

/** Takes the lock and exits while holding it. */
export async function holdAndExit(lock: LockProxy): Promise<void> {
  await lock.acquire();
  Deno.exit(0);
}

/** Passes the proxy on to a grandchild of the other start method, which sets `d.by`. */
export async function passOn(d: DictProxy<string, string>, method: StartMethod): Promise<void> {
  const p = new Process({
    target: setBy,
    args: [d, `grandchild (${method})`],
    module,
    startMethod: method,
  });
  p.start();
  await p.join();
}

/** Sets `d.by`. */
export async function setBy(d: DictProxy<string, string>, who: string): Promise<void> {
  await d.set("by", who);
}

/** Puts `n` after `ms`. */
export async function putLater(q: QueueProxy<number>, n: number, ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  await q.put(n);
}

/** Sets `d[key]` to `size` bytes of `n`, for each `[key, n, size]`. */
export async function setBytes(
  d: DictProxy<string, Uint8Array>,
  entries: [string, number, number][],
): Promise<void> {
  for (const [key, n, size] of entries) await d.set(key, new Uint8Array(size).fill(n));
}

// ---- tests -------------------------------------------------------------------------------

for (const method of METHODS) {
  Deno.test(`Manager: bytes a child sets keep their values through later calls (${method})`, async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, Uint8Array>();
    const entries = [10, 1000, 70_000, 200_000].map((size, i): [string, number, number] => [
      `k${i}`,
      i + 1,
      size,
    ]);
    const p = new Process({ target: setBytes, args: [d, entries], module, startMethod: method });
    p.start();
    await p.join();
    assert.equal(p.exitCode, 0);
    const got = await Promise.all(entries.map(([key]) => d.get(key)));
    await setBytes(d, entries.map(([key, , size]) => [`${key}-later`, 255, size]));
    await Promise.all(entries.map(([key]) => d.get(`${key}-later`)));
    entries.forEach(([key, n, size], i) => {
      assert.equal(got[i]?.length, size, key);
      assert.ok(got[i]!.every((b) => b === n), `${key} changed after later calls`);
    });
  });
}

Deno.test("Manager: dict, list and namespace proxies", async () => {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>({ a: 1 });
  await d.set("b", 2);
  await d.update({ c: 3 });
  assert.equal(await d.get("a"), 1);
  assert.equal(await d.get("zz", -1), -1);
  assert.equal(await d.has("b"), true);
  assert.deepEqual(await d.keys(), ["a", "b", "c"]);
  assert.equal(await d.size(), 3);
  assert.equal(await d.pop("a"), 1);
  assert.equal(await d.delete("b"), true);
  assert.equal(await d.setDefault("c", 9), 3);
  assert.deepEqual(await d.copy(), new Map([["c", 3]]));
  assert.deepEqual(await d.toObject(), { c: 3 });
  await d.clear();
  assert.deepEqual(await d.entries(), []);
  await assert.rejects(d.set({} as never, 1), TypeError);
  await assert.rejects(d.set("f", (() => {}) as never), TypeError);

  const numbers = await manager.dict<number, string>([[1, "one"]]);
  assert.equal(await numbers.get(1), "one");

  const l = await manager.list([1, 2, 3]);
  assert.equal(await l.push(4, 5), 5);
  assert.equal(await l.get(-1), 5);
  await l.set(0, 10);
  assert.equal(await l.pop(), 5);
  await l.insert(0, 0);
  assert.equal(await l.remove(2), true);
  assert.equal(await l.indexOf(3), 2);
  assert.deepEqual(await l.toArray(), [0, 10, 3, 4]);
  await assert.rejects(l.get(10), RangeError);
  assert.equal(await l.length(), 4);

  const ns = await manager.namespace<{ x: number; y?: string }>({ x: 1 });
  await ns.set("y", "why");
  assert.deepEqual(await ns.toObject(), { x: 1, y: "why" });
  assert.equal(await ns.delete("y"), true);
  assert.equal(await ns.has("y"), false);
});

Deno.test("Manager: lock and queue proxies wait, time out and abort", async () => {
  await using manager = await Manager.start();
  const lock = await manager.lock();
  assert.equal(await lock.acquire(), true);
  assert.equal(await lock.locked(), true);
  assert.equal(await lock.acquire({ timeout: 20 }), false);
  const ac = new AbortController();
  const waiting = lock.acquire({ signal: ac.signal });
  ac.abort(new Error("stop"));
  await assert.rejects(waiting, /stop/);
  await lock.release();
  await assert.rejects(lock.release(), RangeError);

  const q = await manager.queue<number>(2);
  await q.put(1);
  await q.putNowait(2);
  assert.equal(await q.full(), true);
  await assert.rejects(q.putNowait(3), QueueFullError);
  await assert.rejects(q.put(3, { timeout: 10 }), QueueFullError);
  const blocked = q.put(3);
  assert.equal(await q.get(), 1);
  await blocked;
  assert.deepEqual([await q.get(), await q.get()], [2, 3]);
  assert.equal(await q.empty(), true);
  await assert.rejects(q.getNowait(), QueueEmptyError);
  await assert.rejects(q.get({ timeout: 10 }), QueueEmptyError);
  const later = q.get();
  await q.put(7);
  assert.equal(await later, 7);
  assert.equal(await q.qsize(), 0);
  await assert.rejects(manager.queue(-1), RangeError);
});

Deno.test("Manager: its Unix socket is 0600 and shutdown() leaves nothing behind", async () => {
  const manager = await Manager.start();
  const path = manager.address as string;
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  const q = await manager.queue();
  const waiting = q.get();
  await manager.shutdown();
  await assert.rejects(waiting, EOFError);
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
  await assert.rejects(manager.dict(), TypeError);
  await manager.shutdown();
});

Deno.test("Manager: over TCP a wrong authkey is refused and the server keeps serving", async () => {
  await using manager = await Manager.start({ address: { port: 0 }, authkey: "right" });
  const d = await manager.dict({ n: 1 });
  await assert.rejects(
    Manager.connect(manager.address, { authkey: "wrong" }),
    AuthenticationError,
  );
  await using remote = await Manager.connect(manager.address, { authkey: "right" });
  const l = await remote.list(["from remote"]);
  assert.deepEqual(await l.toArray(), ["from remote"]);
  assert.equal(await d.get("n"), 1);
});

Deno.test("Manager: a proxy stored in another manager object comes back working", async () => {
  await using manager = await Manager.start();
  const inner = await manager.list([1]);
  const outer = await manager.dict<string, ListProxy<number>>({ inner });
  const back = (await outer.get("inner"))!;
  await back.push(2);
  assert.deepEqual(await inner.toArray(), [1, 2]);
});

for (const method of METHODS) {
  Deno.test(`Manager: get() in the manager's process waits for a ${method} child that puts later`, async () => {
    await using manager = await Manager.start();
    const q = await manager.queue<number>();
    const p = new Process({ target: putLater, args: [q, 7, 200], module, startMethod: method });
    p.start();
    assert.equal(await q.get(), 7); // nothing but this wait holds the event loop meanwhile
    await p.join();
  });

  Deno.test(`Manager: ${method} children decrement a shared count to exactly zero`, async () => {
    await using manager = await Manager.start();
    const d = await manager.dict({ count: 40 });
    const lock = await manager.lock();
    const ps = Array.from(
      { length: 4 },
      () =>
        new Process({
          target: decrement,
          args: [d, lock, 10],
          module: new URL("../examples/manager_dict.ts", import.meta.url),
          startMethod: method,
        }),
    );
    for (const p of ps) p.start();
    for (const p of ps) await p.join();
    assert.deepEqual(ps.map((p) => p.exitCode), [0, 0, 0, 0]);
    assert.equal(await d.get("count"), 0);
  });

  Deno.test(`Manager: list, namespace and queue proxies work in ${method} children`, async () => {
    await using manager = await Manager.start();
    const shared = {
      l: await manager.list<string>(),
      ns: await manager.namespace({ seen: 0 }),
      q: await manager.queue<number>(),
      lock: await manager.lock(),
    };
    await shared.q.put(1);
    await shared.q.put(2);
    const ps = [1, 2].map(() =>
      new Process({ target: touchAll, args: [shared], module, startMethod: method })
    );
    for (const p of ps) p.start();
    for (const p of ps) await p.join();
    assert.equal(await shared.l.length(), 2);
    assert.equal(await shared.ns.get("seen"), 2);
    assert.deepEqual([await shared.q.get(), await shared.q.get()].sort(), [10, 20]);
  });

  Deno.test(`Manager: a ${method} child sees the manager queue's errors as their classes`, async () => {
    await using manager = await Manager.start();
    const q = await manager.queue<number>();
    const p = new Process({ target: expectEmpty, args: [q], module, startMethod: method });
    p.start();
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Manager: a ${method} child connects over TCP, refused with a wrong key`, async () => {
    await using manager = await Manager.start({ address: { port: 0 }, authkey: "right" });
    const p = new Process({
      target: connectRemote,
      args: [manager.address, "right"],
      module,
      startMethod: method,
    });
    p.start();
    await p.join();
    assert.equal(p.exitCode, 0);
    const made = await manager.dict<string, ListProxy<string>>();
    assert.equal(await made.size(), 0); // another dict than the child's
    assert.equal(await manager.list().then((l) => l.id), 4); // objects 1 to 3 came before
  });

  Deno.test(`Manager: a lock held by a ${method} child that exits is released`, async () => {
    await using manager = await Manager.start();
    const lock = await manager.lock();
    const p = new Process({ target: holdAndExit, args: [lock], module, startMethod: method });
    p.start();
    await p.join();
    assert.equal(await lock.acquire({ timeout: 5000 }), true);
    await lock.release();
  });

  Deno.test(`Manager: a proxy passes from a ${method} child to its own child`, async () => {
    await using manager = await Manager.start();
    const d = await manager.dict<string, string>();
    const other = method === "worker" ? "subprocess" : "worker";
    const p = new Process({ target: passOn, args: [d, other], module, startMethod: method });
    p.start();
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(await d.get("by"), `grandchild (${other})`);
  });
}
