// Shared by the examples: a progress bar for `onProgress`.

const encoder = new TextEncoder();

/**
 * Draws a progress bar on stderr when it is a terminal; otherwise (a pipe, a log file) writes
 * one plain line when the work is done.
 */
export function bar(label: string, done: number, total: number): void {
  if (!Deno.stderr.isTerminal()) {
    if (done === total) console.error(`${label}: ${done}/${total} done`);
    return;
  }
  const width = 30;
  const full = Math.round((done / total) * width);
  const line = `\r${label.padEnd(12)} [${"#".repeat(full)}${
    ".".repeat(width - full)
  }] ${done}/${total}`;
  Deno.stderr.writeSync(encoder.encode(line + (done === total ? "\r\x1b[K" : "")));
}
