/**
 * Communication between processes: pipes, queues, listeners and managers. (Lands with its own
 * issue.)
 *
 * @module
 */

export * from "./connection.ts";
export * from "./listener.ts";
export * from "./manager.ts";
export * from "./proxy.ts";
export * from "./dict_proxy.ts";
export * from "./list_proxy.ts";
export * from "./namespace_proxy.ts";
export * from "./lock_proxy.ts";
export * from "./queue_proxy.ts";
export * from "./pipe.ts";
export * from "./queue.ts";
export * from "./simple_queue.ts";
export * from "./joinable_queue.ts";
