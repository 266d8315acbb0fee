import { UserError } from '../core/errors.js';

/** Parsers for numeric CLI options, with messages naming the option and the value. */
export function parsePositive(name: string): (v: string) => number {
  return (v) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new UserError(`${name} must be a positive number, got '${v}'`);
    return x;
  };
}

export function parseCount(name: string, min = 1): (v: string) => number {
  return (v) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new UserError(`${name} must be an integer ≥ ${min}, got '${v}'`);
    return x;
  };
}

/** A seed: a safe integer, since larger ones would silently collide as doubles. */
export function parseSeed(v: string): number {
  const x = Number(v);
  if (!Number.isSafeInteger(x) || x < 0) throw new UserError(`--seed must be an integer in 0..${Number.MAX_SAFE_INTEGER}, got '${v}'`);
  return x;
}

/** A comma-separated list of positive numbers, e.g. "1,1.5,2.25". */
export function parseLadder(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (parts.length < 2) throw new UserError(`--ladder needs at least two comma-separated temperatures, got '${v}'`);
  return parts.map((p) => parsePositive('every --ladder temperature')(p));
}
