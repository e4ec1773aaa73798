// Checks of the numbers that sync/ constructors and methods take, with one kind of error for one
// kind of mistake: TypeError for what is not a whole number, RangeError for one out of range.

function shown(n: unknown): string {
  return typeof n === "string" ? JSON.stringify(n) : String(n);
}

/**
 * Checks that `n` is an integer from `min` to `max`.
 *
 * @param what names the number in the message, e.g. "Cannot create Barrier: parties".
 * @throws {TypeError} when `n` is not an integer (a string, NaN, Infinity, 1.5...).
 * @throws {RangeError} when it is below `min` or above `max`.
 */
export function checkInteger(n: unknown, what: string, min: number, max: number): number {
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw new TypeError(`${what} must be an integer, got ${shown(n)}`);
  }
  if (n < min || n > max) {
    throw new RangeError(`${what} must be from ${min} to ${max}, got ${n}`);
  }
  return n;
}
