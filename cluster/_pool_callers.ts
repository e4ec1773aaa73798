// The caller pools a worker of the broker serves (./_pool_serve.ts), each met once: its options
// read from the broker, its module checked (the same SHA-256 as the caller's) and imported, a
// local Pool taken for it (./_pool_local.ts); the outcomes of its tasks handed back in batches
// (FINISH); its local pool released once its caller is gone (its `alive` key expired).

import type { Buffer } from "node:buffer";
import type { Pool } from "../pool/pool.ts";
import { importUrl } from "../_core/_import.ts";
import type { Link } from "./_client.ts";
import { moduleDigest, type PoolConfig } from "./_pool_config.ts";
import { configKey, type LocalPools } from "./_pool_local.ts";
import { FINISH, MEET, type PoolKeys, poolKeys, TASKS } from "./_pool_scripts.ts";
import { fromWire } from "./_wire.ts";

/** One caller pool, as this worker serves it. */
export interface Served {
  keys: PoolKeys;
  module: string;
  expireAfter: number;
  /** Set when the caller is gone: its tasks are dropped. */
  gone: boolean;
  /** Set when this worker cannot run the pool's tasks: each fails with it. */
  error?: Error;
  pool?: Pool;
  /** The key of the local pool's config (./_pool_local.ts). */
  key?: string;
  /** Tasks of the pool running now. */
  running: number;
  exports?: Record<string, unknown>;
  /** Outcomes to hand over: entry id, outcome ("" drops the entry). */
  out: [string, Buffer | ""][];
  sending: boolean;
}

/** The caller pools met by one worker of the broker. */
export class CallerPools {
  readonly #link: Link;
  /** The worker's name in messages (`host:pid`). */
  readonly #label: string;
  readonly #local: LocalPools;
  /** Called for each entry whose outcome was handed over (or left to be reclaimed). */
  readonly #handed: (entry: string) => void;
  #served = new Map<string, Promise<Served>>();
  /** The caller pools met that have a local pool, until they are found gone. */
  #withPool = new Set<Served>();

  constructor(link: Link, label: string, local: LocalPools, handed: (entry: string) => void) {
    this.#link = link;
    this.#label = label;
    this.#local = local;
    this.#handed = handed;
  }

  /** Every caller pool met, or undefined for one whose meeting failed. */
  all(): Promise<(Served | undefined)[]> {
    return Promise.all([...this.#served.values()].map((p) => p.catch(() => undefined)));
  }

  /** What this worker knows of caller pool `id`, met once. */
  get(id: string): Promise<Served> {
    let p = this.#served.get(id);
    if (!p) {
      p = this.#meet(id);
      this.#served.set(id, p);
      p.catch(() => this.#served.delete(id));
    }
    return p;
  }

  async #meet(id: string): Promise<Served> {
    const keys = poolKeys(id);
    const reply = await this.#link.eval(
      MEET,
      [keys.config, keys.alive],
      [],
      "read a pool's options",
    );
    const served: Served = {
      keys,
      module: "",
      expireAfter: 60_000,
      gone: reply === null,
      running: 0,
      out: [],
      sending: false,
    };
    if (reply === null) return served;
    if ((reply as Buffer).length === 0) {
      served.error = new Error(
        `Pool worker ${this.#label} found the pool alive but its options gone at the broker ` +
          `(${keys.config} was removed); end the pool and make a new one`,
      );
      return served;
    }
    let config: PoolConfig;
    try {
      config = fromWire(reply as Buffer) as PoolConfig;
    } catch (e) {
      served.error = new Error(`Pool worker ${this.#label} cannot read the pool's options: ${e}`);
      return served;
    }
    served.expireAfter = config.expireAfter;
    const module = served.module = config.module;
    try {
      const digest = await moduleDigest(module).catch((e) => {
        throw new Error(`it cannot read the file here (${e.message})`);
      });
      if (digest !== config.digest) {
        throw new Error(
          `its copy differs from the caller's (SHA-256 ${digest.slice(0, 12)}… here, ` +
            `${config.digest.slice(0, 12)}… at the caller)`,
        );
      }
      served.exports = await importUrl(module).catch((e) => {
        throw new Error(`it cannot import it (${e instanceof Error ? e.message : e})`);
      });
    } catch (e) {
      served.error = new Error(
        `Pool worker ${this.#label} cannot run the tasks of module ${module}: ` +
          `${(e as Error).message}; deploy the same checkout of the code on every host`,
      );
      return served;
    }
    try {
      const key = served.key = configKey(config);
      // Only to find a warm pool sooner: a broker error here must not fail the pool's tasks.
      await this.#endIdle(key).catch(() => {});
      served.pool = this.#local.take(key, config, served.exports!);
      this.#withPool.add(served);
    } catch (e) {
      served.error = e as Error;
    }
    return served;
  }

  /**
   * Finds gone the caller pools with config `key` whose local pool is idle and whose caller
   * ended (a program that made its pools one after the other): their local pools are kept for
   * the pool being met, without waiting for the next check.
   */
  async #endIdle(key: string): Promise<void> {
    for (const served of [...this.#withPool]) {
      if (served.key !== key || served.running > 0 || served.gone) continue;
      const n = await this.#link.send(["EXISTS", served.keys.alive], "check a pool") as number;
      if (n === 0) this.#gone(served);
    }
  }

  /** Caller pool `served` is gone: its tasks are dropped, its local pool kept or ended. */
  #gone(served: Served): void {
    if (served.gone) return;
    served.gone = true;
    this.#withPool.delete(served);
    if (served.pool) this.#local.release(served.key!, served.pool, served.running === 0);
  }

  /** Hands an outcome over (with the others of its pool that are ready). */
  report(served: Served, entry: string, outcome: Buffer | ""): void {
    served.out.push([entry, outcome]);
    if (!served.sending) {
      served.sending = true;
      queueMicrotask(() => void this.#send(served));
    }
  }

  async #send(served: Served): Promise<void> {
    try {
      while (served.out.length > 0) {
        const batch = served.out.splice(0, 2000);
        const k = served.keys;
        try {
          await this.#link.eval(FINISH, [TASKS, k.results, k.alive], [
            String(served.expireAfter),
            ...batch.flat(),
          ], "hand results over");
        } catch {
          // the broker failed: the entries stay pending, and are reclaimed
        }
        for (const [entry] of batch) this.#handed(entry);
      }
    } finally {
      served.sending = false;
    }
  }

  /** Ends the local pools of caller pools that are gone. */
  async checkAlive(): Promise<void> {
    for (const [id, p] of this.#served) {
      const served = await p;
      if (!served.gone) {
        const n = await this.#link.send(["EXISTS", served.keys.alive], "check a pool") as number;
        if (n === 1) continue;
        this.#gone(served);
      }
      if (!served.sending) this.#served.delete(id);
    }
  }
}
