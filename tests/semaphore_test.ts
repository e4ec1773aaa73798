import assert from "node:assert/strict";
import { BoundedSemaphore, Semaphore, Value } from "../mod.ts";
import { exitOnError, joinAll, METHODS, spawn, timeoutAndAbort } from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Enters `sem` `rounds` times, recording in `inside` how many are in at once, `most` the peak. */
export async function enter(
  sem: Semaphore,
  inside: Value<"i">,
  most: Value<"i">,
  rounds: number,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    using _slot = await sem.hold({ timeout: 20_000 });
    {
      using _held = await inside.getLock().hold();
      const now = (await inside.get()) + 1;
      await inside.set(now);
      if (now > await most.get()) await most.set(now);
    }
    await new Promise((r) => setTimeout(r, 2));
    using _held = await inside.getLock().hold();
    await inside.set((await inside.get()) - 1);
  }
}

/**
 * Holds a slot of `sem` and, under `count`'s lock, adds one to `count`; then returns: the lock's
 * release and the slot's are the last calls it sends, the first still waiting for its answer.
 */
export async function holdAndCount(sem: Semaphore, count: Value<"i">): Promise<void> {
  using _slot = await sem.hold();
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
  using _held = await count.getLock().hold();
  await count.set((await count.get()) + 1);
}

/** Reports in `out`: 1 timeout seen, +2 abort seen, +4 getValueAsync() is 0. */
export async function tryEmpty(sem: Semaphore, out: Value<"i">): Promise<void> {
  let r = await timeoutAndAbort((o) => sem.acquire(o));
  if (await sem.getValueAsync() === 0) r += 4;
  await out.set(r);
}

/** Releases a bounded semaphore that is full: exits 0 when that fails with a RangeError. */
export function overRelease(sem: BoundedSemaphore): Promise<void> {
  return exitOnError(RangeError, async () => {
    sem.release();
    await sem.getValueAsync(); // a release sent through the parent fails here
  });
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Semaphore counts acquires and releases in one process", async () => {
  const sem = new Semaphore(2);
  assert.equal(await sem.acquire(), true);
  assert.equal(await sem.acquire(), true);
  assert.equal(sem.getValue(), 0);
  assert.equal(await sem.acquire({ timeout: 10 }), false);
  const waiting = sem.acquire({ timeout: 5000 });
  sem.release(2);
  assert.equal(await waiting, true);
  assert.equal(sem.getValue(), 1);
});

Deno.test("Semaphore rejects bad input", async () => {
  assert.throws(() => new Semaphore(-1), RangeError);
  assert.throws(() => new Semaphore(1.5), TypeError);
  const sem = new Semaphore(0);
  assert.throws(() => sem.release(0), RangeError);
  assert.throws(() => sem.release(1.5), TypeError);
  assert.throws(() => new Semaphore(NaN), TypeError);
  assert.throws(() => new Semaphore(2 ** 31), RangeError);
  await assert.rejects(() => sem.acquire({ timeout: -5 }), RangeError);
  const ctl = new AbortController();
  const p = sem.acquire({ signal: ctl.signal });
  ctl.abort();
  await assert.rejects(p, { name: "AbortError" });
  const b = new BoundedSemaphore(1);
  assert.throws(() => b.release(), RangeError);
  await b.acquire();
  b.release();
  assert.equal(b.getValue(), 1);
});

Deno.test("Semaphore.release() past the largest count throws RangeError and changes nothing", () => {
  const sem = new Semaphore(0);
  sem.release(2 ** 30);
  assert.throws(() => sem.release(2 ** 30), RangeError);
  assert.equal(sem.getValue(), 2 ** 30);
  sem.release(2 ** 30 - 1);
  assert.equal(sem.getValue(), 2 ** 31 - 1);
  assert.throws(() => sem.release(), RangeError);
  assert.equal(sem.getValue(), 2 ** 31 - 1);
});

for (const method of METHODS) {
  Deno.test(`Semaphore lets at most N children in at once (${method})`, async () => {
    const sem = new Semaphore(2);
    const inside = new Value("i", 0);
    const most = new Value("i", 0);
    const ps = spawn(enter, [0, 1, 2, 3].map(() => [sem, inside, most, 5]), method, module);
    assert.deepEqual(await joinAll(ps), [0, 0, 0, 0]);
    assert.equal(inside.value, 0);
    assert.ok(most.value >= 1 && most.value <= 2, `peak ${most.value}`);
    assert.equal(sem.getValue(), 2);
  });

  Deno.test(`Semaphore released by \`using\` as a child returns is free once it is joined (${method})`, async () => {
    const sem = new Semaphore(3);
    const count = new Value("i", 0);
    for (let round = 1; round <= 3; round++) {
      const ps = spawn(holdAndCount, Array(8).fill([sem, count]), method, module);
      assert.deepEqual(await joinAll(ps), Array(8).fill(0));
      assert.equal(sem.getValue(), 3, `round ${round}`);
      assert.equal(count.value, 8 * round);
    }
  });

  Deno.test(`Semaphore.acquire() in a child times out and aborts (${method})`, async () => {
    const sem = new Semaphore(0);
    const out = new Value("i", 0);
    assert.deepEqual(await joinAll(spawn(tryEmpty, [[sem, out]], method, module)), [0]);
    assert.equal(out.value, 7);
    assert.equal(sem.getValue(), 0);
  });

  Deno.test(`BoundedSemaphore refuses a release above its start value in a child (${method})`, async () => {
    const sem = new BoundedSemaphore(1);
    assert.deepEqual(await joinAll(spawn(overRelease, [[sem]], method, module)), [0]);
    assert.equal(sem.getValue(), 1);
  });
}
