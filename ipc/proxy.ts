/**
 * `ManagerProxy`: what every proxy of a `Manager`'s objects shares, and the state it travels as.
 *
 * @module
 */

import { reduce, type Reduced } from "../_core/_reduce.ts";
import type { Address } from "./_socket.ts";
import { managerRef } from "./_manager_client.ts";
import { PROXY_TYPE, refs } from "./_proxy_call.ts";

/** The kinds of objects a manager makes. */
export type ProxyKind = "dict" | "list" | "namespace" | "lock" | "queue";

/** What a proxy is made of; it travels to other processes as this. */
export interface ProxyState {
  /** The kind of object. */
  readonly kind: ProxyKind;
  /** The manager's address. */
  readonly address: Address;
  /** The manager's authkey. */
  readonly authkey: Uint8Array;
  /** The object's id in the manager. */
  readonly id: number;
}

/**
 * What a proxy of an object kept in Redis is made of (see {@link Manager.connect}); it travels
 * to other processes as this, and the copy connects to the URL by itself.
 */
export interface RedisProxyState {
  /** The kind of object. */
  readonly kind: ProxyKind;
  /** The Redis URL. */
  readonly url: string;
  /** The object's name in Redis. */
  readonly name: string;
  /** Milliseconds after which an unnamed object's keys expire unless refreshed; 0 if named. */
  readonly ttl: number;
  /** A queue's maxsize (0: no bound), or a lock's lease in milliseconds; else 0. */
  readonly param: number;
}

/** Options of a proxy call that may wait. */
export interface ProxyWaitOptions {
  /** The most milliseconds to wait. @default {Infinity} */
  timeout?: number;
  /** Stops waiting when aborted (the call is cancelled in the manager too). @default {undefined} */
  signal?: AbortSignal;
}

/**
 * What every manager proxy shares: it names one object of one manager, and it can be passed to
 * a child (of either start method) in `Process` args, or stored in another manager object; the
 * copy connects to the manager by itself.
 */
export abstract class ManagerProxy {
  /**
   * Makes a proxy of an existing object; `Manager` and a process receiving a proxy do this.
   *
   * @param state the manager's address and authkey, and the object's id, as a proxy travels;
   * or, for an object kept in Redis, its URL and name.
   */
  constructor(state: ProxyState | RedisProxyState) {
    if ("url" in state) {
      const { kind, url, name, ttl, param } = state;
      refs.set(this, { state: { kind, url, name, ttl, param } });
      return;
    }
    const authkey = new Uint8Array(state.authkey);
    const s = { kind: state.kind, address: state.address, authkey, id: state.id };
    refs.set(this, { ref: managerRef(state.address, authkey), state: s });
  }

  /** The object's id in its manager; -1 for an object kept in Redis (it has a name). */
  get id(): number {
    const s = refs.get(this)!.state;
    return "id" in s ? s.id : -1;
  }

  /** The object's name in Redis; undefined for a local manager's object. */
  get name(): string | undefined {
    const s = refs.get(this)!.state;
    return "name" in s ? s.name : undefined;
  }

  /** @ignore */
  [reduce](): Reduced {
    return { type: PROXY_TYPE, state: refs.get(this)!.state };
  }
}
