// Shared by the benchmarks: runs a Python 3 snippet that prints one number, and prints ratios.

/**
 * Runs `code` as a Python 3 script (a file, so that `spawn` children can import its main
 * module) and returns the number it prints last, or `undefined` when Python 3 is not installed
 * or the script fails. The last line is read as JSON: a number, or an object of numbers.
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

/** One row of a comparison: what, ours, Python's, and which way is better. */
export interface Row {
  what: string;
  ours: number;
  python: number | undefined;
  unit: string;
  /** `"lower"` for latencies, `"higher"` for rates. */
  better: "lower" | "higher";
}

/** Prints rows as a table with a `speed-up` column: how many times better ours is. */
export function report(title: string, rows: Row[]): void {
  console.log(`\n${title}`);
  console.log(
    `${"what".padEnd(44)} ${"ours".padStart(12)} ${"python".padStart(12)}  speed-up`,
  );
  for (const r of rows) {
    const ratio = r.python === undefined
      ? "n/a"
      : (r.better === "lower" ? r.python / r.ours : r.ours / r.python).toFixed(2) + "x";
    const fmt = (v: number | undefined) => v === undefined ? "n/a" : `${v.toFixed(2)} ${r.unit}`;
    console.log(
      `${r.what.padEnd(44)} ${fmt(r.ours).padStart(12)} ${fmt(r.python).padStart(12)}  ${ratio}`,
    );
  }
}

/** Median of the samples. */
export function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
