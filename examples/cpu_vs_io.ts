// Course 002's efficiency test: the same ten CPU-bound and ten IO-bound jobs run serially, as
// concurrent async tasks (what threads are to Python: one core, overlapping waits), and in a
// pool of processes. Async helps only IO; the pool helps CPU (and IO too).
//
//   deno task example:cpu_vs_io [--start-method=worker|subprocess]

import { cpuCount, Pool } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";
import { bar } from "./_progress.ts";

const JOBS = 10;

/** CPU-bound: arithmetic in a loop. */
export function cpuJob(n: number): number {
  let acc = 0;
  for (let i = 0; i < 20_000_000; i++) acc = (acc + i * n) % 1_000_003;
  return acc;
}

/** IO-bound: write and read back a file, then wait as on a slow device. */
export async function ioJob(n: number): Promise<number> {
  const path = await Deno.makeTempFile({ prefix: "cpu_vs_io-" });
  try {
    await Deno.writeTextFile(path, `job ${n}\n`.repeat(1000));
    const text = await Deno.readTextFile(path);
    await new Promise((resolve) => setTimeout(resolve, 200));
    return text.length;
  } finally {
    await Deno.remove(path);
  }
}

type Job = (n: number) => number | Promise<number>;

async function timed(label: string, run: (tick: () => void) => Promise<unknown>): Promise<number> {
  let done = 0;
  bar(label, 0, JOBS);
  const start = performance.now();
  await run(() => bar(label, ++done, JOBS));
  return (performance.now() - start) / 1000;
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const xs = Array.from({ length: JOBS }, (_, i) => i + 1);
  const rows: [string, number, number][] = [];
  await using pool = new Pool({ processes: cpuCount() });
  await pool.map(cpuJob, [0]); // the workers are up before the clock starts
  const kinds: [string, Job][] = [["cpu", cpuJob], ["io", ioJob]];
  const times: Record<string, number[]> = { serial: [], async: [], pool: [] };
  for (const [kind, job] of kinds) {
    times.serial.push(
      await timed(`serial ${kind}`, async (tick) => {
        for (const x of xs) {
          await job(x);
          tick();
        }
      }),
    );
    times.async.push(
      await timed(
        `async ${kind}`,
        (tick) => Promise.all(xs.map(async (x) => (await job(x), tick()))),
      ),
    );
    times.pool.push(
      await timed(
        `pool ${kind}`,
        (tick) => pool.map(job as typeof cpuJob, xs, { chunksize: 1, onProgress: () => tick() }),
      ),
    );
  }
  for (const [name, [cpu, io]] of Object.entries(times)) rows.push([name, cpu, io]);
  console.log(`${JOBS} jobs each, ${pool.processes} pool workers (${method}):`);
  console.log("| way    | CPU-bound (s) | IO-bound (s) |");
  console.log("| ------ | ------------- | ------------ |");
  for (const [name, cpu, io] of rows) {
    console.log(
      `| ${name.padEnd(6)} | ${cpu.toFixed(2).padStart(13)} | ${io.toFixed(2).padStart(12)} |`,
    );
  }
}
