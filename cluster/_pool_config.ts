// What a caller's pool on Redis tells the workers about itself, once (mp:pool:{ID}:config), and
// how both sides name a module's contents: the SHA-256 of its bytes, so that a worker whose copy
// of a file differs from the caller's refuses the tasks instead of running other code.

/** A pool's options as its workers read them. */
export interface PoolConfig {
  /** URL of the module that exports the task functions. */
  module: string;
  /** SHA-256 (hex) of the module's bytes at the caller; "" when it is not a file. */
  digest: string;
  /** Export name of the initializer, or "" for none. */
  initializer: string;
  initArgs: unknown[];
  maxTasksPerChild: number;
  taskTimeout: number;
  /** Milliseconds the pool's keys live without the caller's heartbeat. */
  expireAfter: number;
}

/** The SHA-256 (hex) of a file: URL's bytes; "" for other URLs. */
export async function moduleDigest(module: string): Promise<string> {
  if (!module.startsWith("file:")) return "";
  const bytes = await Deno.readFile(new URL(module));
  const d = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}
