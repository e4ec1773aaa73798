// Checks of the options and arguments that the public API takes, shared by process/, ipc/ and
// pool/, with one kind of error for one kind of mistake: TypeError for a value of the wrong type,
// RangeError for a number out of range. Each message says what failed (`what`), what was
// expected and what was given, e.g. "Cannot create process: name must be a string, got 5 (a
// number)".

/** `v` as a message shows it: `5 (a number)`, `"64" (a string)`, `null`, `an object`... */
export function shown(v: unknown): string {
  if (v === null) return "null";
  if (v === undefined) return "undefined";
  switch (typeof v) {
    case "string":
      return `${JSON.stringify(v)} (a string)`;
    case "number":
      return `${v} (a number)`;
    case "bigint":
      return `${v}n (a bigint)`;
    case "boolean":
      return `${v} (a boolean)`;
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
  }
  return Array.isArray(v) ? "an array" : `an object (${Object.prototype.toString.call(v)})`;
}

/** Throws a TypeError: `${what}: ${name} must be ${expected}, got ${shown(value)}`. */
export function wrongType(what: string, name: string, expected: string, value: unknown): never {
  throw new TypeError(`${what}: ${name} must be ${expected}, got ${shown(value)}`);
}

/** Checks that `value`, when given, is a string. */
export function checkString(value: unknown, what: string, name: string): string | undefined {
  if (value !== undefined && typeof value !== "string") wrongType(what, name, "a string", value);
  return value;
}

/** Checks that `value`, when given, is a boolean. */
export function checkBoolean(value: unknown, what: string, name: string): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    wrongType(what, name, "true or false", value);
  }
  return value;
}

/**
 * Checks that `value`, when given, is an integer from `min` to `max`.
 *
 * @throws {TypeError} when it is not an integer (a string, NaN, Infinity, 1.5...).
 * @throws {RangeError} when it is below `min` or above `max`.
 */
export function checkInteger(
  value: unknown,
  what: string,
  name: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    wrongType(what, name, "an integer", value);
  }
  if (value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new RangeError(`${what}: ${name} must be ${range}, got ${value}`);
  }
  return value;
}

/**
 * Checks a timeout in milliseconds: undefined (forever), a number >= 0, or Infinity.
 *
 * @throws {TypeError} when it is not a number.
 * @throws {RangeError} when it is negative or NaN.
 */
export function checkTimeout(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "number") wrongType(what, "timeout", "a number of ms", value);
  if (!(value >= 0)) {
    throw new RangeError(`${what}: timeout must be a number >= 0 (ms), got ${value}`);
  }
  return value;
}

/**
 * Checks that `value` is iterable (an array, a Set, a generator...), or also async iterable
 * when `orAsync`.
 */
export function checkIterable(value: unknown, what: string, name: string, orAsync = false): void {
  const has = (key: symbol) =>
    value !== null && value !== undefined &&
    typeof (value as Record<symbol, unknown>)[key] === "function";
  if (!has(Symbol.iterator) && !(orAsync && has(Symbol.asyncIterator))) {
    const kinds = orAsync ? "iterable or async iterable" : "iterable";
    wrongType(what, name, `${kinds} (an array, a Set, a generator...)`, value);
  }
}

/** The href of a `module` option: a URL, or a string that parses as an absolute one. */
export function checkModuleUrl(module: unknown, what: string): string {
  if (module instanceof URL) return module.href;
  if (typeof module === "string" && URL.canParse(module)) return module;
  return wrongType(what, "module", "a URL such as `import.meta.url`", module);
}

/** Checks a start method name; used by every API that takes one. */
export function checkStartMethod(method: unknown): "worker" | "subprocess" {
  if (method !== "worker" && method !== "subprocess") {
    throw new TypeError(
      `Cannot use start method '${String(method)}': expected "worker" or "subprocess"`,
    );
  }
  return method;
}
