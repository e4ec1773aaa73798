// Start-to-join latency of an empty target, per start method, beside Python's fork and spawn
// measured in the same run.
//
// Each side runs in a fresh process. Cold: the program's first process, started and joined (no
// warm-up: the first start is what is measured). Warm: the median of the next starts.
//
//   deno run -A bench/process_bench.ts [--quick] [--runs=5]

import { Process, type StartMethod } from "../mod.ts";
import { coldWarm, flag, fresh, type Params, QUICK, type Sample, serveCase } from "./_measure.ts";
import { pythonSample } from "./_python.ts";
import { report, type Row } from "./_results.ts";

/** The empty target. */
export function nothing(): void {}

/** Starts per warm figure: more than other benches' runs, as one start is short. */
const STARTS = flag("runs", QUICK ? 5 : 30);

/** Our side, in a fresh process: `{ method }`; microseconds per start and join. */
async function ours(params: Params): Promise<Sample> {
  const startMethod = params.method as StartMethod;
  return await coldWarm({
    run: async () => {
      const p = new Process({ target: nothing, startMethod });
      p.start();
      await p.join();
    },
    per: 1,
    runs: STARTS,
  });
}

/** Python's side, in a fresh interpreter: start method `method`. */
function theirs(method: "fork" | "spawn"): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
def nothing():
    pass
def start():
    p = ctx.Process(target=nothing); p.start(); p.join()
if __name__ == "__main__":
    ctx = mp.get_context("${method}")
    RUNS = ${STARTS}
    cold_warm(start, 1)
`);
}

if (import.meta.main && !await serveCase({ ours })) {
  const [worker, subprocess] = [
    await fresh(import.meta.url, "ours", { method: "worker" }),
    await fresh(import.meta.url, "ours", { method: "subprocess" }),
  ];
  const [fork, spawn] = [await theirs("fork"), await theirs("spawn")];
  const what = "Process start + join, empty target";
  const rows: Row[] = [
    { what, method: "worker", pythonAs: "Process, fork", unit: "us", ours: worker, python: fork },
    { what, method: "worker", pythonAs: "Process, spawn", unit: "us", ours: worker, python: spawn },
    {
      what,
      method: "subprocess",
      pythonAs: "Process, spawn",
      unit: "us",
      ours: subprocess,
      python: spawn,
    },
  ];
  await report(import.meta.url, `Process start-to-join latency (warm: median of ${STARTS})`, rows);
}
