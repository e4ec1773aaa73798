// A program that starts subprocess children leaves nothing in its temp directory, however it
// ends, and ends as it would without the package (same exit code, same signal).

import assert from "node:assert/strict";
import { leftInTmp, readUntil, runDeno, spawnDeno, stillRunning } from "./_helpers.ts";

const FIXTURE = "tests/fixtures/exit_cleanup.ts";

/** Starts the fixture in `mode`; resolves with it and its child's pid once the child imports. */
async function startWaiting(
  env: { TMPDIR: string },
  ...options: string[]
): Promise<{ parent: Deno.ChildProcess; childPid: number }> {
  const parent = spawnDeno(["run", "-A", FIXTURE, "wait", ...options], env);
  const line = await readUntil(parent, (t) => t.includes("\n"));
  const childPid = Number(line.match(/importing (\d+)/)?.[1]);
  assert.ok(childPid > 0, `no child pid in ${JSON.stringify(line)}`);
  return { parent, childPid };
}

function entries(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name);
}

Deno.test("Process: a program with a subprocess child leaves no temp directory when it ends normally (exit 0)", async () => {
  const left = await leftInTmp(async (env) => {
    const { code, output } = await runDeno(["run", "-A", FIXTURE, "end", "--listener"], env);
    assert.equal(code, 0, output);
    assert.match(output, /child exit code 0/);
  });
  assert.deepEqual(left, []);
});

Deno.test("Process: a program with a subprocess child leaves no temp directory when it throws (exit 1)", async () => {
  const left = await leftInTmp(async (env) => {
    const { code, output } = await runDeno(["run", "-A", FIXTURE, "throw", "--listener"], env);
    assert.equal(code, 1, output);
    assert.match(output, /the parent fails/);
  });
  assert.deepEqual(left, []);
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`Process: ${signal} leaves no temp directory and still ends the program by ${signal}, a child still starting`, async () => {
    let childPid = 0;
    const left = await leftInTmp(async (env) => {
      const started = await startWaiting(env, "--listener");
      childPid = started.childPid;
      assert.equal(entries(env.TMPDIR).length, 2, "the child's and the listener's directories");
      started.parent.kill(signal);
      const status = await started.parent.output();
      assert.equal(status.signal, signal);
      assert.equal(status.code, signal === "SIGTERM" ? 143 : 130);
      // Removed by the parent itself: its child is still importing its module.
      assert.deepEqual(entries(env.TMPDIR), []);
    });
    assert.deepEqual(left, []);
    assert.deepEqual(await stillRunning([childPid], 5000), [], "the child outlived its parent");
  });
}

Deno.test("Process: a signal the program handles itself is left to it, and its exit still cleans up", async () => {
  const left = await leftInTmp(async (env) => {
    const { parent } = await startWaiting(env, "--own-handler");
    parent.kill("SIGTERM");
    const { code, stdout } = await parent.output();
    assert.equal(code, 7);
    assert.equal(new TextDecoder().decode(stdout).match(/handled SIGTERM/g)?.length, 1);
  });
  assert.deepEqual(left, []);
});

Deno.test("Process: a child that cannot start leaves no temp directory (its exit code 1, the program's 0)", async () => {
  const left = await leftInTmp(async (env) => {
    const { code, output } = await runDeno(["run", "-A", FIXTURE, "nostart"], env);
    assert.equal(code, 0, output);
    assert.match(output, /this child cannot start/);
    assert.match(output, /child exit code 1/);
  });
  assert.deepEqual(left, []);
});

Deno.test("Process: start() without --allow-run leaves no temp directory (exit 1)", async () => {
  const left = await leftInTmp(async (env) => {
    const flags = ["--no-prompt", "--allow-read", "--allow-write", "--allow-net"];
    const { code, output } = await runDeno(["run", ...flags, FIXTURE, "end"], env);
    assert.equal(code, 1, output);
    assert.match(output, /NotCapable: Cannot start process 'Process-1'.*--allow-run/);
  });
  assert.deepEqual(left, []);
});

Deno.test("Process: a child whose parent is SIGKILLed while it starts removes the private directory", async () => {
  let childPid = 0;
  const left = await leftInTmp(async (env) => {
    const started = await startWaiting(env);
    childPid = started.childPid;
    started.parent.kill("SIGKILL");
    await started.parent.output();
    assert.deepEqual(await stillRunning([childPid], 5000), [], "the child outlived its parent");
  });
  assert.deepEqual(left, []);
});
