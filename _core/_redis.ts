// The one place where the concepts of one machine reach their Redis backends, in ../cluster/:
// a queue's core on Redis (loaded with its queue class, as a handle revived in a child may need
// it at once), and the pool transport and manager, loaded only when a broker is given (a
// program without one never loads the Redis client).

export { RedisQueueCore, type RedisQueueSpec } from "../cluster/_queue_core.ts";
export type { Link } from "../cluster/_client.ts";
export type { RedisManager } from "../cluster/_manager_redis.ts";

/** The manager on Redis. */
export type RedisManagerModule = typeof import("../cluster/_manager_redis.ts");
/** The pool transport on Redis. */
export type RedisPoolModule = typeof import("../cluster/_pool_transport.ts");

let manager: Promise<RedisManagerModule> | undefined;

/** Loads the manager on Redis (and the Redis client); every call of a Redis proxy asks for it. */
export function loadRedisManager(): Promise<RedisManagerModule> {
  return manager ??= import("../cluster/_manager_redis.ts");
}

/** Loads the pool transport on Redis (and the Redis client). */
export function loadRedisPool(): Promise<RedisPoolModule> {
  return import("../cluster/_pool_transport.ts");
}
