/**
 * Communication between processes: pipes, queues, listeners and managers. (Lands with its own
 * issue.)
 *
 * @module
 */

export * from "./connection.ts";
export * from "./listener.ts";
export * from "./manager.ts";
export * from "./pipe.ts";
export * from "./queue.ts";
export * from "./simple_queue.ts";
export * from "./joinable_queue.ts";
