// A subprocess child never outlives its parent, even while its code runs synchronously. Where
// it may use FFI on Linux, the kernel's parent-death signal (`prctl(PR_SET_PDEATHSIG, SIGKILL)`)
// ends it when the thread that started it goes, however it goes (SIGKILL included); that thread
// is its parent process's main thread, or the worker thread of a worker parent. Elsewhere the
// child notices when its connection to the parent closes, which a synchronous loop delays
// until it returns.

const PR_SET_PDEATHSIG = 1;
const SIGKILL = 9n;

/**
 * Makes the kernel kill this process when its parent goes; exits at once when the parent has
 * gone already.
 *
 * @returns whether the signal is set (false: no FFI permission, or not Linux).
 */
export function dieWithParent(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return false;
    const parent = Deno.ppid;
    const libc = Deno.dlopen("libc.so.6", {
      prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
    });
    const set = libc.symbols.prctl(PR_SET_PDEATHSIG, SIGKILL, 0n, 0n, 0n) === 0;
    libc.close(); // the kernel keeps the setting
    if (set && Deno.ppid !== parent) Deno.exit(1); // the parent went before the signal was set
    return set;
  } catch {
    return false;
  }
}
