// Queues and pipes, beside Python's `multiprocessing.Queue` and `Pipe` measured in the same run
// with the same number of items: queue items per second between two children (workers, then
// subprocesses), pipe messages per second one way, and pipe round trips in microseconds between
// the parent and a child.
//
// Each figure on each side runs in a fresh process with a fresh queue (or pipe) and children
// that live through every round: one untimed round of four items, the cold round, then the warm
// rounds (the median is the warm figure). A rate is timed by the receiver from its first item to
// its last, so the go signal is left out; a round trip's cold figure is one round trip.
//
//   deno run -A bench/ipc_bench.ts [--quick] [--runs=5]

import { type Connection, Pipe, type Process, Queue, type StartMethod } from "../mod.ts";
import { fresh, type Params, perSecond, RUNS, type Sample, serveCase, size } from "./_measure.ts";
import { CHILDREN, consumer, feed, producer, roundTrip, start } from "./_children.ts";
import { PY_CHILDREN, pythonSample } from "./_python.ts";
import { report, type Row } from "./_results.ts";

/** For each size, waits for the go, then sends `0..n-1`; closes its end at last. */
export async function sender(
  w: Connection<number>,
  go: Queue<number>,
  sizes: number[],
): Promise<void> {
  await feed(go, sizes, (i) => w.send(i));
  w.close();
}

/** For each size, receives `n` messages and reports microseconds per message, first to last. */
export async function receiver(
  r: Connection<number>,
  out: Queue<number>,
  sizes: number[],
): Promise<void> {
  for (const n of sizes) {
    await r.recv();
    const t0 = performance.now();
    for (let i = 1; i < n; i++) await r.recv();
    await out.put((performance.now() - t0) * 1000 / (n - 1));
  }
  r.close();
}

/** One-way items between two children, a round per size; microseconds per item. */
async function stream(transport: string, method: StartMethod, n: number): Promise<Sample> {
  const sizes = [4, n, ...Array(RUNS).fill(n)];
  const go = new Queue<number>(), out = new Queue<number>();
  let children: Process[];
  if (transport === "queue") {
    const q = new Queue<number>();
    children = [
      start(consumer, [q, out, sizes], method, CHILDREN),
      start(producer, [q, go, sizes], method, CHILDREN),
    ];
  } else {
    const [r, w] = Pipe<number>({ duplex: false });
    children = [
      start(receiver, [r, out, sizes], method, import.meta.url),
      start(sender, [w, go, sizes], method, import.meta.url),
    ];
    r.close();
    w.close();
  }
  const us: number[] = [];
  for (const _ of sizes) {
    await go.put(1);
    us.push(await out.get());
  }
  await Promise.all(children.map((p) => p.join()));
  return { cold: us[1], runs: us.slice(2) };
}

/** Our side of one figure, in a fresh process: `{ kind, method, n }`. */
function ours(params: Params): Promise<Sample> {
  const method = params.method as StartMethod, n = params.n as number;
  return params.kind === "rtt" ? roundTrip(method, n) : stream(params.kind as string, method, n);
}

/** Python's side of one figure (fork): `kind` is "queue", "pipe" or "rtt". */
function theirs(kind: string, n: number): Promise<Sample | undefined> {
  return pythonSample(`
import multiprocessing as mp
${PY_CHILDREN}def sender(w, go, sizes):
    for n in sizes:
        go.get()
        for i in range(n): w.send(i)
    w.close()
def receiver(r, out, sizes):
    for n in sizes:
        r.recv(); t0 = time.perf_counter()
        for i in range(1, n): r.recv()
        out.put((time.perf_counter() - t0) * 1e6 / (n - 1))
if __name__ == "__main__":
    mp.set_start_method("fork")
    kind, n = "${kind}", ${n}
    sizes = [4, n] + [n] * RUNS
    if kind == "rtt":
        round_trip(n)
    else:
        go, out = mp.Queue(), mp.Queue()
        if kind == "queue":
            q = mp.Queue()
            ps = [mp.Process(target=consumer, args=(q, out, sizes)),
                  mp.Process(target=producer, args=(q, go, sizes))]
        else:
            r, w = mp.Pipe(duplex=False)
            ps = [mp.Process(target=receiver, args=(r, out, sizes)),
                  mp.Process(target=sender, args=(w, go, sizes))]
        for p in ps: p.start()
        if kind == "pipe": r.close(); w.close()
        us = []
        for _ in sizes:
            go.put(1); us.append(out.get())
        for p in ps: p.join()
        emit(us[1], us[2:])
`);
}

/** The figures: what, the case's kind, and items per round for each start method. */
const FIGURES: { what: string; kind: string; n: Record<StartMethod, number> }[] = [
  {
    what: "Queue items/s, child to child",
    kind: "queue",
    n: { worker: 200_000, subprocess: 20_000 },
  },
  {
    what: "Pipe one-way messages/s, child to child",
    kind: "pipe",
    n: { worker: 200_000, subprocess: 20_000 },
  },
  {
    what: "Pipe round trip, parent and child",
    kind: "rtt",
    n: { worker: 10_000, subprocess: 2_000 },
  },
];

if (import.meta.main && !await serveCase({ ours })) {
  const rows: Row[] = [];
  for (const f of FIGURES) {
    for (const method of ["worker", "subprocess"] as const) {
      const n = size(f.n[method]);
      const what = `${f.what} (${n.toLocaleString("en-US")} ${
        f.kind === "rtt" ? "trips" : "items"
      })`;
      const [mine, python] = [
        await fresh(import.meta.url, "ours", { kind: f.kind, method, n }),
        await theirs(f.kind, n),
      ];
      const rate = f.kind !== "rtt";
      rows.push({
        what,
        method,
        pythonAs: f.kind === "queue" ? "Queue, fork" : "Pipe, fork",
        unit: rate ? "/s" : "us",
        ours: rate ? perSecond(mine) : mine,
        python: python && rate ? perSecond(python) : python,
      });
      console.log(`  done: ${what}, ${method}`);
    }
  }
  await report(import.meta.url, "Queue and Pipe (Python's multiprocessing, same items)", rows);
}
