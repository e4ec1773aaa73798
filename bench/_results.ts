// Shared by the benchmarks: the rows of a comparison, printed as a table and recorded in
// bench/results.json (read by bench/chart.ts). `deno task bench` first runs this file, which
// starts a fresh results.json (date, Deno and Python versions, nproc); each bench then replaces
// its own rows in it, so one bench run alone updates just its figures.
//
//   deno run -A bench/_results.ts

import { median, type Sample } from "./_measure.ts";

/** Where the figures go. */
export const RESULTS_FILE: URL = new URL("./results.json", import.meta.url);

/** One comparison, as a bench reports it. */
export interface Row {
  /** What is measured, e.g. "Pool.map, chunksize 1, 20,000 items (per item)". */
  what: string;
  /** Our start method, or `null` for a figure within one process. */
  method: "worker" | "subprocess" | null;
  /** Python's counterpart, e.g. "Pool(2), fork". */
  pythonAs: string;
  /** `"us"`: microseconds per call or item, lower is better; `"/s"`: a rate, higher is better. */
  unit: "us" | "/s";
  ours: Sample;
  /** Python's sample, `undefined` when Python 3 is missing or failed. */
  python: Sample | undefined;
}

/** A side of a recorded figure: cold, warm (the median of `runs`) and the runs. */
export interface Side {
  cold: number;
  warm: number;
  runs: number[];
}

/** One figure as results.json holds it. */
export interface Figure {
  bench: string;
  what: string;
  method: "worker" | "subprocess" | null;
  pythonAs: string;
  unit: "us" | "/s";
  better: "lower" | "higher";
  ours: Side;
  python: Side | null;
}

/** One bench file's part of a run. */
export interface BenchRun {
  bench: string;
  title: string;
  date: string;
  seconds: number;
  args: string[];
  loadavg: number[];
}

/** The whole of results.json: one run of `deno task bench`. */
export interface Results {
  schema: 1;
  date: string;
  deno: string;
  v8: string;
  python: string | null;
  nproc: number;
  cpu: string;
  os: string;
  loadavg: number[];
  benches: BenchRun[];
  figures: Figure[];
}

/** The 1, 5 and 15 minute load averages, or `[]` where /proc/loadavg is missing. */
export function loadavg(): number[] {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).map(Number);
  } catch {
    return [];
  }
}

/** What `cmd args` prints, trimmed, or `null` when it fails or is missing. */
async function run(cmd: string, args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, { args, stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** A fresh, empty run: this machine, these versions, now. */
export async function newResults(): Promise<Results> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    schema: 1,
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    python: await run("python3", ["-c", "import platform; print(platform.python_version())"]),
    nproc: Number(await run("nproc", [])) || navigator.hardwareConcurrency,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    os: `${Deno.build.os} ${Deno.build.arch}`,
    loadavg: loadavg(),
    benches: [],
    figures: [],
  };
}

/** Reads results.json, or `undefined` when there is none. */
export async function readResults(): Promise<Results | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(RESULTS_FILE)) as Results;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Formats `v` of `unit` with three significant digits and a scaled unit (ns..s, /s..M/s). */
export function formatValue(v: number | undefined, unit: "us" | "/s", micro = "us"): string {
  if (v === undefined || !Number.isFinite(v)) return "n/a";
  const p = (x: number): string => String(Number(x.toPrecision(3)));
  if (unit === "/s") {
    return v >= 1e6 ? `${p(v / 1e6)} M/s` : v >= 1e3 ? `${p(v / 1e3)} k/s` : `${p(v)} /s`;
  }
  if (v >= 1e6) return `${p(v / 1e6)} s`;
  if (v >= 1e3) return `${p(v / 1e3)} ms`;
  return v >= 1 ? `${p(v)} ${micro}` : `${p(v * 1e3)} ns`;
}

/** Python's time / ours (higher is better), or `undefined`. */
export function speedUp(
  f: Pick<Figure, "unit">,
  ours: number,
  python: number | undefined,
): number | undefined {
  if (python === undefined) return undefined;
  return f.unit === "us" ? python / ours : ours / python;
}

/** Formats a speed-up: `21x`, `2.4x`, `0.45x`, or `n/a`. */
export function formatRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return "n/a";
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}x`;
}

/** `v` to four significant digits, enough for a noisy figure. */
function round(v: number): number {
  return Number(v.toPrecision(4));
}

/** A sample as results.json holds it: cold, warm (the median of the runs) and the runs. */
function side(s: Sample): Side {
  return { cold: round(s.cold), warm: round(median(s.runs)), runs: s.runs.map(round) };
}

/**
 * Writes `text` to `file` and formats it with `deno fmt` (which formats JSON, Markdown and SVG
 * too), so that the project's `deno fmt --check` passes on what the benches write.
 */
export async function writeFormatted(file: URL, text: string): Promise<void> {
  await Deno.writeTextFile(file, text);
  const root = new URL("..", import.meta.url);
  const fmt = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "-q", file.pathname],
    cwd: root,
  }).output();
  if (!fmt.success) throw new Error(`deno fmt ${file.pathname} failed`);
}

/**
 * A Markdown table of `figures` (README's Speed table, bench/README.md's): cold and warm on both
 * sides and the speed-ups, and one more column where `extra` gives its heading and cells.
 */
export function markdownTable(
  figures: Figure[],
  extra?: { head: string; cells: string[] },
): string {
  const head = ["what", "ours vs Python", "ours cold", "Python cold", "ours warm", "Python warm"];
  head.push("speed-up cold", "speed-up warm", ...(extra ? [extra.head] : []));
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`];
  figures.forEach((f, i) => {
    const cells = [
      f.what.replaceAll("|", "\\|"),
      `${f.method ?? "one process"} vs ${f.pythonAs}`,
      formatValue(f.ours.cold, f.unit),
      formatValue(f.python?.cold, f.unit),
      formatValue(f.ours.warm, f.unit),
      formatValue(f.python?.warm, f.unit),
      formatRatio(speedUp(f, f.ours.cold, f.python?.cold)),
      formatRatio(speedUp(f, f.ours.warm, f.python?.warm)),
      ...(extra ? [extra.cells[i]] : []),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  });
  return lines.join("\n");
}

/** Puts `markdown` between the two `marker` lines of the Markdown `file`, and formats it. */
export async function writeBetween(file: URL, marker: string, markdown: string): Promise<void> {
  const parts = (await Deno.readTextFile(file)).split(marker);
  if (parts.length !== 3) throw new Error(`${file.pathname} needs two ${marker} markers`);
  await writeFormatted(file, `${parts[0]}${marker}\n\n${markdown}\n\n${marker}${parts[2]}`);
}

/** "Run of <date> UTC (`<command> <args>`, load average …)", for a table written from a run. */
export function runStamp(command: string): string {
  return `Run of ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC ` +
    `(\`${[command, ...Deno.args].join(" ")}\`, load average ${loadavg().join(" ")})`;
}

/** The figure a row records. */
export function toFigure(bench: string, r: Row): Figure {
  return {
    bench,
    what: r.what,
    method: r.method,
    pythonAs: r.pythonAs,
    unit: r.unit,
    better: r.unit === "us" ? "lower" : "higher",
    ours: side(r.ours),
    python: r.python ? side(r.python) : null,
  };
}

/** `list` with the entries of `bench` replaced by `entries`, where the first of them was. */
function replace<T extends { bench: string }>(list: T[], bench: string, entries: T[]): T[] {
  const at = list.findIndex((e) => e.bench === bench);
  const rest = list.filter((e) => e.bench !== bench);
  rest.splice(at < 0 ? rest.length : at, 0, ...entries);
  return rest;
}

/**
 * Prints `rows` as a table (ours and Python's, cold and warm, and the speed-ups) and records
 * them in results.json, replacing what the bench `module` (its `import.meta.url`) recorded
 * before; starts a fresh results.json when there is none.
 */
export async function report(module: string, title: string, rows: Row[]): Promise<void> {
  const bench = module.slice(module.lastIndexOf("/") + 1);
  const figures = rows.map((r) => toFigure(bench, r));
  console.log(
    `\n${title}\n(cold: first call after start; warm: median of runs; ` +
      `speed-up: Python's time / ours, higher is better)`,
  );
  const head = ["ours cold", "ours warm", "Py cold", "Py warm", "x cold", "x warm"];
  console.log(`${"what".padEnd(86)}${head.map((h) => h.padStart(11)).join("")}`);
  for (const f of figures) {
    const who = `${f.what} [${f.method ?? "in-process"} | ${f.pythonAs}]`;
    const cells = [
      formatValue(f.ours.cold, f.unit),
      formatValue(f.ours.warm, f.unit),
      formatValue(f.python?.cold, f.unit),
      formatValue(f.python?.warm, f.unit),
      formatRatio(speedUp(f, f.ours.cold, f.python?.cold)),
      formatRatio(speedUp(f, f.ours.warm, f.python?.warm)),
    ];
    console.log(`${who.padEnd(86)}${cells.map((c) => c.padStart(11)).join("")}`);
  }
  const results = await readResults() ?? await newResults();
  results.benches = replace(results.benches, bench, [{
    bench,
    title,
    date: new Date().toISOString(),
    seconds: Math.round(performance.now() / 100) / 10,
    args: Deno.args,
    loadavg: loadavg(),
  }]);
  results.figures = replace(results.figures, bench, figures);
  await writeFormatted(RESULTS_FILE, JSON.stringify(results, null, 2) + "\n");
}

if (import.meta.main) {
  const results = await newResults();
  await writeFormatted(RESULTS_FILE, JSON.stringify(results, null, 2) + "\n");
  console.log(
    `bench/results.json: a fresh run, ${results.date}, Deno ${results.deno}, ` +
      `Python ${results.python}, nproc ${results.nproc}, load ${results.loadavg.join(" ")}`,
  );
}
