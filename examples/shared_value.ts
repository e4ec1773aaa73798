// A counter and an array in shared memory (Python's `Value` and `Array`): four processes add to
// the counter under its lock, and each squares its own slice of the array. The children use
// `get()` and `set()`, which work in every child; where a child shares the memory (any child that
// may use FFI on Linux, or a worker of a parent that does not map) `.value` and `.array` would
// work too, while a child that reaches the objects through its parent has only the awaited calls.
//
//   deno task example:shared_value [--start-method=worker|subprocess]

import { Process, SharedArray, Value } from "../mod.ts";
import { useStartMethodFromArgs } from "./_args.ts";

const ADDS = 1000;

/** Adds 1 to `counter` ADDS times, and squares the elements `k`, `k + 4`, ... of `numbers`. */
export async function work(
  counter: Value<"i">,
  numbers: SharedArray<"d">,
  k: number,
): Promise<void> {
  const lock = counter.getLock();
  for (let i = 0; i < ADDS; i++) {
    using _held = await lock.hold();
    await counter.set((await counter.get()) + 1); // `counter.value += 1` where memory is shared
  }
  for (let i = k; i < numbers.length; i += 4) {
    const x = await numbers.get(i);
    await numbers.set(i, x * x);
  }
}

if (import.meta.main) {
  const method = useStartMethodFromArgs();
  const counter = new Value("i", 0);
  const numbers = new SharedArray("d", Array.from({ length: 10 }, (_, i) => i));
  const ps = [0, 1, 2, 3].map((k) => new Process({ target: work, args: [counter, numbers, k] }));
  ps.forEach((p) => p.start());
  await Promise.all(ps.map((p) => p.join()));
  console.log(`counter: ${counter.value} (expected ${4 * ADDS}, ${method} start method)`);
  console.log(`squares: ${[...numbers.array].join(", ")}`);
}
