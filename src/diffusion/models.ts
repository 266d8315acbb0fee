/**
 * The score model and the energy model on top of any network F (algorithm
 * docs/algorithm.md §3.1), with EDM preconditioning (σ_data = 1). Every quantity is per
 * row: x [B, D], σ [B, 1], β [B, 1] or null; F is called as
 * F(c_noise, c_in·x, β) → [B, D] (src/nets/types.ts).
 *
 *   c_skip = 1/(1+σ²),  c_in = 1/√(1+σ²),  c_out = σ/√(1+σ²),  c_noise = ¼ ln σ
 *
 * Score model:  D_S = c_skip·x + c_out·F_S(c_noise, c_in·x, β),   s_θ = (D_S − x)/σ².
 * Energy model: U_θ = ‖x‖²/(2(1+σ²)) − (1/σ)·⟨F_E(c_noise, c_in·x, β), c_in·x⟩,
 *               its score −∇ₓU_θ (autodiff, Jacobian of F_E included) and
 *               its denoiser D_E = x − σ²·∇ₓU_θ.
 * If F_E is a constant vector field, −∇ₓU_θ equals the score-model formula
 * with F_S = F_E (the motivation for the inner-product form).
 *
 * The coefficients are computed from the σ tensor inside the graph, so U is
 * differentiable with respect to σ (∂U/∂t = ∂U/∂σ · dσ/dt, needed by the
 * annealing weights). All functions are differentiable to second order with
 * respect to the network's parameters (D_E inside L_ES needs it).
 */
import type { VectorField } from '../nets/types.js';
import * as T from '../tensor/index.js';
import { E } from '../tensor/index.js';
import { readAndDispose } from './readback.js';
import type { EdmSchedule } from './schedule.js';

type Tensor = T.Tensor;

/** EDM preconditioning coefficients, each [B, 1]. */
export interface Preconditioning {
  cSkip: Tensor;
  cIn: Tensor;
  cOut: Tensor;
  cNoise: Tensor;
}

/** Check x [B, D], σ [B, 1] and β [B, 1] | null; returns B and D. */
export function checkModelInputs(where: string, x: Tensor, sigma: Tensor, beta: Tensor | null): { rows: number; dim: number } {
  const xs = T.shapeOf(x);
  if (xs.length !== 2) throw new RangeError(`${where}: x must have shape [B, D], got [${xs.join(', ')}]`);
  const [rows, dim] = xs;
  const ss = T.shapeOf(sigma);
  if (ss.length !== 2 || ss[0] !== rows || ss[1] !== 1) {
    throw new RangeError(`${where}: sigma must have shape [${rows}, 1] (one noise level per row), got [${ss.join(', ')}]`);
  }
  if (beta !== null) {
    const bs = T.shapeOf(beta);
    if (bs.length !== 2 || bs[0] !== rows || bs[1] !== 1) {
      throw new RangeError(`${where}: beta must have shape [${rows}, 1] or be null, got [${bs.join(', ')}]`);
    }
  }
  return { rows, dim };
}

const [X0, X1, X2, X3] = [0, 1, 2, 3].map((i) => E.input(i));

/**
 * c_skip, c_in, c_out, c_noise from σ [B, 1]. The formulas here and below are fused expressions: on
 * WebGPU one kernel each, and one per input for each order of gradient, where the ops took one per
 * operation (on [B, 1] columns, where a kernel's cost is all launch); the CPU runs the ops as written.
 */
export function preconditioning(sigma: Tensor): Preconditioning {
  const onePlusH = E.add(E.square(X0), 1);
  const cIn = T.fused(E.div(1, E.sqrt(onePlusH)), [sigma]);
  return {
    cSkip: T.fused(E.div(1, onePlusH), [sigma]),
    cIn,
    cOut: T.fused(E.mul(X0, X1), [sigma, cIn]),
    cNoise: T.mul(T.log(sigma), 0.25),
  };
}

function networkOutput(where: string, net: VectorField, cNoise: Tensor, xIn: Tensor, beta: Tensor | null, rows: number, dim: number): Tensor {
  const out = net(cNoise, xIn, beta);
  const s = T.shapeOf(out);
  if (s.length !== 2 || s[0] !== rows || s[1] !== dim) {
    throw new RangeError(`${where}: the network returned shape [${s.join(', ')}], expected [${rows}, ${dim}]`);
  }
  return out;
}

/** The score model's denoiser D_S(x, σ, β) [B, D]. */
export function scoreDenoiser(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): Tensor {
  const { rows, dim } = checkModelInputs('scoreDenoiser', x, sigma, beta);
  const p = preconditioning(sigma);
  const f = networkOutput('scoreDenoiser', net, p.cNoise, T.mul(x, p.cIn), beta, rows, dim);
  return T.fused(E.add(E.mul(X0, X1), E.mul(X2, X3)), [x, p.cSkip, f, p.cOut]);
}

/** The score model's score s_θ = (D_S − x)/σ² [B, D]. */
export function scoreModelScore(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): Tensor {
  return T.fused(E.div(E.sub(X0, X1), E.square(X2)), [scoreDenoiser(net, x, sigma, beta), x, sigma]);
}

/** The energy U_θ(x, σ, β) per row, [B, 1]. */
export function energy(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): Tensor {
  const { rows, dim } = checkModelInputs('energy', x, sigma, beta);
  const p = preconditioning(sigma);
  const xIn = T.mul(x, p.cIn);
  const f = networkOutput('energy', net, p.cNoise, xIn, beta, rows, dim);
  // ‖x‖²/(2(1 + σ²)) − ⟨f, x_in⟩/σ: two row sums and their combination.
  const squares = T.fusedSum(E.square(X0), [x], 1, true);
  const inner = T.fusedSum(E.mul(X0, X1), [f, xIn], 1, true);
  return T.fused(E.sub(E.div(X0, E.mul(E.add(E.square(X1), 1), 2)), E.div(X2, X1)), [squares, sigma, inner]);
}

/**
 * ∇ₓU_θ [B, D]. Rows are independent, so this is the gradient of Σ_b U_b;
 * the result stays differentiable with respect to the parameters.
 */
export function energyGradX(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): Tensor {
  return T.grad((xi) => T.sum(energy(net, xi, sigma, beta)), x);
}

/** The energy model's score −∇ₓU_θ [B, D]. */
export function energyModelScore(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): Tensor {
  return T.neg(energyGradX(net, x, sigma, beta));
}

/** The energy model's denoiser D_E = x − σ²·∇ₓU_θ [B, D]. */
export function energyDenoiser(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): Tensor {
  return T.fused(E.sub(X0, E.mul(X1, E.square(X2))), [x, energyGradX(net, x, sigma, beta), sigma]);
}

/** U, ∇ₓU and ∂U/∂σ per row from one forward and one reverse pass. */
export interface EnergyGradients {
  /** U [B, 1] */
  energy: Tensor;
  /** ∇ₓU [B, D] */
  gradX: Tensor;
  /** ∂U/∂σ [B, 1] */
  gradSigma: Tensor;
}

/** U, ∇ₓU and ∂U/∂σ (reverse mode through c_skip, c_in, c_out, c_noise and the quadratic term). */
export function energyGradients(net: VectorField, x: Tensor, sigma: Tensor, beta: Tensor | null): EnergyGradients {
  const { rows } = checkModelInputs('energyGradients', x, sigma, beta);
  // A cotangent of ones gives per-row gradients (rows are independent) and keeps U per row.
  const { value, grads } = T.valueAndGrads((xi, si) => energy(net, xi, si, beta), [x, sigma], T.full([rows, 1], 1));
  return { energy: value, gradX: grads[0], gradSigma: grads[1] };
}

/** U, ∇ₓU and ∂U/∂t at per-row EDM times, as float64 host arrays. */
export interface EnergyTimeGradients {
  /** U [B] */
  energy: Float64Array;
  /** ∇ₓU [B, D] */
  gradX: Float64Array;
  /** ∂U/∂t [B] */
  dEnergyDt: Float64Array;
}

/** A per-row β tensor [B, 1], or null when β is null (unconditioned networks). */
export function betaColumn(beta: number | null, rows: number): Tensor | null {
  if (beta === null) return null;
  if (!Number.isFinite(beta)) throw new RangeError(`beta must be a finite number or null, got ${beta}`);
  return T.full([rows, 1], beta);
}

/**
 * U, ∇ₓU and ∂U/∂t for host rows x [B, D] at EDM times t (one per row, or one
 * for all rows) and inverse temperature β (null: unconditioned): ∂U/∂σ by
 * reverse mode, times dσ/dt of the schedule in float64. Runs in its own scope
 * and reads the three results together.
 */
export async function energyTimeGradients(
  net: VectorField,
  schedule: EdmSchedule,
  x: Float64Array,
  rows: number,
  t: number | Float64Array,
  beta: number | null,
): Promise<EnergyTimeGradients> {
  const { times, sigmas } = rowTimes('energyTimeGradients', schedule, x, rows, t);
  const g = T.scope(() => energyGradients(net, T.fromF64(x, [rows, x.length / rows]), T.fromF64(sigmas, [rows, 1]), betaColumn(beta, rows)));
  const r = await readAndDispose({ energy: g.energy, gradX: g.gradX, gradSigma: g.gradSigma });
  return { energy: r.energy, gradX: r.gradX, dEnergyDt: timeDerivative(r.gradSigma, times, schedule) };
}

/** Checks host rows x [B, D] and their EDM times (one per row, or one for all); returns the per-row times and σ(t). */
export function rowTimes(where: string, schedule: EdmSchedule, x: Float64Array, rows: number, t: number | Float64Array): { times: Float64Array; sigmas: Float64Array } {
  if (!(Number.isInteger(rows) && rows >= 1) || x.length % rows !== 0) {
    throw new RangeError(`${where}: x has ${x.length} values, not [${rows}, D]`);
  }
  const times = typeof t === 'number' ? new Float64Array(rows).fill(t) : t;
  if (times.length !== rows) throw new RangeError(`${where}: ${times.length} times given for ${rows} rows`);
  return { times, sigmas: times.map((ti) => schedule.sigma(ti)) };
}

/** ∂U/∂t = ∂U/∂σ · dσ/dt per row, the schedule's derivative in float64. */
export function timeDerivative(gradSigma: Float64Array, times: Float64Array, schedule: EdmSchedule): Float64Array {
  return gradSigma.map((gs, i) => gs * schedule.dSigmaDt(times[i]));
}
