/**
 * Pools of worker processes. (Lands with its own issue.)
 *
 * @module
 */

export {};
