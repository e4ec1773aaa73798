// Shared memory across OS processes (_core/_shm.ts): subprocess children map the memory of the
// package's objects, as workers share it, at any depth of the process tree; objects made in one
// child reach a sibling through a queue; holders and waiters that are SIGKILLed (also with their
// parent, so that nobody releases their ident) leave nothing stuck; a whole program SIGKILLed
// leaves nothing behind; and generated values pass between two subprocess children unchanged.

import assert from "node:assert/strict";
import {
  Condition,
  Event,
  Lock,
  Process,
  Queue,
  Semaphore,
  type StartMethod,
  Value,
} from "../mod.ts";
import {
  describe,
  joinAll,
  leftInTmp,
  pattern,
  readUntil,
  starter,
  stillRunning,
  until,
  within,
} from "./_helpers.ts";
import { cloneMismatch } from "./_same_clone.ts";
import { fillerAt, valueAt, type ValueOptions } from "./_values.ts";

const module = import.meta.url;
const start = starter(module);

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- 1. depth: a child's child uses the memory as its parent does ------------------------

/** What every process of a depth test shares. */
export interface Box {
  /** Guards `count`. */
  lock: Lock;
  /** Counted under `lock`, read and written synchronously. */
  count: Value<"i">;
  /** Counted under its own lock (`getLock()`). */
  own: Value<"i">;
  /** Set by the parent before anyone counts. */
  go: Event;
  /** Each process puts its pid and the depth it runs at. */
  pids: Queue<[number, number]>;
}

/**
 * Starts a child running this for the rest of `chain` (its first entry the child's start
 * method), then counts `n` times into both values with the synchronous members; exits 10 or more
 * when a synchronous member says something impossible, or a child failed.
 */
export async function deepCount(box: Box, chain: StartMethod[], n: number): Promise<void> {
  let child: Process | undefined;
  if (chain.length > 0) {
    const args: [Box, StartMethod[], number] = [box, chain.slice(1), n];
    child = new Process({ target: deepCount, args, startMethod: chain[0], module });
    child.start();
  }
  if (!await box.go.wait({ timeout: 30_000 }) || !box.go.isSet()) Deno.exit(10);
  for (let i = 0; i < n; i++) {
    if (!box.lock.tryAcquire()) await box.lock.acquire();
    if (!box.lock.locked()) Deno.exit(11);
    box.count.value = box.count.value + 1;
    box.lock.release();
    const own = box.own.getLock();
    if (!own.tryAcquire()) await own.acquire();
    box.own.value += 1;
    own.release();
    if (i % 50 === 0) await pause(0); // let the others in now and then
  }
  box.pids.putNowait([Deno.pid, chain.length]);
  if (box.pids.qsize() < 1 || box.pids.empty()) Deno.exit(12);
  await child?.join();
  if (child && child.exitCode !== 0) Deno.exit(13);
}

const CHAINS: StartMethod[][] = [
  ["subprocess", "subprocess"],
  ["subprocess", "worker"],
  ["worker", "subprocess"],
  ["subprocess", "worker", "subprocess"],
];

for (const chain of CHAINS) {
  const path = ["parent", ...chain].join(" > ");
  Deno.test(`Shared memory: ${path} count exactly under a Lock with the synchronous members`, async () => {
    const n = 300;
    const box: Box = {
      lock: new Lock(),
      count: new Value("i", 0, { lock: false }),
      own: new Value("i", 0),
      go: new Event(),
      pids: new Queue(),
    };
    // Two such chains side by side, and the parent counting too.
    const tops = [0, 1].map(() => start(chain[0], deepCount, [box, chain.slice(1), n]));
    box.go.set();
    for (let i = 0; i < n; i++) {
      using _held = await box.lock.hold();
      box.count.value += 1;
      using _own = await box.own.getLock().hold();
      box.own.value += 1;
    }
    assert.deepEqual(await joinAll(tops), [0, 0]);
    const processes = 1 + 2 * chain.length;
    assert.equal(box.count.value, processes * n);
    assert.equal(box.own.value, processes * n);
    assert.equal(box.lock.locked(), false);
    assert.equal(box.own.getLock().locked(), false);
    assert.equal(box.pids.qsize(), 2 * chain.length);
    const reports = Array.from({ length: 2 * chain.length }, () => box.pids.getNowait());
    // Each depth ran in an OS process of its own exactly where a subprocess started it.
    for (let depth = 0; depth < chain.length; depth++) {
      const at = reports.filter(([, rest]) => rest === chain.length - 1 - depth);
      assert.equal(at.length, 2, `two processes at depth ${depth + 1}`);
      const sub = chain.slice(0, depth + 1).includes("subprocess");
      for (const [pid] of at) assert.equal(pid !== Deno.pid, sub, `pid at depth ${depth + 1}`);
    }
  });
}

// ---- 2. an object made in one child, used by its sibling ---------------------------------

/** What a child makes and sends to its sibling. */
export interface Made {
  lock: Lock;
  value: Value<"i">;
  queue: Queue<number>;
  maker: number;
}

/**
 * Makes a Lock (held), a Value and a Queue, sends them through `toSibling`; once the sibling
 * says it waits for the lock (a -1 in the made queue), sets the value to 10 and releases. Keeps
 * the memory until `done`; then exits 20 unless the value is 42 and the parent took every item.
 */
export async function makeAndSend(toSibling: Queue<Made>, done: Event): Promise<void> {
  const made: Made = {
    lock: new Lock(),
    value: new Value("i", 0, { lock: false }),
    queue: new Queue(),
    maker: Deno.pid,
  };
  await made.lock.acquire();
  await toSibling.put(made);
  if (await made.queue.get({ timeout: 30_000 }) !== -1) Deno.exit(21);
  made.value.value = 10;
  made.lock.release();
  if (!await done.wait({ timeout: 30_000 })) Deno.exit(22);
  if (made.value.value !== 42 || made.queue.qsize() !== 0) Deno.exit(20);
}

/**
 * Takes what its sibling made: finds the lock held, waits for it, adds 32 to the value, puts
 * 1..100 in the queue, and sends it all on to the parent; exits 30 or more on a surprise.
 */
export async function useSiblings(fromSibling: Queue<Made>, toParent: Queue<Made>) {
  const made = await fromSibling.get({ timeout: 30_000 });
  if (made.maker === Deno.pid) Deno.exit(30);
  if (made.lock.tryAcquire() || !made.lock.locked()) Deno.exit(31);
  made.queue.putNowait(-1);
  if (!await made.lock.acquire({ timeout: 30_000 })) Deno.exit(32);
  if (made.lock.recovered || made.value.value !== 10) Deno.exit(33);
  made.value.value += 32;
  for (let i = 1; i <= 100; i++) await made.queue.put(i);
  if (made.queue.qsize() !== 100) Deno.exit(34);
  made.lock.release();
  await toParent.put(made);
}

Deno.test("Shared memory: a Lock, a Value and a Queue made in a subprocess child serve its sibling and the parent", async () => {
  const toSibling = new Queue<Made>();
  const toParent = new Queue<Made>();
  const done = new Event();
  const maker = start("subprocess", makeAndSend, [toSibling, done]);
  const user = start("subprocess", useSiblings, [toSibling, toParent]);
  try {
    const made = await toParent.get({ timeout: 30_000 });
    assert.notEqual(made.maker, Deno.pid);
    assert.equal(made.maker, maker.pid);
    assert.equal(made.value.value, 42);
    assert.equal(made.queue.qsize(), 100);
    for (let i = 1; i <= 100; i++) assert.equal(made.queue.getNowait(), i);
    assert.equal(made.lock.locked(), false);
    assert.equal(await made.lock.acquire({ timeout: 0 }), true);
    assert.equal(made.lock.recovered, false);
    made.lock.release();
    await user.join();
    assert.equal(user.exitCode, 0);
  } finally {
    done.set();
    await maker.join();
  }
  assert.equal(maker.exitCode, 0);
});

/** Makes a Lock and a Value, sends them through `q`, and exits at once. */
export async function sendAndExit(q: Queue<unknown>): Promise<void> {
  await q.put({ lock: new Lock(), value: new Value("i", 5) });
  await q.put("after");
}

Deno.test("Shared memory: an object whose maker exited before anyone mapped it fails its get() with a clear error, and the queue goes on", async () => {
  const q = new Queue<unknown>();
  const p = start("subprocess", sendAndExit, [q]);
  await p.join();
  assert.equal(p.exitCode, 0);
  assert.equal(q.qsize(), 2);
  await assert.rejects(q.get({ timeout: 5000 }), {
    message: "Cannot map a shared object: every process that held its memory has exited",
  });
  assert.equal(q.qsize(), 1);
  assert.equal(await q.get({ timeout: 5000 }), "after");
  await q.put(1);
  assert.equal(q.getNowait(), 1);
});

// ---- 3. crashes: holders and waiters SIGKILLed -------------------------------------------

/** Never resolves, and keeps the process alive: a child ends this way only when killed. */
const forever = () => new Promise<never>(() => setInterval(() => {}, 1000));

/**
 * Takes `thing` (all of a semaphore's `slots`) with the synchronous members, reports its pid
 * in `out`, and holds it until killed; exits 40 or more when a synchronous member says otherwise.
 */
export async function holdIt(thing: Lock | Semaphore, slots: number, out: Queue<number>) {
  if (thing instanceof Lock) {
    if (!thing.tryAcquire() || !thing.locked()) Deno.exit(40);
  } else {
    for (let i = 0; i < slots; i++) if (!await thing.acquire({ timeout: 10_000 })) Deno.exit(41);
    if (thing.getValue() !== 0) Deno.exit(42);
  }
  await out.put(Deno.pid);
  await forever();
}

/** Starts a `method` child holding `thing` (see {@link holdIt}), then waits to be killed. */
export async function startHolder(
  thing: Lock | Semaphore,
  slots: number,
  out: Queue<number>,
  method: StartMethod,
): Promise<void> {
  const args: [Lock | Semaphore, number, Queue<number>] = [thing, slots, out];
  new Process({ target: holdIt, args, startMethod: method, module }).start();
  await forever();
}

/** Where a holder runs: the child the test kills, and the holder's own start method below it. */
const HOLDERS: { killed: StartMethod; holder?: StartMethod; label: string }[] = [
  { killed: "subprocess", label: "a subprocess child" },
  { killed: "worker", label: "a worker child" },
  {
    killed: "subprocess",
    holder: "subprocess",
    label: "a subprocess grandchild whose subprocess parent is SIGKILLed",
  },
  {
    killed: "subprocess",
    holder: "worker",
    label: "a worker grandchild whose subprocess parent is SIGKILLed",
  },
  {
    killed: "worker",
    holder: "subprocess",
    label: "a subprocess grandchild whose worker parent is killed",
  },
];

/** Starts a holder of `thing` as `where` says; returns the child to kill and the holder's pid. */
async function startHolding(
  where: typeof HOLDERS[number],
  thing: Lock | Semaphore,
  slots: number,
): Promise<{ killed: Process; holderPid: number }> {
  const out = new Queue<number>();
  const killed = where.holder
    ? start(where.killed, startHolder, [thing, slots, out, where.holder])
    : start(where.killed, holdIt, [thing, slots, out]);
  const holderPid = await out.get({ timeout: 30_000 });
  return { killed, holderPid };
}

/** Kills `p` and waits until it and the OS process `holderPid` are gone. */
async function killAndBury(p: Process, holderPid: number): Promise<void> {
  p.kill();
  await within(p.join(), 10_000, "join() of the killed child");
  if (holderPid !== Deno.pid) {
    assert.deepEqual(await stillRunning([holderPid], 10_000), [], "the holder outlived its parent");
  }
}

for (const where of HOLDERS) {
  Deno.test(`Shared memory: a Lock held by ${where.label} goes to the parent's next acquire(), marked recovered`, async () => {
    const lock = new Lock();
    const { killed, holderPid } = await startHolding(where, lock, 1);
    assert.equal(lock.locked(), true);
    assert.equal(lock.tryAcquire(), false);
    await killAndBury(killed, holderPid);
    assert.equal(await lock.acquire({ timeout: 5000 }), true, "the dead holder's lock");
    assert.equal(lock.recovered, true);
    lock.release();
    assert.equal(lock.recovered, false);
    assert.equal(lock.locked(), false);
  });

  Deno.test(`Shared memory: the slots of a recoverDead Semaphore held by ${where.label} come back`, async () => {
    const sem = new Semaphore(2, { recoverDead: true });
    const { killed, holderPid } = await startHolding(where, sem, 2);
    assert.equal(sem.getValue(), 0);
    assert.equal(await sem.acquire({ timeout: 0 }), false);
    await killAndBury(killed, holderPid);
    assert.equal(await sem.acquire({ timeout: 5000 }), true, "a dead holder's first slot");
    assert.equal(await sem.acquire({ timeout: 5000 }), true, "a dead holder's second slot");
    assert.equal(sem.getValue(), 0);
    sem.release();
    sem.release();
    assert.equal(sem.getValue(), 2);
  });
}

/** Items of this size stream through {@link STREAMING}'s buffer in pieces. */
const BIG = 4 << 20;
/** A queue whose buffer never grows. */
const STREAMING = { bufferSize: 65536, maxBufferSize: 65536 };

/** Says that it begins, then puts a {@link BIG} item. */
export async function sayThenPutBig(q: Queue<Uint8Array | number>, out: Queue<string>) {
  await out.put("putting");
  await q.put(pattern(BIG));
}

/**
 * Takes items until 0, reporting each ("whole", a number, or what is wrong with it), then the
 * queue's synchronous qsize().
 */
export async function describeUntilZero(q: Queue<Uint8Array | number>, out: Queue<string>) {
  for (;;) {
    let item: unknown;
    try {
      item = await q.get({ timeout: 20_000 });
    } catch (e) {
      return await out.put(`${(e as Error).name}: ${(e as Error).message}`);
    }
    await out.put(describe(item, BIG));
    if (item === 0) return await out.put(`qsize ${q.qsize()}`);
  }
}

/** Reports what `c` took, up to and with its last line (`qsize n` or an error). */
async function reported(out: Queue<string>): Promise<string> {
  const got: string[] = [];
  while (!/^qsize|Error/.test(got.at(-1) ?? "")) got.push(await out.get({ timeout: 30_000 }));
  return got.join(",");
}

Deno.test("Shared memory: a subprocess producer killed mid-put of a large item leaves its sibling consumer no partial item, and the queue usable", async () => {
  for (let round = 0; round < 6; round++) {
    const q = new Queue<Uint8Array | number>(0, STREAMING);
    const out = new Queue<string>();
    const consumer = start("subprocess", describeUntilZero, [q, out]);
    const producer = start("subprocess", sayThenPutBig, [q, out]);
    assert.equal(await out.get({ timeout: 30_000 }), "putting");
    await pause(2 * round); // the kill lands at another moment of the streaming each round
    producer.kill();
    await producer.join();
    await q.put(0);
    const got = await reported(out);
    assert.match(got, /^(whole,)?0,qsize 0$/, `round ${round}: the consumer took ${got}`);
    await consumer.join();
    assert.equal(consumer.exitCode, 0);
    for (let i = 1; i <= 5; i++) q.putNowait(i);
    assert.equal(q.qsize(), 5);
    for (let i = 1; i <= 5; i++) assert.equal(q.getNowait(), i);
    const again = start("subprocess", describeUntilZero, [q, out]);
    await q.put(pattern(BIG)); // and large items still pass, in pieces, to another child
    await q.put(0);
    assert.equal(await reported(out), "whole,0,qsize 0");
    await again.join();
  }
});

Deno.test("Shared memory: a subprocess producer killed while its large item waits for room gives none of it to a consumer started later", async () => {
  const q = new Queue<Uint8Array | number>(0, STREAMING);
  const out = new Queue<string>();
  const producer = start("subprocess", sayThenPutBig, [q, out]);
  await until(() => q.qsize() === 1, "the first piece in the queue", 30_000);
  producer.kill();
  await producer.join();
  const consumer = start("subprocess", describeUntilZero, [q, out]);
  await q.put(0);
  assert.equal(await out.get({ timeout: 30_000 }), "putting");
  assert.equal(await reported(out), "0,qsize 0");
  await consumer.join();
  assert.equal(consumer.exitCode, 0);
});

/** What a killed waiter waits on. */
interface Waits {
  q: Queue<number>;
  lock: Lock;
  ev: Event;
  cond: Condition;
  sem: Semaphore;
}

/**
 * Begins to wait on `what` of `w` (with no timeout), then sets `waiting` (the wait has begun:
 * its first, synchronous part ran), and waits to be killed.
 */
export async function waitOn(w: Waits, what: keyof Waits, waiting: Event): Promise<void> {
  let wait: Promise<unknown>;
  if (what === "q") wait = w.q.get();
  else if (what === "lock") wait = w.lock.acquire();
  else if (what === "ev") wait = w.ev.wait();
  else if (what === "sem") wait = w.sem.acquire();
  else {
    await w.cond.acquire();
    wait = w.cond.wait();
  }
  waiting.set();
  await wait;
  await forever();
}

/** Reports in `out` that it woke: for a later waiter, after the killed one. */
export async function waitThenSay(w: Waits, what: "q" | "ev", out: Queue<string>) {
  const got = what === "q" ? await w.q.get() : await w.ev.wait();
  await out.put(`woke with ${got}`);
}

const WAITS: [keyof Waits, string][] = [
  ["q", "q.get()"],
  ["lock", "lock.acquire()"],
  ["ev", "ev.wait()"],
  ["cond", "cond.wait()"],
  ["sem", "sem.acquire()"],
];

for (const method of ["subprocess", "worker"] as const) {
  for (const [what, call] of WAITS) {
    Deno.test(`Shared memory: a ${method} child killed while it waits in ${call} leaves the parent nothing stuck`, async () => {
      const w: Waits = {
        q: new Queue(),
        lock: new Lock(),
        ev: new Event(),
        cond: new Condition(),
        sem: new Semaphore(0),
      };
      await w.lock.acquire();
      const waiting = new Event();
      const p = start(method, waitOn, [w, what, waiting]);
      assert.equal(await waiting.wait({ timeout: 30_000 }), true);
      p.kill();
      await within(p.join(), 10_000, "join() of the killed waiter");
      assert.equal(p.exitCode, -9);
      const out = new Queue<string>();
      if (what === "q") {
        const later = start(method, waitThenSay, [w, "q", out]);
        await w.q.put(1);
        assert.equal(await out.get({ timeout: 30_000 }), "woke with 1"); // not the dead one
        await later.join();
        await w.q.put(2);
        assert.equal(w.q.getNowait(), 2);
      } else if (what === "lock") {
        w.lock.release();
        assert.equal(await w.lock.acquire({ timeout: 0 }), true, "the dead waiter took it");
        assert.equal(w.lock.recovered, false);
      } else if (what === "ev") {
        const later = start(method, waitThenSay, [w, "ev", out]);
        w.ev.set();
        assert.equal(await out.get({ timeout: 30_000 }), "woke with true");
        await later.join();
      } else if (what === "cond") {
        assert.equal(await w.cond.acquire({ timeout: 5000 }), true, "the dead waiter's lock");
        w.cond.notifyAll();
        w.cond.release();
        assert.equal(await w.cond.acquire({ timeout: 5000 }), true, "taken back by the dead");
        w.cond.release();
      } else {
        w.sem.release();
        assert.equal(await w.sem.acquire({ timeout: 0 }), true, "the dead waiter took it");
        assert.equal(w.sem.getValue(), 0);
      }
      w.lock.release();
      assert.equal(w.lock.locked(), false);
    });
  }
}

// ---- 4. the whole program SIGKILLed --------------------------------------------------------

const ROOT = new URL("../", import.meta.url);

function shmEntries(): Set<string> {
  return new Set([...Deno.readDirSync("/dev/shm")].map((e) => e.name));
}

for (const whom of ["its process group", "its main process alone"] as const) {
  Deno.test(`Shared memory: a program of subprocesses sharing memory, SIGKILLed (${whom}), leaves no process and no file`, async () => {
    const shmBefore = shmEntries();
    let pids: number[] = [];
    const left = await leftInTmp(async (env) => {
      const program = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "tests/fixtures/shm_program.ts"],
        cwd: ROOT,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true, // a process group of its own, led by the program
      }).spawn();
      try {
        const text = await within(
          readUntil(program, (t) => t.includes("\n")),
          60_000,
          "the program's ready line",
        );
        const ready = text.match(/^ready (\[.*\])$/m);
        assert.ok(ready, `no ready line in ${JSON.stringify(text)}`);
        pids = JSON.parse(ready[1]);
        assert.equal(pids.length, 5, "the main process, two children and two grandchildren");
      } finally {
        if (whom === "its process group") Deno.kill(-program.pid, "SIGKILL");
        else program.kill("SIGKILL");
        const status = await program.output();
        assert.equal(status.signal, "SIGKILL");
      }
      assert.deepEqual(await stillRunning(pids, 10_000), [], "processes of the program live on");
    });
    assert.deepEqual(left, [], "names left in the program's TMPDIR");
    const added = [...shmEntries()].filter((name) => !shmBefore.has(name));
    assert.deepEqual(added, [], "files added to /dev/shm");
  });
}

// ---- 5. generated values between two subprocess children -----------------------------------

/** One stream of generated values: `count` of them, then fillers up to `total`. */
export interface Stream {
  seed: number;
  count: number;
  total: number;
  options: ValueOptions;
}

const streamValue = (s: Stream, i: number) =>
  i < s.count ? valueAt(s.seed, i, s.options) : fillerAt(s.seed, i);

/** Received values, checked on arrival and again when asked. */
class Kept {
  readonly values: [number, unknown][] = [];
  readonly found: string[] = [];
  constructor(readonly stream: Stream, readonly where: string) {}

  take(i: number, v: unknown): void {
    this.values.push([i, v]);
    const p = cloneMismatch(v, streamValue(this.stream, i), `value #${i}`);
    if (p !== undefined && this.found.length < 5) {
      this.found.push(`${this.where}, on arrival: ${p}`);
    }
  }

  recheck(when: string): string[] {
    const found = [...this.found];
    for (const [i, v] of this.values) {
      if (found.length >= 5) break;
      const p = cloneMismatch(v, streamValue(this.stream, i), `value #${i}`);
      if (p !== undefined) found.push(`${this.where}, ${when}: ${p}`);
    }
    return found;
  }
}

/**
 * Puts the first half of the values of `s` in `q` (which it makes itself and sends through
 * `via` when `q` is undefined), and the rest once the consumer set `half`.
 */
export async function produceValues(
  s: Stream,
  q: Queue<unknown> | undefined,
  via: Queue<Queue<unknown>>,
  half: Event,
): Promise<void> {
  if (!q) {
    q = new Queue<unknown>();
    await via.put(q);
  }
  const mid = Math.floor(s.total / 2);
  for (let i = 0; i < mid; i++) await q.put(streamValue(s, i));
  if (!await half.wait({ timeout: 120_000 })) Deno.exit(50);
  for (let i = mid; i < s.total; i++) await q.put(streamValue(s, i));
}

/**
 * Takes the first half of `s` from `q` (or from the queue that arrives through `via`), keeps
 * it and echoes it to `back`, sets `half`, takes the rest likewise, and then checks everything
 * it kept again; reports the problems it found (an empty string when none) in `report`.
 */
export async function consumeValues(
  s: Stream,
  q: Queue<unknown> | undefined,
  via: Queue<Queue<unknown>>,
  half: Event,
  back: Queue<unknown>,
  report: Queue<string>,
): Promise<void> {
  q ??= await via.get({ timeout: 60_000 });
  const kept = new Kept(s, "in the consumer child");
  const mid = Math.floor(s.total / 2);
  for (let i = 0; i < s.total; i++) {
    if (i === mid) {
      await report.put(kept.recheck("after the first half").join("\n"));
      half.set();
    }
    const v = await q.get({ timeout: 60_000 });
    kept.take(i, v);
    await back.put(v);
  }
  await report.put(kept.recheck("after all the traffic").join("\n"));
}

const SEED = Number(Deno.env.get("MP_SEED") ?? 20_261_202);
const kepts: Kept[] = [];

for (const [v, madeBy] of (["the parent", "the producer child"] as const).entries()) {
  const stream: Stream = {
    seed: SEED + v,
    count: 120,
    total: 126,
    options: { arrayProperties: false }, // a known gap: see integrity_test.ts
  };
  Deno.test(`Shared memory: generated values pass between two subprocess children through a Queue made by ${madeBy}, unchanged when checked again later (seed ${stream.seed})`, async () => {
    const q = v === 0 ? new Queue<unknown>() : undefined;
    const via = new Queue<Queue<unknown>>();
    const half = new Event();
    const back = new Queue<unknown>();
    const report = new Queue<string>();
    const producer = start("subprocess", produceValues, [stream, q, via, half]);
    const consumer = start("subprocess", consumeValues, [stream, q, via, half, back, report]);
    const kept = new Kept(stream, `echoed to the parent (queue made by ${madeBy})`);
    kepts.push(kept);
    try {
      for (let i = 0; i < stream.total; i++) kept.take(i, await back.get({ timeout: 60_000 }));
      const found = [await report.get(), await report.get()].filter((r) => r !== "");
      found.push(...kept.recheck("at the end of the test"));
      assert.deepEqual(found, []);
    } finally {
      half.set();
      await joinAll([producer, consumer]);
    }
    assert.deepEqual([producer.exitCode, consumer.exitCode], [0, 0]);
  });
}

Deno.test("Shared memory: the generated values the parent kept are unchanged at the end of the file", () => {
  assert.deepEqual(kepts.flatMap((k) => k.recheck("at the end of the file")), []);
});
