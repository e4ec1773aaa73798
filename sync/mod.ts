/**
 * Synchronization across processes: locks, semaphores, events, conditions, barriers and shared
 * values, kept in shared memory. (Lands with its own issue.)
 *
 * @module
 */

export {};
