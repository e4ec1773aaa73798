import assert from "node:assert/strict";
import { exitOnError, METHODS } from "./_helpers.ts";
import {
  type Address,
  AuthenticationError,
  Client,
  type Connection,
  EOFError,
  Listener,
  Manager,
  type NamespaceProxy,
  Process,
} from "../mod.ts";

const module = import.meta.url;

// ---- targets, run in the children --------------------------------------------------------

/** Connects with `authkey`, sends a greeting, then doubles the number it receives. */
export async function clientChild(address: Address, authkey: string): Promise<void> {
  using conn = await Client<string | number>(address, { authkey });
  await conn.send(`hello from ${Deno.pid}`);
  const n = await conn.recv() as number;
  await conn.send(n * 2);
}

/** Connects with a small maxMessageSize; exits 0 once a longer message is refused. */
export async function refuseLongMessage(address: Address): Promise<void> {
  using conn = await Client(address, { maxMessageSize: 1024 });
  await conn.send("ready");
  await exitOnError(RangeError, () => conn.recv());
}

/** Tries a wrong key (exits 3 unless refused), then the right one. */
export async function wrongThenRight(address: Address, authkey: string): Promise<void> {
  try {
    (await Client(address, { authkey: authkey + "x" })).close();
    Deno.exit(3);
  } catch (e) {
    if (!(e instanceof AuthenticationError)) Deno.exit(4);
  }
  using conn = await Client(address, { authkey });
  await conn.send("right");
  await conn.recv().catch(() => {}); // until the server closes
}

// ---- helpers -----------------------------------------------------------------------------

async function pair<T>(
  listener: Listener,
  authkey?: string,
): Promise<[Connection<T>, Connection<T>]> {
  const [server, client] = await Promise.all([
    listener.accept<T>(),
    Client<T>(listener.address, { authkey }),
  ]);
  return [server, client];
}

/** Connects to a listener without an authkey as a raw socket, through the handshake. */
async function rawNoAuth(path: string): Promise<Deno.UnixConn> {
  const conn = await Deno.connect({ transport: "unix", path });
  const noAuth = new Uint8Array(12); // the server's #NOAUTH# frame...
  for (let at = 0; at < noAuth.length;) at += (await conn.read(noAuth.subarray(at)))!;
  await conn.write(noAuth); // ...sent back: the client goes without a key too
  return conn;
}

/** This OS process's virtual memory size, in bytes. */
function virtualBytes(): number {
  const line = Deno.readTextFileSync("/proc/self/status").split("\n").find((l) =>
    l.startsWith("VmSize:")
  );
  return Number(line!.split(/\s+/)[1]) * 1024;
}

// ---- tests -------------------------------------------------------------------------------

Deno.test("Listener: values and bytes go both ways, and recv() ends with EOFError", async () => {
  await using listener = new Listener({ authkey: "k" });
  const [server, client] = await pair<unknown>(listener, "k");
  await client.send({ a: [1, 2], m: new Map([["x", new Date(0)]]) });
  assert.deepEqual(await server.recv(), { a: [1, 2], m: new Map([["x", new Date(0)]]) });
  await server.sendBytes(new Uint8Array([1, 2, 3]));
  assert.deepEqual(await client.recvBytes(), new Uint8Array([1, 2, 3]));
  const big = new Uint8Array(8 << 20).fill(7);
  await client.sendBytes(big);
  assert.deepEqual(await server.recvBytes(), big);
  assert.equal(await server.poll(), false);
  await client.send("last");
  client.close();
  assert.equal(client.closed, true);
  const got: unknown[] = [];
  for await (const v of server) got.push(v);
  assert.deepEqual(got, ["last"]);
  await assert.rejects(server.recv(), EOFError);
  server.close();
});

Deno.test("Listener: a wrong authkey is refused and the listener keeps serving", async () => {
  await using listener = new Listener({ authkey: "right" });
  const accepted = listener.accept();
  await assert.rejects(Client(listener.address, { authkey: "wrong" }), AuthenticationError);
  await assert.rejects(Client(listener.address), AuthenticationError);
  using client = await Client(listener.address, { authkey: "right" });
  using server = await accepted;
  await client.send(1);
  assert.equal(await server.recv(), 1);
});

Deno.test("Listener: a silent or garbled client holds up nobody", async () => {
  await using listener = new Listener({ authkey: "k" });
  const path = listener.address as string;
  const accepted = listener.accept();
  const silent = await Deno.connect({ transport: "unix", path });
  const garbled = await Deno.connect({ transport: "unix", path });
  await garbled.write(new Uint8Array([255, 255, 255, 127, 1, 2, 3]));
  using client = await Client(path, { authkey: "k" });
  using server = await accepted;
  await client.send("through");
  assert.equal(await server.recv(), "through");
  silent.close();
  garbled.close();
});

Deno.test("Listener: a frame header claiming 4 GiB is refused at once, only that connection closes, and nothing is reserved", async () => {
  await using listener = new Listener();
  const accepted = listener.accept();
  const raw = await rawNoAuth(listener.address as string);
  using server = await accepted;
  const before = virtualBytes();
  // A frame length of 2**32 - 1 (a tag byte and a message of 4294967294 bytes), the tag byte.
  await raw.write(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0]));
  await assert.rejects(
    server.recv({ timeout: 5000 }),
    (e: Error) => e instanceof RangeError && /4294967294 bytes.*maxMessageSize/.test(e.message),
  );
  assert.ok(virtualBytes() - before < 256 << 20, "the claimed length was reserved");
  assert.equal(await raw.read(new Uint8Array(1)), null, "the connection was not closed");
  raw.close();
  await assert.rejects(server.recv(), RangeError); // it stays refused
  using client = await Client<string>(listener.address);
  using next = await listener.accept<string>();
  await client.send("still serving");
  assert.equal(await next.recv(), "still serving");
});

Deno.test("Listener: a frame under maxMessageSize takes memory only as its bytes arrive", async () => {
  await using listener = new Listener();
  const raws: Deno.UnixConn[] = [];
  const servers: Connection[] = [];
  const before = virtualBytes();
  for (let i = 0; i < 16; i++) {
    const accepted = listener.accept();
    raws.push(await rawNoAuth(listener.address as string));
    servers.push(await accepted);
    await raws[i].write(new Uint8Array([0, 0, 0xc0, 0x03, 0])); // 60 MiB claimed, none sent
  }
  assert.equal(await servers[15].poll(100), false);
  assert.ok(virtualBytes() - before < 256 << 20, "16 x 60 MiB claimed were reserved");
  for (const c of [...raws, ...servers]) c.close();
});

Deno.test("Listener and Client: maxMessageSize caps what each side accepts", async () => {
  await using listener = new Listener({ authkey: "k", maxMessageSize: 4096 });
  const accepted = listener.accept<Uint8Array>();
  using client = await Client<Uint8Array>(listener.address, { authkey: "k" });
  using server = await accepted;
  await client.sendBytes(new Uint8Array(4000));
  assert.equal((await server.recvBytes()).length, 4000);
  await client.sendBytes(new Uint8Array(5000));
  await assert.rejects(
    server.recvBytes(),
    (e: Error) => e instanceof RangeError && /4096/.test(e.message),
  );

  const accepted2 = listener.accept<Uint8Array>();
  using small = await Client<Uint8Array>(listener.address, { authkey: "k", maxMessageSize: 2048 });
  using server2 = await accepted2;
  await server2.sendBytes(new Uint8Array(2000));
  assert.equal((await small.recvBytes()).length, 2000);
  await server2.sendBytes(new Uint8Array(4000));
  await assert.rejects(
    small.recvBytes(),
    (e: Error) => e instanceof RangeError && /2048/.test(e.message),
  );
  await assert.rejects(small.sendBytes(new Uint8Array(1)), RangeError);

  assert.throws(() => new Listener({ maxMessageSize: 0 }), RangeError);
  await assert.rejects(Client(listener.address, { maxMessageSize: -1 }), RangeError);
});

Deno.test("Listener: a client with a key refuses a server without one", async () => {
  await using listener = new Listener();
  const accepted = listener.accept();
  await assert.rejects(Client(listener.address, { authkey: "k" }), AuthenticationError);
  using client = await Client(listener.address);
  using server = await accepted;
  await server.send("no key");
  assert.equal(await client.recv(), "no key");
});

Deno.test("Listener: its Unix socket is readable by its owner alone and removed by close()", async () => {
  const listener = new Listener({ authkey: "k" });
  const path = listener.address as string;
  assert.equal(typeof path, "string");
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  listener.close();
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
  await assert.rejects(listener.accept(), /closed/);

  const dir = Deno.makeTempDirSync();
  const own = `${dir}/mine.sock`;
  await using named = new Listener({ address: own, authkey: "k" });
  assert.equal(Deno.statSync(own).mode! & 0o777, 0o600);
  await named[Symbol.asyncDispose]();
  assert.throws(() => Deno.statSync(own), Deno.errors.NotFound);
  Deno.removeSync(dir);
});

Deno.test("Listener: TCP with port 0 reports the port it got", async () => {
  await using listener = new Listener({
    address: { hostname: "127.0.0.1", port: 0 },
    authkey: "k",
  });
  const address = listener.address as { hostname: string; port: number };
  assert.ok(address.port > 0);
  const [server, client] = await pair<string>(listener, "k");
  await server.send("over tcp");
  assert.equal(await client.recv(), "over tcp");
  server.close();
  client.close();
});

Deno.test("Listener: accept(), recv() and poll() stop at a signal or a timeout", async () => {
  await using listener = new Listener({ authkey: "k" });
  const ac = new AbortController();
  const accepting = listener.accept({ signal: ac.signal });
  ac.abort(new Error("stop"));
  await assert.rejects(accepting, /stop/);
  const [server, client] = await pair<number>(listener, "k");
  await assert.rejects(server.recv({ timeout: 20 }), { name: "TimeoutError" });
  assert.equal(await server.poll(20), false);
  setTimeout(() => client.send(5), 10);
  assert.equal(await server.poll(2000), true);
  assert.equal(await server.recv(), 5);
  await assert.rejects(server.recvBytes({ signal: AbortSignal.abort() }), { name: "AbortError" });
  server.close();
  client.close();
  await assert.rejects(server.send(1), TypeError);
});

Deno.test("Listener: a manager proxy travels over a connection and works on the other side", async () => {
  await using manager = await Manager.start();
  const ns = await manager.namespace({ x: 1 });
  await using listener = new Listener({ authkey: "k" });
  const [server, client] = await pair<NamespaceProxy<{ x: number }>>(listener, "k");
  await client.send(ns);
  const copy = await server.recv();
  await copy.set("x", 2);
  assert.equal(await ns.get("x"), 2);
  await assert.rejects(client.send((() => {}) as never), TypeError);
  server.close();
  client.close();
});

for (const method of METHODS) {
  Deno.test(`Listener: a ${method} child connects as a Client with the authkey`, async () => {
    await using listener = new Listener({ authkey: "secret" });
    const p = new Process({
      target: clientChild,
      args: [listener.address, "secret"],
      module,
      startMethod: method,
    });
    p.start();
    using conn = await listener.accept<string | number>();
    assert.match(await conn.recv() as string, /^hello from \d+$/);
    await conn.send(21);
    assert.equal(await conn.recv(), 42);
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Listener: a ${method} child's Client refuses a message longer than its maxMessageSize`, async () => {
    await using listener = new Listener();
    const p = new Process({
      target: refuseLongMessage,
      args: [listener.address],
      module,
      startMethod: method,
    });
    p.start();
    using conn = await listener.accept<string | Uint8Array>();
    assert.equal(await conn.recv(), "ready");
    await conn.sendBytes(new Uint8Array(2000));
    await p.join();
    assert.equal(p.exitCode, 0);
  });

  Deno.test(`Listener: a ${method} child's wrong key is refused, its right key accepted`, async () => {
    await using listener = new Listener({ address: { port: 0 }, authkey: "secret" });
    const p = new Process({
      target: wrongThenRight,
      args: [listener.address, "secret"],
      module,
      startMethod: method,
    });
    p.start();
    const conn = await listener.accept();
    assert.equal(await conn.recv(), "right");
    conn.close();
    await p.join();
    assert.equal(p.exitCode, 0);
  });
}

Deno.test("Listener: a bad authkey throws TypeError or RangeError", async () => {
  assert.throws(() => new Listener({ authkey: "" }), {
    name: "RangeError",
    message: /authkey must not be empty/,
  });
  assert.throws(() => new Listener({ authkey: 5 as unknown as string }), {
    name: "TypeError",
    message: /authkey must be a string or a Uint8Array, got 5 \(a number\)/,
  });
  await assert.rejects(Client("/nonexistent/sock", { authkey: new Uint8Array() }), {
    name: "RangeError",
  });
});
