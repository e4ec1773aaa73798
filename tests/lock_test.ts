import assert from "node:assert/strict";
import { Event, Lock, Process, Queue, RLock, Value } from "../mod.ts";
import { allocateIdent, releaseIdent, state } from "../_core/_state.ts";
import { localWho } from "../sync/_handle.ts";
import { acquire, free, newMutex, tryTake, WORDS, YES } from "../sync/_mutex.ts";
import {
  exitOnError,
  joinAll,
  METHODS,
  outcome,
  spawn,
  startUnmapped,
  timeoutAndAbort,
} from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Holds `lock`, sets `held`, and releases once `done` is set. */
export async function holdUntil(lock: Lock, held: Event, done: Event): Promise<void> {
  await lock.acquire();
  held.set();
  await done.wait();
  lock.release();
}

/** Holds `lock`, sets `held`, and never releases: the test kills this child. */
export async function holdForever(lock: Lock, held: Event): Promise<void> {
  await lock.acquire();
  held.set();
  await new Event().wait();
}

/** Reports in `out` how the child's acquire attempts ended: 1 timeout, 2 abort, 3 both ok. */
export async function tryWhileHeld(lock: Lock, out: Value<"i">): Promise<void> {
  await out.set(await timeoutAndAbort((o) => lock.acquire(o)));
}

/** Sets `waiting`, then waits for `lock` forever: the test kills this child. */
export async function waitForever(lock: Lock, waiting: Event): Promise<void> {
  waiting.set();
  await lock.acquire();
}

/** Reports in `out`: 1 when `locked()` throws a TypeError and `lockedAsync()` answers, else 0. */
export async function checkLocked(lock: Lock, out: Value<"i">, shared: boolean): Promise<void> {
  let threw = false;
  try {
    lock.locked();
  } catch (e) {
    threw = e instanceof TypeError;
  }
  const ok = threw !== shared && await lock.lockedAsync() === true;
  await out.set(ok ? 1 : 0);
}

/** Reports in `out`: 1 when `tryAcquire()` refuses the held lock (a TypeError where memory is
 * not shared), else 0. */
export function tryHeld(lock: Lock, out: Value<"i">, shared: boolean): Promise<void> {
  let ok: boolean;
  try {
    ok = lock.tryAcquire() === false && shared;
  } catch (e) {
    ok = !shared && e instanceof TypeError;
  }
  return out.set(ok ? 1 : 0);
}

/** Acquires an RLock twice and releases it twice; exits 3 on a surprise. */
export async function reenter(lock: RLock): Promise<void> {
  if (!await lock.acquire({ timeout: 5000 })) Deno.exit(3);
  if (!await lock.acquire({ timeout: 100 })) Deno.exit(3);
  lock.release();
  lock.release();
}

/** Releases an RLock that the parent holds: exits 0 when that throws a TypeError. */
export function releaseOthers(lock: RLock): Promise<void> {
  return exitOnError(TypeError, async () => {
    lock.release();
    await lock.lockedAsync(); // a release sent through the parent fails here
  });
}

/** Adds 1 to `box.count` 200 times under `box.locks[0]`, from this process and a worker child. */
export async function nested(
  box: { locks: Lock[]; count: Value<"i"> },
  depth: number,
): Promise<void> {
  let child: Process | undefined;
  if (depth > 0) {
    child = new Process({ target: nested, args: [box, depth - 1], startMethod: "worker", module });
    child.start();
  }
  for (let i = 0; i < 200; i++) {
    using _held = await box.locks[0].hold();
    await box.count.set((await box.count.get()) + 1);
  }
  await child?.join();
  if (child && child.exitCode !== 0) Deno.exit(3);
}

/**
 * Reports in `out` what `release()` gives without an acquire, then right after an acquire()
 * that was not awaited; then awaits that acquire and releases.
 */
export async function releaseEarly(lock: Lock, out: Queue<unknown>): Promise<void> {
  await out.put(await outcome(() => lock.release()));
  const acquiring = lock.acquire();
  await out.put(await outcome(() => lock.release()));
  await acquiring;
  lock.release();
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Lock.acquire() and release() in one process", async () => {
  const lock = new Lock();
  assert.equal(lock.locked(), false);
  assert.equal(await lock.acquire(), true);
  assert.equal(lock.locked(), true);
  assert.equal(await lock.acquire({ timeout: 0 }), false);
  lock.release();
  assert.equal(lock.locked(), false);
  {
    using held = await lock.hold();
    assert.equal(held.recovered, false);
    assert.equal(lock.locked(), true);
  }
  assert.equal(lock.locked(), false);
});

Deno.test("Lock: a release wakes a sleeper that a wake-up left marked as on its way", async () => {
  // The mark a release leaves when it saw the previous sleeper still counted just as that one got
  // up: the next sleeper must be woken by the next release, not sleep until its slice ends.
  const table = state().table;
  const holder = { ident: allocateIdent(table), tag: 0, alive: undefined };
  try {
    const w = newMutex();
    assert.ok(tryTake(w, holder));
    Atomics.store(w, WORDS.WOKEN, 1);
    const got = acquire(w, localWho(), false, Infinity, undefined); // asleep, synchronously
    assert.equal(Atomics.load(w, WORDS.WAITERS), 1);
    const wakes = Atomics.load(w, WORDS.WAKES);
    free(w);
    assert.equal(Atomics.load(w, WORDS.WAKES), wakes + 1, "the release counted no wake-up");
    assert.equal(await got, YES);
    free(w);
  } finally {
    releaseIdent(table, holder.ident);
  }
});

Deno.test("Lock excludes async tasks of one process", async () => {
  const lock = new Lock();
  let inside = 0;
  let most = 0;
  await Promise.all(Array.from({ length: 5 }, async () => {
    for (let i = 0; i < 20; i++) {
      using _held = await lock.hold();
      most = Math.max(most, ++inside);
      await new Promise((r) => setTimeout(r, 0));
      inside--;
    }
  }));
  assert.equal(most, 1);
});

Deno.test("Lock rejects bad input", async () => {
  const lock = new Lock();
  assert.throws(() => lock.release(), TypeError);
  await assert.rejects(() => lock.acquire({ timeout: -1 }), RangeError);
  await assert.rejects(() => lock.acquire({ timeout: NaN }), RangeError);
  await assert.rejects(() => lock.acquire(false as never), TypeError); // Python's acquire(False)
  await assert.rejects(() => lock.hold(100 as never), TypeError);
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(() => lock.acquire({ signal: ctl.signal }), { name: "AbortError" });
  assert.equal(lock.locked(), false);
});

Deno.test("Lock.acquire() stops waiting when its signal aborts", async () => {
  const lock = new Lock();
  await lock.acquire();
  const ctl = new AbortController();
  const p = lock.acquire({ signal: ctl.signal });
  setTimeout(() => ctl.abort(), 20);
  await assert.rejects(p, { name: "AbortError" });
  lock.release();
  assert.equal(await lock.acquire({ timeout: 0 }), true);
  lock.release();
});

Deno.test("Lock.hold() rejects with a TimeoutError when the timeout passes", async () => {
  const lock = new Lock();
  await lock.acquire();
  await assert.rejects(() => lock.hold({ timeout: 10 }), { name: "TimeoutError" });
  lock.release();
});

Deno.test("Lock.tryAcquire() takes a free lock at once and refuses a held one", () => {
  const lock = new Lock();
  assert.equal(lock.tryAcquire(), true);
  assert.equal(lock.tryAcquire(), false);
  lock.release();
  const rlock = new RLock();
  assert.equal(rlock.tryAcquire(), true);
  assert.equal(rlock.tryAcquire(), true);
  rlock.release();
  rlock.release();
  assert.equal(rlock.locked(), false);
});

Deno.test("RLock re-enters for its owner and counts releases", async () => {
  const lock = new RLock();
  await lock.acquire();
  await lock.acquire();
  lock.release();
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), false);
  assert.throws(() => lock.release(), TypeError);
});

for (const method of METHODS) {
  Deno.test(`Lock.acquire() times out while another process holds it (${method})`, async () => {
    const lock = new Lock();
    const held = new Event();
    const done = new Event();
    const ps = spawn(holdUntil, [[lock, held, done]], method, module);
    assert.equal(await held.wait({ timeout: 10_000 }), true);
    assert.equal(await lock.acquire({ timeout: 50 }), false);
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 20);
    await assert.rejects(() => lock.acquire({ signal: ctl.signal }), { name: "AbortError" });
    done.set();
    assert.equal(await lock.acquire({ timeout: 10_000 }), true);
    assert.equal(lock.recovered, false);
    lock.release();
    assert.deepEqual(await joinAll(ps), [0]);
  });

  Deno.test(`Lock.acquire() in a child times out and aborts while the parent holds it (${method})`, async () => {
    const lock = new Lock();
    const out = new Value("i", -1);
    await lock.acquire();
    const ps = spawn(tryWhileHeld, [[lock, out]], method, module);
    assert.deepEqual(await joinAll(ps), [0]);
    assert.equal(out.value, 3);
    lock.release();
    assert.equal(lock.locked(), false); // an aborted wait in the child did not take it later
  });

  Deno.test(`Lock whose holder is killed goes to the next acquirer, marked recovered (${method})`, async () => {
    const lock = new Lock();
    const held = new Event();
    const ps = spawn(holdForever, [[lock, held]], method, module);
    assert.equal(await held.wait({ timeout: 10_000 }), true);
    assert.equal(lock.locked(), true);
    ps[0].kill();
    await ps[0].join();
    assert.equal(await lock.acquire({ timeout: 5_000 }), true);
    assert.equal(lock.recovered, true);
    lock.release();
    assert.equal(lock.recovered, false);
    using h = await lock.hold();
    assert.equal(h.recovered, false);
  });

  Deno.test(`Lock.locked() is synchronous where memory is shared (${method})`, async () => {
    const lock = new Lock();
    const out = new Value("i", -1);
    await lock.acquire();
    const ps = spawn(checkLocked, [[lock, out, true]], method, module);
    assert.deepEqual(await joinAll(ps), [0]);
    assert.equal(out.value, 1);
    lock.release();
  });

  Deno.test(`Lock.tryAcquire() refuses a lock another process holds (${method})`, async () => {
    const lock = new Lock();
    const out = new Value("i", -1);
    assert.equal(lock.tryAcquire(), true);
    const ps = spawn(tryHeld, [[lock, out, true]], method, module);
    assert.deepEqual(await joinAll(ps), [0]);
    assert.equal(out.value, 1);
    lock.release();
  });

  Deno.test(`RLock re-enters in a child and refuses a release by a non-owner (${method})`, async () => {
    const lock = new RLock();
    assert.deepEqual(await joinAll(spawn(reenter, [[lock], [lock]], method, module)), [0, 0]);
    assert.equal(lock.locked(), false);
    await lock.acquire();
    assert.deepEqual(await joinAll(spawn(releaseOthers, [[lock]], method, module)), [0]);
    assert.equal(lock.locked(), true);
    lock.release();
  });

  Deno.test(`Lock nested in args reaches a grandchild through a child (${method})`, async () => {
    const box = { locks: [new Lock()], count: new Value("i", 0, { lock: false }) };
    assert.deepEqual(await joinAll(spawn(nested, [[box, 1], [box, 0]], method, module)), [0, 0]);
    assert.equal(box.count.value, 600);
    assert.equal(box.locks[0].locked(), false);
  });

  Deno.test(`Lock is not taken by a killed child that was waiting for it (${method})`, async () => {
    const lock = new Lock();
    const waiting = new Event();
    await lock.acquire();
    const ps = spawn(waitForever, [[lock, waiting]], method, module);
    assert.equal(await waiting.wait({ timeout: 10_000 }), true);
    await new Promise((r) => setTimeout(r, 30)); // the child's acquire is on its way
    ps[0].kill();
    await ps[0].join();
    lock.release();
    assert.equal(await lock.acquire({ timeout: 5_000 }), true);
    assert.equal(lock.recovered, false);
    lock.release();
    await new Promise((r) => setTimeout(r, 250)); // longer than a wait slice
    assert.equal(lock.locked(), false);
  });
}

Deno.test("Lock.locked() and tryAcquire() in a child without FFI name the awaited calls", async () => {
  const lock = new Lock();
  const out = new Value("i", -1);
  await lock.acquire();
  assert.deepEqual(await joinAll([startUnmapped(checkLocked, [lock, out, false], module)]), [0]);
  assert.equal(out.value, 1);
  out.value = -1;
  assert.deepEqual(await joinAll([startUnmapped(tryHeld, [lock, out, false], module)]), [0]);
  assert.equal(out.value, 1);
  lock.release();
});

Deno.test("Lock: release() in a child without FFI before its acquire() completes says to await lock.acquire()", async () => {
  const lock = new Lock();
  const out = new Queue<unknown>();
  const p = startUnmapped(releaseEarly, [lock, out], module);
  const [unheld, early] = [await out.get(), await out.get()];
  await p.join();
  assert.equal(p.exitCode, 0);
  assert.equal(
    unheld,
    "Cannot release Lock: this process does not hold it; await lock.acquire() first",
  );
  assert.equal(
    early,
    "Cannot release Lock: its acquire() has not completed yet; in a process that reaches the " +
      "lock through its parent it takes a round trip there, so await lock.acquire() before release()",
  );
  assert.equal(lock.locked(), false);
});
