// The client side of a manager: one authenticated connection per manager in each process,
// shared by every proxy there, made on the first call. It keeps the program alive only while a
// call is under way, and a lost connection fails the calls in flight; the next call reconnects.

import { SocketLink } from "../_core/_link.ts";
import { dataToError } from "../_core/_rpc.ts";
import { decode, encode } from "../_core/_reduce.ts";
import { connectAuthenticated } from "./_handshake.ts";
import { type Address, addressLabel } from "./_socket.ts";
import { STANDALONE } from "./_socket_connection.ts";
import { EOFError } from "./connection.ts";

/** How to reach a manager. */
export interface ManagerRef {
  readonly address: Address;
  readonly authkey: Uint8Array;
  /** The address and key as one string: the key of this process's connection to it. */
  readonly key: string;
}

/** Builds a {@link ManagerRef}. */
export function managerRef(address: Address, authkey: Uint8Array): ManagerRef {
  const hex = Array.from(authkey, (b) => b.toString(16).padStart(2, "0")).join("");
  return { address, authkey, key: `${addressLabel(address)}#${hex}` };
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Reply {
  t: "r";
  c: number;
  ok: boolean;
  v: unknown;
  x?: boolean;
}

class ManagerLink {
  #conn: Deno.Conn;
  #link: SocketLink;
  #pending = new Map<number, Pending>();
  #next = 1;
  #gone: Error | undefined;
  readonly #label: string;

  constructor(conn: Deno.Conn, label: string, onGone: () => void) {
    this.#conn = conn;
    this.#label = label;
    this.#link = new SocketLink(conn);
    conn.unref();
    this.#link.onmessage = (msg) => {
      if (msg.t === "r") this.#settle(msg as Reply);
    };
    this.#link.onclose = () => {
      this.#gone ??= new EOFError(`The manager at ${label} is gone`);
      onGone();
      for (const p of this.#pending.values()) {
        p.signal?.removeEventListener("abort", p.onAbort!);
        p.reject(this.#gone);
      }
      this.#pending.clear();
    };
  }

  get gone(): boolean {
    return this.#gone !== undefined;
  }

  call(o: number, m: string, args: unknown, signal?: AbortSignal): Promise<unknown> {
    if (this.#gone) return Promise.reject(this.#gone);
    const c = this.#next++;
    if (this.#pending.size === 0) this.#conn.ref();
    this.#link.post({ t: "q", c, o, m, a: args });
    return new Promise((resolve, reject) => {
      const onAbort = signal && (() => this.#link.post({ t: "x", c }));
      signal?.addEventListener("abort", onAbort!, { once: true });
      this.#pending.set(c, { resolve, reject, signal, onAbort });
    });
  }

  #settle(r: Reply): void {
    const p = this.#pending.get(r.c);
    if (!p) return;
    this.#pending.delete(r.c);
    if (this.#pending.size === 0) this.#conn.unref();
    if (p.onAbort) p.signal!.removeEventListener("abort", p.onAbort);
    if (r.ok) {
      p.resolve(r.v);
    } else if (r.x && p.signal?.aborted) {
      p.reject(p.signal.reason);
    } else {
      p.reject(dataToError(r.v));
    }
  }

  close(): void {
    this.#gone ??= new EOFError(`The connection to the manager at ${this.#label} is closed`);
    this.#link.close();
  }
}

const links = new Map<string, ManagerLink | Promise<ManagerLink>>();

async function open(ref: ManagerRef): Promise<ManagerLink> {
  const conn = await connectAuthenticated(ref.address, { authkey: ref.authkey });
  const link = new ManagerLink(conn, addressLabel(ref.address), () => {
    if (links.get(ref.key) === link) links.delete(ref.key);
  });
  return link;
}

function linkTo(ref: ManagerRef): ManagerLink | Promise<ManagerLink> {
  let link = links.get(ref.key);
  if (link === undefined || (link instanceof ManagerLink && link.gone)) {
    const opening = open(ref);
    links.set(ref.key, opening);
    link = opening;
    opening.then(
      (l) => {
        if (links.get(ref.key) === opening) links.set(ref.key, l);
      },
      () => {
        if (links.get(ref.key) === opening) links.delete(ref.key);
      },
    );
  }
  return link;
}

/**
 * Calls `method` on object `id` of the manager at `ref`, connecting first if this process has
 * no connection to it yet.
 */
export async function managerCall(
  ref: ManagerRef,
  id: number,
  method: string,
  args: unknown[],
  signal?: AbortSignal,
): Promise<unknown> {
  signal?.throwIfAborted();
  const a = encode(args, STANDALONE, "args");
  const local = locals.get(ref.key);
  let result: unknown;
  if (local) {
    result = await local.call(id, method, a as unknown[], signal);
  } else {
    const link = linkTo(ref);
    result = await (link instanceof ManagerLink ? link : await link).call(id, method, a, signal);
  }
  return decode(result, { rpc: undefined });
}

/** A manager server in this very process, which its proxies here call directly. */
export interface LocalServer {
  call(id: number, method: string, args: unknown[], signal?: AbortSignal): Promise<unknown>;
}

const locals = new Map<string, LocalServer>();

/** Makes calls to `ref` in this process go to `server` directly (or through sockets again). */
export function setLocalServer(ref: ManagerRef, server: LocalServer | undefined): void {
  if (server) locals.set(ref.key, server);
  else locals.delete(ref.key);
}

/** Connects to the manager at `ref` now, so that a wrong address or key shows at once. */
export async function managerConnect(ref: ManagerRef): Promise<void> {
  await linkTo(ref);
}

/** Closes this process's connection to the manager at `ref`, if it has one. */
export async function closeManagerLink(ref: ManagerRef): Promise<void> {
  const link = links.get(ref.key);
  links.delete(ref.key);
  if (link) (await Promise.resolve(link).catch(() => undefined))?.close();
}
