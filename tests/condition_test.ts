import assert from "node:assert/strict";
import { Condition, Lock, Value } from "../mod.ts";
import { joinAll, METHODS, spawn } from "./_helpers.ts";

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
