// Locks and shared values beside Python's multiprocessing, measured in the same run:
// uncontended Lock acquire/release in one process, contended acquire/release between two
// children, and `v.value += 1` under the Value's lock from two children (the total is checked
// to be exact). Operations per second, higher is better.
//
// Each figure on each side runs in a fresh process with a fresh lock (or Value): one untimed
// round of four operations (per child), then the cold round, then the warm rounds (the median
// is the warm figure). Two children run each round together, between two barriers; the parent
// times from the first barrier to the second.
//
//   deno run -A bench/sync_bench.ts [--quick] [--runs=5]

import { CHILDREN, increment } from "./_children.ts";
import { Barrier, Lock, Process, Value } from "../mod.ts";
import {
  coldWarm,
  fresh,
  type Params,
  perSecond,
  RUNS,
  type Sample,
  serveCase,
  size,
} from "./_measure.ts";
import { pythonSample } from "./_python.ts";
import { report, type Row } from "./_results.ts";

/** `n` acquire/release pairs; with `fast`, `tryAcquire() || await acquire()`. */
async function lockLoop(lock: Lock, n: number, fast: boolean): Promise<void> {
  if (fast) {
    for (let i = 0; i < n; i++) {
      if (!lock.tryAcquire()) await lock.acquire();
      lock.release();
    }
  } else {
    for (let i = 0; i < n; i++) {
      await lock.acquire();
      lock.release();
    }
  }
}

/** A child of the contended benchmark: a round of `n` pairs between the barriers, per size. */
export async function hammer(
  go: Barrier,
  done: Barrier,
  sizes: number[],
  lock: Lock,
  fast: boolean,
): Promise<void> {
  for (const n of sizes) {
    await go.wait();
    await lockLoop(lock, n, fast);
    await done.wait();
  }
}

/** Runs `target` in two worker children, a round per size; microseconds per operation. */
async function twoChildren(
  target: typeof hammer | typeof increment,
  args: unknown[],
  sizes: number[],
  module: string = import.meta.url,
): Promise<number[]> {
  const go = new Barrier(3), done = new Barrier(3);
  const ps = [0, 1].map(() =>
    new Process({ target: target as never, args: [go, done, sizes, ...args], module })
  );
  ps.forEach((p) => p.start());
  const us: number[] = [];
  for (const n of sizes) {
    await go.wait();
    const t0 = performance.now();
    await done.wait();
    us.push((performance.now() - t0) * 1000 / (2 * n));
  }
  await Promise.all(ps.map((p) => p.join()));
  return us;
}

/** Our side of one figure, in a fresh process: `{ kind, n, fast }`; microseconds per op. */
async function ours(params: Params): Promise<Sample> {
  const n = params.n as number, fast = params.fast as boolean;
  if (params.kind === "local") {
    const lock = new Lock();
    return await coldWarm({
      warmUp: () => lockLoop(lock, 4, fast),
      run: () => lockLoop(lock, n, fast),
      per: n,
    });
  }
  const sizes = [4, n, ...Array(RUNS).fill(n)];
  const total = 2 * sizes.reduce((a, b) => a + b, 0);
  const v = new Value("i", 0);
  const us = params.kind === "pair"
    ? await twoChildren(hammer, [new Lock(), fast], sizes)
    : await twoChildren(increment, [v.getLock(), v], sizes, CHILDREN);
  if (params.kind === "value" && v.value !== total) {
    throw new Error(`Value ended at ${v.value}, not ${total}`);
  }
  return { cold: us[1], runs: us.slice(2) };
}

/** Python's side of one figure: `kind` is "local", "pair" or "value"; microseconds per op. */
function theirs(kind: string, n: number): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
def loop(lock, n):
    for _ in range(n):
        lock.acquire(); lock.release()
def hammer(go, done, sizes, lock):
    for n in sizes:
        go.wait(); loop(lock, n); done.wait()
def increment(go, done, sizes, v):
    for n in sizes:
        go.wait()
        for _ in range(n):
            with v.get_lock():
                v.value += 1
        done.wait()
def two(target, arg, sizes):
    go, done = mp.Barrier(3), mp.Barrier(3)
    ps = [mp.Process(target=target, args=(go, done, sizes, arg)) for _ in range(2)]
    for p in ps: p.start()
    us = []
    for n in sizes:
        go.wait(); t0 = time.perf_counter(); done.wait()
        us.append((time.perf_counter() - t0) * 1e6 / (2 * n))
    for p in ps: p.join()
    return us
if __name__ == "__main__":
    mp.set_start_method("fork")
    kind, n = "${kind}", ${n}
    if kind == "local":
        lock = mp.Lock()
        cold_warm(lambda: loop(lock, n), n, warm_up=lambda: loop(lock, 4))
    else:
        sizes = [4, n] + [n] * RUNS
        v = mp.Value("i", 0)
        us = two(hammer, mp.Lock(), sizes) if kind == "pair" else two(increment, v, sizes)
        assert kind == "pair" or v.value == 2 * sum(sizes), v.value
        emit(us[1], us[2:])
`);
}

/** The figures: what, our method, Python's counterpart, and the case's parameters. */
const FIGURES: { what: string; method: "worker" | null; pythonAs: string; params: Params }[] = [
  {
    what: "Lock, uncontended: await acquire(); release()",
    method: null,
    pythonAs: "Lock, one process",
    params: { kind: "local", n: 2_000_000, fast: false },
  },
  {
    what: "Lock, uncontended: tryAcquire() || await acquire()",
    method: null,
    pythonAs: "Lock, one process",
    params: { kind: "local", n: 2_000_000, fast: true },
  },
  {
    what: "Lock, contended by two children: await acquire()",
    method: "worker",
    pythonAs: "Lock, two processes, fork",
    params: { kind: "pair", n: 500_000, fast: false },
  },
  {
    what: "Lock, contended by two children: tryAcquire() || acquire()",
    method: "worker",
    pythonAs: "Lock, two processes, fork",
    params: { kind: "pair", n: 500_000, fast: true },
  },
  {
    what: "Value += 1 under its lock, two children (exact total)",
    method: "worker",
    pythonAs: "Value, two processes, fork",
    params: { kind: "value", n: 200_000, fast: false },
  },
];

if (import.meta.main && !await serveCase({ ours })) {
  const rows: Row[] = [];
  const pythons = new Map<string, Sample | undefined>();
  for (const f of FIGURES) {
    const params: Params = { ...f.params, n: size(f.params.n as number) };
    const key = `${params.kind} ${params.n}`;
    if (!pythons.has(key)) pythons.set(key, await theirs(`${params.kind}`, params.n as number));
    const python = pythons.get(key);
    rows.push({
      what: f.what,
      method: f.method,
      pythonAs: f.pythonAs,
      unit: "/s",
      ours: perSecond(await fresh(import.meta.url, "ours", params)),
      python: python && perSecond(python),
    });
    console.log(`  done: ${f.what}`);
  }
  await report(import.meta.url, "Locks and shared values, operations per second", rows);
}
