import { describeRows, nonFiniteRows, UserError } from '../core/errors.js';
import type { Target } from '../targets/target.js';
import { readNpyFloat64 } from './npy.js';

/**
 * Reads an [n, dim] batch of configurations for `target` from a .npy file as
 * float64, rejecting a wrong shape, an empty file and rows with NaN or Inf
 * (named by index). Every message starts with `what` and the path.
 */
export function readConfigurations(path: string, target: Target, what: string): { x: Float64Array; n: number } {
  let r: { data: Float64Array; shape: number[] };
  try {
    r = readNpyFloat64(path, { cols: target.dim, what: `target ${target.name}` });
  } catch (e) {
    if (e instanceof UserError && !e.message.startsWith(what)) throw new UserError(`${what}: ${e.message}`);
    throw e;
  }
  const n = r.shape[0];
  if (n < 1) throw new UserError(`${what} ${path} holds no configurations (shape [${r.shape.join(', ')}])`);
  const bad = nonFiniteRows(r.data, n, target.dim);
  if (bad.length > 0) throw new UserError(`${what} ${path}: ${bad.length} of ${n} rows contain NaN or Inf (rows ${describeRows(bad)})`);
  return { x: r.data, n };
}
