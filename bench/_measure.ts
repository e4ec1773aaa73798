// Shared by the benchmarks: how a figure is measured on our side, cold and warm, each case in a
// fresh `deno run` (as each Python snippet runs in a fresh interpreter), and the common flags.
//
// Cold: the first timed call after start (a fresh pool, queue, lock... and, where it makes
// sense, one untimed warm-up call of four items). Warm: the median of `runs` timed calls after
// it. Every value is microseconds per item (or per call) unless a case says otherwise.

/** The result of one case: the cold value and the warm runs, in the case's unit. */
export interface Sample {
  /** The first timed call after start (and after the warm-up, where there is one). */
  cold: number;
  /** The timed calls after the cold one; the warm figure is their median. */
  runs: number[];
}

/** Parameters of a case, passed to its fresh `deno run` as JSON. */
export type Params = Record<string, string | number | boolean>;

/** A case: measures one figure in the process it runs in. */
export type Case = (params: Params) => Promise<Sample>;

/** Median of the samples (the upper one of an even count). */
export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The value of `--name=value` in the bench's arguments, or `dflt`. */
export function flag(name: string, dflt: number): number {
  const hit = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? dflt : Number(hit.slice(name.length + 3));
}

/** `--quick`: every size a tenth (at least 4), three warm runs: to check that a bench works. */
export const QUICK: boolean = Deno.args.includes("--quick");

/** The fewest warm runs a figure takes the median of: `--runs=N`, 5 by default. */
export const RUNS: number = flag("runs", QUICK ? 3 : 5);

/**
 * Milliseconds of warm runs a figure takes at least, when its runs are short (up to
 * {@linkcode MAX_RUNS} runs): the median then falls on runs past the JIT's warm-up.
 */
export const WARM_MS: number = QUICK ? 200 : 1000;

/** The most warm runs a figure takes. */
export const MAX_RUNS: number = 100;

/** `n` for a full run, a tenth of it (at least 4) with `--quick`. */
export function size(n: number): number {
  return QUICK ? Math.max(4, Math.round(n / 10)) : n;
}

/** How one figure is timed: see {@linkcode coldWarm}. */
export interface Plan {
  /** Untimed, once, before the cold call: e.g. the same call with four items. */
  warmUp?: () => unknown;
  /** The cold call, timed once; `run` when absent. */
  cold?: () => unknown;
  /** Items (or calls) in the cold call; `per` when absent. */
  coldPer?: number;
  /** One warm run, timed `runs` times. */
  run: () => unknown;
  /** Items (or calls) in one run: the time is divided by it. */
  per: number;
  /** The fewest warm runs: {@linkcode RUNS} when absent; more while under {@linkcode WARM_MS}. */
  runs?: number;
}

/**
 * Times `plan`: its warm-up, its cold call, then its warm runs (at least `runs`, and more while
 * they have taken less than {@linkcode WARM_MS} in all), in microseconds per item.
 */
export async function coldWarm(plan: Plan): Promise<Sample> {
  const timed = async (call: () => unknown, per: number): Promise<number> => {
    const t0 = performance.now();
    await call();
    return (performance.now() - t0) * 1000 / per;
  };
  if (plan.warmUp) await plan.warmUp();
  const cold = await timed(plan.cold ?? plan.run, plan.coldPer ?? plan.per);
  const runs: number[] = [], t0 = performance.now(), fewest = plan.runs ?? RUNS;
  while (runs.length < fewest || (performance.now() - t0 < WARM_MS && runs.length < MAX_RUNS)) {
    runs.push(await timed(plan.run, plan.per));
  }
  return { cold, runs };
}

/**
 * Times `call` on a pool the way the pool benches do: one untimed call of four items, then the
 * cold call (of one item when `perCall`: a round trip, per call) and the warm runs of `n` items.
 */
export function timePool(
  call: (xs: number[]) => Promise<unknown>,
  n: number,
  perCall: boolean,
): Promise<Sample> {
  const xs = range(n);
  return coldWarm({
    warmUp: () => call(range(4)),
    cold: perCall ? () => call([0]) : undefined,
    coldPer: perCall ? 1 : undefined,
    run: () => call(xs),
    per: n,
  });
}

/** Converts a sample of microseconds per item to items per second. */
export function perSecond(s: Sample): Sample {
  return { cold: 1e6 / s.cold, runs: s.runs.map((us) => 1e6 / us) };
}

/** `0, 1, ..., n-1`. */
export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Runs case `name` of the bench `module` in a fresh `deno run -A` (from the project's root, so
 * that its `deno.json` applies; with this bench's `--quick` and `--runs`) and returns its sample. The bench must call
 * {@linkcode serveCase} first thing in its main.
 */
export async function fresh(module: string, name: string, params: Params): Promise<Sample> {
  const root = new URL("..", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      module,
      `--case=${name}`,
      `--params=${JSON.stringify(params)}`,
      ...Deno.args.filter((a) => a === "--quick" || a.startsWith("--runs=")),
    ],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
  if (!out.success) throw new Error(`case ${name} ${JSON.stringify(params)} failed: ${lines}`);
  return JSON.parse(lines[lines.length - 1]) as Sample;
}

/**
 * In a process started by {@linkcode fresh}: runs the case it names, prints its sample and
 * returns `true`. Elsewhere it returns `false` at once.
 */
export async function serveCase(cases: Record<string, Case>): Promise<boolean> {
  const name = Deno.args.find((a) => a.startsWith("--case="))?.slice(7);
  if (name === undefined) return false;
  const params = JSON.parse(
    Deno.args.find((a) => a.startsWith("--params="))?.slice(9) ?? "{}",
  ) as Params;
  const run = cases[name];
  if (!run) throw new Error(`no case ${name}; there are ${Object.keys(cases)}`);
  console.log(JSON.stringify(await run(params)));
  return true;
}
