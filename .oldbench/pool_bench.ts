// Pool throughput beside Python's, measured in the same run (best of five each, after a warm-up
// of each path): `apply` round trip, `map` with chunksize 1 and with the default chunks, and
// `imapUnordered`, per item, for this package's Pool (both start methods) and Python's
// `multiprocessing.Pool` and `ProcessPoolExecutor`.
//
//   deno run -A bench/pool_bench.ts [--items=50000] [--processes=2]
//
// Acceptance (worker start method): apply and map(chunksize=1) >= 5x Python's Pool per item,
// default-chunk map >= Python's.

import { Pool, type StartMethod } from "../mod.ts";
import { python } from "./_python.ts";

export function square(x: number): number {
  return x * x;
}

type Row = Record<string, number>; // microseconds per item, by measurement

const PYTHON = String.raw`
import json, sys, time
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor

def square(x):
    return x * x

def per(t, n):
    return (time.perf_counter() - t) * 1e6 / n

def best(run):
    return min(run() for _ in range(5))

if __name__ == "__main__":
    items, procs = int(ITEMS), int(PROCS)
    xs = list(range(items))
    n_apply = max(500, items // 25)
    out = {}
    with mp.Pool(procs) as p:
        p.map(square, range(1000))
        def apply():
            t = time.perf_counter()
            for i in range(n_apply):
                p.apply(square, (i,))
            return per(t, n_apply)
        def cs1():
            t = time.perf_counter(); p.map(square, xs, chunksize=1); return per(t, items)
        def dflt():
            t = time.perf_counter(); p.map(square, xs); return per(t, items)
        def imu():
            t = time.perf_counter(); list(p.imap_unordered(square, xs)); return per(t, items)
        apply_us, cs1, dflt, imu = best(apply), best(cs1), best(dflt), best(imu)
        out["Python Pool"] = {"apply": apply_us, "map cs1": cs1, "map default": dflt, "imapUnordered": imu}
    with ProcessPoolExecutor(procs) as ex:
        list(ex.map(square, range(1000)))
        t = time.perf_counter()
        for i in range(n_apply):
            ex.submit(square, i).result()
        apply_us = per(t, n_apply)
        t = time.perf_counter(); list(ex.map(square, xs, chunksize=1)); cs1 = per(t, items)
        t = time.perf_counter(); list(ex.map(square, xs, chunksize=max(1, -(-items // (4 * procs))))); dflt = per(t, items)
        out["Python ProcessPoolExecutor"] = {"apply": apply_us, "map cs1": cs1, "map default": dflt}
    print(json.dumps(out))
`;

async function pythonRows(items: number, procs: number): Promise<Record<string, Row>> {
  const code = PYTHON.replace("int(ITEMS)", String(items)).replace("int(PROCS)", String(procs));
  const rows = await python<Record<string, Row>>(code);
  if (!rows) throw new Error("python3 failed or is not installed");
  return rows;
}

async function deno(method: StartMethod, items: number, procs: number): Promise<Row> {
  await using pool = new Pool({ processes: procs, startMethod: method });
  const xs = Array.from({ length: items }, (_, i) => i);
  const nApply = method === "worker" ? Math.max(500, items / 10) : Math.max(500, items / 25);
  const per = (t: number, n: number) => (performance.now() - t) * 1000 / n;
  // warm up the JIT on both sides, for each path measured
  await pool.map(square, xs.slice(0, 20000), { chunksize: 1 });
  for (let i = 0; i < 500; i++) await pool.apply(square, [i]);
  for (let i = 0; i < 5; i++) await pool.map(square, xs);
  const best = async (run: () => Promise<unknown>, n: number) => {
    let min = Infinity;
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      await run();
      min = Math.min(min, per(t, n));
    }
    return min;
  };
  return {
    "apply": await best(async () => {
      for (let i = 0; i < nApply; i++) await pool.apply(square, [i]);
    }, nApply),
    "map cs1": await best(() => pool.map(square, xs, { chunksize: 1 }), items),
    "map default": await best(() => pool.map(square, xs), items),
    "imapUnordered": await best(async () => {
      for await (const _ of pool.imapUnordered(square, xs)) { /* drain */ }
    }, items),
  };
}

if (import.meta.main) {
  const arg = (name: string, dflt: number) =>
    Number(Deno.args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? dflt);
  const items = arg("items", 50_000);
  const procs = arg("processes", 2);
  console.log(`${items} items, ${procs} processes; microseconds per item (lower is better)\n`);
  const rows: Record<string, Row> = {
    "Deno Pool (worker)": await deno("worker", items, procs),
    "Deno Pool (subprocess)": await deno("subprocess", items, procs),
    ...await pythonRows(items, procs),
  };
  const cols = ["apply", "map cs1", "map default", "imapUnordered"];
  const fmt = (v: number | undefined) => (v === undefined ? "-" : v.toFixed(2)).padStart(13);
  console.log(`| ${"".padEnd(26)} |${cols.map((c) => ` ${c.padStart(13)} `).join("|")}|`);
  console.log(`| ${"-".repeat(26)} |${cols.map(() => ` ${"-".repeat(13)} `).join("|")}|`);
  for (const [name, row] of Object.entries(rows)) {
    console.log(`| ${name.padEnd(26)} |${cols.map((c) => ` ${fmt(row[c])} `).join("|")}|`);
  }
  const py = rows["Python Pool"];
  console.log(
    "\nPython Pool time / Deno time (higher is better; target: >= 5 for apply and map cs1,",
  );
  console.log(">= 1 for map default, worker start method):");
  for (const name of ["Deno Pool (worker)", "Deno Pool (subprocess)"]) {
    const ratios = cols.map((c) => `${c} ${(py[c] / rows[name][c]).toFixed(1)}x`);
    console.log(`  ${name}: ${ratios.join(", ")}`);
  }
}
