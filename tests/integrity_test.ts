// The property test of the issue: seeded random values of every structured-cloneable kind go
// through every channel under both start methods, arrive equal to what was sent (with structured
// clone's meaning), and stay equal until the end: every value received is kept and compared
// again after all the traffic of its test and of this file.
//
// Seeds: MP_SEED=<n> replays a run (the seed of each test is in its name).

import assert from "node:assert/strict";
import { METHODS, starter } from "./_helpers.ts";
import { cloneMismatch } from "./_same_clone.ts";
import { fillerAt, valueAt, type ValueOptions } from "./_values.ts";
import {
  type Address,
  Client,
  type Connection,
  type DictProxy,
  JoinableQueue,
  Listener,
  type ListProxy,
  Manager,
  Pipe,
  Pool,
  Queue,
  type QueueProxy,
  SimpleQueue,
  type StartMethod,
} from "../mod.ts";

const module = import.meta.url;
const start = starter(module);

/** Values per channel and start method, then this many fillers. */
const COUNT = 240;
const FILLERS = 6;
const BASE_SEED = Number(Deno.env.get("MP_SEED") ?? 20_260_101);

/** One test's stream of values: `count` generated ones, then {@link FILLERS} fillers. */
export interface Spec {
  seed: number;
  count: number;
  options: ValueOptions;
}

/** Value `i` of `spec`: generated, or a filler past `count`. */
function specValue(spec: Spec, i: number): unknown {
  return i < spec.count ? valueAt(spec.seed, i, spec.options) : fillerAt(spec.seed, i);
}

const total = (spec: Spec): number => spec.count + FILLERS;

/** A received value: which way it came, and which value of the spec it must be. */
interface Arrival {
  via: string;
  index: number;
  value: unknown;
}

/**
 * The problems among `arrivals` (at most a few), each naming the way, the index and the path;
 * `skip` holds arrivals already found wrong. Each expected value is generated once.
 */
function problems(
  spec: Spec,
  arrivals: Iterable<Arrival>,
  when: string,
  skip: Set<Arrival> = new Set(),
): string[] {
  const byIndex = Map.groupBy([...arrivals].filter((a) => !skip.has(a)), (a) => a.index);
  const found: string[] = [];
  for (const [index, same] of byIndex) {
    const expected = specValue(spec, index);
    for (const { via, value } of same) {
      const p = cloneMismatch(value, expected, `value #${index}`);
      if (p !== undefined) found.push(`${via}, ${when}: ${p}`);
    }
    if (found.length >= 5) break;
  }
  return found;
}

/**
 * Keeps what arrives, checks each value against its regeneration at once, and all of them again
 * when asked: in the parent and in the children alike.
 */
class Keeper {
  readonly arrivals: Arrival[] = [];
  readonly found: string[] = [];
  /** The arrivals found wrong on arrival. */
  #wrong = new Set<Arrival>();

  constructor(readonly spec: Spec) {}

  /** Keeps value `index`, arrived by `via`, and checks it. */
  take(via: string, index: number, value: unknown): void {
    const arrival = { via, index, value };
    this.arrivals.push(arrival);
    if (this.found.length >= 5) return;
    const found = problems(this.spec, [arrival], "on arrival");
    if (found.length > 0) this.#wrong.add(arrival);
    this.found.push(...found);
  }

  /** The problems found on arrival, and those that appeared since (found now, `when`). */
  recheck(when: string): string[] {
    return [...this.found, ...problems(this.spec, this.arrivals, when, this.#wrong)];
  }

  /** In a child: reports every problem (an empty string when none) through `to`. */
  async report(to: Queue<string>): Promise<void> {
    await to.put(this.recheck("at the child's end").join("\n"));
  }
}

// ---- the child's side ---------------------------------------------------------------------

/** In a child: takes every value of `spec` with `recv` and sends each back with `send`. */
async function echoAll(
  spec: Spec,
  via: string,
  recv: () => Promise<unknown>,
  send: (v: unknown) => Promise<unknown>,
  report: Queue<string>,
): Promise<void> {
  const keeper = new Keeper(spec);
  for (let i = 0; i < total(spec); i++) {
    const v = await recv();
    keeper.take(`${via} (in the child)`, i, v);
    await send(v);
  }
  await keeper.report(report);
}

/** Process args: checks the values it was started with, after fillers came through `fill`. */
export async function checkArgs(
  spec: Spec,
  values: unknown[],
  fill: Queue<unknown>,
  report: Queue<string>,
): Promise<void> {
  const keeper = new Keeper(spec);
  values.forEach((v, i) => keeper.take("Process args (in the child)", i, v));
  for (let i = spec.count; i < total(spec); i++) keeper.take("Queue (filler)", i, await fill.get());
  await keeper.report(report);
}

/** Echoes from one queue to another (marking each task done on a JoinableQueue). */
export async function echoQueue(
  spec: Spec,
  inbox: Queue<unknown>,
  outbox: Queue<unknown>,
  report: Queue<string>,
): Promise<void> {
  const joinable = inbox instanceof JoinableQueue;
  await echoAll(
    spec,
    inbox.constructor.name,
    async () => {
      const v = await inbox.get();
      if (joinable) await (inbox as JoinableQueue).taskDone();
      return v;
    },
    (v) => outbox.put(v),
    report,
  );
  if (joinable) await (outbox as JoinableQueue).join();
}

/** Echoes on one end of a duplex pipe. */
export async function echoPipe(spec: Spec, conn: Connection, report: Queue<string>): Promise<void> {
  await echoAll(spec, "Pipe", () => conn.recv(), (v) => conn.send(v), report);
  conn.close();
}

/** Connects to a Listener and echoes. */
export async function echoClient(
  spec: Spec,
  address: Address,
  authkey: string,
  report: Queue<string>,
): Promise<void> {
  using conn = await Client(address, { authkey });
  await echoAll(spec, "Client", () => conn.recv(), (v) => conn.send(v), report);
}

/** Manager proxies: takes from a manager queue; stores in a dict and a list; puts in another. */
export async function echoManager(
  spec: Spec,
  proxies: {
    inbox: QueueProxy<unknown>;
    outbox: QueueProxy<unknown>;
    dict: DictProxy<number, unknown>;
    list: ListProxy<unknown>;
  },
  report: Queue<string>,
): Promise<void> {
  let i = 0;
  await echoAll(spec, "manager queue", () => proxies.inbox.get(), async (v) => {
    await proxies.dict.set(i++, v);
    await proxies.list.push(v);
    await proxies.outbox.put(v);
  }, report);
}

// ---- pool tasks ---------------------------------------------------------------------------

/** Returns its argument. */
export function echo<T>(v: T): T {
  return v;
}

/** Throws its argument. */
export function raise(v: unknown): never {
  throw v;
}

/** Value `i` of `spec`, generated in the worker. */
export function make(spec: Spec, i: number): unknown {
  return specValue(spec, i);
}

const keptInWorker: Arrival[] = [];

/** Checks value `i` in the worker and keeps it; now and then checks all kept ones again. */
export function check(spec: Spec, i: number, v: unknown): string {
  keptInWorker.push({ via: "Pool args (in the worker)", index: i, value: v });
  const kept = keptInWorker.length % 16 === 0 ? keptInWorker : keptInWorker.slice(-1);
  return problems(spec, kept, "in the worker").join("\n");
}

// ---- the parent's side --------------------------------------------------------------------

/** Sends every value of `spec` with `send` while `keep` takes as many arriving by `recv`. */
async function roundTrip(
  keep: Keeper,
  via: string,
  send: (v: unknown) => Promise<unknown>,
  recv: () => Promise<unknown>,
): Promise<void> {
  const n = total(keep.spec);
  await Promise.all([
    (async () => {
      for (let i = 0; i < n; i++) await send(specValue(keep.spec, i));
    })(),
    (async () => {
      for (let i = 0; i < n; i++) keep.take(via, i, await recv());
    })(),
  ]);
}

/**
 * Runs `child` with `args` (a report queue appended) while `traffic` runs here; asserts that
 * the child found nothing wrong and exited 0.
 */
async function withChild(
  method: StartMethod,
  child: (...a: never[]) => Promise<void>,
  args: unknown[],
  traffic: () => Promise<void>,
): Promise<void> {
  const report = new Queue<string>();
  const p = start(method, child, [...args, report]);
  try {
    await traffic();
    const found = await report.get();
    if (found !== "") assert.fail(`the child found:\n${found}`);
  } finally {
    await p.join();
  }
  assert.equal(p.exitCode, 0, `the child exited with ${p.exitCode}`);
}

/** A channel under test: what it may carry, and its traffic, whose arrivals `keep` takes. */
interface Channel {
  name: string;
  options?: (method: StartMethod) => ValueOptions;
  run(method: StartMethod, keep: Keeper): Promise<void>;
}

/** SharedArrayBuffers go only where memory is shared: to a worker through Process or Pool args. */
const sharedInWorkers = (method: StartMethod): ValueOptions => ({ shared: method === "worker" });

/** A queue class: the child echoes from one queue of it to another. */
function queueChannel(Q: typeof Queue): Channel {
  const joinable = Q === JoinableQueue;
  return {
    name: Q.name,
    run: (method, keep) => {
      const inbox = new Q(), outbox = new Q();
      return withChild(method, echoQueue, [keep.spec, inbox, outbox], async () => {
        await roundTrip(keep, Q.name, (v) => inbox.put(v), async () => {
          const v = await outbox.get();
          if (joinable) (outbox as JoinableQueue).taskDone();
          return v;
        });
        if (joinable) await (inbox as JoinableQueue).join();
      });
    },
  };
}

/** The indices of `spec` dealt round-robin to `n` ways of sending them. */
function ways(spec: Spec, n: number): number[][] {
  const out = Array.from({ length: n }, () => [] as number[]);
  for (let i = 0; i < total(spec); i++) out[i % n].push(i);
  return out;
}

const CHANNELS: Channel[] = [
  {
    name: "Process args",
    options: sharedInWorkers,
    run: (method, { spec }) => {
      const values = Array.from({ length: spec.count }, (_, i) => specValue(spec, i));
      const fill = new Queue<unknown>();
      return withChild(method, checkArgs, [spec, values, fill], async () => {
        for (let i = spec.count; i < total(spec); i++) await fill.put(specValue(spec, i));
      });
    },
  },
  {
    name: "Pool",
    options: sharedInWorkers,
    run: async (method, keep) => {
      const { spec } = keep;
      const value = (i: number) => specValue(spec, i);
      await using pool = new Pool({ processes: 2, startMethod: method, module });
      const [mapped, imapped, applied, called, thrown, made, checked] = ways(spec, 7);
      const results = await pool.map(echo, mapped.map(value), { chunksize: 3 });
      mapped.forEach((i, j) => keep.take("Pool.map result", i, results[j]));
      let j = 0;
      for await (const v of pool.imap(echo, imapped.map(value))) {
        keep.take("Pool.imap result", imapped[j++], v);
      }
      for (const i of applied) {
        keep.take("Pool.apply result", i, await pool.apply(echo, [value(i)]));
      }
      await Promise.all(called.map((i) =>
        pool.applyAsync(echo, [value(i)], {
          callback: (v) => keep.take("Pool.applyAsync callback", i, v),
        }).wait()
      ));
      // An Error thrown arrives as the error it was (its class by name, its fields), more than
      // structured clone makes of it: only other values are thrown here.
      await Promise.all(
        thrown.filter((i) => !(value(i) instanceof Error)).map((i) =>
          pool.applyAsync(raise, [value(i)], {
            errorCallback: (e) => keep.take("Pool.applyAsync errorCallback (thrown)", i, e),
          }).wait()
        ),
      );
      const there = await pool.starmap(make, made.map((i) => [spec, i] as [Spec, number]));
      made.forEach((i, j) => keep.take("Pool result made in the worker", i, there[j]));
      const args = checked.map((i) => [spec, i, value(i)] as [Spec, number, unknown]);
      const found = await pool.starmap(check, args);
      assert.deepEqual(found.filter((s) => s !== ""), []);
    },
  },
  queueChannel(Queue),
  queueChannel(SimpleQueue as typeof Queue),
  queueChannel(JoinableQueue),
  {
    name: "Pipe",
    run: (method, keep) => {
      const [mine, theirs] = Pipe();
      return withChild(method, echoPipe, [keep.spec, theirs], async () => {
        try {
          await roundTrip(keep, "Pipe", (v) => mine.send(v), () => mine.recv());
        } finally {
          mine.close();
          theirs.close();
        }
      });
    },
  },
  {
    name: "Listener/Client",
    run: async (method, keep) => {
      await using listener = new Listener({ authkey: "integrity" });
      const args = [keep.spec, listener.address, "integrity"];
      await withChild(method, echoClient, args, async () => {
        using conn = await listener.accept();
        await roundTrip(keep, "Listener connection", (v) => conn.send(v), () => conn.recv());
      });
    },
  },
  {
    name: "Manager proxies",
    run: async (method, keep) => {
      const n = total(keep.spec);
      await using manager = await Manager.start();
      const proxies = {
        inbox: await manager.queue(),
        outbox: await manager.queue(),
        dict: await manager.dict<number, unknown>(),
        list: await manager.list(),
      };
      await withChild(method, echoManager, [keep.spec, proxies], async () => {
        await roundTrip(
          keep,
          "manager queue",
          (v) => proxies.inbox.put(v),
          () => proxies.outbox.get(),
        );
      });
      for (let i = 0; i < n; i++) keep.take("manager dict", i, await proxies.dict.get(i));
      const list = await proxies.list.toArray();
      assert.equal(list.length, n);
      list.forEach((v, i) => keep.take("manager list", i, v));
    },
  },
];

/** Every arrival of this file, to be checked again at its end. */
const kept: { label: string; keeper: Keeper }[] = [];

CHANNELS.forEach((channel, c) => {
  METHODS.forEach((method, m) => {
    const spec: Spec = {
      seed: BASE_SEED + 2 * c + m,
      count: COUNT,
      // Named properties of an array (a RegExp match's index and groups) are lost by the tree
      // codec and the encode walk: a known gap, left out until it is closed.
      options: { arrayProperties: false, ...channel.options?.(method) },
    };
    const label = `${channel.name} (${method}, seed ${spec.seed})`;
    Deno.test(`Integrity: ${channel.name} carries generated values unchanged, kept to the end (${method}, seed ${spec.seed})`, async () => {
      const keeper = new Keeper(spec);
      kept.push({ label, keeper });
      await channel.run(method, keeper);
      const found = keeper.recheck("at the end of its test");
      if (found.length > 0) assert.fail(`${label}:\n${found.join("\n")}`);
    });
  });
});

Deno.test("Integrity: every value received in this file is still unchanged after all its traffic", () => {
  const found = kept.flatMap(({ label, keeper }) =>
    problems(keeper.spec, keeper.arrivals, "at the end of the file").map((p) => `${label}: ${p}`)
  );
  assert.deepEqual(found, []);
});
