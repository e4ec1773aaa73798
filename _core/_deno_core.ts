// Deno's internal `core` object (`Deno[Deno.internal].core`), for the few of its functions the
// package uses where the public API costs measurably more: structured clone to bytes
// (./_clone.ts) and timers (./_timers.ts). Each user checks that what it needs is there and
// falls back to the public API where it is not (another Deno).

/** The internal core object, or `undefined` where this Deno has none. */
export const denoCore: Record<string, unknown> | undefined = (
  Deno as unknown as Record<symbol, { core?: Record<string, unknown> } | undefined>
)[(Deno as unknown as { internal: symbol }).internal]?.core;
