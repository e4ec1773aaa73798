// Queues and pipes, beside Python's `multiprocessing.Queue` and `Pipe` measured in the same run:
// queue items per second between two children (workers, then subprocesses), pipe messages per
// second one way, and pipe round trips in microseconds between the parent and a child. Rates
// are timed by the receiver from its first item to its last, so process start-up is left out.
//
//   deno run -A bench/ipc_bench.ts

import { type Connection, Pipe, Process, Queue, type StartMethod } from "../mod.ts";
import { median, python, report, type Row } from "./_python.ts";

const ROUNDS = 3;

/** Waits for the go, then puts `0..n-1`. */
export async function producer(q: Queue<number>, go: Queue<number>, n: number): Promise<void> {
  await go.get();
  for (let i = 0; i < n; i++) await q.put(i);
}

/** Takes `n` items and reports items per second, first to last. */
export async function consumer(q: Queue<number>, out: Queue<number>, n: number): Promise<void> {
  await q.get();
  const t0 = performance.now();
  for (let i = 1; i < n; i++) await q.get();
  await out.put((n - 1) / (performance.now() - t0) * 1000);
}

/** Waits for the go, then sends `0..n-1`. */
export async function sender(w: Connection<number>, go: Queue<number>, n: number): Promise<void> {
  await go.get();
  for (let i = 0; i < n; i++) await w.send(i);
  w.close();
}

/** Receives `n` messages and reports messages per second, first to last. */
export async function receiver(r: Connection<number>, out: Queue<number>, n: number) {
  await r.recv();
  const t0 = performance.now();
  for (let i = 1; i < n; i++) await r.recv();
  await out.put((n - 1) / (performance.now() - t0) * 1000);
  r.close();
}

/** Sends back what it receives, until EOF. */
export async function echo(conn: Connection<number>): Promise<void> {
  for await (const v of conn) await conn.send(v);
  conn.close();
}

function start(target: (...a: never[]) => unknown, args: unknown[], method: StartMethod): Process {
  const p = new Process({ target: target as (...a: unknown[]) => void, args, startMethod: method });
  p.start();
  return p;
}

async function queueRate(method: StartMethod, n: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const q = new Queue<number>(), go = new Queue<number>(), out = new Queue<number>();
    const c = start(consumer, [q, out, n], method);
    const p = start(producer, [q, go, n], method);
    await new Promise((resolve) => setTimeout(resolve, method === "worker" ? 300 : 1000));
    await go.put(1);
    samples.push(await out.get());
    await Promise.all([c.join(), p.join()]);
  }
  return median(samples);
}

async function pipeRate(method: StartMethod, n: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const go = new Queue<number>(), out = new Queue<number>();
    const c = start(receiver, [reader, out, n], method);
    const p = start(sender, [writer, go, n], method);
    reader.close();
    writer.close();
    await new Promise((resolve) => setTimeout(resolve, method === "worker" ? 300 : 1000));
    await go.put(1);
    samples.push(await out.get());
    await Promise.all([c.join(), p.join()]);
  }
  return median(samples);
}

async function pipeRoundTrip(method: StartMethod, n: number): Promise<number> {
  const [a, b] = Pipe<number>();
  const p = start(echo, [b], method);
  b.close();
  const samples: number[] = [];
  for (let r = 0; r < ROUNDS + 1; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      await a.send(i);
      await a.recv();
    }
    if (r > 0) samples.push((performance.now() - t0) * 1000 / n); // round 0 warms up
  }
  a.close();
  await p.join();
  return median(samples);
}

const PY_QUEUE = (n: number) => `
import multiprocessing as mp, time, statistics
def producer(q, go, n):
    go.get()
    for i in range(n): q.put(i)
def consumer(q, out, n):
    q.get(); t0 = time.perf_counter()
    for i in range(1, n): q.get()
    out.put((n - 1) / (time.perf_counter() - t0))
if __name__ == "__main__":
    samples = []
    for r in range(${ROUNDS}):
        q, go, out = mp.Queue(), mp.Queue(), mp.Queue()
        c = mp.Process(target=consumer, args=(q, out, ${n})); p = mp.Process(target=producer, args=(q, go, ${n}))
        c.start(); p.start(); time.sleep(0.3); go.put(1)
        samples.append(out.get()); c.join(); p.join()
    print(statistics.median(samples))
`;

const PY_PIPE = (n: number) => `
import multiprocessing as mp, time, statistics
def sender(w, go, n):
    go.get()
    for i in range(n): w.send(i)
    w.close()
def receiver(r, out, n):
    r.recv(); t0 = time.perf_counter()
    for i in range(1, n): r.recv()
    out.put((n - 1) / (time.perf_counter() - t0))
if __name__ == "__main__":
    samples = []
    for _ in range(${ROUNDS}):
        r, w = mp.Pipe(duplex=False); go, out = mp.Queue(), mp.Queue()
        c = mp.Process(target=receiver, args=(r, out, ${n})); p = mp.Process(target=sender, args=(w, go, ${n}))
        c.start(); p.start(); r.close(); w.close(); time.sleep(0.3); go.put(1)
        samples.append(out.get()); c.join(); p.join()
    print(statistics.median(samples))
`;

const PY_ROUND_TRIP = (n: number) => `
import multiprocessing as mp, time, statistics
def echo(conn):
    while True:
        v = conn.recv()
        if v is None: break
        conn.send(v)
if __name__ == "__main__":
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b,)); p.start(); b.close()
    samples = []
    for r in range(${ROUNDS + 1}):
        t0 = time.perf_counter()
        for i in range(${n}):
            a.send(i); a.recv()
        if r > 0: samples.append((time.perf_counter() - t0) * 1e6 / ${n})
    a.send(None); a.close(); p.join()
    print(statistics.median(samples))
`;

if (import.meta.main) {
  const rows: Row[] = [];
  const perSec = "k/s";
  const k = (v: number | undefined) => v === undefined ? undefined : v / 1000;
  const pyQueue = k(await python(PY_QUEUE(200_000)));
  rows.push({
    what: "Queue items/s, worker -> worker",
    ours: k(await queueRate("worker", 1_000_000))!,
    python: pyQueue,
    unit: perSec,
    better: "higher",
  });
  rows.push({
    what: "Queue items/s, subprocess -> subprocess",
    ours: k(await queueRate("subprocess", 20_000))!,
    python: pyQueue,
    unit: perSec,
    better: "higher",
  });
  const pyPipe = k(await python(PY_PIPE(200_000)));
  rows.push({
    what: "Pipe one-way messages/s, worker -> worker",
    ours: k(await pipeRate("worker", 1_000_000))!,
    python: pyPipe,
    unit: perSec,
    better: "higher",
  });
  rows.push({
    what: "Pipe one-way messages/s, subprocess -> subprocess",
    ours: k(await pipeRate("subprocess", 20_000))!,
    python: pyPipe,
    unit: perSec,
    better: "higher",
  });
  const pyRtt = await python(PY_ROUND_TRIP(10_000));
  rows.push({
    what: "Pipe round trip, parent <-> worker",
    ours: await pipeRoundTrip("worker", 10_000),
    python: pyRtt,
    unit: "us",
    better: "lower",
  });
  rows.push({
    what: "Pipe round trip, parent <-> subprocess",
    ours: await pipeRoundTrip("subprocess", 2_000),
    python: pyRtt,
    unit: "us",
    better: "lower",
  });
  report("Queue and Pipe (Python's multiprocessing in the same run)", rows);
}
