// Finding a target by name in its module, as Python's spawn finds a function by its qualified
// name: the child re-imports the module and looks the export up. The parent checks the export
// in the module's source first, so that a missing `export` fails in `start()`, not in the child.

import { state } from "./_state.ts";

const sources = new Map<string, string | undefined>();

function source(module: string): string | undefined {
  if (!sources.has(module)) {
    let text: string | undefined;
    try {
      const url = new URL(module);
      if (url.protocol === "file:") text = Deno.readTextFileSync(url);
    } catch {
      text = undefined; // not readable from here: the child checks instead
    }
    sources.set(module, text);
  }
  return sources.get(module);
}

function escape(name: string): string {
  return name.replace(/[$]/g, "\\$");
}

/**
 * The export under which `name` is found in `module`'s source: `name` itself, `"default"`, or
 * an alias from `export { name as alias }`. `null` when the source does not export it;
 * `undefined` when the source cannot be read here.
 */
export function findExport(module: string, name: string): string | null | undefined {
  const text = source(module);
  if (text === undefined) return undefined;
  const n = escape(name);
  const decl = new RegExp(
    String.raw`(^|[\s;])export\s+(default\s+)?(declare\s+)?(abstract\s+)?(async\s+)?` +
      String.raw`(function\s*\*?|class|const|let|var)\s+${n}(?![\w$])`,
    "m",
  );
  const m = decl.exec(text);
  if (m) return m[2] ? "default" : name;
  for (const list of text.matchAll(/(^|[\s;])export\s*(type\s*)?\{([^}]*)\}/gm)) {
    if (list[2]) continue;
    for (const item of list[3].split(",")) {
      const [local, alias] = item.trim().split(/\s+as\s+/);
      if (local === name) return alias ?? name;
    }
  }
  return null;
}

/** Describes a module for an error message. */
export function moduleLabel(module: string): string {
  return module === state().mainModule ? `the main module (${module})` : `module ${module}`;
}
