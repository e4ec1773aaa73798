// A manager dict set, beside Python's `Manager().dict()` measured in the same run: microseconds
// per `d.set(k, v)`, lower is better. From the process that started the manager (whose proxies
// call the in-process server directly) and from a child (one round trip over the manager's
// Unix socket); Python's calls always cross to its manager process.
//
// Each figure on each side runs in a fresh process with a fresh manager and dict: four untimed
// sets, the cold set (one), then the warm runs of `SETS` sets (the median is the warm figure).
//
//   deno run -A bench/manager_bench.ts [--quick] [--runs=5]

import { type DictProxy, Manager, Process, type StartMethod } from "../mod.ts";
import { coldWarm, fresh, type Params, type Sample, serveCase, size } from "./_measure.ts";
import { pythonSample } from "./_python.ts";
import { report, type Row } from "./_results.ts";

/** Sets `"count"` `n` times. */
async function sets(d: DictProxy<string, unknown>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await d.set("count", i);
}

/** Times `n` sets per run, cold and warm, and leaves the sample in `d` under `"sample"`. */
export async function timeSets(d: DictProxy<string, unknown>, n: number): Promise<void> {
  const sample = await coldWarm({
    warmUp: () => sets(d, 4),
    cold: () => sets(d, 1),
    coldPer: 1,
    run: () => sets(d, n),
    per: n,
  });
  await d.set("sample", sample);
}

/** Our side, in a fresh process: `{ from, n }`, `from` a start method or "manager". */
async function ours(params: Params): Promise<Sample> {
  await using manager = await Manager.start();
  const d = await manager.dict<string, unknown>();
  if (params.from === "manager") {
    await timeSets(d, params.n as number);
  } else {
    const startMethod = params.from as StartMethod;
    const p = new Process({ target: timeSets, args: [d, params.n as number], startMethod });
    p.start();
    await p.join();
  }
  return (await d.get("sample")) as Sample;
}

/** Python's side, in a fresh interpreter: from the main process or a child. */
function theirs(fromChild: boolean, n: number): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
def sets(d, n):
    for i in range(n):
        d["count"] = i
def time_sets(d, n):
    d["sample"] = sample(lambda: sets(d, n), n, warm_up=lambda: sets(d, 4),
                         cold=lambda: sets(d, 1), cold_per=1)
if __name__ == "__main__":
    mp.set_start_method("fork")
    with mp.Manager() as m:
        d = m.dict()
        if ${fromChild ? "True" : "False"}:
            p = mp.Process(target=time_sets, args=(d, ${n})); p.start(); p.join()
        else:
            time_sets(d, ${n})
        print(json.dumps(d["sample"]))
`);
}

if (import.meta.main && !await serveCase({ ours })) {
  const n = size(5_000);
  const what = `Manager dict set (${n.toLocaleString("en-US")} sets)`;
  const python = { main: await theirs(false, n), child: await theirs(true, n) };
  const row = async (from: "manager" | StartMethod): Promise<Row> => ({
    what: from === "manager" ? `${what}, from the manager's process` : `${what}, from a child`,
    method: from === "manager" ? null : from,
    pythonAs: from === "manager" ? "Manager, from its parent" : "Manager, from a child, fork",
    unit: "us",
    ours: await fresh(import.meta.url, "ours", { from, n }),
    python: from === "manager" ? python.main : python.child,
  });
  await report(import.meta.url, "Manager dict set, microseconds per call", [
    await row("manager"),
    await row("worker"),
    await row("subprocess"),
  ]);
}
