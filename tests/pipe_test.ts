import assert from "node:assert/strict";
import { describe, METHODS, pattern, starter, until, within } from "./_helpers.ts";
import { BrokenPipeError, type Connection, EOFError, Pipe, Queue, Value } from "../mod.ts";
import { releaseIdent, state } from "../_core/_state.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Course 004: closes `left`, reads `right` until EOF; exits 0 when it read 0..4. */
export async function readUntilEof(
  left: Connection<number>,
  right: Connection<number>,
): Promise<void> {
  left.close();
  const got: number[] = [];
  for (;;) {
    try {
      got.push(await right.recv());
    } catch (e) {
      if (e instanceof EOFError) break;
      throw e;
    }
  }
  right.close();
  Deno.exit(got.join() === "0,1,2,3,4" ? 0 : 3);
}

/** Sends back each value doubled, until EOF. */
export async function doubler(conn: Connection<number>): Promise<void> {
  for await (const v of conn) await conn.send(v * 2);
  conn.close();
}

/** Sends `n` values and exits without closing its end. */
export async function sendAndExit(w: Connection<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await w.send(i);
}

/** Sends `n` values, then waits until killed. */
export async function sendAndHang(w: Connection<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await w.send(i);
  await new Promise(() => setInterval(() => {}, 1000));
}

/**
 * Reports its ident, sends 16 MiB of bytes, sets `returned` once that send returned, then waits
 * to be killed: marked dead while it streams, it plays a thread that runs on after its death
 * (which can write no pipe or queue, but can set a Value).
 */
export async function identThenSendBig(
  w: Connection,
  out: Queue<number>,
  returned: Value<"i">,
): Promise<void> {
  await out.put(state().self.ident);
  await w.sendBytes(pattern(16 << 20));
  returned.value = 1;
  await new Promise(() => setInterval(() => {}, 1000));
}

/** Says that it begins, then sends 16 MiB of bytes. */
export async function sayThenSendBig(w: Connection, out: Queue<string>): Promise<void> {
  await out.put("sending");
  await w.sendBytes(pattern(16 << 20));
}

/** Receives until EOF, reporting each message ("whole", or what is wrong), then "EOF". */
export async function describeUntilEof(r: Connection, out: Queue<string>): Promise<void> {
  for (;;) {
    let msg: unknown;
    try {
      msg = await r.recv({ timeout: 10_000 });
    } catch (e) {
      await out.put(
        e instanceof EOFError ? "EOF" : `${(e as Error).name}: ${(e as Error).message}`,
      );
      r.close();
      return;
    }
    await out.put(describe(msg, 16 << 20));
  }
}

/** Echoes bytes back (as bytes), once. */
export async function bytesEcho(conn: Connection): Promise<void> {
  const b = await conn.recvBytes();
  await conn.sendBytes(b);
  conn.close();
}

/** Reports how a recv with a timeout and one with a signal end. */
export async function recvTimeouts(conn: Connection<string>): Promise<void> {
  for (const options of [{ timeout: 30 }, { signal: AbortSignal.timeout(30) }]) {
    try {
      await conn.recv(options);
      await conn.send("got something");
    } catch (e) {
      await conn.send((e as Error).name);
    }
  }
  conn.close();
}

const start = starter(module);

// ---- in one process ----------------------------------------------------------------------

Deno.test("Pipe: both ends send and receive, in order; poll() sees what is ready", async () => {
  const [a, b] = Pipe<unknown>();
  assert.equal(await b.poll(), false);
  await a.send({ hello: ["world"] });
  await a.send(2);
  assert.equal(await b.poll(), true);
  assert.deepEqual(await b.recv(), { hello: ["world"] });
  assert.equal(await b.recv(), 2);
  await b.send("back");
  assert.equal(await a.recv(), "back");
  a.close();
  b.close();
  assert.ok(a.closed && b.closed);
});

Deno.test("Pipe.recv() times out with TimeoutError and stops when its signal aborts", async () => {
  const [a, b] = Pipe();
  await assert.rejects(b.recv({ timeout: 20 }), { name: "TimeoutError" });
  const ctl = new AbortController();
  const r = b.recv({ signal: ctl.signal });
  ctl.abort(new Error("stop"));
  await assert.rejects(r, /stop/);
  await a.send(1);
  assert.equal(await b.recv(), 1); // nothing was lost to the aborted recv
  a.close();
  b.close();
});

Deno.test("Pipe.recv() reads what is left, then rejects with EOFError; send() to a closed end throws", async () => {
  const [a, b] = Pipe<number>();
  await a.send(1);
  a.close();
  assert.equal(await b.poll(), true);
  assert.equal(await b.recv(), 1);
  await assert.rejects(b.recv(), EOFError);
  assert.equal(await b.poll(), true);
  await assert.rejects(b.send(2), BrokenPipeError);
  await assert.rejects(a.send(2), TypeError); // closed here
  b.close();
});

Deno.test("Pipe({ duplex: false }): the reader only receives, the writer only sends", async () => {
  const [reader, writer] = Pipe<number>({ duplex: false });
  await assert.rejects(reader.send(1), TypeError);
  await assert.rejects(writer.recv(), TypeError);
  await writer.send(5);
  assert.equal(await reader.recv(), 5);
  writer.close();
  const all: number[] = [];
  for await (const v of reader) all.push(v);
  assert.deepEqual(all, []);
  reader.close();
});

Deno.test("Pipe: sendBytes()/recvBytes(), and a message larger than the buffer", async () => {
  const [a, b] = Pipe({ bufferSize: 4096 });
  await a.sendBytes(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await b.recvBytes(), new Uint8Array([1, 2, 3]));
  const big = new Uint8Array(100_000).map((_, i) => i & 255);
  const [, got] = await Promise.all([a.sendBytes(big), b.recvBytes()]);
  assert.deepEqual(got, big);
  await a.send("text");
  await assert.rejects(b.recvBytes(), TypeError);
  a.close();
  b.close();
});

/**
 * Receives from `reader` what comes after a writer's death: the large message whole or not at
 * all, then 0 (sent by the parent, which holds the writing end too), then EOF once it closes it.
 */
async function wholeOrNoneThenZero(reader: Connection, writer: Connection): Promise<string> {
  const got: string[] = [];
  await within(writer.send(0), 10_000, "a send after the writer's death");
  writer.close();
  for (;;) {
    try {
      got.push(describe(await reader.recv({ timeout: 10_000 }), 16 << 20));
    } catch (e) {
      got.push(e instanceof EOFError ? "EOF" : `${(e as Error).name}: ${(e as Error).message}`);
      return got.join();
    }
  }
}

Deno.test("Pipe: a writer marked dead mid-message whose thread runs on leaves no partial or phantom message (worker)", async () => {
  const [reader, writer] = Pipe({ duplex: false, bufferSize: 65536 });
  const out = new Queue<number>();
  const returned = new Value("i", 0, { lock: false });
  const p = start("worker", identThenSendBig, [writer, out, returned]);
  const ident = await out.get({ timeout: 10_000 });
  assert.equal(await reader.poll(10_000), true); // its first piece is in; the rest waits for room
  releaseIdent(state().table, ident); // dead to every other process, yet its thread runs on
  const got = await wholeOrNoneThenZero(reader, writer);
  assert.ok(/^(whole,)?0,EOF$/.test(got), `the reader got ${got}`);
  await until(() => returned.value === 1, "the dead writer's send() returning");
  await assert.rejects(reader.recv({ timeout: 100 }), EOFError); // nothing came after its death
  p.kill();
  await p.join();
  reader.close();
});

// ---- across processes --------------------------------------------------------------------

for (const method of METHODS) {
  Deno.test(`Pipe [${method}]: the child's recv() ends with EOFError once every holder of the sending end closed it`, async () => {
    const [left, right] = Pipe<number>();
    const p = start(method, readUntilEof, [left, right]);
    right.close();
    for (let i = 0; i < 5; i++) await left.send(i);
    left.close();
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Pipe [${method}]: round trips to a child, which stops at EOF`, async () => {
    const [a, b] = Pipe<number>();
    const p = start(method, doubler, [b]);
    b.close();
    for (let i = 0; i < 100; i++) {
      await a.send(i);
      assert.equal(await a.recv(), i * 2);
    }
    a.close();
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Pipe [${method}]: EOF once the child holding the other end exits without closing it`, async () => {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const p = start(method, sendAndExit, [writer, 3]);
    writer.close();
    const got: number[] = [];
    for await (const v of reader) got.push(v);
    assert.deepEqual(got, [0, 1, 2]);
    await p.join();
    reader.close();
  });

  Deno.test(`Pipe [${method}]: EOF once the child holding the other end is killed`, async () => {
    const [reader, writer] = Pipe<number>({ duplex: false });
    const p = start(method, sendAndHang, [writer, 3]);
    writer.close();
    for (let i = 0; i < 3; i++) assert.equal(await reader.recv(), i);
    assert.equal(await reader.poll(50), false);
    p.kill();
    await p.join();
    await assert.rejects(reader.recv({ timeout: 5000 }), EOFError);
    reader.close();
  });

  Deno.test(`Pipe [${method}]: a writer killed mid-message leaves no partial or phantom message`, async () => {
    for (let round = 0; round < 12; round++) {
      const [reader, writer] = Pipe({ duplex: false, bufferSize: 65536 });
      const out = new Queue<string>();
      const c = start(method, describeUntilEof, [reader, out]);
      const p = start(method, sayThenSendBig, [writer, out]);
      reader.close();
      assert.equal(await out.get({ timeout: 10_000 }), "sending");
      await new Promise((r) => setTimeout(r, round)); // the kill lands at another moment each round
      p.kill();
      await p.join();
      // The parent holds the writing end too, and goes on with it.
      await within(writer.send(0), 10_000, "a send after the writer's death");
      writer.close();
      const got: string[] = [];
      while (!/EOF|Error/.test(got.at(-1) ?? "")) got.push(await out.get({ timeout: 20_000 }));
      await c.join();
      assert.ok(/^(whole,)?0,EOF$/.test(got.join()), `round ${round}: the reader got ${got}`);
    }
  });

  Deno.test(`Pipe [${method}]: a child's recv() times out and aborts`, async () => {
    const [a, b] = Pipe<string>();
    const p = start(method, recvTimeouts, [b]);
    b.close();
    assert.equal(await a.recv(), "TimeoutError");
    assert.equal(await a.recv(), "TimeoutError");
    await p.join();
    await assert.rejects(a.recv(), EOFError);
    a.close();
  });

  Deno.test(`Pipe [${method}]: 64 MiB of bytes pass intact both ways`, async () => {
    const [a, b] = Pipe();
    const p = start(method, bytesEcho, [b]);
    b.close();
    const big = new Uint8Array(64 << 20);
    for (let i = 0; i < big.length; i += 997) big[i] = i & 255;
    await a.sendBytes(big);
    const back = await a.recvBytes();
    assert.equal(back.length, big.length);
    assert.ok(back.every((v, i) => v === big[i]), "the bytes were damaged");
    await p.join();
    a.close();
  });
}

Deno.test("Pipe: bad options throw TypeError or RangeError naming the option", () => {
  const bad = (options: unknown, name: string, message: RegExp) =>
    assert.throws(() => Pipe(options as { duplex?: boolean }), { name, message });
  bad(
    { bufferSize: "64" },
    "TypeError",
    /^Cannot create pipe: bufferSize must be an integer, got "64"/,
  );
  bad({ bufferSize: 0 }, "RangeError", /bufferSize must be from 1 to 1073741824, got 0/);
  bad({ bufferSize: 1.5 }, "TypeError", /bufferSize must be an integer/);
  bad({ duplex: "no" }, "TypeError", /^Cannot create pipe: duplex must be true or false, got "no"/);
});
