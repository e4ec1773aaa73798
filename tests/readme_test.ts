// README's first snippet and its pool snippet run as written in a new project that uses the
// package as README's "Use it in a project" says: an import map entry and a `links` entry that
// points at this checkout.

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const README = Deno.readTextFileSync(`${ROOT}/README.md`);

/** The `ts` code blocks of README, in order. */
function snippets(): string[] {
  return [...README.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/** The deno.json that README gives, with its `links` pointing at this checkout. */
function projectConfig(): string {
  const block = README.match(/```json\n([\s\S]*?)```/)![1];
  const config = JSON.parse(block);
  config.links = [ROOT];
  return JSON.stringify(config);
}

async function runInProject(code: string, startMethod: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "mp-readme-" });
  try {
    await Deno.writeTextFile(`${dir}/deno.json`, projectConfig());
    // the snippet as written, with the start method under test made the default
    const prelude = `import { setStartMethod } from "@mp/multiprocessing";\n` +
      `setStartMethod("${startMethod}");\n`;
    await Deno.writeTextFile(`${dir}/main.ts`, prelude + code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts"],
      cwd: dir,
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return text;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

for (const method of ["worker", "subprocess"]) {
  Deno.test(`README: the first snippet runs in a new project that links the package (${method})`, async () => {
    assert.equal(await runInProject(snippets()[0], method), "hello bob\n0\n");
  });

  Deno.test(`README: the pool snippet runs in a new project that links the package (${method})`, async () => {
    const pool = snippets().find((s) => s.includes('from "@mp/multiprocessing/pool"'))!;
    assert.equal(await runInProject(pool, method), "[ 1, 4, 9 ]\n");
  });
}
