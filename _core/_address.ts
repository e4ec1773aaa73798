// The broker addresses the package takes, parsed into what the Redis client needs:
//   redis://[user[:password]@]host[:port][/db]     TCP (port 6379, db 0 by default)
//   rediss://[user[:password]@]host[:port][/db]    the same over TLS
//   unix:///path/to/redis.sock[?db=N&user=U&password=P]   a local server's unix socket
//   (redis+unix:// is taken as unix://)
// User and password are percent-decoded. The password never appears in an error message: each
// message shows the address through `shownAddress`.

/** Where and how to connect. */
export interface Address {
  /** TCP host and port, or a unix socket path. */
  socket: { host: string; port: number; tls: boolean } | { path: string };
  username?: string;
  password?: string;
  database: number;
}

/** The address as messages show it: without its password. */
export function shownAddress(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    if (u.searchParams.has("password")) u.searchParams.set("password", "***");
    return u.href;
  } catch {
    return JSON.stringify(url);
  }
}

function bad(url: string, why: string): TypeError {
  return new TypeError(
    `Cannot connect to ${
      shownAddress(url)
    }: ${why}; give redis://[user:password@]host[:port][/db]` +
      `, rediss://… for TLS, or unix:///path/to/redis.sock`,
  );
}

function database(url: string, text: string | null): number {
  if (text === null || text === "") return 0;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw bad(url, `the database must be a number, got "${text}"`);
  return n;
}

/**
 * Parses a broker address.
 *
 * @throws {TypeError} when it is not a string or not one of the forms above.
 */
export function parseAddress(url: unknown): Address {
  if (typeof url !== "string") {
    throw new TypeError(`Cannot connect: the broker address must be a string, got ${typeof url}`);
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad(url, "it is not a URL");
  }
  const q = u.searchParams;
  switch (u.protocol) {
    case "redis:":
    case "rediss:": {
      if (!u.hostname) throw bad(url, "it names no host");
      const out: Address = {
        socket: {
          host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: u.port ? Number(u.port) : 6379,
          tls: u.protocol === "rediss:",
        },
        database: database(url, u.pathname.replace(/^\//, "") || q.get("db")),
      };
      if (u.username) out.username = decodeURIComponent(u.username);
      if (u.password) out.password = decodeURIComponent(u.password);
      return out;
    }
    case "unix:":
    case "redis+unix:": {
      if (u.hostname) throw bad(url, "a unix socket address names no host (three slashes)");
      if (!u.pathname || u.pathname === "/") throw bad(url, "it names no socket path");
      const out: Address = {
        socket: { path: decodeURIComponent(u.pathname) },
        database: database(url, q.get("db")),
      };
      const user = q.get("user"), password = q.get("password");
      if (user) out.username = user;
      if (password) out.password = password;
      return out;
    }
  }
  throw bad(url, `the scheme ${u.protocol} is not one of redis:, rediss:, unix:`);
}
