// Shared by the examples: `--start-method=worker|subprocess` from the command line.

import { setStartMethod, type StartMethod } from "../mod.ts";

/**
 * Reads `--start-method=worker|subprocess` (default `worker`) and makes it the default.
 *
 * @returns the start method in use.
 */
export function useStartMethodFromArgs(args: string[] = Deno.args): StartMethod {
  const arg = args.find((a) => a.startsWith("--start-method="));
  const method = (arg?.slice("--start-method=".length) ?? "worker") as StartMethod;
  setStartMethod(method);
  return method;
}
