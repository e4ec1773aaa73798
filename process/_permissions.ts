// Least privilege per process: a child gets at most what its parent has, narrowed by the
// `permissions` option.

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
  /** Foreign functions. @default {"inherit"} */
  ffi?: PermissionValue;
  /** System information. @default {"inherit"} */
  sys?: PermissionValue;
  /** Remote module imports. @default {"inherit"} */
  import?: PermissionValue;
}

const KINDS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"] as const;
type Kind = typeof KINDS[number];

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
 * the Unix socket over which it reaches its parent.
 */
export function permissionFlags(perms: ProcessPermissions | undefined, socket: string): string[] {
  checkPermissions(perms);
  const flags: string[] = [];
  for (const name of KINDS) {
    const want = perms?.[name] ?? "inherit";
    const all = want === true || (want === "inherit" && granted(name));
    const list = Array.isArray(want) ? [...want] : [];
    if ((name === "read" || name === "write") && !all) list.push(socket);
    if (name === "net" && !all) list.push(`unix:${socket}`);
    if (all) flags.push(`--allow-${name}`);
    else if (list.length > 0) flags.push(`--allow-${name}=${list.join(",")}`);
  }
  return flags;
}

/** The `deno.permissions` option of a Worker: every kind not named is inherited. */
export function workerPermissions(perms: ProcessPermissions): Record<Kind, PermissionValue> {
  checkPermissions(perms);
  return Object.fromEntries(KINDS.map((k) => [k, perms[k] ?? "inherit"])) as Record<
    Kind,
    PermissionValue
  >;
}
