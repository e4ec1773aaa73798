// Start-to-join latency of an empty target, per start method, beside Python's fork and spawn
// measured in the same run.
//
//   deno run -A bench/process_bench.ts

import { Process, type StartMethod } from "../mod.ts";
import { median, python, report, type Row } from "./_python.ts";

/** The empty target. */
export function nothing(): void {}

const ROUNDS = 30;

async function ours(startMethod: StartMethod): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < ROUNDS + 3; i++) {
    const t0 = performance.now();
    const p = new Process({ target: nothing, startMethod });
    p.start();
    await p.join();
    if (i >= 3) samples.push(performance.now() - t0); // the first rounds load modules
  }
  return median(samples);
}

function pythonStart(method: "fork" | "spawn"): Promise<number | undefined> {
  return python(`
import multiprocessing as mp, time, statistics
def nothing(): pass
if __name__ == "__main__":
    ctx = mp.get_context("${method}")
    samples = []
    for i in range(${ROUNDS} + 3):
        t0 = time.perf_counter()
        p = ctx.Process(target=nothing); p.start(); p.join()
        if i >= 3: samples.append((time.perf_counter() - t0) * 1000)
    print(statistics.median(samples))
`);
}

if (import.meta.main) {
  const [worker, subprocess, fork, spawn] = [
    await ours("worker"),
    await ours("subprocess"),
    await pythonStart("fork"),
    await pythonStart("spawn"),
  ];
  const rows: Row[] = [
    {
      what: "start+join, worker vs Python fork",
      ours: worker,
      python: fork,
      unit: "ms",
      better: "lower",
    },
    {
      what: "start+join, worker vs Python spawn",
      ours: worker,
      python: spawn,
      unit: "ms",
      better: "lower",
    },
    {
      what: "start+join, subprocess vs Python spawn",
      ours: subprocess,
      python: spawn,
      unit: "ms",
      better: "lower",
    },
  ];
  report(`Process start-to-join latency, median of ${ROUNDS}`, rows);
}
