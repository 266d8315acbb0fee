/**
 * E(n)-equivariant graph network (Satorras et al., EFM variant), the LJ-13
 * network of docs/algorithm.md §3.2 (reference `EGNN_dynamics`,
 * `egnn_temp_conditioned.py`), on the fully connected graph of all ordered
 * pairs i ≠ j, written with dense pairwise tensors [B, n, n, ·] (no gather or
 * segment ops: docs/tensor-engine.md §2.5).
 *
 * Forward pass, for coordinates x⁰ = reshape(x_in, [n, d]) per row:
 *   node features  f = [c_noise, β] (conditioned) or [c_noise], the same for every node;
 *   embedding      h_i = Linear(f → H)                             (egnn.embed)
 *   edge attribute a_ij = ‖x⁰_i − x⁰_j‖²  (input coordinates, fixed)
 *   layer l = 0..L−1, with r_ij = ‖x_i − x_j‖² at the current x:
 *     m_ij = SiLU(W₂·SiLU(W₁·[h_i, h_j, r_ij, a_ij, ρ(r_ij)] + b₁) + b₂)  (layer{l}.edge, W₁: 2H+2+K → H)
 *     m_ij ← m_ij · σ(w_att·m_ij + b_att)                           (layer{l}.att, if attention)
 *     φ_ij = w_x·SiLU(W_c·m_ij + b_c)                               (layer{l}.coord; w_x: H → 1, no bias,
 *                                                                     xavier-uniform gain 0.001)
 *     x_i ← x_i + Σ_j (x_i − x_j)/(√(r_ij + 1e−8) + 1) · s·tanh(φ_ij)   (tanh on; s = coordsRange/L)
 *            or  Σ_j (x_i − x_j)/(√(r_ij + 1e−8) + 1) · φ_ij         (tanh off, as the reference)
 *     h_i ← h_i + W₄·SiLU(W₃·[h_i, Σ_j m_ij] + b₃) + b₄              (layer{l}.node, W₃: 2H → H)
 *   output  F = x^L − x⁰ with its centroid (mean over particles) removed.
 * Every Σ_j runs over j ≠ i (messages are masked in the node aggregation; the
 * coordinate term of j = i vanishes because x_i − x_i = 0).
 *
 * Radial basis (an extension, `radialBasis` K, default 0 = off, the reference):
 * ρ(r_ij) = [exp(−((d_ij − μ_k)/w)²)]_{k<K} of the pair distance
 * d_ij = √(r_ij + 1e−8), with centres μ_k = rbfMax·k/(K−1) (μ_0 = 0 when K = 1)
 * and width w = rbfMax/max(K−1, 1), in the network's input units (c_in·x).
 * With r² alone the edge MLP must build the steep short-range wall of a
 * Lennard-Jones pair out of SiLUs of r², a slowly varying input; the basis
 * gives it localised distance features (as SchNet/PaiNN do). K = 0 adds no
 * parameters and leaves the network exactly as before.
 *
 * Deliberate deviations from the reference:
 * - Temperature conditioning: the reference concatenates a (B, n) block of
 *   c_noise with a (B, n) block of β and reshapes to (B·n, 2), so node i gets
 *   entries (2i, 2i+1) of [c_noise×n, β×n] (for n = 13: nodes 0–5 see
 *   (c_noise, c_noise), node 6 (c_noise, β), nodes 7–12 (β, β)), which breaks
 *   permutation equivariance. Here every node gets (c_noise, β) (docs/algorithm.md §6.2).
 * - The last layer's node update cannot influence F (coordinates are updated
 *   before nodes) and the reference's node output head is unused, so neither
 *   is created: every parameter here receives a gradient.
 * - For i = i, (x_i − x_i) = 0 makes the coordinate term vanish whatever the
 *   normaliser; the normaliser uses r_ii + 1 there to keep the derivatives of
 *   √(r + 1e−8) at r = 0 (≈1e4 and beyond) out of the backward passes.
 *
 * Dense implementation: the first edge layer is split as
 * W₁ = [W_hi; W_hj; w_r; w_a], so h·W_hi [B,n,1,H] and h·W_hj [B,1,n,H]
 * broadcast over pairs and only r·w_r + a·w_a is computed per pair (in layer 0,
 * r = a); likewise the node layer splits into h·W_h + (Σ_j m)·W_agg. Since all
 * nodes start with the same features, h is [B,1,H] until the first node update.
 *
 * Memory: pairwise activations are [B, n, n, H] float32 = 4·B·n²·H bytes each:
 * B = 256, n = 13, H = 32 → 5.5 MB; B = 256, n = 55 → 99 MB. Measured with
 * H = 32, L = 3, the energy loss (∇ₓ of ⟨F, x⟩, then ∂/∂θ) holds ≈ 120 of them
 * after the forward and first backward pass (≈ 2.5 MB per sample at n = 13,
 * 660 MB at B = 256; ≈ 43 MB per sample at n = 55), and the second backward
 * pass peaks at more than 3× that: at n = 55 a step with B = 24 exceeds the
 * 3 GiB tensor limit and B = 16 fits, so LJ-55 training needs micro-batches of
 * ≤ 16 (src/tensor/microbatch.ts); LJ-13 runs B = 256 in one pass (2.2 GB RSS).
 *
 * Initialisation: PyTorch nn.Linear defaults, W, b ~ U(±1/√fanIn), except w_x
 * (xavier-uniform, gain 0.001). Weights are stored [fanIn, fanOut] (layers.ts).
 */
import type { Rng } from '../core/rng.js';
import {
  E,
  type Expr,
  ParamStore,
  type Tensor,
  add,
  concat,
  expandDims,
  fromF64,
  fused,
  fusedSum,
  matmul,
  mean,
  reshape,
  silu,
  split,
  sub,
} from '../tensor/index.js';
import { boolOption, intOption, positiveOption } from './config.js';
import { type Linear, addLinear, applyLinear, checkFieldInputs } from './layers.js';
import type { Network } from './types.js';

export interface EgnnConfig {
  nParticles: number;
  spatialDim: number;
  /** Width H of node features and messages. */
  hidden: number;
  /** Number of message-passing layers L. */
  layers: number;
  /** Gate each message by σ(Linear(m)). */
  attention: boolean;
  /** Bound the coordinate weights by coordsRange/L · tanh(·). */
  tanh: boolean;
  /** Total coordinate range; each layer uses coordsRange/L (only with tanh, as the reference). */
  coordsRange: number;
  conditionOnTemperature: boolean;
  /** Gaussian radial basis functions of the pair distance added to the edge input (0: none, the reference). */
  radialBasis?: number;
  /** Distance of the last basis centre, in input units (c_in·x). */
  rbfMax?: number;
}

/** The LJ-13 architecture of docs/algorithm.md §3.2, used by createNetwork('egnn', …). */
export const EGNN_DEFAULTS = {
  hidden: 32,
  layers: 3,
  attention: true,
  tanh: true,
  coordsRange: 15,
  conditionOnTemperature: false,
} as const;

/**
 * Defaults of the extensions (not in the reference): no radial basis. They
 * appear in a network's resolved `config` only when the basis is on, so the
 * configs (and checkpoints) of reference networks are unchanged.
 */
export const EGNN_EXTENSION_DEFAULTS = {
  radialBasis: 0,
  rbfMax: 3,
} as const;

interface EgnnLayer {
  edge1: Linear;
  edge2: Linear;
  att: Linear | null;
  coord1: Linear;
  coord2: Linear;
  node1: Linear | null;
  node2: Linear | null;
}

/** [n, n, 1] constants: 1 − δ_ij (pair mask) and δ_ij + 1e−8 (normaliser offset). */
function pairConstants(n: number): { mask: Tensor; offset: Tensor } {
  const mask = new Float64Array(n * n);
  const offset = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      mask[i * n + j] = i === j ? 0 : 1;
      offset[i * n + j] = i === j ? 1 : 1e-8;
    }
  }
  return { mask: fromF64(mask, [n, n, 1]), offset: fromF64(offset, [n, n, 1]) };
}

/** The K basis centres μ_k as a [K] tensor and the width w (module comment). */
function radialCentres(K: number, rbfMax: number): { centres: Tensor; width: number } {
  const step = rbfMax / Math.max(K - 1, 1);
  return { centres: fromF64(Float64Array.from({ length: K }, (_, k) => k * step), [K]), width: step };
}

/** Inputs of fused expressions. */
const X = [0, 1, 2, 3].map((i) => E.input(i));

/** x_i − x_j for x [B, n, d] → [B, n, n, d] (fused: each input's gradient is one summing kernel on WebGPU). */
function pairDifferences(x: Tensor): Tensor {
  return fused(E.sub(X[0], X[1]), [expandDims(x, 2), expandDims(x, 1)]);
}

/** ‖x_i − x_j‖² [B, n, n, 1] of pair differences. */
const squaredNorms = (diff: Tensor): Tensor => fusedSum(E.square(X[0]), [diff], 3, true);

export function createEgnn(config: EgnnConfig, rng: Rng): Network {
  const where = 'egnn';
  const n = intOption(where, 'nParticles', config.nParticles, 2);
  const d = intOption(where, 'spatialDim', config.spatialDim, 1);
  const H = intOption(where, 'hidden', config.hidden, 1);
  const L = intOption(where, 'layers', config.layers, 1);
  const attention = boolOption(where, 'attention', config.attention);
  const useTanh = boolOption(where, 'tanh', config.tanh);
  const coordsRange = positiveOption(where, 'coordsRange', config.coordsRange);
  const conditioned = boolOption(where, 'conditionOnTemperature', config.conditionOnTemperature);
  const K = intOption(where, 'radialBasis', config.radialBasis ?? EGNN_EXTENSION_DEFAULTS.radialBasis, 0);
  const rbfMax = positiveOption(where, 'rbfMax', config.rbfMax ?? EGNN_EXTENSION_DEFAULTS.rbfMax);
  const dim = n * d;
  const perLayerRange = coordsRange / L;

  const params = new ParamStore();
  const embed = addLinear(params, 'egnn.embed', conditioned ? 2 : 1, H, rng);
  const layers: EgnnLayer[] = [];
  for (let l = 0; l < L; l++) {
    const p = `egnn.layer${l}`;
    const last = l === L - 1;
    layers.push({
      edge1: addLinear(params, `${p}.edge`, 2 * H + 2 + K, H, rng, { tag: '1' }),
      edge2: addLinear(params, `${p}.edge`, H, H, rng, { tag: '2' }),
      att: attention ? addLinear(params, `${p}.att`, H, 1, rng) : null,
      coord1: addLinear(params, `${p}.coord`, H, H, rng, { tag: '1' }),
      coord2: addLinear(params, `${p}.coord`, H, 1, rng, { tag: '2', bias: false, init: { xavierGain: 0.001 } }),
      node1: last ? null : addLinear(params, `${p}.node`, 2 * H, H, rng, { tag: '1' }),
      node2: last ? null : addLinear(params, `${p}.node`, H, H, rng, { tag: '2' }),
    });
  }

  /** A [Σ counts, H] weight as its blocks of rows (one op: their gradients join in one kernel). */
  const rows = (name: string, counts: number[]): Tensor[] => split(params.get(name), counts, 0);

  const apply = (cNoise: Tensor, xIn: Tensor, beta: Tensor | null): Tensor => {
    const B = checkFieldInputs(where, dim, conditioned, cNoise, xIn, beta);
    const { mask, offset } = pairConstants(n);
    const basis = K > 0 ? radialCentres(K, rbfMax) : null;
    const x0 = reshape(xIn, [B, n, d]);
    const features = beta === null ? cNoise : concat([cNoise, beta], 1);
    // Every node has the same features, so h starts as [B, 1, H] and broadcasts over nodes.
    let h = reshape(applyLinear(params, embed, features), [B, 1, H]);
    const diff0 = pairDifferences(x0);
    const a = squaredNorms(diff0);
    let x = x0;
    for (let l = 0; l < L; l++) {
      const layer = layers[l];
      const diff = l === 0 ? diff0 : pairDifferences(x);
      const r = l === 0 ? a : squaredNorms(diff);

      // W₁'s rows: h_i, h_j, r, a, and the radial basis.
      const [wi, wj, wr, wa, wRho] = rows(layer.edge1.w, [H, H, 1, 1, ...(basis !== null ? [K] : [])]);
      const hi = expandDims(matmul(h, wi), 2);
      const hj = expandDims(add(matmul(h, wj), params.get(layer.edge1.b as string)), 1);
      // r·w_r + a·w_a: [B,n,n,1] times [1,H] rows, products with K = 1, so fused expressions instead of
      // matmuls writing [B,n,n,H] and their sum (the same numbers, in the same order). In layer 0, r = a:
      // a·(w_r + w_a), inside the activation's kernel where there is no radial basis. An expression
      // reads at most 5 tensors, so that its second derivative's kernels (2 cotangents more) fit 7
      // (docs/tensor-engine.md §2.40).
      const [rw, rwInputs] = l === 0 ? [E.mul(X[0], X[1]), [a, add(wr, wa)]] : [E.add(E.mul(X[0], X[1]), E.mul(X[2], X[3])), [r, wr, a, wa]];
      let pair: [Expr, Tensor[]] = [rw, rwInputs];
      if (basis !== null) {
        // ρ = exp(−((d − μ)/w)²), d_ij = √(r + 1e−8); self-pairs use r + 1 (their messages never reach F, module comment).
        const rho = fused(E.exp(E.neg(E.square(E.div(E.sub(E.sqrt(E.add(X[0], X[2])), X[1]), basis.width)))), [r, basis.centres, offset]);
        pair = [E.add(rw, E.input(rwInputs.length)), [...rwInputs, matmul(rho, wRho)]];
      }
      // With h_i and h_j, more than two tensors would exceed 5: then the pair term is a kernel of its own.
      if (pair[1].length > 2) pair = [X[0], [fused(...pair)]];
      const at = pair[1].length;
      let m = silu(applyLinear(params, layer.edge2, fused(E.silu(E.add(E.add(pair[0], E.input(at)), E.input(at + 1))), [...pair[1], hi, hj])));
      if (layer.att !== null) m = fused(E.mul(X[0], E.sigmoid(X[1])), [m, applyLinear(params, layer.att, m)]);

      // Self-pairs need no mask here: x_i − x_i = 0.
      const phi = applyLinear(params, layer.coord2, silu(applyLinear(params, layer.coord1, m)));
      // Σ_j (x_i − x_j)·φ′/(√(r + δ) + 1), φ′ = s·tanh(φ) or φ: one kernel on WebGPU (ops.ts `fusedSum`).
      const bounded = useTanh ? E.mul(E.tanh(X[1]), perLayerRange) : X[1];
      x = add(x, fusedSum(E.mul(X[0], E.div(bounded, E.add(E.sqrt(E.add(X[2], X[3])), 1))), [diff, phi, r, offset], 2));

      if (layer.node1 !== null && layer.node2 !== null) {
        const [wh, wAgg] = rows(layer.node1.w, [H, H]);
        const agg = fusedSum(E.mul(X[0], X[1]), [m, mask], 2);
        const pre3 = add(add(matmul(h, wh), matmul(agg, wAgg)), params.get(layer.node1.b as string));
        h = add(h, applyLinear(params, layer.node2, silu(pre3)));
      }
    }
    const shift = sub(x, x0);
    return reshape(sub(shift, mean(shift, 1, true)), [B, dim]);
  };

  return {
    kind: 'egnn',
    config: { hidden: H, layers: L, attention, tanh: useTanh, coordsRange, conditionOnTemperature: conditioned, ...(K > 0 ? { radialBasis: K, rbfMax } : {}) },
    params,
    dim,
    conditionOnTemperature: conditioned,
    apply,
  };
}
