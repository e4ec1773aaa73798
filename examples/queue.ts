// Course 000: a Queue(5) holds five items; the sixth putNowait() is refused with QueueFullError
// (Python's queue.Full), and getNowait() on an empty queue with QueueEmptyError. Then a child
// puts an item that the parent gets, as in course 003.
//
//   deno task example:queue [--start-method=worker|subprocess]

import { Process, Queue, QueueEmptyError, QueueFullError } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

/** Puts one item from a child. */
export async function producer(q: Queue<string>): Promise<void> {
  await q.put("put by the child process");
}

if (import.meta.main) {
  useStartMethodFromArgs();
  const q = new Queue<number>(5);
  for (const n of [111, 222, 333, 444, 555]) q.putNowait(n);
  console.log("full:", q.full(), "qsize:", q.qsize());
  try {
    q.putNowait(666);
  } catch (e) {
    if (!(e instanceof QueueFullError)) throw e;
    console.log("the sixth putNowait was refused: Full");
  }
  for (let i = 0; i < 5; i++) console.log(q.getNowait());
  console.log("empty:", q.empty());
  try {
    q.getNowait();
  } catch (e) {
    if (!(e instanceof QueueEmptyError)) throw e;
    console.log("getNowait on an empty queue: Empty");
  }

  const shared = new Queue<string>();
  const p = new Process({ target: producer, args: [shared] });
  p.start();
  console.log("the parent got:", await shared.get());
  await p.join();
}
