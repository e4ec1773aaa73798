// Pool figures beside Python's, measured in the same run: `apply` round trip, `map` with
// chunksize 1 and with the default chunks (20,000, 200,000 and 2,000,000 items), and
// `imapUnordered`, per item, for this package's Pool (both start methods) against Python's
// `multiprocessing.Pool` and, for some, `concurrent.futures.ProcessPoolExecutor` (fork).
//
// Each figure on each side runs in a fresh process: a fresh pool, one untimed call of four
// items (four `apply` calls), then the timed cold call (one `apply`; one `map` of all items),
// then the warm runs (the median is the warm figure). Microseconds per call or item.
//
//   deno run -A bench/pool_bench.ts [--processes=2] [--quick] [--runs=5] [--only=map,apply]
//
// `--only` keeps the figures of the operations named (apply, map1, map, imap).

import { Pool, type StartMethod } from "../mod.ts";
import { flag, fresh, type Params, type Sample, serveCase, size, timePool } from "./_measure.ts";
import { pythonSample } from "./_python.ts";
import { report, type Row } from "./_results.ts";

/** The task of every figure. */
export function square(x: number): number {
  return x * x;
}

type Op = "apply" | "map1" | "map" | "imap";

/** What one call of each measured operation does with its items. */
const OPS: Record<Op, (pool: Pool, xs: number[]) => Promise<unknown>> = {
  apply: async (pool, xs) => {
    for (const x of xs) await pool.apply(square, [x]);
  },
  map1: (pool, xs) => pool.map(square, xs, { chunksize: 1 }),
  map: (pool, xs) => pool.map(square, xs),
  imap: async (pool, xs) => {
    for await (const _ of pool.imapUnordered(square, xs)) { /* drain */ }
  },
};

/** Our side of one figure, in a fresh process: `{ op, n, procs, method }`. */
async function ours(params: Params): Promise<Sample> {
  const op = params.op as Op, n = params.n as number;
  await using pool = new Pool({
    processes: params.procs as number,
    startMethod: params.method as StartMethod,
  });
  return await timePool((xs) => OPS[op](pool, xs), n, op === "apply");
}

/** Python's side of one figure: `Pool(procs)` or, with `ppe`, `ProcessPoolExecutor(procs)`. */
function theirs(op: Op, n: number, procs: number, ppe: boolean): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
def square(x):
    return x * x
OPS = {
    "apply": lambda p, xs: [p.apply(square, (x,)) for x in xs],
    "map1": lambda p, xs: p.map(square, xs, chunksize=1),
    "map": lambda p, xs: p.map(square, xs),
    "imap": lambda p, xs: list(p.imap_unordered(square, xs)),
}
PPE_OPS = {
    "apply": lambda ex, xs: [ex.submit(square, x).result() for x in xs],
    "map1": lambda ex, xs: list(ex.map(square, xs, chunksize=1)),
    "map": lambda ex, xs: list(ex.map(square, xs, chunksize=max(1, -(-len(xs) // (4 * ${procs}))))),
}
if __name__ == "__main__":
    ctx = mp.get_context("fork")
    op, n, xs, four = "${op}", ${n}, list(range(${n})), list(range(4))
    ppe = ${ppe ? "True" : "False"}
    run = (PPE_OPS if ppe else OPS)[op]
    with (ProcessPoolExecutor(${procs}, mp_context=ctx) if ppe else ctx.Pool(${procs})) as p:
        cold_warm(lambda: run(p, xs), n, warm_up=lambda: run(p, four),
                  cold=(lambda: run(p, [0])) if op == "apply" else None,
                  cold_per=1 if op == "apply" else None)
`);
}

/** The figures: what, the operation, items per run, and whether to compare the executor too. */
const FIGURES: { what: string; op: Op; n: number; executor: boolean }[] = [
  { what: "Pool.apply round trip", op: "apply", n: 1_000, executor: true },
  { what: "Pool.map, chunksize 1, per item", op: "map1", n: 20_000, executor: true },
  { what: "Pool.map, default chunks, per item", op: "map", n: 20_000, executor: false },
  { what: "Pool.map, default chunks, per item", op: "map", n: 200_000, executor: true },
  { what: "Pool.map, default chunks, per item", op: "map", n: 2_000_000, executor: false },
  { what: "Pool.imapUnordered, per item", op: "imap", n: 20_000, executor: false },
];

if (import.meta.main && !await serveCase({ ours })) {
  const procs = flag("processes", 2);
  const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
  const rows: Row[] = [];
  for (const f of FIGURES.filter((f) => !only || only.includes(f.op))) {
    const n = size(f.n);
    const what = `${f.what} (${n.toLocaleString("en-US")} ${f.op === "apply" ? "calls" : "items"})`;
    const pool = await theirs(f.op, n, procs, false);
    for (const method of ["worker", "subprocess"] as const) {
      const sample = await fresh(import.meta.url, "ours", { op: f.op, n, procs, method });
      const row = { what, method, unit: "us", ours: sample } as const;
      rows.push({ ...row, pythonAs: `Pool(${procs}), fork`, python: pool });
      if (f.executor && method === "worker") {
        const python = await theirs(f.op, n, procs, true);
        rows.push({ ...row, pythonAs: `ProcessPoolExecutor(${procs}), fork`, python });
      }
    }
    console.log(`  done: ${what}`);
  }
  await report(import.meta.url, `Pool, ${procs} processes, microseconds per call or item`, rows);
}
