// Locks and shared values against Python's multiprocessing, measured in the same run:
// uncontended Lock acquire/release in one process, contended acquire/release between two
// children, and Value increments under its lock from two children. Prints ops/s and ratios.
//
//   deno run -A bench/sync_bench.ts [--quick]

import { Barrier, Lock, Process, Value } from "../mod.ts";
import { python, report, type Row } from "./_python.ts";

const QUICK = Deno.args.includes("--quick");
const N_LOCAL = QUICK ? 200_000 : 2_000_000;
const N_PAIR = QUICK ? 50_000 : 500_000;
const N_VALUE = QUICK ? 50_000 : 200_000;

/** A child of the contended benchmark: `n` acquire/release pairs, once all have started. */
export async function hammer(start: Barrier, lock: Lock, n: number): Promise<void> {
  await start.wait();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    lock.release();
  }
}

/** A child of the Value benchmark: `n` increments under the value's lock. */
export async function increment(start: Barrier, v: Value<"i">, n: number): Promise<void> {
  await start.wait();
  const lock = v.getLock();
  for (let i = 0; i < n; i++) {
    await lock.acquire();
    v.value += 1;
    lock.release();
  }
}

// Seconds from the moment both children have started (a barrier) to their end.
async function timeChildren(target: (...a: never[]) => unknown, args: unknown[]): Promise<number> {
  const start = new Barrier(3);
  const ps = [0, 1].map(() =>
    new Process({
      target: target as never,
      args: [start, ...args],
      startMethod: "worker",
      module: import.meta.url,
    })
  );
  ps.forEach((p) => p.start());
  await start.wait();
  const t = performance.now();
  await Promise.all(ps.map((p) => p.join()));
  return (performance.now() - t) / 1000;
}

/** `hammer` with the synchronous fast path: `tryAcquire() || await acquire()`. */
export async function hammerFast(start: Barrier, lock: Lock, n: number): Promise<void> {
  await start.wait();
  for (let i = 0; i < n; i++) {
    if (!lock.tryAcquire()) await lock.acquire();
    lock.release();
  }
}

async function denoRates(): Promise<Record<string, number>> {
  const lock = new Lock();
  let t = performance.now();
  for (let i = 0; i < N_LOCAL; i++) {
    await lock.acquire();
    lock.release();
  }
  const local = N_LOCAL / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < N_LOCAL; i++) {
    if (!lock.tryAcquire()) await lock.acquire();
    lock.release();
  }
  const localFast = N_LOCAL / ((performance.now() - t) / 1000);
  const pair = (2 * N_PAIR) / await timeChildren(hammer, [new Lock(), N_PAIR]);
  const pairFast = (2 * N_PAIR) / await timeChildren(hammerFast, [new Lock(), N_PAIR]);
  const v = new Value("i", 0);
  const value = (2 * N_VALUE) / await timeChildren(increment, [v, N_VALUE]);
  if (v.value !== 2 * N_VALUE) throw new Error(`Value ended at ${v.value}, not ${2 * N_VALUE}`);
  return { local, localFast, pair, pairFast, value };
}

const PYTHON = `
import multiprocessing as mp, time, json, sys
N_LOCAL, N_PAIR, N_VALUE = ${N_LOCAL}, ${N_PAIR}, ${N_VALUE}
def hammer(start, lock, n):
    start.wait()
    for _ in range(n):
        lock.acquire(); lock.release()
def increment(start, v, n):
    start.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1
def two(target, args):
    start = mp.Barrier(3)
    ps = [mp.Process(target=target, args=(start,) + args) for _ in range(2)]
    for p in ps: p.start()
    start.wait()
    t = time.perf_counter()
    for p in ps: p.join()
    return time.perf_counter() - t
if __name__ == "__main__":
    lock = mp.Lock()
    t = time.perf_counter()
    for _ in range(N_LOCAL):
        lock.acquire(); lock.release()
    local = N_LOCAL / (time.perf_counter() - t)
    pair = 2 * N_PAIR / two(hammer, (mp.Lock(), N_PAIR))
    v = mp.Value("i", 0)
    value = 2 * N_VALUE / two(increment, (v, N_VALUE))
    assert v.value == 2 * N_VALUE
    print(json.dumps({"local": local, "pair": pair, "value": value}))
`;

if (import.meta.main) {
  const deno = await denoRates();
  const py = await python<Record<string, number>>(PYTHON);
  const M = (n: number | undefined) => n === undefined ? undefined : n / 1e6;
  const row = (what: string, ours: number, theirs: number | undefined): Row => ({
    what,
    ours: M(ours)!,
    python: M(theirs),
    unit: "M/s",
    better: "higher",
  });
  report("Locks and shared values, two worker children (ops per second)", [
    row("uncontended await acquire(), one process", deno.local, py?.local),
    row("uncontended tryAcquire() || acquire()", deno.localFast, py?.local),
    row("contended await acquire(), two children", deno.pair, py?.pair),
    row("contended tryAcquire() || acquire()", deno.pairFast, py?.pair),
    row("Value += 1 under its lock, two children", deno.value, py?.value),
  ]);
}
