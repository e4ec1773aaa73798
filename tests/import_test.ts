// What loading the package costs each process: its modules, and no `node:` or `npm:` module
// among those loaded at once (the first `node:` import loads Deno's Node compatibility layer, at
// the start of every process and worker of a program; the Redis client loads only with a broker).

import assert from "node:assert/strict";
import { runDeno } from "./_helpers.ts";

/** The modules `deno info` finds that `entry` loads at once: its static imports, transitively. */
async function loadedAtOnce(entry: string): Promise<string[]> {
  const { code, output } = await runDeno(["info", "--json", entry]);
  assert.equal(code, 0, output);
  const graph = JSON.parse(output) as {
    roots: string[];
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string): void => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code && !dep.isDynamic) visit(dep.code.specifier);
    }
  };
  visit(graph.roots[0]);
  return [...seen];
}

for (const entry of ["mod.ts", "process/_worker_child.ts", "process/_subprocess_child.ts"]) {
  Deno.test(`Package: ${entry} loads no node: or npm: module at once`, async () => {
    const foreign = (await loadedAtOnce(entry)).filter((s) => !s.startsWith("file:"));
    assert.deepEqual(foreign, [], `${entry} loads ${foreign.join(", ")} when it is imported`);
  });
}
