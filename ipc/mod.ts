/**
 * Communication between processes: pipes, queues, listeners and managers. (Lands with its own
 * issue.)
 *
 * @module
 */

export * from "./connection.ts";
