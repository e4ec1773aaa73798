// The one place where the package imports a module named at run time: a task's, a target's or a
// barrier action's module, always given as an absolute URL (file:, https:, data:...). `deno
// publish` warns that it cannot analyze this import ("unanalyzable-dynamic-import"); that is
// expected: an absolute URL needs no import map to resolve, which is what the warning is about.

/** Imports the module at the absolute URL `url`. */
export function importUrl(url: string): Promise<Record<string, unknown>> {
  return import(url);
}
