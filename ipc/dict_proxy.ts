/**
 * `DictProxy`: a dict kept by a `Manager`.
 *
 * @module
 */

import { ManagerProxy } from "./proxy.ts";
import { call, toEntries } from "./_proxy_call.ts";

/** A key of a manager dict. */
export type DictKey = string | number | bigint | boolean | null | undefined;

/**
 * A proxy of a dict kept by a manager: each method is one round trip, and values come back as
 * copies. Updates of one value by several processes need a lock (`manager.lock()`).
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const d = await manager.dict({ count: 300 });
 * await d.set("count", (await d.get("count"))! - 1);
 * console.log(await d.get("count")); // 299
 * ```
 */
export class DictProxy<K extends DictKey = string, V = unknown> extends ManagerProxy {
  /**
   * Reads the value of a key.
   *
   * @param key the key.
   * @param fallback returned when the key is missing.
   * @returns the value of `key`, or `fallback`.
   */
  get(key: K, fallback?: V): Promise<V | undefined> {
    return call(this, "get", [key, fallback]) as Promise<V | undefined>;
  }

  /**
   * Stores a value under a key (Python's `d[k] = v`).
   *
   * @param key the key: a string, number, bigint, boolean or null.
   * @param value the value.
   * @returns once the manager has stored it.
   * @throws {TypeError} when the key or the value cannot be sent.
   */
  async set(key: K, value: V): Promise<void> {
    await call(this, "set", [key, value]);
  }

  /**
   * Tells whether a key is present (Python's `k in d`).
   *
   * @param key the key.
   * @returns whether the key is present.
   */
  has(key: K): Promise<boolean> {
    return call(this, "has", [key]) as Promise<boolean>;
  }

  /**
   * Removes a key (Python's `del d[k]`).
   *
   * @param key the key.
   * @returns whether there was such a key.
   */
  delete(key: K): Promise<boolean> {
    return call(this, "delete", [key]) as Promise<boolean>;
  }

  /**
   * Removes a key and returns its value.
   *
   * @param key the key.
   * @param fallback returned when the key is missing.
   * @returns the value removed, or `fallback`.
   */
  pop(key: K, fallback?: V): Promise<V | undefined> {
    return call(this, "pop", [key, fallback]) as Promise<V | undefined>;
  }

  /**
   * Sets `key` to `value` unless present.
   *
   * @param key the key.
   * @param value the value stored when the key is missing.
   * @returns the value of `key` afterwards.
   */
  setDefault(key: K, value: V): Promise<V> {
    return call(this, "setDefault", [key, value]) as Promise<V>;
  }

  /**
   * Stores many entries in one round trip.
   *
   * @param entries a plain object or an iterable of `[key, value]`.
   * @returns once stored.
   */
  async update(entries: Record<string, V> | Iterable<readonly [K, V]>): Promise<void> {
    await call(this, "update", [toEntries(entries)]);
  }

  /**
   * The keys, in insertion order.
   *
   * @returns the keys, in insertion order.
   */
  keys(): Promise<K[]> {
    return call(this, "keys", []) as Promise<K[]>;
  }

  /**
   * The values, in insertion order.
   *
   * @returns the values, in insertion order.
   */
  values(): Promise<V[]> {
    return call(this, "values", []) as Promise<V[]>;
  }

  /**
   * The `[key, value]` pairs, in insertion order.
   *
   * @returns the `[key, value]` pairs, in insertion order.
   */
  entries(): Promise<[K, V][]> {
    return call(this, "entries", []) as Promise<[K, V][]>;
  }

  /**
   * The number of keys (Python's `len(d)`).
   *
   * @returns the number of keys (Python's `len(d)`).
   */
  size(): Promise<number> {
    return call(this, "size", []) as Promise<number>;
  }

  /**
   * Once every key is removed.
   *
   * @returns once every key is removed.
   */
  async clear(): Promise<void> {
    await call(this, "clear", []);
  }

  /**
   * A local copy of the whole dict.
   *
   * @returns a local copy of the whole dict.
   */
  async copy(): Promise<Map<K, V>> {
    return new Map(await this.entries());
  }

  /**
   * A local copy as a plain object (keys turned into strings).
   *
   * @returns a local copy as a plain object (keys turned into strings).
   */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries((await this.entries()).map(([k, v]) => [String(k), v]));
  }
}
