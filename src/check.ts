// The one checker of JSON that comes from elsewhere: a peer's IPC message, the parent's
// configuration, a CA's answer. Each function returns the value narrowed to its type or throws a
// ShapeError naming the field, so a malformed value is named precisely; the caller adds whose it
// was (the peer, the URL).

export type Fields = Record<string, unknown>;

export class ShapeError extends Error {}

/** RFC 8555 §8.1 tokens and RFC 7638 thumbprints are base64url; a token becomes a file name. */
export const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function present(fields: Fields, key: string): unknown {
  const v = fields[key];
  if (v === undefined) throw new ShapeError(`${key} is missing`);
  return v;
}

export function object(value: unknown, what = 'message'): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ShapeError(`${what} is not an object`);
  return value as Fields;
}

export function string(fields: Fields, key: string, max = 1 << 20): string {
  const v = present(fields, key);
  if (typeof v !== 'string') throw new ShapeError(`${key} is not a string`);
  if (v.length > max) throw new ShapeError(`${key} is too long`);
  return v;
}

export function optionalString(fields: Fields, key: string, max = 1 << 20): string | null {
  return fields[key] === undefined || fields[key] === null ? null : string(fields, key, max);
}

export function integer(fields: Fields, key: string): number {
  const v = present(fields, key);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ShapeError(`${key} is not a non-negative integer`);
  return v;
}

export function boolean(fields: Fields, key: string): boolean {
  const v = present(fields, key);
  if (typeof v !== 'boolean') throw new ShapeError(`${key} is not a boolean`);
  return v;
}

export function oneOf<T extends string>(fields: Fields, key: string, allowed: readonly T[]): T {
  const v = present(fields, key);
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ShapeError(`${key} is not one of ${allowed.join(', ')}`);
  return v as T;
}

export function stringArray(fields: Fields, key: string, maxItems = 1000): string[] {
  const v = present(fields, key);
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string')) throw new ShapeError(`${key} is not a list of strings`);
  return v as string[];
}

export function base64url(fields: Fields, key: string, max = 1 << 20): string {
  const v = string(fields, key, max);
  if (!BASE64URL.test(v)) throw new ShapeError(`${key} is not base64url`);
  return v;
}

export function unknownOp(op: unknown): never {
  throw new ShapeError(`unknown operation ${JSON.stringify(op)?.slice(0, 40)}`);
}
