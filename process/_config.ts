// The config file (deno.json) of this program, for a subprocess child: its entry module is a
// `data:` URL, for which `deno run` looks for no config file, so the child would lose the import
// map (`imports`, `links`) that resolves the program's bare specifiers, unless it is told which
// file the parent uses.

import { ownFlags } from "./_permissions.ts";

/** The config file named by `flags`: a path, `null` for `--no-config`, undefined for none. */
export function configFlag(flags: string[]): string | null | undefined {
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    if (f === "--no-config") return null;
    if (f === "--config" || f === "-c") return flags[i + 1];
    if (f.startsWith("--config=")) return f.slice("--config=".length);
    if (f.startsWith("-c=")) return f.slice(3);
  }
  return undefined;
}

/** The `--import-map` a command line names, if any. */
function importMapFlag(flags: string[]): string | undefined {
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    if (f === "--import-map") return flags[i + 1];
    if (f.startsWith("--import-map=")) return f.slice("--import-map=".length);
  }
  return undefined;
}

/** The deno.json or deno.jsonc that `deno run` finds from `dir` upwards, if any. */
function findConfig(dir: string): string | undefined {
  for (;;) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const path = `${dir}/${name}`;
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch {
        // not there, or not readable
      }
    }
    const up = dir.replace(/\/[^/]*$/, "");
    if (up === dir || up === "") return undefined;
    dir = up;
  }
}

let flags: string[] | undefined;

/**
 * The flags that give a subprocess child this process's config file and import map:
 * `--config=<path>` (the one named on this process's command line, or the one found from the
 * working directory upwards, as `deno run` finds it), `--no-config`, `--import-map=<path>`.
 */
export function childConfigFlags(): string[] {
  if (flags) return flags;
  const own = ownFlags() ?? [];
  const out: string[] = [];
  const config = configFlag(own);
  if (config === null) out.push("--no-config");
  else {
    let cwd: string | undefined;
    try {
      cwd = Deno.cwd();
    } catch {
      // no read permission for the working directory: the child finds what it finds
    }
    const path = config ?? (cwd ? findConfig(cwd) : undefined);
    if (path) out.push(`--config=${path}`);
  }
  const map = importMapFlag(own);
  if (map) out.push(`--import-map=${map}`);
  return flags = out;
}
