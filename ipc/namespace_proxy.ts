/**
 * `NamespaceProxy`: a namespace kept by a `Manager`.
 *
 * @module
 */

import { ManagerProxy } from "./proxy.ts";
import { call } from "./_proxy_call.ts";

/**
 * A proxy of a namespace kept by a manager: named fields (Python's attributes).
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const ns = await manager.namespace({ x: 1, y: "a" });
 * await ns.set("x", 2);
 * console.log(await ns.toObject()); // { x: 2, y: "a" }
 * ```
 */
export class NamespaceProxy<T extends Record<string, unknown> = Record<string, unknown>>
  extends ManagerProxy {
  /**
   * Reads a field (Python's `ns.name`).
   *
   * @param name the field.
   * @returns its value, or undefined.
   */
  get<N extends keyof T & string>(name: N): Promise<T[N]> {
    return call(this, "get", [name]) as Promise<T[N]>;
  }

  /**
   * Sets a field (Python's `ns.name = value`).
   *
   * @param name the field.
   * @param value its new value.
   * @returns once stored.
   */
  async set<N extends keyof T & string>(name: N, value: T[N]): Promise<void> {
    await call(this, "set", [name, value]);
  }

  /**
   * Tells whether a field is set.
   *
   * @param name the field.
   * @returns whether it is set.
   */
  has(name: string): Promise<boolean> {
    return call(this, "has", [name]) as Promise<boolean>;
  }

  /**
   * Removes a field.
   *
   * @param name the field.
   * @returns whether it was set.
   */
  delete(name: keyof T & string): Promise<boolean> {
    return call(this, "delete", [name]) as Promise<boolean>;
  }

  /**
   * A local copy of every field.
   *
   * @returns a local copy of every field.
   */
  toObject(): Promise<T> {
    return call(this, "toObject", []) as Promise<T>;
  }
}
