// Whether this process runs with Deno's `worker-options` unstable feature, which a Worker's
// `deno.permissions` needs. Deno offers no way to ask, and a Worker created with permissions
// without it ends the whole program (exit code 70, in Rust, past any try/catch): so the answer
// is read, once, from what enables the feature: the `--unstable-worker-options` flag, or
// `"unstable": ["worker-options"]` in the config file (`--config`, or the deno.json or
// deno.jsonc found from the main module's directory upwards, as `deno run` finds it).

import { ownFlags } from "./_permissions.ts";
import { configFlag } from "./_config.ts";

const IN_CONFIG = /"unstable"\s*:\s*\[[^\]]*"worker-options"/;

function listsFeature(path: string): boolean | undefined {
  try {
    return IN_CONFIG.test(Deno.readTextFileSync(path));
  } catch (e) {
    return e instanceof Deno.errors.NotFound ? undefined : true; // unreadable: cannot tell
  }
}

function detect(main: string): boolean {
  const flags = ownFlags(main);
  if (!flags) return true; // cannot tell: let Deno decide
  if (flags.includes("--unstable-worker-options")) return true;
  const config = configFlag(flags);
  if (config === null) return false;
  if (config !== undefined) return listsFeature(config) ?? false;
  if (!main?.startsWith("file:")) return true; // cannot tell
  let dir = new URL(".", main);
  for (;;) {
    // a workspace member's root may hold the setting: any config on the way up counts
    for (const name of ["deno.json", "deno.jsonc"]) {
      if (listsFeature(decodeURIComponent(new URL(name, dir).pathname))) return true;
    }
    const up = new URL("..", dir);
    if (up.href === dir.href) return false;
    dir = up;
  }
}

let enabled: boolean | undefined;

/**
 * Whether a Worker may be given `deno.permissions`, in a program whose main module is `main`;
 * true when it cannot be told.
 */
export function workerOptionsEnabled(main: string): boolean {
  return enabled ??= detect(main);
}
