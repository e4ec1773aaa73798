import assert from "node:assert/strict";
import { describe, METHODS, pattern, starter, until, within } from "./_helpers.ts";
import { JoinableQueue } from "../mod.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Takes items forever, marking each done after a little work. */
export async function worker(q: JoinableQueue<number>): Promise<void> {
  for (;;) {
    await q.get();
    await new Promise((resolve) => setTimeout(resolve, 1));
    await q.taskDone();
  }
}

/** Puts `n` items. */
export async function produce(q: JoinableQueue<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await q.put(i);
}

/** Puts one item and exits at once. */
export async function putAndExit(q: JoinableQueue<string>): Promise<void> {
  await q.put("one");
  Deno.exit(0);
}

/** Puts a 16 MiB item. */
export async function putBig(q: JoinableQueue<Uint8Array | number>): Promise<void> {
  await q.put(pattern(16 << 20));
}

/** Puts a 16 MiB item and exits at once. */
export async function putBigAndExit(q: JoinableQueue<Uint8Array>): Promise<void> {
  await q.put(pattern(16 << 20));
  Deno.exit(0);
}

/** Calls taskDone() once more than there are items; exits 0 when that throws a RangeError. */
export async function doneTooOften(q: JoinableQueue<number>): Promise<void> {
  await q.get();
  await q.taskDone();
  try {
    await q.taskDone();
  } catch (e) {
    Deno.exit(e instanceof RangeError ? 0 : 4);
  }
  Deno.exit(5);
}

/** Takes one item and never marks it done: the test kills this child. */
export async function takeAndHang(
  q: JoinableQueue<number>,
  took: JoinableQueue<number>,
): Promise<void> {
  await took.put(await q.get());
  await new Promise(() => {});
}

const start = starter(module);

// ---- in one process ----------------------------------------------------------------------

Deno.test("JoinableQueue.taskDone() called more times than items put throws RangeError", async () => {
  const q = new JoinableQueue<number>();
  assert.throws(() => q.taskDone(), RangeError);
  await q.put(1);
  await q.get();
  q.taskDone();
  assert.throws(() => q.taskDone(), RangeError);
  assert.equal(await q.join(), true);
});

Deno.test("JoinableQueue.join() times out while items are not done, and stops on abort", async () => {
  const q = new JoinableQueue<number>(2);
  await q.put(1);
  assert.equal(await q.join({ timeout: 20 }), false);
  await assert.rejects(q.join({ signal: AbortSignal.timeout(20) }), { name: "TimeoutError" });
  await q.get();
  q.taskDone();
  assert.equal(await q.join({ timeout: 20 }), true);
});

// ---- across processes --------------------------------------------------------------------

for (const method of METHODS) {
  Deno.test(`JoinableQueue [${method}]: join() returns once two daemon consumers marked every item of two producers done`, async () => {
    const q = new JoinableQueue<number>(5);
    const consumers = [0, 1].map(() => start(method, worker, [q], true));
    const producers = [0, 1].map(() => start(method, produce, [q, 50]));
    await Promise.all(producers.map((p) => p.join()));
    assert.equal(await q.join({ timeout: 20_000 }), true);
    assert.equal(q.qsize(), 0);
    for (const c of consumers) c.terminate();
    await Promise.all(consumers.map((c) => c.join()));
  });

  Deno.test(`JoinableQueue [${method}]: a producer that exits right after put() neither loses the item nor deadlocks join()`, async () => {
    const q = new JoinableQueue<string>();
    const p = start(method, putAndExit, [q]);
    await p.join();
    assert.equal(await q.get({ timeout: 5000 }), "one");
    q.taskDone();
    assert.equal(await q.join({ timeout: 5000 }), true);
  });

  Deno.test(`JoinableQueue [${method}]: join({ timeout }) returns false once a consumer was killed before taskDone()`, async () => {
    const q = new JoinableQueue<number>();
    const took = new JoinableQueue<number>();
    await q.put(7);
    const p = start(method, takeAndHang, [q, took]);
    assert.equal(await took.get({ timeout: 10_000 }), 7);
    p.kill();
    await p.join();
    assert.equal(q.qsize(), 0);
    assert.equal(await q.join({ timeout: 50 }), false);
    await assert.rejects(q.join({ signal: AbortSignal.timeout(50) }), { name: "TimeoutError" });
  });

  Deno.test(`JoinableQueue [${method}]: a producer killed mid-item leaves join() nothing to wait for`, async () => {
    for (const readerFirst of [false, true]) {
      const q = new JoinableQueue<Uint8Array | number>(0, {
        bufferSize: 65536,
        maxBufferSize: 65536, // so that the item streams through in pieces
      });
      const p = start(method, putBig, [q]);
      await until(() => q.qsize() === 1); // its first piece is in; the rest waits for room
      // Its partial item is given up by a reader that took its start, or by the next writer.
      const first = readerFirst ? q.get({ timeout: 10_000 }) : undefined;
      p.kill();
      await p.join();
      const putting = q.put(0); // a subprocess's item is in its parent, which streams it to the end
      let got = await (first ?? q.get({ timeout: 10_000 }));
      if (typeof got !== "number") { // a subprocess's item was in its parent: it comes whole
        assert.equal(describe(got, 16 << 20), "whole");
        q.taskDone();
        got = await q.get({ timeout: 10_000 });
      }
      assert.equal(got, 0);
      await putting;
      q.taskDone();
      assert.equal(q.qsize(), 0);
      assert.equal(await q.join({ timeout: 5000 }), true, "join() waits for the partial item");
    }
  });

  Deno.test(`JoinableQueue [${method}]: a producer that exits right after put() of an item larger than the buffer neither loses it nor deadlocks join()`, async () => {
    const q = new JoinableQueue<Uint8Array>(0, { bufferSize: 65536 });
    const p = start(method, putBigAndExit, [q]);
    await within(p.join(), 20_000, "join() of a producer whose put() waits for a reader");
    assert.equal(describe(await q.get({ timeout: 1000 }), 16 << 20), "whole");
    assert.equal(await q.join({ timeout: 50 }), false);
    q.taskDone();
    assert.equal(await q.join({ timeout: 5000 }), true);
  });

  Deno.test(`JoinableQueue [${method}]: taskDone() too often in a child throws RangeError there`, async () => {
    const q = new JoinableQueue<number>();
    await q.put(1);
    const p = start(method, doneTooOften, [q]);
    await p.join();
    assert.equal(p.exitCode, 0);
    assert.equal(await q.join({ timeout: 1000 }), true);
  });
}
