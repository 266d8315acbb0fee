import { describeRows, nonFiniteRows, UserError } from '../core/errors.js';
import { readNpy } from '../io/npy.js';
import type { Target } from '../targets/target.js';

/**
 * Reads an [n, dim] batch of configurations for `target` from a .npy file as
 * float64, rejecting wrong shapes and rows with NaN or Inf (named by index).
 */
export function loadConfigurations(path: string, target: Target, what: string): { x: Float64Array; n: number } {
  const arr = readNpy(path);
  const shape = arr.shape;
  const ok = (shape.length === 2 && shape[1] === target.dim) || (shape.length === 1 && shape[0] === target.dim);
  if (!ok) {
    throw new UserError(`${what} ${path} has shape [${shape.join(', ')}]; target ${target.name} needs [n, ${target.dim}]`);
  }
  const n = shape.length === 2 ? shape[0] : 1;
  if (n < 1) throw new UserError(`${what} ${path} holds no configurations (shape [${shape.join(', ')}])`);
  const x = Float64Array.from(arr.data as ArrayLike<number>);
  const bad = nonFiniteRows(x, n, target.dim);
  if (bad.length > 0) {
    throw new UserError(`${what} ${path}: ${bad.length} of ${n} rows contain NaN or Inf (rows ${describeRows(bad)})`);
  }
  return { x, n };
}

/** Mean, standard deviation, minimum and maximum of an array. */
export function summarize(v: Float64Array): { mean: number; std: number; min: number; max: number } {
  let s = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const a of v) {
    s += a;
    if (a < min) min = a;
    if (a > max) max = a;
  }
  const mean = s / v.length;
  let ss = 0;
  for (const a of v) ss += (a - mean) ** 2;
  return { mean, std: Math.sqrt(ss / Math.max(1, v.length - 1)), min, max };
}
