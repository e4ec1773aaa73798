// A server and a client that share an authkey (Python's `multiprocessing.connection.Listener`
// and `Client`): the client, a child process, first tries a wrong key and is refused, then
// connects with the right one and asks the server to add numbers; the server keeps serving.
//
//   deno task example:listener [--start-method=worker|subprocess] [--tcp]

import { type Address, AuthenticationError, Client, Listener, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** The client: a wrong key first, then the right one. */
export async function client(address: Address, authkey: string): Promise<void> {
  try {
    await Client(address, { authkey: "guessed" });
    console.log("client: a wrong key was accepted?!");
  } catch (e) {
    if (!(e instanceof AuthenticationError)) throw e;
    console.log(`client: wrong key refused (${e.name})`);
  }
  using conn = await Client<number[] | number>(address, { authkey });
  for (const numbers of [[1, 2], [3, 4, 5]]) {
    await conn.send(numbers);
    console.log(`client: sum of ${numbers.join(" + ")} = ${await conn.recv()}`);
  }
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const authkey = "secret password";
  await using listener = new Listener({
    address: Deno.args.includes("--tcp") ? { hostname: "127.0.0.1", port: 0 } : undefined,
    authkey,
  });
  console.log(`server: listening at ${JSON.stringify(listener.address)}`);
  const p = new Process({ target: client, args: [listener.address, authkey] });
  p.start();
  using conn = await listener.accept<number[] | number>();
  console.log(`server: accepted a client that knows the key (${method} child)`);
  for await (const numbers of conn) {
    await conn.send((numbers as number[]).reduce((a, b) => a + b, 0));
  }
  console.log("server: the client closed the connection");
  await p.join();
}
