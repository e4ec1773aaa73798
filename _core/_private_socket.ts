// A Unix socket that only this user can reach: a fresh directory with mode 0700 in the temp
// directory, holding one socket with mode 0600, removed with it, and at exit should its owner
// forget. Used by the subprocess start method (one per child, until the child has connected)
// and by listeners and managers at their default address.

import { checkNeeds, type Need, need } from "../process/_permissions.ts";
import { removeAtExit } from "./_exit_cleanup.ts";

/** A listening socket in a private directory. */
export interface PrivateSocket {
  listener: Deno.Listener;
  /** The socket's path. */
  path: string;
  /** Stops listening and removes the socket and its directory; safe to call again. */
  close(): void;
}

/** The temp directory, when this process may know it without making something there. */
function knownTempDir(): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: "TMPDIR" }).state !== "granted") {
      return undefined;
    }
    return Deno.env.get("TMPDIR") ?? "/tmp";
  } catch {
    return undefined;
  }
}

/**
 * Listens on `<private dir>/<name>`.
 *
 * @param what the start of the error message: what cannot be done.
 * @param needs further permissions the caller needs, reported together with the socket's.
 * @param instead what the user may do instead of granting the permissions.
 * @throws {Deno.errors.NotCapable} naming every missing flag (of `needs` and the socket's).
 */
export function listenPrivately(
  name: string,
  what: string,
  needs: (Need | undefined)[],
  instead: string,
): PrivateSocket {
  let dir: string | undefined;
  try {
    dir = Deno.makeTempDirSync({ prefix: "multiprocessing-" });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
  }
  const base = dir === undefined ? knownTempDir() : dir.slice(0, dir.lastIndexOf("/"));
  const probe = dir ?? base;
  const path = probe === undefined ? undefined : `${probe}/${name}`;
  const why = `to listen on a Unix socket in a private directory in ${
    base ?? "the temp directory"
  }`;
  try {
    checkNeeds(what, [
      ...needs,
      need("read", path, why),
      dir === undefined ? { flag: "--allow-write", why } : undefined,
      need("net", path === undefined ? undefined : `unix:${path}`, why),
    ], instead);
  } catch (e) {
    if (dir !== undefined) Deno.removeSync(dir);
    throw e;
  }
  const remove = removeAtExit(dir!);
  let listener: Deno.Listener | undefined;
  try {
    Deno.chmodSync(dir!, 0o700);
    listener = Deno.listen({ transport: "unix", path: path! });
    Deno.chmodSync(path!, 0o600);
  } catch (e) {
    listener?.close();
    remove();
    throw e;
  }
  return {
    listener: listener!,
    path: path!,
    close() {
      try {
        listener!.close();
      } catch {
        // already closed
      }
      remove();
    },
  };
}
