import assert from "node:assert/strict";
import { Condition, Lock, RLock, Value } from "../mod.ts";
import { joinAll, METHODS, spawn, starter } from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Waits under `cond` until `stage` reaches 1, then counts itself in `woken`. */
export async function waitForStage(
  cond: Condition,
  stage: Value<"i">,
  woken: Value<"i">,
  ready: Value<"i">,
): Promise<void> {
  using _held = await cond.hold();
  await ready.set((await ready.get()) + 1);
  const ok = await cond.waitFor(async () => (await stage.get()) >= 1, { timeout: 20_000 });
  if (!ok) Deno.exit(3);
  await woken.set((await woken.get()) + 1);
}

/** Raises `stage` and notifies every waiter. */
export async function announce(cond: Condition, stage: Value<"i">): Promise<void> {
  using _held = await cond.hold();
  await stage.set(1);
  cond.notifyAll();
}

/** Reports in `out`: 1 for a wait that times out, +2 when it then still holds the lock, +4 for
 * a TypeError from a wait without the lock. */
export async function waitAlone(cond: Condition, out: Value<"i">): Promise<void> {
  let r = 0;
  await cond.acquire();
  if (!await cond.wait({ timeout: 20 })) r += 1;
  try {
    cond.notify(); // only its holder may notify
    r += 2;
  } catch {
    // not held
  }
  cond.release();
  try {
    await cond.wait({ timeout: 10 });
  } catch (e) {
    if (e instanceof TypeError) r += 4;
  }
  await out.set(r);
}

/** Counts itself in `ready` and waits under `cond`; `woke` becomes 1 when notified, 2 when the
 * wait timed out. */
export async function waitOnce(
  cond: Condition,
  ready: Value<"i">,
  woke: Value<"i">,
  timeout: number,
): Promise<void> {
  using _held = await cond.hold();
  await ready.set((await ready.get()) + 1);
  await woke.set(await cond.wait({ timeout }) ? 1 : 2);
}

const start = starter(module);

/** Waits until `ready` counts `n` waiters and each has released the lock inside `wait()`. */
async function waitersIn(cond: Condition, ready: Value<"i">, n: number): Promise<void> {
  while (ready.value < n) await new Promise((r) => setTimeout(r, 5));
  await cond.acquire({ timeout: 10_000 }); // free again only once the last one is waiting
  cond.release();
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Condition.notify(n) wakes exactly n waiters in one process", async () => {
  const cond = new Condition(new Lock());
  let woken = 0;
  const waiters = [0, 1, 2].map(async () => {
    using _held = await cond.hold();
    if (await cond.wait({ timeout: 300 })) woken++;
  });
  await new Promise((r) => setTimeout(r, 20));
  {
    using _held = await cond.hold();
    cond.notify(2);
  }
  await Promise.all(waiters);
  assert.equal(woken, 2);
});

Deno.test("Condition rejects bad input", async () => {
  assert.throws(() => new Condition({} as Lock), TypeError);
  const cond = new Condition();
  await assert.rejects(() => cond.wait(), TypeError);
  assert.throws(() => cond.notify(), TypeError);
  await cond.acquire();
  assert.throws(() => cond.notify(-1), RangeError);
  assert.throws(() => cond.notify(1.5), TypeError);
  assert.throws(() => cond.notify(NaN), TypeError);
  assert.throws(() => cond.notify("2" as never), TypeError);
  cond.notify(Infinity); // the same as notifyAll()
  await assert.rejects(() => cond.waitFor(() => true, 100 as never), TypeError);
  await assert.rejects(() => cond.wait({ timeout: NaN }), RangeError);
  const ctl = new AbortController();
  const p = cond.wait({ signal: ctl.signal });
  setTimeout(() => ctl.abort(), 10);
  await assert.rejects(p, { name: "AbortError" });
  cond.release(); // the wait took the lock back before it rejected
});

for (const method of METHODS) {
  Deno.test(`Condition.notifyAll() wakes children waiting for a predicate (${method})`, async () => {
    const cond = new Condition();
    const stage = new Value("i", 0);
    const woken = new Value("i", 0);
    const ready = new Value("i", 0);
    const ps = spawn(waitForStage, [0, 1].map(() => [cond, stage, woken, ready]), method, module);
    while (ready.value < 2) await new Promise((r) => setTimeout(r, 5));
    const q = spawn(announce, [[cond, stage]], method, module);
    assert.deepEqual(await joinAll([...ps, ...q]), [0, 0, 0]);
    assert.equal(woken.value, 2);
  });

  Deno.test(`Condition.wait() in a child times out holding the lock (${method})`, async () => {
    const cond = new Condition();
    const out = new Value("i", 0);
    assert.deepEqual(await joinAll(spawn(waitAlone, [[cond, out]], method, module)), [0]);
    assert.equal(out.value, 7);
  });
}

for (const method of METHODS) {
  Deno.test(`Condition: notify() after a waiter is killed wakes a live waiter (${method})`, async () => {
    const cond = new Condition();
    const ready = new Value("i", 0);
    const [deadWoke, liveWoke] = [new Value("i", 0), new Value("i", 0)];
    const dead = start(method, waitOnce, [cond, ready, deadWoke, 60_000]);
    await waitersIn(cond, ready, 1);
    const live = start(method, waitOnce, [cond, ready, liveWoke, 60_000]);
    await waitersIn(cond, ready, 2);
    dead.kill();
    await dead.join();
    {
      using _held = await cond.hold();
      cond.notify(1);
    }
    await live.join(10_000);
    live.kill();
    assert.equal(liveWoke.value, 1, "the live waiter was not woken");
  });

  Deno.test(`Condition: a notify() that only a killed waiter could take wakes no later waiter (${method})`, async () => {
    const cond = new Condition();
    const ready = new Value("i", 0);
    const dead = start(method, waitOnce, [cond, ready, new Value("i", 0), 60_000]);
    await waitersIn(cond, ready, 1);
    dead.kill();
    await dead.join();
    using _held = await cond.hold();
    cond.notify(1);
    assert.equal(await cond.wait({ timeout: 300 }), false, "a notification was left over");
  });

  Deno.test(`Condition: a waiter killed while waiting never takes the lock back (${method})`, async () => {
    const lock = new RLock();
    const cond = new Condition(lock);
    const ready = new Value("i", 0);
    const dead = start(method, waitOnce, [cond, ready, new Value("i", 0), 60_000]);
    await waitersIn(cond, ready, 1);
    dead.kill();
    await dead.join();
    {
      using _held = await cond.hold();
      cond.notifyAll();
    }
    await new Promise((r) => setTimeout(r, 250)); // longer than a wait slice
    assert.equal(lock.locked(), false);
    using held = await cond.hold({ timeout: 1000 });
    assert.equal(held.recovered, false);
  });
}
