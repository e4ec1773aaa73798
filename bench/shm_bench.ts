// Shared memory across OS processes: the figures of a child that maps the program's memory
// (_core/_shm.ts, with --allow-ffi on Linux), for subprocess children (separate `deno run` OS
// processes) and worker children alike, beside Python's multiprocessing with fork measured in the
// same run with the same items:
//
// - Queue items/s from a child to its parent, and from one child to another (small numbers);
// - a Lock contended by two children, each doing `await lock.acquire(); v.value += 1;
//   lock.release()` on a shared `Value("i")` without a lock of its own: the total is checked to
//   be exact after every round (Python: `with lock: v.value += 1` on `Value('i', 0,
//   lock=False)`);
// - Pipe round trips between the parent and an echoing child, microseconds each.
//
// Each figure on each side runs in a fresh process with fresh objects and children that live
// through every round: one untimed round of four items, the cold round, then the warm rounds
// (the median is the warm figure). A rate is timed by the receiver from its first item to its
// last (the go signal is left out); the contended lock is timed by the parent between two
// barriers; a round trip's cold figure is one round trip. Python's figure of a kind is measured
// once and stands beside both start methods. bench/README.md's section between its
// `<!-- shm:table -->` markers is rewritten from each run, with the acceptance targets.
//
//   deno run -A bench/shm_bench.ts [--quick] [--runs=5] [--methods=worker,subprocess]

import { Barrier, Lock, Queue, type StartMethod, Value } from "../mod.ts";
import {
  fresh,
  type Params,
  perSecond,
  QUICK,
  RUNS,
  type Sample,
  serveCase,
  size,
} from "./_measure.ts";
import { CHILDREN, consumer, increment, producer, roundTrip, start, take } from "./_children.ts";
import { PY_CHILDREN, pythonSample } from "./_python.ts";
import {
  markdownTable,
  report,
  type Row,
  runStamp,
  speedUp,
  toFigure,
  writeBetween,
} from "./_results.ts";

/** The sizes of the rounds: the untimed one of four, the cold one, the warm ones. */
function rounds(n: number): number[] {
  return [4, n, ...Array(RUNS).fill(n)];
}

/** Queue items from a child to this process, a round per size; microseconds per item. */
async function toParent(method: StartMethod, n: number): Promise<Sample> {
  const sizes = rounds(n), q = new Queue<number>(), go = new Queue<number>();
  const p = start(producer, [q, go, sizes], method, CHILDREN);
  const us: number[] = [];
  for (const k of sizes) {
    await go.put(1);
    us.push(await take(q, k));
  }
  await p.join();
  return { cold: us[1], runs: us.slice(2) };
}

/** Queue items from one child to another, a round per size; microseconds per item. */
async function childToChild(method: StartMethod, n: number): Promise<Sample> {
  const sizes = rounds(n), q = new Queue<number>(), go = new Queue<number>();
  const out = new Queue<number>();
  const ps = [
    start(consumer, [q, out, sizes], method, CHILDREN),
    start(producer, [q, go, sizes], method, CHILDREN),
  ];
  const us: number[] = [];
  for (const _ of sizes) {
    await go.put(1);
    us.push(await out.get());
  }
  await Promise.all(ps.map((p) => p.join()));
  return { cold: us[1], runs: us.slice(2) };
}

/** Two children increment a Value under a Lock, a round per size; microseconds per operation. */
async function contended(method: StartMethod, n: number): Promise<Sample> {
  const sizes = rounds(n), go = new Barrier(3), done = new Barrier(3), lock = new Lock();
  const v = new Value("i", 0, { lock: false });
  const ps = [0, 1].map(() => start(increment, [go, done, sizes, lock, v], method, CHILDREN));
  const us: number[] = [];
  for (const k of sizes) {
    v.value = 0;
    await go.wait();
    const t0 = performance.now();
    await done.wait();
    us.push((performance.now() - t0) * 1000 / (2 * k));
    if (v.value !== 2 * k) throw new Error(`Value ended at ${v.value}, not ${2 * k}`);
  }
  await Promise.all(ps.map((p) => p.join()));
  return { cold: us[1], runs: us.slice(2) };
}

const CASES: Record<string, (method: StartMethod, n: number) => Promise<Sample>> = {
  "queue-parent": toParent,
  "queue-child": childToChild,
  lock: contended,
  rtt: roundTrip,
};

/** Our side of one figure, in a fresh process: `{ kind, method, n }`. */
function ours(params: Params): Promise<Sample> {
  return CASES[params.kind as string](params.method as StartMethod, params.n as number);
}

/** Python's side of one figure (fork), microseconds per item, operation or round trip. */
function theirs(kind: string, n: number): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
${PY_CHILDREN}def increment(go, done, sizes, lock, v):
    for n in sizes:
        go.wait()
        for _ in range(n):
            with lock:
                v.value += 1
        done.wait()
if __name__ == "__main__":
    mp.set_start_method("fork")
    kind, n = "${kind}", ${n}
    sizes = [4, n] + [n] * RUNS
    us = []
    if kind == "rtt":
        round_trip(n)
    elif kind == "lock":
        go, done, lock = mp.Barrier(3), mp.Barrier(3), mp.Lock()
        v = mp.Value("i", 0, lock=False)
        ps = [mp.Process(target=increment, args=(go, done, sizes, lock, v)) for _ in range(2)]
        for p in ps: p.start()
        for k in sizes:
            v.value = 0
            go.wait(); t0 = time.perf_counter(); done.wait()
            us.append((time.perf_counter() - t0) * 1e6 / (2 * k))
            assert v.value == 2 * k, v.value
        for p in ps: p.join()
        emit(us[1], us[2:])
    else:
        q, go, out = mp.Queue(), mp.Queue(), mp.Queue()
        ps = [mp.Process(target=producer, args=(q, go, sizes))]
        if kind == "queue-child":
            ps.append(mp.Process(target=consumer, args=(q, out, sizes)))
        for p in ps: p.start()
        for k in sizes:
            go.put(1)
            us.append(out.get() if kind == "queue-child" else take(q, k))
        for p in ps: p.join()
        emit(us[1], us[2:])
`);
}

/** A figure: what, its case, items per round, Python's counterpart, and the targets. */
interface FigureSpec {
  what: string;
  kind: string;
  n: number;
  unit: "us" | "/s";
  pythonAs: string;
  /** The acceptance target for subprocess children: the least speed-up (Python's time / ours). */
  target: number;
  /** The target as the issue words it. */
  targetText: string;
}

const FIGURES: FigureSpec[] = [
  {
    what: "Queue items/s, child to parent",
    kind: "queue-parent",
    n: 200_000,
    unit: "/s",
    pythonAs: "Queue, fork",
    target: 10,
    targetText: ">= 10x Python's items/s",
  },
  {
    what: "Queue items/s, child to child",
    kind: "queue-child",
    n: 200_000,
    unit: "/s",
    pythonAs: "Queue, fork",
    target: 10,
    targetText: ">= 10x Python's items/s",
  },
  {
    what: "Lock contended by two children, v.value += 1 under it",
    kind: "lock",
    n: 500_000,
    unit: "/s",
    pythonAs: "Lock + Value(lock=False), fork",
    target: 3,
    targetText: ">= 3x Python's ops/s",
  },
  {
    what: "Pipe round trip, parent and child",
    kind: "rtt",
    n: 10_000,
    unit: "us",
    pythonAs: "Pipe, fork",
    target: 5,
    targetText: "<= 0.2x Python's time",
  },
];

/** The start methods to measure: `--methods=worker,subprocess` (both by default). */
const METHODS =
  (Deno.args.find((a) => a.startsWith("--methods="))?.slice(10) ?? "worker,subprocess")
    .split(",") as StartMethod[];

const BENCH_README = new URL("./README.md", import.meta.url);
const MARKER = "<!-- shm:table -->";

/** bench/README.md's table of these figures, with each subprocess figure against its target. */
function table(rows: Row[], specs: FigureSpec[]): string {
  const figures = rows.map((r) => toFigure("shm_bench.ts", r));
  const cells = figures.map((f, i) => {
    if (f.method === "worker") return "no lower than before shared memory";
    const warm = speedUp(f, f.ours.warm, f.python?.warm);
    const verdict = warm === undefined ? "n/a" : warm >= specs[i].target ? "met" : "missed";
    return `${specs[i].targetText}: ${verdict}`;
  });
  return markdownTable(figures, { head: "target (subprocess)", cells });
}

if (import.meta.main && !await serveCase({ ours })) {
  const rows: Row[] = [], specs: FigureSpec[] = [];
  for (const f of FIGURES) {
    const n = size(f.n);
    const python = await theirs(f.kind, n);
    const per = f.kind === "rtt" ? "trips" : f.kind === "lock" ? "each, exact total" : "items";
    const what = `${f.what} (${n.toLocaleString("en-US")} ${per})`;
    for (const method of METHODS) {
      const mine = await fresh(import.meta.url, "ours", { kind: f.kind, method, n });
      const rate = f.unit === "/s";
      rows.push({
        what,
        method,
        pythonAs: f.pythonAs,
        unit: f.unit,
        ours: rate ? perSecond(mine) : mine,
        python: python && rate ? perSecond(python) : python,
      });
      specs.push(f);
      console.log(`  done: ${what}, ${method}`);
    }
  }
  await report(
    import.meta.url,
    "Shared memory across processes: Queue, contended Lock, Pipe round trip",
    rows,
  );
  if (!QUICK && METHODS.length === 2) {
    const stamp = runStamp("deno run -A bench/shm_bench.ts");
    await writeBetween(BENCH_README, MARKER, `${stamp}:\n\n${table(rows, specs)}`);
  }
}
