// Start-to-join latency of an empty target, per start method, beside Python's fork and spawn
// measured in the same run.
//
// Each side runs in a fresh process. Cold: the program's first process, started and joined (no
// warm-up: the first start is what is measured). Warm: the median of the next starts, back to
// back, and again with a pause of GAP_MS before each timed start (a program that starts a
// process now and then: a worker made ahead has had the time to load the runtime).
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
/** Milliseconds of pause before each timed start of the "now and then" figures. */
const GAP_MS = 200;

/** Our side, in a fresh process: `{ method, gap }`; microseconds per start and join. */
async function ours(params: Params): Promise<Sample> {
  const startMethod = params.method as StartMethod, gap = params.gap as number;
  const once = async () => {
    const p = new Process({ target: nothing, startMethod });
    p.start();
    await p.join();
  };
  if (gap === 0) return await coldWarm({ run: once, per: 1, runs: STARTS });
  const runs: number[] = [];
  const cold = await timedOnce(once);
  for (let i = 0; i < Math.min(STARTS, 10); i++) {
    await new Promise((resolve) => setTimeout(resolve, gap));
    runs.push(await timedOnce(once));
  }
  return { cold, runs };
}

/** Microseconds that `call` takes. */
async function timedOnce(call: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await call();
  return (performance.now() - t0) * 1000;
}

/** Python's side, in a fresh interpreter: start method `method`, pause `gap` ms. */
function theirs(method: "fork" | "spawn", gap: number): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
def nothing():
    pass
def start():
    p = ctx.Process(target=nothing); p.start(); p.join()
if __name__ == "__main__":
    ctx = mp.get_context("${method}")
    RUNS = ${STARTS}
    if ${gap} == 0:
        cold_warm(start, 1)
    else:
        def timed():
            t0 = time.perf_counter(); start(); return (time.perf_counter() - t0) * 1e6
        cold = timed()
        runs = []
        for _ in range(min(RUNS, 10)):
            time.sleep(${gap / 1000}); runs.append(timed())
        emit(cold, runs)
`);
}

if (import.meta.main && !await serveCase({ ours })) {
  const rows: Row[] = [];
  for (const gap of [0, GAP_MS]) {
    const [worker, subprocess] = [
      await fresh(import.meta.url, "ours", { method: "worker", gap }),
      await fresh(import.meta.url, "ours", { method: "subprocess", gap }),
    ];
    const [fork, spawn] = [await theirs("fork", gap), await theirs("spawn", gap)];
    const what = gap === 0
      ? "Process start + join, empty target, back to back"
      : `Process start + join, empty target, ${GAP_MS} ms apart`;
    const row = { what, unit: "us" } as const;
    rows.push(
      { ...row, method: "worker", pythonAs: "Process, fork", ours: worker, python: fork },
      { ...row, method: "worker", pythonAs: "Process, spawn", ours: worker, python: spawn },
      { ...row, method: "subprocess", pythonAs: "Process, spawn", ours: subprocess, python: spawn },
    );
  }
  await report(import.meta.url, `Process start-to-join latency (warm: median of the runs)`, rows);
}
