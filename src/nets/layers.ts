/**
 * Building blocks shared by the networks: linear layers with PyTorch-like
 * initialisation, LayerNorm without bias, sinusoidal embeddings and the
 * validation of a VectorField's inputs.
 *
 * Weight layout: a linear layer's weight is stored [fanIn, fanOut] (row-major),
 * i.e. the TRANSPOSE of PyTorch's nn.Linear.weight [out, in], so the forward
 * pass is x·W + b with no transposed matmul (docs/tensor-engine.md §2.2).
 */
import type { Rng } from '../core/rng.js';
import { E, type ParamStore, type Tensor, concat, cos, fromF64, fused, layerNorm as layerNormOp, linear, matmul, mul, normalise, shapeOf, sin } from '../tensor/index.js';

/**
 * How a linear layer's parameters are drawn.
 * - 'torch': PyTorch's nn.Linear default, W and b ~ U(−1/√fanIn, 1/√fanIn)
 *   (kaiming_uniform with a = √5 gives exactly this bound);
 * - 'zeros': W = 0 and b = 0 (adaLN-zero modulation, DiT output layer);
 * - { xavierGain }: W ~ U(−g√(6/(fanIn+fanOut)), +g√(6/(fanIn+fanOut))),
 *   b = 0 (torch.nn.init.xavier_uniform_).
 */
export type LinearInit = 'torch' | 'zeros' | { xavierGain: number };

/** The parameter names and sizes of one linear layer. */
export interface Linear {
  readonly w: string;
  readonly b: string | null;
  readonly fanIn: number;
  readonly fanOut: number;
}

/**
 * Add a linear layer's parameters to `store`: weight `${prefix}.w${tag}`
 * [fanIn, fanOut] and, unless `bias` is false, bias `${prefix}.b${tag}`
 * [fanOut]. `tag` numbers layers inside one block ('1' → `edge.w1`).
 * Values are drawn from `rng`, weight first (row-major), then bias.
 */
export function addLinear(
  store: ParamStore,
  prefix: string,
  fanIn: number,
  fanOut: number,
  rng: Rng,
  opts: { tag?: string; bias?: boolean; init?: LinearInit } = {},
): Linear {
  for (const [what, v] of [['fanIn', fanIn], ['fanOut', fanOut]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`linear '${prefix}': ${what} must be a positive integer, got ${v}`);
  }
  const tag = opts.tag ?? '';
  const init = opts.init ?? 'torch';
  const w = `${prefix}.w${tag}`;
  const b = opts.bias === false ? null : `${prefix}.b${tag}`;
  if (init === 'zeros') {
    store.add(w, [fanIn, fanOut], { kind: 'zeros' });
    if (b !== null) store.add(b, [fanOut], { kind: 'zeros' });
  } else if (init === 'torch') {
    const bound = 1 / Math.sqrt(fanIn);
    store.add(w, [fanIn, fanOut], { kind: 'uniform', low: -bound, high: bound }, rng);
    if (b !== null) store.add(b, [fanOut], { kind: 'uniform', low: -bound, high: bound }, rng);
  } else {
    if (!(init.xavierGain > 0)) throw new RangeError(`linear '${prefix}': xavierGain must be > 0, got ${init.xavierGain}`);
    const bound = init.xavierGain * Math.sqrt(6 / (fanIn + fanOut));
    store.add(w, [fanIn, fanOut], { kind: 'uniform', low: -bound, high: bound }, rng);
    if (b !== null) store.add(b, [fanOut], { kind: 'zeros' });
  }
  return { w, b, fanIn, fanOut };
}

/** x·W + b for x [..., fanIn] → [..., fanOut]. */
export function applyLinear(store: ParamStore, lin: Linear, x: Tensor): Tensor {
  const s = shapeOf(x);
  if (s.length < 2 || s[s.length - 1] !== lin.fanIn) {
    throw new RangeError(`linear '${lin.w}': input has shape [${s.join(',')}], expected [..., ${lin.fanIn}] (rank ≥ 2)`);
  }
  return lin.b === null ? matmul(x, store.get(lin.w)) : linear(x, store.get(lin.w), store.get(lin.b));
}

/** Default LayerNorm epsilon (torch.nn.functional.layer_norm). */
export const LAYER_NORM_EPS = 1e-5;

/**
 * LayerNorm over the last axis without bias, with a learnable scale γ:
 *   y = (x − μ)/√(σ² + eps) ⊙ γ,
 * μ and σ² the mean and biased variance over the last axis (as
 * F.layer_norm followed by a weight, the reference's LayerNorm).
 */
export function layerNorm(x: Tensor, scale: Tensor, eps = LAYER_NORM_EPS): Tensor {
  return layerNormOp(x, scale, eps);
}

/**
 * LayerNorm with scale γ followed by the adaLN modulation, x̂ ⊙ γ ⊙ (1 + scale) + shift: the
 * normalisation, then one fused kernel on WebGPU for the rest (the CPU runs the same ops as
 * `modulate(layerNorm(x, γ), shift, scale)`).
 */
export function layerNormModulated(x: Tensor, gamma: Tensor, shift: Tensor, scale: Tensor, eps = LAYER_NORM_EPS): Tensor {
  const [X0, X1, X2, X3] = [0, 1, 2, 3].map((i) => E.input(i));
  return fused(E.add(E.mul(E.mul(X0, X3), E.add(X1, 1)), X2), [normalise(x, eps), scale, shift, gamma]);
}

/**
 * Sinusoidal embedding of a scalar per row (DiT/GLIDE `timestep_embedding`):
 * for t [B, 1] and half = dim/2, frequencies f_k = exp(−ln(maxPeriod)·k/half),
 * k = 0..half−1, and the result is [cos(t·f_0..f_{half−1}), sin(t·f_0..)]
 * → [B, dim] (all cosines first, then all sines). Differentiable in t.
 */
export function sinusoidalEmbedding(t: Tensor, dim: number, maxPeriod = 10000): Tensor {
  if (!(Number.isInteger(dim) && dim >= 2 && dim % 2 === 0)) {
    throw new RangeError(`sinusoidalEmbedding: dim must be an even integer ≥ 2, got ${dim}`);
  }
  const s = shapeOf(t);
  if (s.length !== 2 || s[1] !== 1) throw new RangeError(`sinusoidalEmbedding: t has shape [${s.join(',')}], expected [B,1]`);
  const half = dim / 2;
  const freqs = new Float64Array(half);
  for (let k = 0; k < half; k++) freqs[k] = Math.exp((-Math.log(maxPeriod) * k) / half);
  const args = mul(t, fromF64(freqs, [1, half]));
  return concat([cos(args), sin(args)], 1);
}

/**
 * Check the inputs of a VectorField (src/nets/types.ts): cNoise [B,1],
 * xIn [B,dim], beta [B,1] for a temperature-conditioned network and null
 * otherwise. Returns B.
 */
export function checkFieldInputs(
  where: string,
  dim: number,
  conditioned: boolean,
  cNoise: Tensor,
  xIn: Tensor,
  beta: Tensor | null,
): number {
  const xs = shapeOf(xIn);
  if (xs.length !== 2 || xs[1] !== dim) throw new RangeError(`${where}: xIn has shape [${xs.join(',')}], expected [B,${dim}]`);
  const b = xs[0];
  const cs = shapeOf(cNoise);
  if (cs.length !== 2 || cs[0] !== b || cs[1] !== 1) {
    throw new RangeError(`${where}: cNoise has shape [${cs.join(',')}], expected [${b},1]`);
  }
  if (conditioned) {
    if (beta === null) throw new RangeError(`${where}: the network is temperature-conditioned, so beta [${b},1] is required (got null)`);
    const bs = shapeOf(beta);
    if (bs.length !== 2 || bs[0] !== b || bs[1] !== 1) {
      throw new RangeError(`${where}: beta has shape [${bs.join(',')}], expected [${b},1]`);
    }
  } else if (beta !== null) {
    throw new RangeError(`${where}: the network is not temperature-conditioned; pass beta = null`);
  }
  return b;
}
