// The local pools of a worker command (./_pool_serve.ts): one per caller pool, made from that
// pool's config. When a caller pool ends while its local pool is idle, the local pool is kept
// warm for KEEP_MS and given to the next caller pool with the same config (module and its
// digest, initializer and initArgs, maxTasksPerChild, taskTimeout), as a service's workers
// stay up between clients: that pool's first tasks on this host do not wait for processes to
// start, nor run on code not compiled yet. One with tasks still running is terminated.

import { Buffer } from "node:buffer";
import { Pool, type TaskFunction } from "../pool/pool.ts";
import type { StartMethod } from "../process/process.ts";
import type { PoolConfig } from "./_pool_config.ts";
import { toWire } from "./_wire.ts";

/** How long an idle local pool is kept for a later caller pool with the same config. */
export const KEEP_MS = 60_000;

/** How local pools are made. */
export interface LocalPoolsOptions {
  processes: number;
  startMethod: StartMethod | undefined;
  /** Whether a kept pool's timer keeps the program alive. */
  keepAlive: boolean;
}

interface Kept {
  pool: Pool;
  timer: ReturnType<typeof setTimeout>;
}

/** What two caller pools share when they can share a local pool. */
export function configKey(config: PoolConfig): string {
  return JSON.stringify([
    config.module,
    config.digest,
    config.initializer,
    Buffer.from(toWire(config.initArgs, "the pool's initArgs")).toString("base64"),
    config.maxTasksPerChild,
    config.taskTimeout,
  ]);
}

/** A worker command's local pools: made, kept warm while idle, ended. */
export class LocalPools {
  readonly #options: LocalPoolsOptions;
  readonly #kept = new Map<string, Kept>();
  readonly #ending = new Set<Promise<void>>();

  constructor(options: LocalPoolsOptions) {
    this.#options = options;
  }

  /**
   * A local pool for a caller pool with `config`: a kept one of the same key, or a new one.
   *
   * @throws what the Pool constructor throws for the config.
   */
  take(key: string, config: PoolConfig, exports: Record<string, unknown>): Pool {
    const kept = this.#kept.get(key);
    if (kept) {
      this.#kept.delete(key);
      clearTimeout(kept.timer);
      return kept.pool;
    }
    const init = config.initializer ? exports[config.initializer] : undefined;
    return new Pool({
      processes: this.#options.processes,
      startMethod: this.#options.startMethod,
      module: config.module,
      initializer: init as TaskFunction | undefined,
      initArgs: config.initArgs,
      maxTasksPerChild: config.maxTasksPerChild,
      taskTimeout: config.taskTimeout,
    });
  }

  /**
   * The local pool of a caller pool that ended: kept for KEEP_MS when `idle` (one kept already
   * for the key is closed), terminated otherwise.
   */
  release(key: string, pool: Pool, idle: boolean): void {
    if (!idle) return this.#end(pool.terminate());
    const before = this.#kept.get(key);
    if (before) {
      clearTimeout(before.timer);
      this.#end(closed(before.pool));
    }
    const timer = setTimeout(() => {
      if (this.#kept.get(key)?.pool !== pool) return;
      this.#kept.delete(key);
      this.#end(closed(pool));
    }, KEEP_MS);
    if (!this.#options.keepAlive) Deno.unrefTimer(timer as unknown as number);
    this.#kept.set(key, { pool, timer });
  }

  #end(ending: Promise<void>): void {
    const p = ending.catch(() => {});
    this.#ending.add(p);
    void p.finally(() => this.#ending.delete(p));
  }

  /** Ends the kept pools (terminated when `now`), and waits for every pool being ended. */
  async close(now: boolean): Promise<void> {
    for (const { pool, timer } of this.#kept.values()) {
      clearTimeout(timer);
      this.#end(now ? pool.terminate() : closed(pool));
    }
    this.#kept.clear();
    while (this.#ending.size > 0) await Promise.all(this.#ending);
  }
}

/** Closes `pool` and waits for its children to exit. */
async function closed(pool: Pool): Promise<void> {
  pool.close();
  await pool.join();
}
