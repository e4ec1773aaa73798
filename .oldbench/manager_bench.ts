// A manager dict set, beside Python's `Manager().dict()` measured in the same run: microseconds
// per `d.set(k, v)`, lower is better. From the process that started the manager (whose proxies
// call the in-process server directly) and from a child (one round trip over the manager's
// Unix socket); Python's calls always cross to its manager process.
//
//   deno run -A bench/manager_bench.ts

import { type DictProxy, Manager, Process, type StartMethod } from "../mod.ts";
import { median, python, report, type Row } from "./_python.ts";

const SETS = 5_000;
const ROUNDS = 5;

/** Times `SETS` sets per round; the median microseconds per set goes into `d.us`. */
export async function timeSets(d: DictProxy<string, number>): Promise<void> {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const t0 = performance.now();
    for (let i = 0; i < SETS; i++) await d.set("count", i);
    if (r > 0) samples.push((performance.now() - t0) * 1000 / SETS); // round 0 warms up
  }
  await d.set("us", median(samples));
}

async function ours(startMethod?: StartMethod): Promise<number> {
  await using manager = await Manager.start();
  const d = await manager.dict<string, number>();
  if (startMethod === undefined) {
    await timeSets(d);
  } else {
    const p = new Process({ target: timeSets, args: [d], startMethod });
    p.start();
    await p.join();
  }
  return (await d.get("us"))!;
}

function pythonSet(fromChild: boolean): Promise<number | undefined> {
  return python(`
import multiprocessing as mp, time, statistics
def time_sets(d):
    samples = []
    for r in range(${ROUNDS} + 1):
        t0 = time.perf_counter()
        for i in range(${SETS}):
            d["count"] = i
        if r > 0: samples.append((time.perf_counter() - t0) * 1e6 / ${SETS})
    d["us"] = statistics.median(samples)
if __name__ == "__main__":
    with mp.Manager() as m:
        d = m.dict()
        if ${fromChild ? "True" : "False"}:
            p = mp.Process(target=time_sets, args=(d,)); p.start(); p.join()
        else:
            time_sets(d)
        print(d["us"])
`);
}

if (import.meta.main) {
  const row = async (what: string, method: StartMethod | undefined): Promise<Row> => ({
    what,
    ours: await ours(method),
    python: await pythonSet(method !== undefined),
    unit: "us",
    better: "lower",
  });
  report("Manager dict set, microseconds per call (target: ours <= Python's)", [
    await row("dict set, from the manager's process", undefined),
    await row("dict set, from a worker child", "worker"),
    await row("dict set, from a subprocess child", "subprocess"),
  ]);
}
