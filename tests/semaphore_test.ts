import assert from "node:assert/strict";
import { BoundedSemaphore, Event, Semaphore, Value } from "../mod.ts";
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

/** Takes `n` slots of `sem`, sets `held`, and never gives them back: the test kills this child. */
export async function holdForever(sem: Semaphore, held: Event, n: number): Promise<void> {
  for (let i = 0; i < n; i++) if (!await sem.acquire({ timeout: 10_000 })) Deno.exit(3);
  held.set();
  await new Event().wait();
}

/** Releases a slot this process never acquired: exits 0 when that fails with a TypeError. */
export function releaseUnheld(sem: Semaphore): Promise<void> {
  return exitOnError(TypeError, async () => {
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
  assert.throws(() => new Semaphore(1, { recoverDead: 1 as never }), TypeError);
  assert.throws(() => new Semaphore(1, 5 as never), TypeError);
  await assert.rejects(() => sem.acquire({ timeout: -5 }), RangeError);
  await assert.rejects(() => sem.acquire({ timeout: NaN }), RangeError);
  await assert.rejects(() => new Semaphore(1).acquire(false as never), TypeError);
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

Deno.test("Semaphore with recoverDead: true is released only by the process that acquired", async () => {
  const sem = new Semaphore(2, { recoverDead: true });
  assert.throws(() => sem.release(), TypeError);
  await sem.acquire();
  await sem.acquire();
  assert.equal(sem.getValue(), 0);
  assert.throws(() => sem.release(3), TypeError);
  sem.release(2);
  assert.equal(sem.getValue(), 2);
  assert.throws(() => new Semaphore(0, { recoverDead: true }), RangeError);
  {
    using _slot = await new BoundedSemaphore(1, { recoverDead: true }).hold();
  }
});

for (const method of METHODS) {
  Deno.test(`Semaphore with recoverDead: true gets back the slots of a holder that was killed (${method})`, async () => {
    const sem = new Semaphore(3, { recoverDead: true });
    const held = new Event();
    const p = spawn(holdForever, [[sem, held, 2]], method, module)[0];
    assert.equal(await held.wait({ timeout: 10_000 }), true);
    assert.equal(await sem.acquire({ timeout: 0 }), true); // the third slot
    const waiting = [sem.acquire({ timeout: 10_000 }), sem.acquire({ timeout: 10_000 })];
    p.kill();
    assert.deepEqual(await Promise.all(waiting), [true, true]);
    await p.join();
    assert.equal(sem.getValue(), 0);
    sem.release(3);
    assert.equal(sem.getValue(), 3);
  });

  Deno.test(`Semaphore without recoverDead keeps a killed holder's slot, as Python does (${method})`, async () => {
    const sem = new Semaphore(1);
    const held = new Event();
    const p = spawn(holdForever, [[sem, held, 1]], method, module)[0];
    assert.equal(await held.wait({ timeout: 10_000 }), true);
    p.kill();
    await p.join();
    assert.equal(await sem.acquire({ timeout: 250 }), false); // longer than a wait slice
  });

  Deno.test(`Semaphore with recoverDead: true refuses a release from a child that holds no slot (${method})`, async () => {
    const sem = new Semaphore(1, { recoverDead: true });
    await sem.acquire();
    assert.deepEqual(await joinAll(spawn(releaseUnheld, [[sem]], method, module)), [0]);
    assert.equal(sem.getValue(), 0);
    sem.release();
  });

  for (const recoverDead of [false, true]) {
    Deno.test(`Semaphore lets at most N children in at once (${method}${recoverDead ? ", recoverDead" : ""})`, async () => {
      const sem = new Semaphore(2, { recoverDead });
      const inside = new Value("i", 0);
      const most = new Value("i", 0);
      const ps = spawn(enter, [0, 1, 2, 3].map(() => [sem, inside, most, 5]), method, module);
      assert.deepEqual(await joinAll(ps), [0, 0, 0, 0]);
      assert.equal(inside.value, 0);
      assert.ok(most.value >= 1 && most.value <= 2, `peak ${most.value}`);
      assert.equal(sem.getValue(), 2);
    });
  }

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
