/**
 * Shared helpers of the diffusion tests: a linear vector field whose score
 * model, energy, energy gradient and denoisers have closed forms, with a
 * float64 host reference of each; statistics helpers.
 */
import type { Rng } from '../../src/core/rng.js';
import type { VectorField } from '../../src/nets/types.js';
import * as T from '../../src/tensor/index.js';

/**
 * F(c_noise, y, β) = y·W + c_noise·v (+ β·u when `conditioned`), parameters
 * 'W' [D, D], 'v' [D] (and 'u' [D]) in `store`, read at call time.
 */
export function linearField(store: T.ParamStore): VectorField {
  return (cNoise, y, beta) => {
    const out = T.add(T.matmul(y, store.get('W')), T.mul(cNoise, store.get('v')));
    return beta === null ? out : T.add(out, T.mul(beta, store.get('u')));
  };
}

/** Host values of a linear field's parameters (float32-rounded, as stored). */
export interface LinearParams {
  D: number;
  W: Float64Array;
  v: Float64Array;
  u: Float64Array | null;
}

/** A store with random float32-exact W, v (and u) of scale `scale`. */
export function randomLinear(rng: Rng, D: number, scale: number, conditioned = false): { store: T.ParamStore; p: LinearParams } {
  const draw = (n: number) => rng.normals(n).map((z) => Math.fround(scale * z));
  const p: LinearParams = { D, W: draw(D * D), v: draw(D), u: conditioned ? draw(D) : null };
  const store = new T.ParamStore();
  store.add('W', [D, D], { kind: 'values', data: p.W });
  store.add('v', [D], { kind: 'values', data: p.v });
  if (p.u !== null) store.add('u', [D], { kind: 'values', data: p.u });
  return { store, p };
}

/** F(c_noise, y, β) on the host for one row y. */
function fieldRow(p: LinearParams, cNoise: number, y: ArrayLike<number>, beta: number | null): Float64Array {
  const { D, W, v, u } = p;
  const out = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    let s = cNoise * v[j] + (beta !== null && u !== null ? beta * u[j] : 0);
    for (let i = 0; i < D; i++) s += y[i] * W[i * D + j];
    out[j] = s;
  }
  return out;
}

function coefs(sigma: number) {
  const h = sigma * sigma;
  return { h, cSkip: 1 / (1 + h), cIn: 1 / Math.sqrt(1 + h), cOut: sigma / Math.sqrt(1 + h), cNoise: 0.25 * Math.log(sigma) };
}

/** D_S(x, σ, β) for one row. */
export function hostScoreDenoiser(p: LinearParams, x: ArrayLike<number>, sigma: number, beta: number | null): Float64Array {
  const c = coefs(sigma);
  const f = fieldRow(p, c.cNoise, Array.from(x, (xi) => c.cIn * xi), beta);
  return f.map((fj, j) => c.cSkip * x[j] + c.cOut * fj);
}

/** U(x, σ, β) for one row. */
export function hostEnergy(p: LinearParams, x: ArrayLike<number>, sigma: number, beta: number | null): number {
  const c = coefs(sigma);
  const y = Array.from(x, (xi) => c.cIn * xi);
  const f = fieldRow(p, c.cNoise, y, beta);
  let xx = 0;
  let fy = 0;
  for (let j = 0; j < p.D; j++) {
    xx += x[j] * x[j];
    fy += f[j] * y[j];
  }
  return xx / (2 * (1 + c.h)) - fy / sigma;
}

/**
 * ∇ₓU for one row: with y = c_in·x, ⟨F, y⟩ = c_in²·xᵀWx + c_noise·c_in·v·x (+ β·c_in·u·x), so
 * ∇ₓU = x/(1+σ²) − (1/σ)·[c_in²(W + Wᵀ)x + c_in(c_noise·v + β·u)].
 */
export function hostEnergyGrad(p: LinearParams, x: ArrayLike<number>, sigma: number, beta: number | null): Float64Array {
  const { D, W, v, u } = p;
  const c = coefs(sigma);
  const g = new Float64Array(D);
  for (let k = 0; k < D; k++) {
    let wx = 0;
    for (let i = 0; i < D; i++) wx += (W[k * D + i] + W[i * D + k]) * x[i];
    const lin = c.cNoise * v[k] + (beta !== null && u !== null ? beta * u[k] : 0);
    g[k] = x[k] / (1 + c.h) - (c.cIn * c.cIn * wx + c.cIn * lin) / sigma;
  }
  return g;
}

/** D_E = x − σ²∇ₓU for one row. */
export function hostEnergyDenoiser(p: LinearParams, x: ArrayLike<number>, sigma: number, beta: number | null): Float64Array {
  const g = hostEnergyGrad(p, x, sigma, beta);
  return g.map((gk, k) => x[k] - sigma * sigma * gk);
}

/** Row i of a row-major [n, D] array. */
export function row(a: Float64Array, i: number, D: number): Float64Array {
  return a.subarray(i * D, (i + 1) * D);
}

/** Standard normal CDF via erfc (Numerical Recipes erfcc, |relative error| < 1.2e-7). */
export function normalCdf(z: number): number {
  const x = -z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    t *
    Math.exp(
      -x * x - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 +
          t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  const erfc = x >= 0 ? y : 2 - y;
  return 0.5 * erfc;
}

/** Ranks 1..n (ties get their average rank). */
function ranks(a: ArrayLike<number>): Float64Array {
  const idx = Array.from({ length: a.length }, (_, i) => i).sort((i, j) => a[i] - a[j]);
  const r = new Float64Array(a.length);
  for (let s = 0; s < idx.length; ) {
    let e = s;
    while (e + 1 < idx.length && a[idx[e + 1]] === a[idx[s]]) e++;
    for (let k = s; k <= e; k++) r[idx[k]] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return r;
}

/** Spearman rank correlation. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2) throw new Error(`spearman: need two arrays of equal length ≥ 2, got ${a.length} and ${b.length}`);
  const ra = ranks(a);
  const rb = ranks(b);
  const n = a.length;
  const m = (n + 1) / 2;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ra[i] - m) * (rb[i] - m);
    saa += (ra[i] - m) ** 2;
    sbb += (rb[i] - m) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** max|a − b| / max|b|. */
export function relMax(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relMax: lengths ${a.length} and ${b.length} differ`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}
