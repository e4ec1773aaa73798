// Where listeners and managers listen: a Unix socket path, readable by its owner alone, or a TCP
// host and port. A socket the package names itself lives in a fresh 0700 directory that is
// removed with it (and at exit, should its owner forget); so is a socket path given.

import { wrongType } from "../_core/_check.ts";
import { removeAtExit } from "../_core/_exit_cleanup.ts";
import { listenPrivately } from "../_core/_private_socket.ts";

/** A TCP address. */
export interface TcpAddress {
  /** The host name or IP address. @default {"127.0.0.1"} */
  hostname?: string;
  /** The port; 0 picks a free one. */
  port: number;
}

/** Where a server listens: a Unix socket path, or a TCP host and port. */
export type Address = string | TcpAddress;

/** Checks an address given by a caller; returns it in a form that is safe to keep. */
export function checkAddress(address: unknown, what: string): Address {
  if (typeof address === "string" && address.length > 0) return address;
  if (typeof address === "object" && address !== null) {
    const { hostname = "127.0.0.1", port } = address as Partial<TcpAddress>;
    if (typeof hostname === "string" && Number.isInteger(port) && port! >= 0 && port! < 65536) {
      return { hostname, port: port! };
    }
  }
  throw new TypeError(
    `${what}: address must be a Unix socket path or { hostname, port }, got ${
      JSON.stringify(address)
    }`,
  );
}

/** A printable form of an address, used in messages and as a map key. */
export function addressLabel(address: Address): string {
  return typeof address === "string" ? address : `${address.hostname}:${address.port}`;
}

/** Turns an authkey given as text or bytes into bytes; `undefined` stays `undefined`. */
export function checkAuthkey(authkey: unknown, what: string): Uint8Array | undefined {
  if (authkey === undefined) return undefined;
  let key: Uint8Array;
  if (typeof authkey === "string") key = new TextEncoder().encode(authkey);
  else if (authkey instanceof Uint8Array) key = authkey.slice();
  else return wrongType(what, "authkey", "a string or a Uint8Array", authkey);
  if (key.length === 0) {
    throw new RangeError(
      `${what}: authkey must not be empty: an empty key proves nothing; leave it out for no authentication`,
    );
  }
  return key;
}

/** The default `maxMessageSize` of a Listener or Client: 64 MiB. */
export const DEFAULT_MAX_MESSAGE = 64 << 20;

/**
 * Checks a `maxMessageSize` given by a caller: a whole number of bytes >= 1, or `Infinity`.
 *
 * @throws {RangeError} otherwise.
 */
export function checkMaxMessageSize(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_MAX_MESSAGE;
  if (value === Infinity || (Number.isInteger(value) && (value as number) >= 1)) {
    return value as number;
  }
  throw new RangeError(
    `${what}: maxMessageSize must be a whole number of bytes >= 1, or Infinity, got ${
      String(value)
    }`,
  );
}

/** A listening socket and how to release it. */
export interface BoundSocket {
  listener: Deno.Listener;
  /** The address clients connect to (a TCP port 0 replaced by the port given). */
  address: Address;
  /** Closes the listener and removes the socket file (and its directory, if ours). */
  close(): void;
}

/**
 * Listens on `address`, or on a fresh socket in a private directory when it is left out. Unix
 * sockets are made readable and writable by their owner alone. `what` starts error messages.
 *
 * @throws {Deno.errors.NotCapable} at the default address without the permissions it needs,
 * naming the missing flags.
 */
export function bind(address: Address | undefined, what: string): BoundSocket {
  if (address === undefined) {
    const own = listenPrivately(
      "listener.sock",
      `${what} at the default address`,
      [],
      "give an address: a Unix socket path it may use, or { port: 0 } for TCP, which needs --allow-net alone",
    );
    return { listener: own.listener, address: own.path, close: own.close };
  }
  if (typeof address !== "string") {
    const { hostname, port } = address as Required<TcpAddress>;
    const listener = Deno.listen({ transport: "tcp", hostname, port });
    const addr = listener.addr as Deno.NetAddr;
    const bound = { hostname: addr.hostname, port: addr.port };
    return { listener, address: bound, close: () => closeQuietly(listener) };
  }
  const listener = Deno.listen({ transport: "unix", path: address });
  const remove = removeAtExit(address);
  try {
    Deno.chmodSync(address, 0o600);
  } catch (e) {
    closeQuietly(listener);
    remove();
    throw e;
  }
  return {
    listener,
    address,
    close() {
      closeQuietly(listener);
      remove();
    },
  };
}

function closeQuietly(listener: Deno.Listener): void {
  try {
    listener.close();
  } catch {
    // already closed
  }
}

/** Connects to `address`; TCP connections send small messages at once (no Nagle delay). */
export async function dial(address: Address): Promise<Deno.Conn> {
  if (typeof address === "string") return await Deno.connect({ transport: "unix", path: address });
  const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
  conn.setNoDelay(true);
  return conn;
}

/** Sets TCP_NODELAY on an accepted TCP connection; does nothing for a Unix one. */
export function noDelay(conn: Deno.Conn): void {
  if (conn.remoteAddr.transport === "tcp") (conn as Deno.TcpConn).setNoDelay(true);
}
