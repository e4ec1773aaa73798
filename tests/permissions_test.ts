// What each start method, the Pool, a Listener and a Manager need at least, and the errors that
// name a missing flag, why it is needed and what to do.

import assert from "node:assert/strict";
import { leftInTmp, METHODS, runDeno } from "./_helpers.ts";

const FIXTURE = "tests/fixtures/permissions.ts";
const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/** Runs the fixture with `flags` and a TMPDIR of its own; checks that nothing is left there. */
async function run(flags: string[], ...args: string[]): Promise<{ code: number; output: string }> {
  let result = { code: -1, output: "" };
  const left = await leftInTmp(async (env) => {
    const { code, output } = await runDeno(["run", "--no-prompt", ...flags, FIXTURE, ...args], {
      ...env,
      NO_COLOR: "1",
    });
    result = { code, output };
  });
  assert.deepEqual(left, [], "left in the temp directory");
  return result;
}

/** The line of the uncaught error in `output`. */
function errorLine(output: string): string {
  return output.split("\n").find((l) => l.startsWith("error: Uncaught")) ?? output;
}

const SOCKET_NEEDS = "to listen on a Unix socket in a private directory in";

Deno.test("Process: start() names the missing --allow-run flag (subprocess)", async () => {
  const { code, output } = await run(
    ["--allow-read", "--allow-write", "--allow-net"],
    "process",
    "subprocess",
  );
  assert.equal(code, 1);
  assert.equal(
    errorLine(output),
    "error: Uncaught (in promise) NotCapable: Cannot start process 'Process-1' with the " +
      "'subprocess' start method: it needs --allow-run to start 'deno run' children; run with " +
      "--allow-run (or -A), or use the 'worker' start method",
  );
});

Deno.test("Process: start() names the missing --allow-net and the temp directory it is for (subprocess)", async () => {
  const { code, output } = await run(
    ["--allow-read", "--allow-write", "--allow-run"],
    "process",
    "subprocess",
  );
  assert.equal(code, 1);
  assert.match(
    errorLine(output),
    new RegExp(
      `it needs --allow-net ${SOCKET_NEEDS} /.*/mp-test-tmp-\\w+; run with --allow-net \\(or -A\\)`,
    ),
  );
});

Deno.test("Process: start() without any flag names all four the subprocess start method needs", async () => {
  const { code, output } = await run([], "process", "subprocess");
  assert.equal(code, 1);
  assert.match(
    errorLine(output),
    new RegExp(
      "it needs --allow-run to start 'deno run' children, and --allow-read, --allow-write and " +
        `--allow-net ${SOCKET_NEEDS} the temp directory; run with --allow-run --allow-read ` +
        "--allow-write --allow-net \\(or -A\\), or use the 'worker' start method",
    ),
  );
});

Deno.test("Process: the subprocess start method runs with read and write of the temp dir, net, and run of deno", async () => {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const flags = [`--allow-read=${tmp}`, `--allow-write=${tmp}`, "--allow-net"];
  // The fixture's own TMPDIR lies in this process's.
  const { code, output } = await run(
    [...flags, `--allow-run=${Deno.execPath()}`],
    "process",
    "subprocess",
  );
  assert.equal(code, 0, output);
  assert.match(output, /exit code 0/);
});

Deno.test("Process: start() names the missing --allow-read and the modules to load (worker)", async () => {
  const { code, output } = await run([], "process", "worker");
  assert.equal(code, 1);
  assert.equal(
    errorLine(output),
    "error: Uncaught (in promise) NotCapable: Cannot start process 'Process-1' with the " +
      `'worker' start method: it needs --allow-read to load ${ROOT}/process/_worker_child.ts ` +
      `and ${ROOT}/${FIXTURE}; run with --allow-read (or -A)`,
  );
});

Deno.test("Process: the worker start method and the Pool run with read access to the modules alone", async () => {
  const process = await run([`--allow-read=${ROOT}`], "process", "worker");
  assert.equal(process.code, 0, process.output);
  assert.match(process.output, /exit code 0/);
  const pool = await run([`--allow-read=${ROOT}`], "pool", "worker");
  assert.equal(pool.code, 0, pool.output);
  assert.match(pool.output, /pool answered 42/);
});

Deno.test("Pool: a pool without the flags its start method needs names them", async () => {
  const { code, output } = await run(["--allow-read"], "pool", "subprocess");
  assert.equal(code, 1);
  assert.match(
    errorLine(output),
    /Cannot start process 'PoolWorker-1' with the 'subprocess' start method: it needs --allow-run/,
  );
});

for (const [what, api] of [["listener", "create listener"], ["manager", "start manager"]]) {
  Deno.test(`${what === "listener" ? "Listener" : "Manager"}: the default address names its missing flags`, async () => {
    const { code, output } = await run(["--allow-read"], what);
    assert.equal(code, 1);
    assert.equal(
      errorLine(output),
      `error: Uncaught (in promise) NotCapable: Cannot ${api} at the default address: it needs ` +
        `--allow-write and --allow-net ${SOCKET_NEEDS} the temp directory; run with ` +
        "--allow-write --allow-net (or -A), or give an address: a Unix socket path it may use, " +
        "or { port: 0 } for TCP, which needs --allow-net alone",
    );
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    const least = await run([`--allow-read=${tmp}`, `--allow-write=${tmp}`, "--allow-net"], what);
    assert.equal(least.code, 0, least.output);
  });
}

for (const method of METHODS) {
  Deno.test(`Process: a child keeps every --deny-* flag of its parent (${method})`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const denies = [
        `--deny-write=${dir}/w`,
        `--deny-read=${dir}/r`,
        "--deny-env=MP_DENIED",
        "--deny-net=denied.example",
        "--deny-run=denied-cmd",
      ];
      const args = ["run", "-A", ...denies, "tests/fixtures/permissions.ts", "denied", method, dir];
      const { code, output } = await runDeno(args);
      assert.equal(code, 0, output);
      assert.match(output, /^denied denied denied denied denied granted$/m, output);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
