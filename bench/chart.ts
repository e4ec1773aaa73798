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
  markdownTable,
  readResults,
  type Results,
  speedUp,
  writeBetween,
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

/** Our start method and Python's counterpart, for a group's second line. */
function versus(f: Figure): string {
  return `ours: ${f.method ?? "one process"} · Python: ${f.pythonAs}`;
}

/** A bar's label: the value in its own unit (for a rate, also the time per item). */
function valueLabel(f: Figure, v: number): string {
  const own = formatValue(v, f.unit, "µs");
  return f.unit === "us" ? own : `${own} (${formatValue(1e6 / v, "us", "µs")} each)`;
}

/** An SVG `<text>` element. */
function text(x: number, y: number, s: string, attrs: string): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
}

/** A figure's group at `y`: its labels, four bars with their values, and the speed-ups. */
function group(f: Figure, y: number, x: (us: number) => number): string[] {
  const out = [
    text(LABEL_X, y + 19, f.what, 'font-size="12.5" text-anchor="end" fill="#111"'),
    text(LABEL_X, y + 35, versus(f), 'font-size="11" text-anchor="end" fill="#555"'),
  ];
  BARS.forEach((b, i) => {
    const v = b.value(f), by = y + 6 + i * (BAR + GAP);
    if (v === undefined) {
      if (i === 2) out.push(text(X0 + 4, by + BAR + 4, "Python: n/a", 'font-size="10"'));
      return;
    }
    const bx = x(micros(f, v));
    out.push(
      `<rect x="${X0}" y="${by}" width="${(bx - X0).toFixed(1)}" height="${BAR}" ` +
        `fill="${b.fill}"><title>${esc(`${b.legend}: ${valueLabel(f, v)}`)}</title></rect>`,
      text(bx + 4, by + BAR - 1, valueLabel(f, v), 'font-size="10" fill="#333"'),
    );
  });
  (["cold", "warm"] as const).forEach((k, i) => {
    const r = speedUp(f, f.ours[k], f.python?.[k]);
    const fill = r === undefined ? "#555" : r >= 1 ? "#1a7f37" : "#b42318";
    out.push(
      text(RATIO_X, y + 19 + i * 16, `${k} ${formatRatio(r)}`, `font-size="12" fill="${fill}"`),
    );
  });
  return out;
}

/** The log axis from 10^lo to 10^hi us: a labelled grid line per decade, faint ones at 2..9. */
function axis(
  lo: number,
  hi: number,
  top: number,
  bottom: number,
  x: (us: number) => number,
): string[] {
  const out: string[] = [text(RATIO_X, top - 6, "speed-up", 'font-size="11" fill="#333"')];
  const line = (at: number, stroke: string): string =>
    `<line x1="${at.toFixed(1)}" x2="${
      at.toFixed(1)
    }" y1="${top}" y2="${bottom}" stroke="${stroke}"/>`;
  for (let d = lo; d <= hi; d++) {
    for (let m = 2; m < 10 && d < hi; m++) out.push(line(x(m * 10 ** d), "#eee"));
    const label = formatValue(10 ** d, "us", "µs"), attrs = 'font-size="11" text-anchor="middle"';
    out.push(line(x(10 ** d), "#bbb"), text(x(10 ** d), top - 6, label, attrs));
    out.push(text(x(10 ** d), bottom + 16, label, attrs));
  }
  return out;
}

/** The title, the legend, and (from `bottom`) the caption: date, versions, machine, method. */
function frame(r: Results, bottom: number): string[] {
  const out = [
    text(
      16,
      24,
      "multiprocessing for Deno beside Python's multiprocessing",
      'font-size="17" font-weight="bold"',
    ),
    text(
      16,
      44,
      "time per call or item, log scale: shorter is better; speed-up = Python's time / ours",
      'font-size="12.5"',
    ),
  ];
  BARS.forEach((b, i) => {
    out.push(`<rect x="${16 + i * 190}" y="56" width="14" height="11" fill="${b.fill}"/>`);
    out.push(text(36 + i * 190, 66, b.legend, 'font-size="12"'));
  });
  const counts = r.figures.flatMap((f) => [f.ours.runs.length, f.python?.runs.length ?? 1]);
  const caption = [
    `Run of ${r.date.slice(0, 16).replace("T", " ")} UTC · Deno ${r.deno} (V8 ${r.v8}) · ` +
    `Python ${r.python ?? "n/a"}`,
    `nproc ${r.nproc} (${r.cpu}, ${r.os}) · load average at start ${r.loadavg.join(" ")}`,
    "Cold: the first timed call in a fresh process, on a fresh pool, queue, lock or manager " +
    "after one untimed call of four items (a process start: the program's first start).",
    `Warm: the median of the runs after it (${Math.min(...counts)} to ${Math.max(...counts)} ` +
    "a figure). Rates (items/s, ops/s) are drawn as time per item, 1 / rate, so that one axis " +
    "serves every figure.",
  ];
  caption.forEach((c, i) =>
    out.push(text(16, bottom + 40 + i * 16, c, 'font-size="11" fill="#444"'))
  );
  return out;
}

/** The SVG text of the chart: a section per bench, a group per figure, on one log axis. */
export function svg(r: Results): string {
  const values = r.figures.flatMap((f) =>
    BARS.map((b) => b.value(f)).filter((v) => v !== undefined).map((v) => micros(f, v!))
  );
  // half a decade of room at least below the shortest bar, so that every bar shows
  const lo = Math.floor(Math.log10(Math.min(...values)) - 0.5);
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  const x = (us: number): number => X0 + (Math.log10(us) - lo) / (hi - lo) * (X1 - X0);
  const top = 96, body: string[] = [];
  let y = top;
  for (const bench of r.benches) {
    body.push(
      text(16, y + 20, bench.title, 'font-size="14" font-weight="bold"'),
      `<line x1="16" x2="${W - 16}" y1="${y + 26}" y2="${y + 26}" stroke="#999"/>`,
    );
    y += SECTION;
    for (const f of r.figures.filter((f) => f.bench === bench.bench)) {
      body.push(...group(f, y, x));
      y += GROUP;
    }
  }
  const height = y + 40 + 4 * 16; // room for the caption's four lines
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" ` +
    `viewBox="0 0 ${W} ${height}" font-family="${FONT}" fill="#111">`,
    `<rect width="${W}" height="${height}" fill="#fff"/>`,
    ...frame(r, y),
    ...axis(lo, hi, top, y, x),
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/** README's Speed table: one row per figure, cold and warm on both sides, and the speed-ups. */
export function table(r: Results): string {
  return markdownTable(r.figures);
}

if (import.meta.main) {
  const results = await readResults();
  if (!results) throw new Error("no bench/results.json: run `deno task bench` first");
  await writeFormatted(SVG_FILE, svg(results));
  console.log(`\nbench/results.svg: ${results.figures.length} figures of ${results.date}\n`);
  const markdown = table(results);
  if (Deno.args.includes("--readme")) {
    await writeBetween(README, "<!-- bench:table -->", markdown);
    console.log("README.md: the Speed table rewritten");
  } else {
    console.log(markdown);
  }
}
