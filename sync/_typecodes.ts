// Python's typecodes (b B h H i I l L q Q f d) and their explicit names (i8 ... f64): the typed
// array behind each, its range, and how values are checked, read and written.

import { type SharedMemory, sharedMemory } from "../_core/_shm.ts";

/** A Python typecode, or an explicit element type name. */
export type Typecode =
  | "b"
  | "B"
  | "h"
  | "H"
  | "i"
  | "I"
  | "l"
  | "L"
  | "q"
  | "Q"
  | "f"
  | "d"
  | "i8"
  | "u8"
  | "i16"
  | "u16"
  | "i32"
  | "u32"
  | "i64"
  | "u64"
  | "f32"
  | "f64";

/** The JavaScript type that a typecode's elements have: `bigint` for the 64-bit integer codes. */
export type ElementOf<T extends Typecode> = T extends "l" | "L" | "q" | "Q" | "i64" | "u64" ? bigint
  : number;

/** A typed array over shared memory. */
export type SharedTypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

type ArrayCtor = new (
  buffer: SharedMemory,
  offset?: number,
  length?: number,
) => SharedTypedArray;

interface ElementType {
  name: string;
  ctor: ArrayCtor & { BYTES_PER_ELEMENT: number };
  kind: "int" | "bigint" | "float";
  min: number | bigint;
  max: number | bigint;
}

function int(name: string, ctor: ElementType["ctor"], bits: number, signed: boolean): ElementType {
  const half = 2 ** (bits - 1);
  return {
    name,
    ctor,
    kind: "int",
    min: signed ? -half : 0,
    max: signed ? half - 1 : 2 * half - 1,
  };
}

const I64: ElementType = {
  name: "i64",
  ctor: BigInt64Array,
  kind: "bigint",
  min: -(2n ** 63n),
  max: 2n ** 63n - 1n,
};
const U64: ElementType = {
  name: "u64",
  ctor: BigUint64Array,
  kind: "bigint",
  min: 0n,
  max: 2n ** 64n - 1n,
};
const F32: ElementType = { name: "f32", ctor: Float32Array, kind: "float", min: 0, max: 0 };
const F64: ElementType = { name: "f64", ctor: Float64Array, kind: "float", min: 0, max: 0 };
const I8 = int("i8", Int8Array, 8, true);
const U8 = int("u8", Uint8Array, 8, false);
const I16 = int("i16", Int16Array, 16, true);
const U16 = int("u16", Uint16Array, 16, false);
const I32 = int("i32", Int32Array, 32, true);
const U32 = int("u32", Uint32Array, 32, false);

const TYPES: Record<Typecode, ElementType> = {
  b: I8,
  B: U8,
  h: I16,
  H: U16,
  i: I32,
  I: U32,
  l: I64,
  L: U64,
  q: I64,
  Q: U64,
  f: F32,
  d: F64,
  i8: I8,
  u8: U8,
  i16: I16,
  u16: U16,
  i32: I32,
  u32: U32,
  i64: I64,
  u64: U64,
  f32: F32,
  f64: F64,
};

/** The element type of a typecode. */
export function elementType(code: unknown, what: string): ElementType {
  if (typeof code !== "string" || !Object.hasOwn(TYPES, code)) {
    throw new TypeError(
      `${what}: unknown typecode ${JSON.stringify(code)}; expected one of ${
        Object.keys(TYPES).join(" ")
      }`,
    );
  }
  return TYPES[code as Typecode];
}

/** The zero of an element type. */
export function zeroOf(t: ElementType): number | bigint {
  return t.kind === "bigint" ? 0n : 0;
}

/**
 * Checks that `v` fits the element type.
 *
 * @throws {TypeError} for a value of the wrong kind, {RangeError} for one out of range.
 */
export function checkElement(t: ElementType, v: unknown, what: string): number | bigint {
  if (t.kind === "bigint") {
    if (typeof v === "number" && Number.isSafeInteger(v)) v = BigInt(v);
    if (typeof v !== "bigint") {
      throw new TypeError(`${what}: a ${t.name} value must be a bigint, got ${typeof v}`);
    }
  } else if (typeof v !== "number") {
    throw new TypeError(`${what}: a ${t.name} value must be a number, got ${typeof v}`);
  } else if (t.kind === "int" && !Number.isInteger(v)) {
    throw new TypeError(`${what}: a ${t.name} value must be an integer, got ${v}`);
  }
  if (
    t.kind !== "float" && ((v as number) < (t.min as number) || (v as number) > (t.max as number))
  ) {
    throw new RangeError(
      `${what}: ${String(v)} is out of the range of ${t.name} (${t.min} to ${t.max})`,
    );
  }
  return v as number | bigint;
}

/** Reads element `i`, atomically for integers. */
export function load(t: ElementType, a: SharedTypedArray, i: number): number | bigint {
  return t.kind === "float" ? a[i] : Atomics.load(a as Int32Array, i);
}

/** Writes element `i`, atomically for integers. */
export function store(t: ElementType, a: SharedTypedArray, i: number, v: number | bigint): void {
  if (t.kind === "float") (a as Float64Array)[i] = v as number;
  else Atomics.store(a as Int32Array, i, v as number);
}

/** A new typed array of `length` elements in shared memory. */
export function allocate(t: ElementType, length: number): SharedTypedArray {
  return new t.ctor(sharedMemory(length * t.ctor.BYTES_PER_ELEMENT));
}
