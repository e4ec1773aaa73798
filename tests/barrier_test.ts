import assert from "node:assert/strict";
import { Barrier, BrokenBarrierError, Value } from "../mod.ts";
import { joinAll, METHODS, spawn } from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Passes `barrier` twice and records its arrival indexes as bits of `seen`. */
export async function meet(barrier: Barrier, seen: Value<"i">): Promise<void> {
  for (let round = 0; round < 2; round++) {
    const i = await barrier.wait({ timeout: 20_000 });
    using _held = await seen.getLock().hold();
    await seen.set((await seen.get()) | (1 << (i + 4 * round)));
  }
}

/** The barrier's action: counts trips. */
export async function countTrip(): Promise<void> {
  trips++;
  await Promise.resolve();
}
let trips = 0;

/** Waits alone on a barrier of 2 with a short timeout: exits 0 on BrokenBarrierError. */
export async function waitAlone(barrier: Barrier): Promise<void> {
  try {
    await barrier.wait({ timeout: 30 });
  } catch (e) {
    Deno.exit(e instanceof BrokenBarrierError ? 0 : 4);
  }
  Deno.exit(5);
}

/** Waits on `barrier` with no timeout: the test kills this child. */
export async function waitForever(barrier: Barrier): Promise<void> {
  await barrier.wait();
}

/** Waits until `n` parties wait on `b`. */
async function nWaiting(b: Barrier, n: number): Promise<void> {
  while (b.nWaiting < n) await new Promise((r) => setTimeout(r, 5));
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Barrier releases its parties together and runs its action once", async () => {
  trips = 0;
  const b = new Barrier(3, { action: countTrip });
  assert.equal(b.parties, 3);
  const waits = [b.wait(), b.wait()];
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(b.nWaiting, 2);
  waits.push(b.wait());
  assert.deepEqual((await Promise.all(waits)).sort(), [0, 1, 2]);
  assert.equal(trips, 1);
  assert.equal(b.nWaiting, 0);
});

Deno.test("Barrier breaks on timeout, abort() and abort signals, and reset() mends it", async () => {
  const b = new Barrier(2);
  await assert.rejects(() => b.wait({ timeout: 10 }), BrokenBarrierError);
  assert.equal(b.broken, true);
  await assert.rejects(() => b.wait(), BrokenBarrierError);
  b.reset();
  assert.equal(b.broken, false);
  const waiting = b.wait();
  b.abort();
  await assert.rejects(waiting, BrokenBarrierError);
  b.reset();
  const ctl = new AbortController();
  const p = b.wait({ signal: ctl.signal });
  ctl.abort();
  await assert.rejects(p, { name: "AbortError" });
  assert.equal(b.broken, true);
  b.reset();
  const pending = b.wait();
  b.reset();
  await assert.rejects(pending, BrokenBarrierError);
  assert.deepEqual((await Promise.all([b.wait(), b.wait()])).sort(), [0, 1]);
});

Deno.test("Barrier rejects bad input", async () => {
  assert.throws(() => new Barrier(0), RangeError);
  assert.throws(() => new Barrier(1.5), TypeError);
  assert.throws(() => new Barrier("3" as never), TypeError);
  assert.throws(() => new Barrier(65_536), RangeError);
  assert.throws(() => new Barrier(2, { timeout: NaN }), RangeError);
  assert.throws(() => new Barrier(2, { timeout: -1 }), RangeError);
  assert.throws(() => new Barrier(2, { action: 3 as never }), TypeError);
  const b = new Barrier(2);
  await assert.rejects(() => b.wait({ timeout: NaN }), RangeError);
  await assert.rejects(() => b.wait({ timeout: -1 }), RangeError);
  await assert.rejects(() => new Barrier(1).wait(1000 as never), TypeError);
  assert.throws(() => new Barrier(2, 1000 as never), TypeError); // Python's Barrier(2, None, 1)
  assert.equal(b.broken, false); // a refused wait does not break the barrier
});

for (const method of METHODS) {
  Deno.test(`Barrier lets children pass together, twice (${method})`, async () => {
    const b = new Barrier(3);
    const seen = new Value("i", 0);
    const ps = spawn(meet, [[b, seen], [b, seen]], method, module);
    await meet(b, seen);
    assert.deepEqual(await joinAll(ps), [0, 0]);
    assert.equal(seen.value, 0x77);
  });

  Deno.test(`Barrier.wait() in a child times out with BrokenBarrierError (${method})`, async () => {
    const b = new Barrier(2);
    assert.deepEqual(await joinAll(spawn(waitAlone, [[b]], method, module)), [0]);
    assert.equal(b.broken, true);
  });
}

for (const method of METHODS) {
  Deno.test(`Barrier: a party killed while waiting breaks it for the parties waiting (${method})`, async () => {
    const b = new Barrier(3);
    const mine = b.wait({ signal: AbortSignal.timeout(10_000) });
    const p = spawn(waitForever, [[b]], method, module)[0];
    await nWaiting(b, 2);
    p.kill();
    await assert.rejects(mine, BrokenBarrierError);
    await p.join();
    assert.equal(b.broken, true);
  });

  Deno.test(`Barrier: a party killed while waiting breaks it for the parties that come later (${method})`, async () => {
    const b = new Barrier(3);
    const p = spawn(waitForever, [[b]], method, module)[0];
    await nWaiting(b, 1);
    p.kill();
    await p.join();
    const signal = AbortSignal.timeout(10_000);
    const late = [b.wait({ signal }), b.wait({ signal })];
    for (const w of late) await assert.rejects(w, BrokenBarrierError);
    assert.equal(b.broken, true);
    b.reset();
    assert.deepEqual((await Promise.all([b.wait(), b.wait(), b.wait()])).sort(), [0, 1, 2]);
  });
}
