/**
 * Shared helpers of the network tests: random data and parameters, the
 * engine's energy-model quantities, and the gradient checks against the
 * float64 host references (hostref.ts).
 *
 * Energy model used throughout (the structure of the PITA energy loss, spec §3.1/§4):
 *   U_b(x) = ⟨F(c_b, x_b, β_b), x_b⟩,   L(θ) = (1/B) Σ_b (‖∇ₓU_b‖² + ‖F_b‖²).
 * ∂L/∂θ is a second-order quantity (it differentiates ∇ₓU).
 */
import type { Rng } from '../../src/core/rng.js';
import type { Network } from '../../src/nets/index.js';
import * as T from '../../src/tensor/index.js';
import { type HostParams, type HostRow, energyGradFd, energyLoss, energyRow, hostParams } from './hostref.js';

/** max|a − b| / max|b| (floored). */
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

export const maxAbs = (a: ArrayLike<number>): number => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** Replace every parameter by N(0, scale²) draws (so zero-initialised layers take part in the checks). */
export function randomiseParams(net: Network, rng: Rng, scale: number): void {
  for (const name of net.params.names()) {
    const n = net.params.shape(name).reduce((a, b) => a * b, 1);
    net.params.set(name, rng.normals(n).map((v) => Math.fround(scale * v)));
  }
}

/** A batch of inputs, rounded to float32 so that host references see exactly the uploaded values. */
export interface Batch {
  B: number;
  dim: number;
  c: Float64Array;
  x: Float64Array;
  beta: Float64Array | null;
}

export function makeBatch(rng: Rng, B: number, dim: number, conditioned: boolean, xScale = 1): Batch {
  const f = (a: Float64Array): Float64Array => a.map((v) => Math.fround(v));
  return {
    B,
    dim,
    c: f(rng.uniforms(B, -1, 1)),
    x: f(rng.normals(B * dim).map((v) => v * xScale)),
    beta: conditioned ? f(rng.uniforms(B, 0.5, 1.5)) : null,
  };
}

interface Uploaded {
  c: T.Tensor;
  x: T.Tensor;
  beta: T.Tensor | null;
}

function upload(b: Batch): Uploaded {
  return {
    c: T.fromF64(b.c, [b.B, 1]),
    x: T.fromF64(b.x, [b.B, b.dim]),
    beta: b.beta === null ? null : T.fromF64(b.beta, [b.B, 1]),
  };
}

/** F for the batch (float32 engine, widened). */
export function engineForward(net: Network, b: Batch): Float64Array {
  return T.scope(() => {
    const u = upload(b);
    return T.readF64Sync(net.apply(u.c, u.x, u.beta));
  });
}

const energySum = (net: Network, c: T.Tensor, x: T.Tensor, beta: T.Tensor | null): T.Tensor =>
  T.sum(T.mul(net.apply(c, x, beta), x));

/** ∇ₓU, ∂U/∂c and (conditioned) ∂U/∂β per row, from the engine. */
export function engineEnergyGrads(net: Network, b: Batch): { gx: Float64Array; gc: Float64Array; gbeta: Float64Array | null } {
  return T.scope(() => {
    const u = upload(b);
    if (u.beta === null) {
      const [gc, gx] = T.grads((c, x) => energySum(net, c, x, null), [u.c, u.x]);
      return { gx: T.readF64Sync(gx), gc: T.readF64Sync(gc), gbeta: null };
    }
    const [gc, gx, gb] = T.grads((c, x, beta) => energySum(net, c, x, beta), [u.c, u.x, u.beta]);
    return { gx: T.readF64Sync(gx), gc: T.readF64Sync(gc), gbeta: T.readF64Sync(gb) };
  });
}

/** L(θ) and ∂L/∂θ per parameter (second order), from the engine. */
export function engineLossGrads(net: Network, b: Batch): { loss: number; grads: Map<string, Float64Array> } {
  return T.scope(() => {
    const u = upload(b);
    const { value, grads } = T.valueAndParamGrads(() => {
      const gx = T.grad((x) => energySum(net, u.c, x, u.beta), u.x);
      const F = net.apply(u.c, u.x, u.beta);
      return T.mul(T.add(T.sum(T.square(gx)), T.sum(T.square(F))), 1 / b.B);
    }, net.params);
    const out = new Map<string, Float64Array>();
    for (const [name, g] of grads) {
      if (g === null) throw new Error(`parameter '${name}' received no gradient`);
      out.set(name, T.readF64Sync(g));
    }
    return { loss: T.readScalarSync(value), grads: out };
  });
}

/** First-order checks: engine ∇ₓU, ∂U/∂c, ∂U/∂β against central FD of the host U (relMax each). */
export function firstOrderErrors(net: Network, row: HostRow, b: Batch): { x: number; c: number; beta: number | null } {
  const p = hostParams(net.params);
  const eng = engineEnergyGrads(net, b);
  const fdX = new Float64Array(b.B * b.dim);
  const fdC = new Float64Array(b.B);
  const fdBeta = new Float64Array(b.B);
  const h = 1e-4;
  for (let r = 0; r < b.B; r++) {
    const xr = b.x.subarray(r * b.dim, (r + 1) * b.dim);
    const beta = b.beta === null ? null : b.beta[r];
    fdX.set(energyGradFd(row, p, b.c[r], xr, beta, h), r * b.dim);
    fdC[r] = (energyRow(row, p, b.c[r] + h, xr, beta) - energyRow(row, p, b.c[r] - h, xr, beta)) / (2 * h);
    if (beta !== null) fdBeta[r] = (energyRow(row, p, b.c[r], xr, beta + h) - energyRow(row, p, b.c[r], xr, beta - h)) / (2 * h);
  }
  return {
    x: relMax(eng.gx, fdX),
    c: relMax(eng.gc, fdC),
    beta: eng.gbeta === null ? null : relMax(eng.gbeta, fdBeta),
  };
}

/**
 * Second-order check per parameter tensor: for `directions` Gaussian
 * directions v supported on that tensor, compare ⟨∂L/∂θ, v⟩ (engine) with the
 * central difference (L(θ + hv) − L(θ − hv))/2h of the host loss (h = 1e-4;
 * the host's own error is ~1e-7 relative: truncation h²·L‴, the FD-in-x bias
 * ~1e-9 and round-off ~1e-12/h). For a Gaussian v, ⟨g, v⟩ ~ N(0, ‖g‖²), so
 * the returned error max_k |Δ_k| / max_k |ref_k| measures ‖g_engine − g‖/‖g‖.
 */
export function secondOrderErrors(net: Network, row: HostRow, b: Batch, rng: Rng, directions = 3): Map<string, number> {
  const p = hostParams(net.params);
  const { grads } = engineLossGrads(net, b);
  const h = 1e-4;
  const errors = new Map<string, number>();
  for (const [name, g] of grads) {
    const base = p.get(name) as Float64Array;
    let worst = 0;
    let scale = 0;
    for (let k = 0; k < directions; k++) {
      const v = rng.normals(base.length);
      const shifted = (s: number): HostParams => new Map(p).set(name, base.map((w, i) => w + s * v[i]));
      const ref = (energyLoss(row, shifted(h), b.c, b.x, b.beta, b.dim) - energyLoss(row, shifted(-h), b.c, b.x, b.beta, b.dim)) / (2 * h);
      const eng = g.reduce((a, gi, i) => a + gi * v[i], 0);
      worst = Math.max(worst, Math.abs(eng - ref));
      scale = Math.max(scale, Math.abs(ref));
    }
    errors.set(name, worst / Math.max(scale, 1e-12));
  }
  return errors;
}
