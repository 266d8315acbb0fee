/** Shared helpers of the tensor-layer tests. */
import { Rng } from '../../src/core/rng.js';

/** max|a − b| / max|b| (the spec §6.1 "relMax"); max|b| is floored at `floor` to avoid 0/0. */
export function relMax(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-12): number {
  if (a.length !== b.length) throw new Error(`relMax: lengths ${a.length} and ${b.length} differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, floor);
}

/** ‖a − b‖₂ / ‖b‖₂. */
export function relNorm(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relNorm: lengths ${a.length} and ${b.length} differ`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

/** n standard normals rounded to float32 (so host references see exactly the uploaded values). */
export function f32Normals(rng: Rng, n: number, scale = 1): Float64Array {
  return rng.normals(n).map((v) => Math.fround(scale * v));
}

/** n uniforms on [lo, hi) rounded to float32. */
export function f32Uniforms(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  return rng.uniforms(n, lo, hi).map((v) => Math.fround(v));
}

/** Central-difference gradient of a float64 function of a flat vector. */
export function fdGrad(f: (x: Float64Array) => number, x: Float64Array, h: number): Float64Array {
  const g = new Float64Array(x.length);
  const y = Float64Array.from(x);
  for (let i = 0; i < x.length; i++) {
    y[i] = x[i] + h;
    const fp = f(y);
    y[i] = x[i] - h;
    const fm = f(y);
    y[i] = x[i];
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}
