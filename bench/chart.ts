// Draws bench/results.json as bench/results.svg (dev-only; no dependencies: the SVG is written
// as text) and prints the README's Speed table; with `--readme`, writes that table into
// README.md between its `<!-- bench:table -->` markers.
//
// One horizontal group per figure: ours cold, ours warm, Python cold, Python warm, on one log
// axis of time per call or item. Rates are drawn as their reciprocal (time per item) so that
// every bar reads "shorter is better" and every group shares one axis; the label beside a bar
// gives the figure in its own unit.
//
//   deno run -A bench/chart.ts [--readme]

import {
  type Figure,
  formatRatio,
  formatValue,
  readResults,
  type Results,
  speedUp,
  writeFormatted,
} from "./_results.ts";

const SVG_FILE = new URL("./results.svg", import.meta.url);
const README = new URL("../README.md", import.meta.url);

const W = 1100, LABEL_X = 392, X0 = 404, X1 = 850, RATIO_X = 968;
const BAR = 9, GAP = 2, GROUP = 4 * BAR + 3 * GAP + 12, SECTION = 30;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

/** The bars of a group: their fill, legend text, and value. */
const BARS: { fill: string; legend: string; value: (f: Figure) => number | undefined }[] = [
  { fill: "#9ecae1", legend: "ours, cold", value: (f) => f.ours.cold },
  { fill: "#2171b5", legend: "ours, warm (median)", value: (f) => f.ours.warm },
  { fill: "#fdae6b", legend: "Python, cold", value: (f) => f.python?.cold },
  { fill: "#d94801", legend: "Python, warm (median)", value: (f) => f.python?.warm },
];

/** Escapes text for SVG. */
function esc(s: string): string {
  return s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A figure's value as microseconds per call or item (a rate's reciprocal). */
function micros(f: Figure, v: number): number {
  return f.unit === "us" ? v : 1e6 / v;
}

/** A decade's tick label: 10 ns ... 1 s. */
function tick(decade: number): string {
  return formatValue(10 ** decade, "us", "µs");
}

/** Our start method and Python's counterpart, for a group's second line. */
function versus(f: Figure): string {
  return `ours: ${f.method ?? "one process"} · Python: ${f.pythonAs}`;
}

/** A bar's label: the value in its own unit (for a rate, also the time per item). */
function valueLabel(f: Figure, v: number): string {
  const own = formatValue(v, f.unit, "µs");
  return f.unit === "us" ? own : `${own} (${formatValue(1e6 / v, "us", "µs")} each)`;
}

/** The SVG text of the chart. */
export function svg(r: Results): string {
  const values = r.figures.flatMap((f) =>
    BARS.map((b) => b.value(f)).filter((v) => v !== undefined).map((v) => micros(f, v!))
  );
  // half a decade of room at least below the shortest bar, so that every bar shows
  const lo = Math.floor(Math.log10(Math.min(...values)) - 0.5);
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  const x = (us: number) => X0 + (Math.log10(us) - lo) / (hi - lo) * (X1 - X0);
  const out: string[] = [];
  const text = (tx: number, ty: number, s: string, attrs = ""): void => {
    out.push(`<text x="${tx.toFixed(1)}" y="${ty.toFixed(1)}" ${attrs}>${esc(s)}</text>`);
  };
  let y = 96;
  const top = y;
  const body: (() => void)[] = [];
  for (const bench of r.benches) {
    const figures = r.figures.filter((f) => f.bench === bench.bench);
    const sy = y;
    body.push(() => {
      text(16, sy + 20, bench.title, 'font-size="14" font-weight="bold"');
      out.push(`<line x1="16" x2="${W - 16}" y1="${sy + 26}" y2="${sy + 26}" stroke="#999"/>`);
    });
    y += SECTION;
    for (const f of figures) {
      const gy = y;
      body.push(() => group(f, gy));
      y += GROUP;
    }
  }
  const bottom = y;
  const group = (f: Figure, gy: number): void => {
    text(LABEL_X, gy + 19, f.what, 'font-size="12.5" text-anchor="end" fill="#111"');
    text(LABEL_X, gy + 35, versus(f), 'font-size="11" text-anchor="end" fill="#555"');
    BARS.forEach((b, i) => {
      const v = b.value(f), by = gy + 6 + i * (BAR + GAP);
      if (v === undefined) {
        if (i === 2) text(X0 + 4, by + BAR + 4, "Python: n/a", 'font-size="10" fill="#555"');
        return;
      }
      const bx = x(micros(f, v));
      out.push(
        `<rect x="${X0}" y="${by}" width="${(bx - X0).toFixed(1)}" height="${BAR}" ` +
          `fill="${b.fill}"><title>${esc(`${b.legend}: ${valueLabel(f, v)}`)}</title></rect>`,
      );
      text(bx + 4, by + BAR - 1, valueLabel(f, v), 'font-size="10" fill="#333"');
    });
    const ratio = (k: "cold" | "warm") => speedUp(f, f.ours[k], f.python?.[k]);
    for (const [i, k] of (["cold", "warm"] as const).entries()) {
      const rv = ratio(k);
      const fill = rv === undefined ? "#555" : rv >= 1 ? "#1a7f37" : "#b42318";
      text(RATIO_X, gy + 19 + i * 16, `${k} ${formatRatio(rv)}`, `font-size="12" fill="${fill}"`);
    }
  };
  // axis: a grid line per decade (labelled top and bottom), fainter ones at 2..9
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d);
    out.push(`<line x1="${gx}" x2="${gx}" y1="${top}" y2="${bottom}" stroke="#bbb"/>`);
    text(gx, top - 6, tick(d), 'font-size="11" text-anchor="middle" fill="#333"');
    text(gx, bottom + 16, tick(d), 'font-size="11" text-anchor="middle" fill="#333"');
    for (let m = 2; m < 10 && d < hi; m++) {
      const mx = x(m * 10 ** d).toFixed(1);
      out.push(`<line x1="${mx}" x2="${mx}" y1="${top}" y2="${bottom}" stroke="#eee"/>`);
    }
  }
  text(RATIO_X, top - 6, "speed-up", 'font-size="11" fill="#333"');
  body.forEach((draw) => draw());
  // title and legend
  const head: string[] = [];
  const t = (tx: number, ty: number, s: string, attrs: string) =>
    head.push(`<text x="${tx}" y="${ty}" ${attrs}>${esc(s)}</text>`);
  t(
    16,
    24,
    "multiprocessing for Deno beside Python's multiprocessing",
    'font-size="17" font-weight="bold"',
  );
  t(
    16,
    44,
    "time per call or item, log scale: shorter is better; speed-up = Python's time / ours",
    'font-size="12.5" fill="#333"',
  );
  BARS.forEach((b, i) => {
    const lx = 16 + i * 190, ly = 56;
    head.push(`<rect x="${lx}" y="${ly}" width="14" height="11" fill="${b.fill}"/>`);
    t(lx + 20, ly + 10, b.legend, 'font-size="12"');
  });
  // caption
  const counts = r.figures.flatMap((f) => [f.ours.runs.length, f.python?.runs.length ?? 1]);
  const runs = `${Math.min(...counts)} to ${Math.max(...counts)}`;
  const caption = [
    `Run of ${r.date.slice(0, 16).replace("T", " ")} UTC · Deno ${r.deno} (V8 ${r.v8}) · ` +
    `Python ${r.python ?? "n/a"}`,
    `nproc ${r.nproc} (${r.cpu}, ${r.os}) · load average at start ${r.loadavg.join(" ")}`,
    "Cold: the first timed call in a fresh process, on a fresh pool, queue, lock or manager " +
    "after one untimed call of four items (a process start: the program's first start).",
    `Warm: the median of the runs after it (${runs} a figure). Rates (items/s, ops/s) are ` +
    "drawn as time per item, 1 / rate, so that one axis serves every figure.",
  ];
  caption.forEach((c, i) => t(16, bottom + 40 + i * 16, c, 'font-size="11" fill="#444"'));
  const height = bottom + 40 + caption.length * 16;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" ` +
    `viewBox="0 0 ${W} ${height}" font-family="${FONT}">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    ...head,
    ...out,
    "</svg>",
    "",
  ].join("\n");
}

/** README's Speed table: one row per figure, cold and warm on both sides, and the speed-ups. */
export function table(r: Results): string {
  const lines = [
    "| what | ours vs Python | ours cold | Python cold | ours warm | Python warm | speed-up cold | speed-up warm |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const f of r.figures) {
    const cells = [
      f.what.replaceAll("|", "\\|"),
      `${f.method ?? "one process"} vs ${f.pythonAs}`,
      formatValue(f.ours.cold, f.unit),
      formatValue(f.python?.cold, f.unit),
      formatValue(f.ours.warm, f.unit),
      formatValue(f.python?.warm, f.unit),
      formatRatio(speedUp(f, f.ours.cold, f.python?.cold)),
      formatRatio(speedUp(f, f.ours.warm, f.python?.warm)),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines.join("\n");
}

/** Puts `markdown` between README's `<!-- bench:table -->` markers (and formats README). */
async function writeReadme(markdown: string): Promise<void> {
  const text = await Deno.readTextFile(README);
  const parts = text.split("<!-- bench:table -->");
  if (parts.length !== 3) throw new Error("README.md needs two <!-- bench:table --> markers");
  const marker = "<!-- bench:table -->";
  await writeFormatted(README, `${parts[0]}${marker}\n\n${markdown}\n\n${marker}${parts[2]}`);
}

if (import.meta.main) {
  const results = await readResults();
  if (!results) throw new Error("no bench/results.json: run `deno task bench` first");
  await writeFormatted(SVG_FILE, svg(results));
  console.log(`\nbench/results.svg: ${results.figures.length} figures of ${results.date}\n`);
  const markdown = table(results);
  if (Deno.args.includes("--readme")) {
    await writeReadme(markdown);
    console.log("README.md: the Speed table rewritten");
  } else {
    console.log(markdown);
  }
}
