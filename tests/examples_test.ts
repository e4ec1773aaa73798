// Every example, run as `deno task example:<name>` runs it, under both start methods: it exits
// with 0 and tells its story's outcome (one ticket sold, all buns eaten, EOF reached...).

import assert from "node:assert/strict";
import { leftInTmp, METHODS, pidsWithEnv, runDeno, stillRunning } from "./_helpers.ts";
import { HAVE_REDIS, skipRedisSuite } from "./_redis.ts";

const root = new URL("../", import.meta.url);

async function runExample(
  name: string,
  method: string,
  env?: Record<string, string>,
): Promise<string> {
  const { code, output } = await runDeno([
    "run",
    "-A",
    `examples/${name}.ts`,
    `--start-method=${method}`,
  ], env);
  assert.equal(code, 0, `example ${name} (${method}) exited with ${code}:\n${output}`);
  return output;
}

/**
 * What each example must print (every pattern), and what it must never print; `redis`: it needs
 * redis-server, and is skipped (with one line) where that is not on PATH.
 */
const outcomes: Record<string, { says: RegExp[]; never?: RegExp[]; redis?: boolean }> = {
  process_basics: { says: [/hello bob/, /Process-1 exited with 0/] },
  daemon: { says: [/>>>>>> end 4/], never: [/^>>>>>> end 2$/m] }, // start 2 may come too late
  custom_process: { says: [/Apollo exited with 0, Gemini exited with 0/] },
  exit_codes: {
    says: [
      /returns +-> exitCode 0/,
      /throws +-> exitCode 1/,
      /Deno\.exit\(3\) +-> exitCode 3/,
      /terminate\(\) +-> exitCode -15/,
      /kill\(\) +-> exitCode -9/,
    ],
  },
  tickets: { says: [/sold 1 ticket\(s\); 0 left/, /\n0 ticket\(s\) left\n/] },
  semaphore: { says: [/everyone left; 3 places free/], never: [/\(4 inside\)/] },
  event: { says: [/every car passed/] },
  shared_value: { says: [/counter: 4000 \(expected 4000/, /squares: 0, 1, 4, 9/] },
  pipe: { says: [/reader 1: EOF/, /reader 2: got the sentinel/] },
  queue: { says: [/the sixth putNowait was refused/, /the parent got: put by the child/] },
  producer_consumer: { says: [/all buns eaten/] },
  joinable_queue: { says: [/every fruit is sold/] },
  manager_dict: { says: [/end: \{"count":0\}/] },
  listener: { says: [/wrong key refused/, /sum of 3 \+ 4 \+ 5 = 12/] },
  pool_apply: { says: [/result: 16/, /result: 100/] },
  pool_map: { says: [/\n361\n/] },
  pool_callback: { says: [/callback: MainProcess/] },
  cpu_vs_io: { says: [/\| pool +\|/] },
  echo_server: { says: [/served 5 clients concurrently/] },
  signals: { says: [/SIGUSR1 handled \(2\)/, /exitCode 0 /, /exitCode -12 /] },
  cluster: {
    says: [
      /SIGKILLed at \d+\/\d+ items done/,
      /every result is there: 200 squares, each right, in order/,
      /stopped \(SIGTERM\): exit code 0/,
    ],
    never: [/WRONG/],
    redis: true,
  },
};

Deno.test("every example has a task and an expected outcome here", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const tasks = Object.keys(config.tasks).filter((t) => t.startsWith("example:"));
  const files: string[] = [];
  for await (const e of Deno.readDir(new URL("examples/", root))) {
    if (e.name.endsWith(".ts") && !e.name.startsWith("_")) files.push(e.name.slice(0, -3));
  }
  assert.deepEqual(tasks.map((t) => t.slice("example:".length)).sort(), files.sort());
  assert.deepEqual(Object.keys(outcomes).sort(), files.sort());
});

for (const [name, { says, never = [], redis = false }] of Object.entries(outcomes)) {
  if (redis && !HAVE_REDIS) skipRedisSuite();
  Deno.test({
    name: `example ${name} tells its outcome under both start methods`,
    ignore: redis && !HAVE_REDIS,
    async fn() {
      const outputs = await Promise.all(METHODS.map((m) => runExample(name, m)));
      for (const [i, text] of outputs.entries()) {
        const what = `${name} (${METHODS[i]}) printed:\n${text}`;
        for (const re of says) assert.match(text, re, what);
        for (const re of never) assert.doesNotMatch(text, re, what);
      }
    },
  });
}

Deno.test({
  name: "example cluster leaves nothing running and nothing in TMPDIR",
  ignore: !HAVE_REDIS,
  async fn() {
    for (const method of METHODS) {
      let running: number[] = [];
      const left = await leftInTmp(async (env) => {
        const text = await runExample("cluster", method, env);
        // redis-server and both worker commands (the pids it printed; redis-server rewrites
        // its environment), and every process that inherited this TMPDIR, even the children of
        // the SIGKILLed command
        const printed = [...text.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
        assert.equal(printed.length, 3, text);
        running = await stillRunning([...printed, ...pidsWithEnv(`TMPDIR=${env.TMPDIR}`)], 5000);
      });
      assert.deepEqual(running, [], `${method}: still running`);
      assert.deepEqual(left, [], `${method}: left in TMPDIR`);
    }
  },
});

Deno.test("example pool_callback runs the callback in the parent, the task in a child", async () => {
  for (const method of METHODS) {
    const text = await runExample("pool_callback", method);
    const main = text.match(/main: MainProcess, pid (\d+)/)?.[1];
    assert.equal(text.match(/callback: MainProcess, pid (\d+)/)?.[1], main);
    assert.match(text, /child: PoolWorker-\d+/);
  }
});
