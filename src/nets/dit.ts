/**
 * Diffusion transformer with adaLN-zero blocks, the peptide network of the
 * docs/algorithm.md §3.3 (reference `DIT3D` in `dit.py`): one token per atom, no
 * atom-type embedding; atom identity enters only through rotary position
 * embeddings over the atom index (rope.ts, torchtune pairing convention).
 *
 * Forward pass, for x_in reshaped to tokens [B, n, d]:
 *   tokens   t = Linear(d → hidden)(x)                                       (dit.embed)
 *   cond     c = SiLU(E_t(c_noise) [+ E_β(β) if conditioned])                (dit.time, dit.beta)
 *            E(s) = Linear(cond → cond)(SiLU(Linear(256 → cond)(sinusoidal₂₅₆(s))))
 *            sinusoidal₂₅₆: 128 cosines then 128 sines, frequencies exp(−ln(10⁴)·k/128)
 *   block i  (shift_a, scale_a, gate_a, shift_m, scale_m, gate_m) = Linear(cond → 6·hidden)(c)   (adaln, zero-init)
 *            t ← t + gate_a ⊙ W_o·Attn(RoPE(q), RoPE(k), v),  [q,k,v] = W_qkv·mod(LN₁(t), shift_a, scale_a)
 *            t ← t + gate_m ⊙ MLP(mod(LN₂(t), shift_m, scale_m)),  MLP = Linear(h → 4h), GELU-tanh, Linear(4h → h)
 *            mod(y, shift, scale) = y ⊙ (1 + scale) + shift;
 *            Attn: per head (dh = hidden/heads), softmax(q·kᵀ/√dh)·v; W_qkv, W_o without bias
 *   final    (shift, scale) = Linear(cond → 2·hidden)(c) (zero-init);
 *            F = Linear(hidden → d)(mod(LN_f(t), shift, scale)) (weights and bias zero-init)
 *   LN = LayerNorm over features without bias, learnable scale (init 1), eps 1e−5.
 *
 * Consequences of the zero initialisations: every block is the identity and
 * F ≡ 0 exactly at initialisation (so D_S = c_skip·x and U_θ = ‖x‖²/(2(1+σ²))).
 * The output is not centroid-projected, and the network is neither rotation-
 * nor permutation-equivariant (RoPE ties features to atom indices).
 *
 * Differences from the reference: no dropout (the reference uses 0.1 in the
 * residual branches during training and none at sampling; this port trains
 * without it, so training is deterministic given the data); float32 instead of
 * bf16 autocast; the β embedder exists only when conditioned (the reference
 * creates an unused one otherwise).
 *
 * Memory (measured, full preset, ALDP n = 22, the energy loss ∂/∂θ of
 * ‖∇ₓ⟨F, x⟩‖²): ≈ 16 MB per sample after the forward and first backward
 * pass; B = 32 fits in one pass and B = 64 exceeds the 3 GiB tensor limit, so
 * the reference batch of 2048 needs micro-batches of ≤ 32
 * (src/tensor/microbatch.ts).
 *
 * Initialisation (as the reference, which keeps PyTorch's defaults):
 * nn.Linear default W, b ~ U(±1/√fanIn) for embed, time/β embedders, qkv,
 * out and MLP; LayerNorm scales 1; adaLN and final linear zero.
 */
import type { Rng } from '../core/rng.js';
import {
  E,
  ParamStore,
  type Tensor,
  add,
  fused,
  geluTanh,
  headsMatmul,
  matmul,
  reshape,
  silu,
  softmax,
  split,
} from '../tensor/index.js';
import { UserError } from '../core/errors.js';
import { boolOption, intOption } from './config.js';
import { type Linear, addLinear, applyLinear, checkFieldInputs, layerNormModulated, sinusoidalEmbedding } from './layers.js';
import { type RopeConstants, applyRopeToHeads, ropeConstants } from './rope.js';
import type { Network } from './types.js';

export interface DitConfig {
  nParticles: number;
  spatialDim: number;
  /** Token width (divisible by heads, with an even head size). */
  hidden: number;
  blocks: number;
  heads: number;
  /** Width of the conditioning vector c. */
  condDim: number;
  /** MLP width = mlpRatio · hidden. */
  mlpRatio: number;
  conditionOnTemperature: boolean;
}

export type DitArchitecture = Omit<DitConfig, 'nParticles' | 'spatialDim' | 'conditionOnTemperature'>;

/**
 * Presets: `full` is the reference peptide DiT (≈0.52 M parameters per block,
 * ≈3.2 M in all); `small` is a CPU-sized variant (≈0.1 M parameters in all)
 * with the same structure.
 */
export const DIT_PRESETS: Readonly<Record<'full' | 'small', Readonly<DitArchitecture>>> = {
  full: { hidden: 192, blocks: 6, heads: 6, condDim: 64, mlpRatio: 4 },
  small: { hidden: 64, blocks: 2, heads: 2, condDim: 64, mlpRatio: 4 },
};

/** Size of the sinusoidal frequency embedding of c_noise and β. */
export const DIT_FREQUENCY_EMBEDDING = 256;

interface Embedder {
  l1: Linear;
  l2: Linear;
}

interface Block {
  norm1: string;
  qkv: Linear;
  out: Linear;
  norm2: string;
  mlp1: Linear;
  mlp2: Linear;
  adaln: Linear;
}

function addEmbedder(store: ParamStore, prefix: string, cond: number, rng: Rng): Embedder {
  return {
    l1: addLinear(store, prefix, DIT_FREQUENCY_EMBEDDING, cond, rng, { tag: '1' }),
    l2: addLinear(store, prefix, cond, cond, rng, { tag: '2' }),
  };
}

function embedScalar(store: ParamStore, e: Embedder, s: Tensor): Tensor {
  return applyLinear(store, e.l2, silu(applyLinear(store, e.l1, sinusoidalEmbedding(s, DIT_FREQUENCY_EMBEDDING))));
}

const [X0, X1, X2] = [0, 1, 2].map((i) => E.input(i));

/** t + gate ⊙ z, the gated residual (one kernel on WebGPU). */
function gatedResidual(t: Tensor, gate: Tensor, z: Tensor): Tensor {
  return fused(E.add(X0, E.mul(X1, X2)), [t, gate, z]);
}

/** m [B, 1, k·w] as its k chunks of width w (one op: their gradients join in one kernel). */
function chunks(m: Tensor, k: number, w: number): Tensor[] {
  return split(m, new Array<number>(k).fill(w), 2);
}

export function createDit(config: DitConfig, rng: Rng): Network {
  const where = 'dit';
  const n = intOption(where, 'nParticles', config.nParticles, 1);
  const d = intOption(where, 'spatialDim', config.spatialDim, 1);
  const hidden = intOption(where, 'hidden', config.hidden, 2);
  const nBlocks = intOption(where, 'blocks', config.blocks, 0);
  const heads = intOption(where, 'heads', config.heads, 1);
  const cond = intOption(where, 'condDim', config.condDim, 1);
  const mlpRatio = intOption(where, 'mlpRatio', config.mlpRatio, 1);
  const conditioned = boolOption(where, 'conditionOnTemperature', config.conditionOnTemperature);
  if (hidden % heads !== 0 || (hidden / heads) % 2 !== 0) {
    throw new UserError(`${where}: 'hidden' (${hidden}) must be 'heads' (${heads}) times an even head size`);
  }
  const dh = hidden / heads;
  const dim = n * d;

  const params = new ParamStore();
  const embed = addLinear(params, 'dit.embed', d, hidden, rng);
  const time = addEmbedder(params, 'dit.time', cond, rng);
  const betaEmbedder = conditioned ? addEmbedder(params, 'dit.beta', cond, rng) : null;
  const blocks: Block[] = [];
  for (let i = 0; i < nBlocks; i++) {
    const p = `dit.block${i}`;
    const norm1 = `${p}.norm1.scale`;
    params.add(norm1, [hidden], { kind: 'constant', value: 1 });
    const qkv = addLinear(params, `${p}.attn.qkv`, hidden, 3 * hidden, rng, { bias: false });
    const out = addLinear(params, `${p}.attn.out`, hidden, hidden, rng, { bias: false });
    const norm2 = `${p}.norm2.scale`;
    params.add(norm2, [hidden], { kind: 'constant', value: 1 });
    const mlp1 = addLinear(params, `${p}.mlp`, hidden, mlpRatio * hidden, rng, { tag: '1' });
    const mlp2 = addLinear(params, `${p}.mlp`, mlpRatio * hidden, hidden, rng, { tag: '2' });
    const adaln = addLinear(params, `${p}.adaln`, cond, 6 * hidden, rng, { init: 'zeros' });
    blocks.push({ norm1, qkv, out, norm2, mlp1, mlp2, adaln });
  }
  const finalNorm = 'dit.final.norm.scale';
  params.add(finalNorm, [hidden], { kind: 'constant', value: 1 });
  const finalAdaln = addLinear(params, 'dit.final.adaln', cond, 2 * hidden, rng, { init: 'zeros' });
  const finalLinear = addLinear(params, 'dit.final.linear', hidden, d, rng, { init: 'zeros' });

  /**
   * `ropeQ` rotates the queries and scales them by 1/√dh (tables scaled on the host): the scores need no
   * kernel of their own for the scale, at B·heads·n² numbers the largest tensors of a block.
   */
  const attention = (blk: Block, y: Tensor, rope: RopeConstants, ropeQ: RopeConstants, b: number): Tensor => {
    // Columns [0,h), [h,2h), [2h,3h) of W_qkv give q, k, v (splitting the weight, not the activations).
    const [wq, wk, wv] = split(params.get(blk.qkv.w), [hidden, hidden, hidden], 1);
    // Rotated straight into the heads' layout (one kernel on WebGPU, no transpose).
    const q = applyRopeToHeads(matmul(y, wq), ropeQ);
    const k = applyRopeToHeads(matmul(y, wk), rope);
    const v = reshape(matmul(y, wv), [b, n, hidden]);
    const weights = softmax(matmul(q, k, false, true), -1);
    // The values and the result stay in the tokens' layout [B, n, heads·dh] (no transposes on WebGPU).
    return applyLinear(params, blk.out, headsMatmul(weights, v, { b: 'tokens', out: 'tokens' }, heads));
  };

  const apply = (cNoise: Tensor, xIn: Tensor, beta: Tensor | null): Tensor => {
    const B = checkFieldInputs(where, dim, conditioned, cNoise, xIn, beta);
    const rope = ropeConstants(n, dh, heads);
    const ropeQ = ropeConstants(n, dh, heads, undefined, 1 / Math.sqrt(dh));
    let e = embedScalar(params, time, cNoise);
    if (betaEmbedder !== null && beta !== null) e = add(e, embedScalar(params, betaEmbedder, beta));
    const c = silu(e);
    let t = applyLinear(params, embed, reshape(xIn, [B, n, d]));
    for (const blk of blocks) {
      const m = reshape(applyLinear(params, blk.adaln, c), [B, 1, 6 * hidden]);
      const [shiftA, scaleA, gateA, shiftM, scaleM, gateM] = chunks(m, 6, hidden);
      const ya = layerNormModulated(t, params.get(blk.norm1), shiftA, scaleA);
      t = gatedResidual(t, gateA, attention(blk, ya, rope, ropeQ, B));
      const ym = layerNormModulated(t, params.get(blk.norm2), shiftM, scaleM);
      t = gatedResidual(t, gateM, applyLinear(params, blk.mlp2, geluTanh(applyLinear(params, blk.mlp1, ym))));
    }
    const mf = reshape(applyLinear(params, finalAdaln, c), [B, 1, 2 * hidden]);
    const [shiftF, scaleF] = chunks(mf, 2, hidden);
    const yf = layerNormModulated(t, params.get(finalNorm), shiftF, scaleF);
    return reshape(applyLinear(params, finalLinear, yf), [B, dim]);
  };

  return {
    kind: 'dit',
    config: { hidden, blocks: nBlocks, heads, condDim: cond, mlpRatio, conditionOnTemperature: conditioned },
    params,
    dim,
    conditionOnTemperature: conditioned,
    apply,
  };
}
