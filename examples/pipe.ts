// Course 004: a pipe's reader stops in one of two ways. First, at EOF: the child closes its copy
// of the sending end, the parent closes its copy of the receiving end, sends five numbers and
// closes the sending end, so the child's recv() rejects with EOFError. Second, with a sentinel:
// the parent sends `null` and the child stops when it sees it.
//
//   deno task example:pipe [--start-method=worker|subprocess]

import { type Connection, EOFError, Pipe, Process } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** Reads until every holder of the sending end has closed it. */
export async function untilEof(left: Connection<number>, right: Connection<number>): Promise<void> {
  left.close();
  for (;;) {
    try {
      console.log(await right.recv()); // EOFError once only this end is left
    } catch (e) {
      if (!(e instanceof EOFError)) throw e;
      console.log("reader 1: EOF, the sending end is closed everywhere");
      break;
    }
  }
  right.close();
}

/** Reads until the `null` sentinel. */
export async function untilSentinel(
  left: Connection<number | null>,
  right: Connection<number | null>,
): Promise<void> {
  left.close();
  for (;;) {
    const n = await right.recv();
    if (n === null) {
      console.log("reader 2: got the sentinel");
      right.close();
      break;
    }
    console.log(n);
  }
}

if (import.meta.main) {
  useStartMethodFromArgs();

  {
    const [left, right] = Pipe<number>();
    const p = new Process({ target: untilEof, args: [left, right] });
    p.start();
    right.close();
    for (let i = 0; i < 5; i++) await left.send(i);
    left.close();
    await p.join();
  }

  {
    const [left, right] = Pipe<number | null>();
    const p = new Process({ target: untilSentinel, args: [left, right] });
    p.start();
    right.close();
    for (let i = 0; i < 3; i++) await left.send(i);
    await left.send(null); // tell the child to stop
    left.close();
    await p.join();
  }
}
