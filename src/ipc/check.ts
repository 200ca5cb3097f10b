// Small checks for messages received from a peer. Each returns the value narrowed to its type or
// throws with the field's name, so a malformed message is named precisely in the error.

export type Fields = Record<string, unknown>;

export function object(value: unknown, what = 'message'): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Fields;
}

export function string(fields: Fields, key: string, max = 1 << 20): string {
  const v = fields[key];
  if (typeof v !== 'string') throw new Error(`${key} is not a string`);
  if (v.length > max) throw new Error(`${key} is too long`);
  return v;
}

export function optionalString(fields: Fields, key: string, max = 1 << 20): string | null {
  return fields[key] === undefined || fields[key] === null ? null : string(fields, key, max);
}

export function integer(fields: Fields, key: string): number {
  const v = fields[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`${key} is not a non-negative integer`);
  return v;
}

export function boolean(fields: Fields, key: string): boolean {
  const v = fields[key];
  if (typeof v !== 'boolean') throw new Error(`${key} is not a boolean`);
  return v;
}

export function oneOf<T extends string>(fields: Fields, key: string, allowed: readonly T[]): T {
  const v = fields[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new Error(`${key} is not one of ${allowed.join(', ')}`);
  return v as T;
}

export function stringArray(fields: Fields, key: string, maxItems = 1000): string[] {
  const v = fields[key];
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string')) throw new Error(`${key} is not a list of strings`);
  return v as string[];
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function base64url(fields: Fields, key: string, max = 1 << 20): string {
  const v = string(fields, key, max);
  if (!BASE64URL.test(v)) throw new Error(`${key} is not base64url`);
  return v;
}

export function unknownOp(op: unknown): never {
  throw new Error(`unknown operation ${JSON.stringify(op)?.slice(0, 40)}`);
}
