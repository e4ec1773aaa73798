// Shared by the benchmarks: runs a Python 3 snippet in a fresh interpreter, and the Python half
// of bench/_measure.ts (the same cold and warm, in the same units).

import { MAX_RUNS, RUNS, type Sample, WARM_MS } from "./_measure.ts";

/**
 * Runs `code` as a Python 3 script (a file, so that `spawn` children can import its main
 * module) and returns what it prints last, read as JSON, or `undefined` when Python 3 is not
 * installed or the script fails (its last lines of stderr are printed).
 */
export async function python<T = number>(code: string): Promise<T | undefined> {
  const file = await Deno.makeTempFile({ suffix: ".py" });
  try {
    await Deno.writeTextFile(file, code);
    const out = await new Deno.Command("python3", { args: [file], stderr: "piped" }).output();
    if (!out.success) {
      console.error(new TextDecoder().decode(out.stderr).split("\n").slice(-4).join("\n"));
      return undefined;
    }
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return JSON.parse(lines[lines.length - 1]) as T;
  } catch {
    return undefined;
  } finally {
    await Deno.remove(file).catch(() => {});
  }
}

/**
 * Python's `sample(run, per, warm_up=None, cold=None, cold_per=None)`, as
 * {@linkcode coldWarm} in bench/_measure.ts: returns `{"cold": us, "runs": [us, ...]}` per
 * item; `cold_warm(...)` prints it; `emit(cold, runs)` prints a sample measured otherwise;
 * `RUNS` (the fewest warm runs) follows `--runs` (and `--quick`).
 */
const PRELUDE = `
import json, time
RUNS, WARM_S, MAX_RUNS = ${RUNS}, ${WARM_MS / 1000}, ${MAX_RUNS}
def emit(cold, runs):
    print(json.dumps({"cold": cold, "runs": list(runs)}))
def _timed(call, per):
    t0 = time.perf_counter()
    call()
    return (time.perf_counter() - t0) * 1e6 / per
def sample(run, per, warm_up=None, cold=None, cold_per=None):
    if warm_up is not None:
        warm_up()
    first = _timed(cold or run, cold_per or per)
    runs, t0 = [], time.perf_counter()
    while len(runs) < RUNS or (time.perf_counter() - t0 < WARM_S and len(runs) < MAX_RUNS):
        runs.append(_timed(run, per))
    return {"cold": first, "runs": runs}
def cold_warm(run, per, warm_up=None, cold=None, cold_per=None):
    s = sample(run, per, warm_up, cold, cold_per)
    emit(s["cold"], s["runs"])
`;

/**
 * Runs `code` after the prelude (`sample`, `cold_warm`, `emit`, `RUNS`) in a fresh Python and
 * returns the sample it emits, or `undefined` when Python is missing or fails.
 */
export function pythonSample(code: string): Promise<Sample | undefined> {
  return python<Sample>(PRELUDE + code);
}

/**
 * The Python children that several benches share, counterparts of bench/_children.ts: a queue's
 * producer (`n` items per size, each size after a `go`), its consumer (`take`: microseconds per
 * item), and a pipe's echo with `round_trip(n)`, which emits the round trip's sample. Goes
 * after `import multiprocessing as mp` in a snippet for {@linkcode pythonSample}.
 */
export const PY_CHILDREN = `
def take(q, n):
    q.get(); t0 = time.perf_counter()
    for i in range(1, n): q.get()
    return (time.perf_counter() - t0) * 1e6 / (n - 1)
def producer(q, go, sizes):
    for n in sizes:
        go.get()
        for i in range(n): q.put(i)
def consumer(q, out, sizes):
    for n in sizes: out.put(take(q, n))
def echo(conn):
    while (v := conn.recv()) is not None:
        conn.send(v)
def trips(a, k):
    for i in range(k):
        a.send(i); a.recv()
def round_trip(n):
    a, b = mp.Pipe()
    p = mp.Process(target=echo, args=(b,)); p.start(); b.close()
    cold_warm(lambda: trips(a, n), n, warm_up=lambda: trips(a, 4),
              cold=lambda: trips(a, 1), cold_per=1)
    a.send(None); a.close(); p.join()
`;
