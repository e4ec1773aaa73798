// The broker over TLS (rediss://): a redis-server with a certificate made for the run by openssl,
// and a program that trusts its CA through DENO_CERT, as an operator would deploy one.

import assert from "node:assert/strict";
import { HAVE_OPENSSL } from "../examples/_redis.ts";
import { HAVE_REDIS, skipRedisSuite, startRedis } from "./_redis.ts";

const PROGRAM = new URL("./fixtures/cluster_tls.ts", import.meta.url).pathname;

/** Runs the fixture against `url`, with `env`; what it printed, parsed. */
async function run(url: string, env: Record<string, string>): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", PROGRAM, url],
    env,
    stdin: "null",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "the program exited with an error");
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

if (!HAVE_REDIS) {
  skipRedisSuite();
} else if (!HAVE_OPENSSL) {
  console.log(
    "Skipping tests/cluster_tls_test.ts: openssl is not on PATH; install the package openssl",
  );
} else {
  Deno.test("Redis over TLS: a queue and a pool work on rediss://, a CA not trusted fails with BrokerError", async () => {
    await using s = await startRedis({ tls: true });
    assert.match(s.url, /^rediss:\/\//);
    assert.deepEqual(await run(s.url, { DENO_CERT: s.caFile! }), { got: 42, square: 49 });
    const refused = await run(s.url, {});
    assert.equal(refused.error, "BrokerError");
    assert.match(String(refused.message), /certificate/);
    assert.equal(await s.cli("PING"), "PONG");
  });
}
