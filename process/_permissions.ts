// Least privilege per process: a child gets at most what its parent has, narrowed by the
// `permissions` option. And what this process itself needs for a step (starting a child,
// listening): a missing flag fails that step with an error that names the flag and why.

import { wrongType } from "../_core/_check.ts";

/** One permission: everything the parent has (`"inherit"`), all of it, none, or a list. */
export type PermissionValue = "inherit" | boolean | string[];

/**
 * The permissions of a child process, by kind. A kind left out is inherited from the parent;
 * a child never gets more than its parent has.
 */
export interface ProcessPermissions {
  /** File system reads. @default {"inherit"} */
  read?: PermissionValue;
  /** File system writes. @default {"inherit"} */
  write?: PermissionValue;
  /** Network hosts. @default {"inherit"} */
  net?: PermissionValue;
  /** Environment variables. @default {"inherit"} */
  env?: PermissionValue;
  /** Subprocesses. @default {"inherit"} */
  run?: PermissionValue;
  /**
   * Foreign functions. Inherited whole (or `true`) from a parent that maps shared memory (FFI
   * on Linux), it lets the child map the memory of locks, values, queues and pipes too; `false`
   * or a list makes it reach them through its parent. @default {"inherit"}
   */
  ffi?: PermissionValue;
  /** System information. @default {"inherit"} */
  sys?: PermissionValue;
  /** Remote module imports. @default {"inherit"} */
  import?: PermissionValue;
}

const KINDS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
type Kind = typeof KINDS[number];

/**
 * Checks the shape of a `permissions` option: an object whose keys are known kinds, each
 * `"inherit"`, a boolean or an array of strings.
 *
 * @throws {TypeError} naming the first key or value that is wrong.
 */
export function checkPermissionShape(
  perms: unknown,
  what: string,
): ProcessPermissions | undefined {
  if (perms === undefined) return undefined;
  if (perms === null || typeof perms !== "object" || Array.isArray(perms)) {
    wrongType(what, "permissions", "an object such as { read: true, net: false }", perms);
  }
  for (const [kind, value] of Object.entries(perms)) {
    if (!(KINDS as readonly string[]).includes(kind)) {
      throw new TypeError(
        `${what}: permissions has an unknown kind '${kind}'; the kinds are ${KINDS.join(", ")}`,
      );
    }
    const ok = value === undefined || value === "inherit" || typeof value === "boolean" ||
      (Array.isArray(value) && value.every((item) => typeof item === "string"));
    if (!ok) {
      wrongType(
        what,
        `permissions.${kind}`,
        '"inherit", true, false or an array of strings',
        value,
      );
    }
  }
  return perms as ProcessPermissions;
}

function descriptor(name: Kind, item?: string): Deno.PermissionDescriptor {
  if (item === undefined) return { name } as Deno.PermissionDescriptor;
  switch (name) {
    case "read":
    case "write":
    case "ffi":
      return { name, path: item };
    case "net":
    case "import":
      return { name, host: item } as Deno.PermissionDescriptor;
    case "env":
      return { name, variable: item };
    case "run":
      return { name, command: item };
    case "sys":
      return { name, kind: item as Deno.SysPermissionDescriptor["kind"] };
  }
}

function granted(name: Kind, item?: string): boolean {
  try {
    return Deno.permissions.querySync(descriptor(name, item)).state === "granted";
  } catch {
    return false;
  }
}

/** A permission this process lacks for a step of its work: the flag that grants it, and why. */
export interface Need {
  flag: `--allow-${Kind}`;
  /** What the permission is for, e.g. "to start 'deno run' children". */
  why: string;
}

/**
 * The need for permission `name` (on `item`, or all of it when `item` is undefined), or
 * undefined when this process has it.
 */
export function need(name: Kind, item: string | undefined, why: string): Need | undefined {
  return granted(name, item) ? undefined : { flag: `--allow-${name}`, why };
}

function andList(items: string[]): string {
  return items.length < 2 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/**
 * Throws, when any of `needs` is unmet, a `Deno.errors.NotCapable` that says what failed
 * (`what`), which flags are missing and why, and what to do: run with them, or `instead`.
 */
export function checkNeeds(what: string, needs: (Need | undefined)[], instead?: string): void {
  const unmet = needs.filter((n) => n !== undefined);
  if (unmet.length === 0) return;
  const flagsFor = new Map<string, string[]>();
  for (const { flag, why } of unmet) {
    const flags = flagsFor.get(why) ?? [];
    if (!flags.includes(flag)) flags.push(flag);
    flagsFor.set(why, flags);
  }
  const reasons = [...flagsFor].map(([why, flags]) => `${andList(flags)} ${why}`);
  const flags = [...new Set(unmet.map((n) => n.flag))];
  throw new Deno.errors.NotCapable(
    `${what}: it needs ${reasons.join(", and ")}; run with ${flags.join(" ")} (or -A)` +
      (instead ? `, or ${instead}` : ""),
  );
}

/** The local file behind a `file:` URL; undefined for other URLs. */
function filePath(url: string): string | undefined {
  return url.startsWith("file:") ? decodeURIComponent(new URL(url).pathname) : undefined;
}

/** Checks that this process may read the local modules among `modules` (workers load them). */
export function checkModulesReadable(what: string, modules: string[]): void {
  const unread = modules.map(filePath).filter((p) => p !== undefined && !granted("read", p));
  if (unread.length === 0) return;
  checkNeeds(what, [{ flag: "--allow-read", why: `to load ${andList(unread as string[])}` }]);
}

function refuse(name: Kind, what: string): never {
  throw new TypeError(
    `Cannot start process: it asks for ${what} '${name}' permission, which this process does not have`,
  );
}

/** Checks a request against what this process holds; throws a TypeError when it asks for more. */
export function checkPermissions(perms: ProcessPermissions | undefined): void {
  for (const name of KINDS) {
    const want = perms?.[name];
    if (want === true && !granted(name)) refuse(name, "the whole");
    if (Array.isArray(want)) {
      for (const item of want) if (!granted(name, item)) refuse(name, `'${item}' of`);
    }
  }
}

/**
 * The `deno run` flags that give a subprocess child what it may have, plus access to `socket`,
 * the Unix socket over which it reaches its parent, and to the private directory that holds it
 * (which the child removes once it has connected).
 */
export function permissionFlags(perms: ProcessPermissions | undefined, socket: string): string[] {
  checkPermissions(perms);
  const dir = socket.slice(0, socket.lastIndexOf("/"));
  const flags: string[] = [];
  for (const name of KINDS) {
    const want = perms?.[name] ?? "inherit";
    const all = want === true || (want === "inherit" && granted(name));
    const list = Array.isArray(want) ? [...want] : [];
    if (name === "read" && !all) list.push(socket);
    if (name === "write" && !all) list.push(dir);
    if (name === "net" && !all) list.push(`unix:${socket}`);
    if (all) flags.push(`--allow-${name}`);
    else if (list.length > 0) flags.push(`--allow-${name}=${list.join(",")}`);
  }
  return [...flags, ...ownDenyFlags()];
}

/**
 * `/proc/self/cmdline`: Deno lets only a process with every permission read it, so one with a
 * deny reads it through libc where it may use FFI.
 */
function ownCommandLine(): string | undefined {
  const path = "/proc/self/cmdline";
  try {
    return Deno.readTextFileSync(path);
  } catch {
    // denied, or no such file
  }
  if (Deno.build.os !== "linux" || !granted("ffi")) return undefined;
  try {
    const libc = Deno.dlopen("libc.so.6", {
      open: { parameters: ["buffer", "i32"], result: "i32" },
      read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
      close: { parameters: ["i32"], result: "i32" },
    });
    try {
      const fd = libc.symbols.open(new TextEncoder().encode(path + "\0"), 0);
      if (fd < 0) return undefined;
      const chunks: Uint8Array[] = [];
      for (;;) {
        const chunk = new Uint8Array(4096);
        const n = Number(libc.symbols.read(fd, chunk, 4096n));
        if (n <= 0) break;
        chunks.push(chunk.subarray(0, n));
      }
      libc.symbols.close(fd);
      return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    } finally {
      libc.close();
    }
  } catch {
    return undefined;
  }
}

const DENY = /^--deny-(read|write|net|env|run|ffi|sys|import)(=.*)?$/;

/** Whether command-line `token` names the main module (relative or absolute, or its URL). */
function isMainModule(token: string, main: string): boolean {
  if (token === main) return true;
  try {
    return new URL(token, `file://${Deno.cwd()}/`).href === main;
  } catch {
    return false;
  }
}

/**
 * This process's own `--deny-*` flags, read from its command line (Linux). Deno answers a query
 * of a kind that is granted with some parts denied (`-A --deny-write=X`) with "granted", so a
 * child given `--allow-write` alone would lose the deny: it is given these flags as well.
 */
export function ownDenyFlags(): string[] {
  return (ownFlags() ?? []).filter((a) => DENY.test(a));
}

/**
 * The flags of this process's command line, before its main module `main` (`run`, `-A`...);
 * undefined when they cannot be seen (not Linux, or neither -A nor FFI).
 */
export function ownFlags(main: string = Deno.mainModule): string[] | undefined {
  const argv = ownCommandLine()?.split("\0").slice(1);
  if (!argv) return undefined;
  const end = argv.findIndex((token) => isMainModule(token, main));
  return end < 0 ? argv : argv.slice(0, end);
}

/** The `deno.permissions` option of a Worker: every kind not named is inherited. */
export function workerPermissions(perms: ProcessPermissions): Record<Kind, PermissionValue> {
  checkPermissions(perms);
  return Object.fromEntries(KINDS.map((k) => [k, perms[k] ?? "inherit"])) as Record<
    Kind,
    PermissionValue
  >;
}

/**
 * Whether a child given `perms` may map shared memory: it keeps its parent's FFI permission
 * whole (a scoped `ffi` list cannot open libc by name).
 */
export function mayMap(perms: ProcessPermissions | undefined): boolean {
  const ffi = perms?.ffi;
  return ffi === undefined || ffi === "inherit" || ffi === true;
}
