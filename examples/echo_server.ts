// Course 003: a TCP echo server on 127.0.0.1 that serves its clients concurrently (one async
// task per connection here, where the course starts a thread or a process per connection),
// with each reply made in a pool worker. The example runs its own clients on loopback and exits.
//
//   deno task example:echo_server [--start-method=worker|subprocess]

import { currentProcess, Pool } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

const CLIENTS = 5;
const MESSAGES = 3;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Makes the reply to one message (in a pool worker). */
export function reply(text: string): string {
  return `${text} (echoed by ${currentProcess().name})`;
}

async function talk(conn: Deno.Conn, pool: Pool): Promise<void> {
  const buf = new Uint8Array(1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break; // the client closed: len(data) == 0 in the course
      const text = decoder.decode(buf.subarray(0, n));
      console.log(`server got: ${text}`);
      await conn.write(encoder.encode(await pool.apply(reply, [text])));
    }
  } catch (e) {
    console.log(`connection reset: ${(e as Error).message}`);
  } finally {
    conn.close();
  }
}

async function client(id: number, port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buf = new Uint8Array(1024);
  try {
    for (let i = 0; i < MESSAGES; i++) {
      await conn.write(encoder.encode(`client ${id} message ${i}`));
      const n = await conn.read(buf);
      if (n === null) break;
      console.log(`client ${id} received: ${decoder.decode(buf.subarray(0, n))}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    conn.close();
  }
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  await using pool = new Pool({ processes: 2 });
  const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = server.addr as Deno.NetAddr;
  console.log(`echo server on 127.0.0.1:${port} (${method})`);
  const sessions: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of server) {
      const peer = conn.remoteAddr as Deno.NetAddr;
      console.log(`accepted ${peer.hostname}:${peer.port}`);
      sessions.push(talk(conn, pool));
    }
  })();
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i, port)));
  server.close();
  await serving;
  await Promise.all(sessions);
  console.log(`served ${CLIENTS} clients concurrently`);
}
