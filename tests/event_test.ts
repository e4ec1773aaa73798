import assert from "node:assert/strict";
import { Event, Value } from "../mod.ts";
import { joinAll, METHODS, spawn, timeoutAndAbort } from "./_helpers.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Waits for `ev`, then adds 1 to `count`. */
export async function waitThenCount(ev: Event, count: Value<"i">): Promise<void> {
  if (!await ev.wait({ timeout: 20_000 })) Deno.exit(3);
  using _held = await count.getLock().hold();
  await count.set((await count.get()) + 1);
}

/** Sets `ev` after a short while. */
export async function setLater(ev: Event): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
  ev.set();
  if (!await ev.isSetAsync()) Deno.exit(3);
}

/** Reports in `out`: 1 timeout seen, +2 abort seen. */
export async function waitInVain(ev: Event, out: Value<"i">): Promise<void> {
  await out.set(await timeoutAndAbort((o) => ev.wait(o)));
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Event.wait() refuses a timeout that is not in an options object", async () => {
  const ev = new Event();
  ev.set();
  await assert.rejects(() => ev.wait(100 as never), TypeError); // Python's e.wait(0.1)
  await assert.rejects(() => ev.wait({ timeout: NaN }), RangeError);
});

Deno.test("Event sets, clears and wakes waiters in one process", async () => {
  const ev = new Event();
  assert.equal(ev.isSet(), false);
  assert.equal(await ev.wait({ timeout: 5 }), false);
  const waiters = [ev.wait(), ev.wait({ timeout: 5000 })];
  ev.set();
  assert.deepEqual(await Promise.all(waiters), [true, true]);
  ev.clear();
  assert.equal(ev.isSet(), false);
  await assert.rejects(() => ev.wait({ timeout: Number.NaN }), RangeError);
  const ctl = new AbortController();
  const p = ev.wait({ signal: ctl.signal });
  ctl.abort();
  await assert.rejects(p, { name: "AbortError" });
});

for (const method of METHODS) {
  Deno.test(`Event.set() releases waiting children (${method})`, async () => {
    const ev = new Event();
    const count = new Value("i", 0);
    const ps = spawn(waitThenCount, [[ev, count], [ev, count], [ev, count]], method, module);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(count.value, 0);
    ev.set();
    assert.deepEqual(await joinAll(ps), [0, 0, 0]);
    assert.equal(count.value, 3);
  });

  Deno.test(`Event.set() in a child wakes the parent (${method})`, async () => {
    const ev = new Event();
    const ps = spawn(setLater, [[ev]], method, module);
    assert.equal(await ev.wait({ timeout: 20_000 }), true);
    assert.deepEqual(await joinAll(ps), [0]);
  });

  Deno.test(`Event.wait() in a child times out and aborts (${method})`, async () => {
    const ev = new Event();
    const out = new Value("i", 0);
    assert.deepEqual(await joinAll(spawn(waitInVain, [[ev, out]], method, module)), [0]);
    assert.equal(out.value, 3);
  });
}
