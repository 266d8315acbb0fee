/**
 * Validation of network configurations (user input: YAML configs, CLI).
 * Every failure is a UserError that names the key, the value found and what
 * is expected; unknown keys are errors, listing the valid keys.
 */
import { UserError } from '../core/errors.js';

/** Reject anything that is not a plain object, and keys outside `valid`. */
export function checkConfigKeys(where: string, config: unknown, valid: readonly string[]): Record<string, unknown> {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new UserError(`${where}: configuration must be an object, got ${JSON.stringify(config)}`);
  }
  const unknown = Object.keys(config).filter((k) => !valid.includes(k));
  if (unknown.length > 0) {
    const s = unknown.length > 1 ? 's' : '';
    throw new UserError(`${where}: unknown key${s} ${unknown.map((k) => `'${k}'`).join(', ')}; valid keys: ${valid.join(', ')}`);
  }
  return config as Record<string, unknown>;
}

/** An integer ≥ min (and even, if asked). */
export function intOption(where: string, key: string, value: unknown, min: number, even = false): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || (even && value % 2 !== 0)) {
    throw new UserError(`${where}: '${key}' must be ${even ? 'an even' : 'an'} integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A finite number > 0. */
export function positiveOption(where: string, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new UserError(`${where}: '${key}' must be a finite number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function boolOption(where: string, key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new UserError(`${where}: '${key}' must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** One of `values`. */
export function enumOption<V extends string>(where: string, key: string, value: unknown, values: readonly V[]): V {
  if (typeof value !== 'string' || !values.includes(value as V)) {
    throw new UserError(`${where}: '${key}' must be one of ${values.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as V;
}
