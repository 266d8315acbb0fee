import { readFileSync } from 'node:fs';
import { fsReason } from '../core/atomic.js';
import { UserError } from '../core/errors.js';

/**
 * Reads a JSON file the package wrote (progress.json, metrics.json, …). A
 * truncated or edited file is a UserError naming it and what it is, not a
 * SyntaxError with a stack trace. `hint` says what the user can do.
 */
export function readJsonFile<T>(path: string, what: string, hint = ''): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError(`cannot read ${what} ${path}: ${fsReason(e)}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UserError(`${what} ${path} is corrupt (${(e as Error).message})${hint ? `; ${hint}` : ''}`);
  }
  if (typeof value !== 'object' || value === null) throw new UserError(`${what} ${path} is corrupt (not a JSON object)${hint ? `; ${hint}` : ''}`);
  return value as T;
}
