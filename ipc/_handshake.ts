// The authkey handshake of a freshly made connection, as Python's `deliver_challenge` and
// `answer_challenge` do it, both ways: each side sends 32 random bytes behind a marker, the
// other answers with their HMAC-SHA256 under the shared key, and the first side says WELCOME or
// FAILURE. Frames are a 4-byte little-endian length and a body of at most 256 bytes, so that a
// stranger cannot make either side buffer much before it has proved it knows the key.

import { AuthenticationError } from "./_auth_error.ts";
import { type Address, addressLabel, checkAddress, checkAuthkey, dial } from "./_socket.ts";

const CHALLENGE = new TextEncoder().encode("#CHALLENGE#");
const NOAUTH = new TextEncoder().encode("#NOAUTH#");
const WELCOME = new TextEncoder().encode("#WELCOME#");
const FAILURE = new TextEncoder().encode("#FAILURE#");
const MAX_FRAME = 256;

/** How long a server gives a new connection to authenticate, in milliseconds. */
export const HANDSHAKE_TIMEOUT = 10_000;

const keys = new Map<string, Promise<CryptoKey>>();

function hmacKey(authkey: Uint8Array): Promise<CryptoKey> {
  const id = Array.from(authkey, (b) => b.toString(16).padStart(2, "0")).join("");
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      authkey as Uint8Array<ArrayBuffer>,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    );
    keys.set(id, key);
  }
  return key;
}

async function writeFrame(conn: Deno.Conn, body: Uint8Array): Promise<void> {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length, true);
  frame.set(body, 4);
  for (let at = 0; at < frame.length;) at += await conn.write(frame.subarray(at));
}

async function readExact(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  for (let at = 0; at < n;) {
    const got = await conn.read(buf.subarray(at));
    if (got === null) throw new AuthenticationError("the other side closed the connection");
    at += got;
  }
  return buf;
}

async function readFrame(conn: Deno.Conn): Promise<Uint8Array> {
  const size = new DataView((await readExact(conn, 4)).buffer).getUint32(0, true);
  if (size > MAX_FRAME) {
    throw new AuthenticationError(`handshake message of ${size} bytes is too long`);
  }
  return await readExact(conn, size);
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  return a.length >= prefix.length && equal(a.subarray(0, prefix.length), prefix);
}

/** Challenges the other side; resolves to whether it answered with the right digest. */
async function deliverChallenge(conn: Deno.Conn, key: CryptoKey): Promise<boolean> {
  const message = new Uint8Array(CHALLENGE.length + 32);
  message.set(CHALLENGE);
  crypto.getRandomValues(message.subarray(CHALLENGE.length));
  await writeFrame(conn, message);
  const digest = await readFrame(conn);
  const ok = await crypto.subtle.verify("HMAC", key, digest as Uint8Array<ArrayBuffer>, message);
  await writeFrame(conn, ok ? WELCOME : FAILURE);
  return ok;
}

/** Answers a challenge already read; resolves to whether the other side welcomed the answer. */
async function answerChallenge(
  conn: Deno.Conn,
  key: CryptoKey,
  message: Uint8Array,
): Promise<boolean> {
  if (!startsWith(message, CHALLENGE)) {
    throw new AuthenticationError("the other side sent no challenge");
  }
  const digest = await crypto.subtle.sign("HMAC", key, message as Uint8Array<ArrayBuffer>);
  await writeFrame(conn, new Uint8Array(digest));
  return equal(await readFrame(conn), WELCOME);
}

/**
 * The server's side: challenge the client, then answer its challenge. Resolves to whether the
 * client proved it knows `authkey` (always true without a key).
 */
export async function serverHandshake(
  conn: Deno.Conn,
  authkey: Uint8Array | undefined,
): Promise<boolean> {
  if (authkey === undefined) {
    await writeFrame(conn, NOAUTH);
    return equal(await readFrame(conn), NOAUTH); // the client agrees to go without a key
  }
  const key = await hmacKey(authkey);
  if (!await deliverChallenge(conn, key)) return false;
  return await answerChallenge(conn, key, await readFrame(conn));
}

/**
 * The client's side: answer the server's challenge, then challenge it back.
 *
 * @throws {AuthenticationError} when either side does not prove it knows the same key.
 */
export async function clientHandshake(
  conn: Deno.Conn,
  authkey: Uint8Array | undefined,
  where: string,
): Promise<void> {
  const first = await readFrame(conn);
  if (equal(first, NOAUTH)) {
    if (authkey === undefined) return await writeFrame(conn, NOAUTH);
    throw new AuthenticationError(
      `Cannot connect to ${where}: the server takes no authkey, and one was given`,
    );
  }
  if (authkey === undefined) {
    throw new AuthenticationError(`Cannot connect to ${where}: the server requires an authkey`);
  }
  const key = await hmacKey(authkey);
  if (!await answerChallenge(conn, key, first)) {
    throw new AuthenticationError(`Cannot connect to ${where}: the server refused the authkey`);
  }
  if (!await deliverChallenge(conn, key)) {
    throw new AuthenticationError(
      `Cannot connect to ${where}: the server did not prove that it knows the authkey`,
    );
  }
}

/**
 * Connects and authenticates; the raw connection, for the package's own protocols.
 *
 * @throws {AuthenticationError} as `Client()`.
 */
export async function connectAuthenticated(
  address: Address,
  options: { authkey?: string | Uint8Array; signal?: AbortSignal },
): Promise<Deno.Conn> {
  const what = "Cannot connect";
  const to = checkAddress(address, what);
  const authkey = checkAuthkey(options.authkey, what);
  const { signal } = options;
  signal?.throwIfAborted();
  const conn = await dial(to);
  const onAbort = () => conn.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await clientHandshake(conn, authkey, addressLabel(to));
    return conn;
  } catch (e) {
    try {
      conn.close();
    } catch {
      // closed by the abort
    }
    throw signal?.aborted ? signal.reason : e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
