// What more than one bench shares: starting a child, a queue's producer and consumer, the echoing
// child and the pipe round trip, and the child that increments a Value under a lock.

import {
  type Barrier,
  type Connection,
  type Lock,
  Pipe,
  Process,
  type Queue,
  type StartMethod,
  type Value,
} from "../mod.ts";
import { coldWarm, type Sample } from "./_measure.ts";

/** This module, where the children below are exported. */
export const CHILDREN: string = import.meta.url;

/** Starts `target(...args)`, exported from `module`, as a child. */
export function start(
  target: (...a: never[]) => unknown,
  args: unknown[],
  method: StartMethod,
  module: string,
): Process {
  const p = new Process({
    target: target as (...a: unknown[]) => void,
    args,
    startMethod: method,
    module,
  });
  p.start();
  return p;
}

/** For each size, waits for the go, then hands `0..n-1` to `put`, one at a time. */
export async function feed(
  go: Queue<number>,
  sizes: number[],
  put: (i: number) => Promise<unknown>,
): Promise<void> {
  for (const n of sizes) {
    await go.get();
    for (let i = 0; i < n; i++) await put(i);
  }
}

/** For each size, waits for the go, then puts `0..n-1`. */
export function producer(q: Queue<number>, go: Queue<number>, sizes: number[]): Promise<void> {
  return feed(go, sizes, (i) => q.put(i));
}

/** Takes `n` items from `q`; microseconds per item from the first to the last. */
export async function take(q: Queue<number>, n: number): Promise<number> {
  await q.get();
  const t0 = performance.now();
  for (let i = 1; i < n; i++) await q.get();
  return (performance.now() - t0) * 1000 / (n - 1);
}

/** For each size, takes `n` items and reports microseconds per item, first to last. */
export async function consumer(
  q: Queue<number>,
  out: Queue<number>,
  sizes: number[],
): Promise<void> {
  for (const n of sizes) await out.put(await take(q, n));
}

/** Sends back what it receives, until EOF. */
export async function echo(conn: Connection<number>): Promise<void> {
  for await (const v of conn) await conn.send(v);
  conn.close();
}

/** For each size, between the barriers: `n` times `v.value += 1` under `lock`. */
export async function increment(
  go: Barrier,
  done: Barrier,
  sizes: number[],
  lock: Lock,
  v: Value<"i">,
): Promise<void> {
  for (const n of sizes) {
    await go.wait();
    for (let i = 0; i < n; i++) {
      await lock.acquire();
      v.value += 1;
      lock.release();
    }
    await done.wait();
  }
}

/** Round trips between this process and an echoing child; microseconds per round trip. */
export async function roundTrip(method: StartMethod, n: number): Promise<Sample> {
  const [a, b] = Pipe<number>();
  const p = start(echo, [b], method, CHILDREN);
  b.close();
  const trips = async (k: number): Promise<void> => {
    for (let i = 0; i < k; i++) {
      await a.send(i);
      await a.recv();
    }
  };
  const sample = await coldWarm({
    warmUp: () => trips(4),
    cold: () => trips(1),
    coldPer: 1,
    run: () => trips(n),
    per: n,
  });
  a.close();
  await p.join();
  return sample;
}
