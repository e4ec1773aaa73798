/**
 * `ListProxy`: a list kept by a `Manager`.
 *
 * @module
 */

import { ManagerProxy } from "./proxy.ts";
import { call } from "./_proxy_call.ts";

/**
 * A proxy of a list kept by a manager. Indices may be negative (from the end), as in Python.
 * `indexOf`, `includes` and `remove` compare as `===` does, which suits primitive items.
 *
 * @example
 * ```ts
 * import { Manager } from "@mp/multiprocessing/ipc";
 *
 * await using manager = await Manager.start();
 * const l = await manager.list([1, 2]);
 * await l.push(3);
 * console.log(await l.get(-1), await l.length()); // 3 3
 * ```
 */
export class ListProxy<T = unknown> extends ManagerProxy {
  /**
   * Reads an item (Python's `l[i]`).
   *
   * @param index the position; negative counts from the end.
   * @returns the item.
   * @throws {RangeError} when out of range.
   */
  get(index: number): Promise<T> {
    return call(this, "get", [index]) as Promise<T>;
  }

  /**
   * Replaces an item (Python's `l[i] = v`).
   *
   * @param index the position; negative counts from the end.
   * @param value the new item.
   * @returns once stored.
   * @throws {RangeError} when out of range.
   */
  async set(index: number, value: T): Promise<void> {
    await call(this, "set", [index, value]);
  }

  /**
   * Appends items (Python's `append` and `extend`).
   *
   * @param items the items.
   * @returns the new length.
   */
  push(...items: T[]): Promise<number> {
    return call(this, "push", items) as Promise<number>;
  }

  /**
   * Removes and returns an item.
   *
   * @param index the position; the last item when left out.
   * @returns the item.
   * @throws {RangeError} when the list is empty or the index out of range.
   */
  pop(index = -1): Promise<T> {
    return call(this, "pop", [index]) as Promise<T>;
  }

  /**
   * Inserts an item before a position.
   *
   * @param index where the item goes; negative counts from the end.
   * @param value the item.
   * @returns once inserted.
   */
  async insert(index: number, value: T): Promise<void> {
    await call(this, "insert", [index, value]);
  }

  /**
   * Removes the first item equal to `value`.
   *
   * @param value the item.
   * @returns whether one was found.
   */
  remove(value: T): Promise<boolean> {
    return call(this, "remove", [value]) as Promise<boolean>;
  }

  /**
   * Finds an item.
   *
   * @param value the item.
   * @returns its first position, or -1.
   */
  indexOf(value: T): Promise<number> {
    return call(this, "indexOf", [value]) as Promise<number>;
  }

  /**
   * Tells whether an item is in the list.
   *
   * @param value the item.
   * @returns whether it is in the list.
   */
  includes(value: T): Promise<boolean> {
    return call(this, "includes", [value]) as Promise<boolean>;
  }

  /**
   * The number of items (Python's `len(l)`).
   *
   * @returns the number of items (Python's `len(l)`).
   */
  length(): Promise<number> {
    return call(this, "length", []) as Promise<number>;
  }

  /**
   * Copies a part of the list.
   *
   * @param start first position; @default {0}
   * @param end position after the last; @default {the length}
   * @returns a local copy of the items between.
   */
  slice(start?: number, end?: number): Promise<T[]> {
    return call(this, "slice", [start, end]) as Promise<T[]>;
  }

  /**
   * Once the list is reversed in place.
   *
   * @returns once the list is reversed in place.
   */
  async reverse(): Promise<void> {
    await call(this, "reverse", []);
  }

  /**
   * Once every item is removed.
   *
   * @returns once every item is removed.
   */
  async clear(): Promise<void> {
    await call(this, "clear", []);
  }

  /**
   * A local copy of the whole list.
   *
   * @returns a local copy of the whole list.
   */
  toArray(): Promise<T[]> {
    return this.slice();
  }
}
