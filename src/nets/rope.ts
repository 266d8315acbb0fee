/**
 * Rotary position embeddings (RoPE) in the torchtune convention
 * (`torchtune.modules.RotaryPositionalEmbeddings`, used by the reference DiT):
 * within each head of size dh, ADJACENT entries (2k, 2k+1) form a pair that is
 * rotated by the angle p·θ_k, with p the token (atom) index and
 * θ_k = base^(−2k/dh), k = 0..dh/2−1:
 *   y_{2k}   = x_{2k}·cos(pθ_k) − x_{2k+1}·sin(pθ_k)
 *   y_{2k+1} = x_{2k+1}·cos(pθ_k) + x_{2k}·sin(pθ_k).
 * (The other common convention, GPT-NeoX / "rotate half", pairs k with
 * k + dh/2 instead; the two are not interchangeable.)
 *
 * Implementation without gather: y = x ⊙ C + (x·R) ⊙ S, where C and S hold
 * cos(pθ_k) and sin(pθ_k) at both entries of pair k, and R [dh, dh] is the
 * fixed matrix with (x·R)_{2k} = −x_{2k+1}, (x·R)_{2k+1} = x_{2k} (ops.ts
 * `ropeRotation`: one kernel on WebGPU, elsewhere one [B·n·W/dh, dh]·[dh, dh]
 * product for every head and a fused expression).
 *
 * Since rotations compose, ⟨RoPE(q, p), RoPE(k, p′)⟩ depends on the positions
 * only through p − p′ (tested).
 */
import { type Tensor, fromF64, ropeRotation, ropeRotationToHeads, shapeOf } from '../tensor/index.js';

/** Constants of `applyRope` for n tokens and a width of `groups` heads of size headDim. */
export interface RopeConstants {
  readonly n: number;
  readonly headDim: number;
  readonly width: number;
  /** cos(pθ_k) per token and entry [n, width]. */
  readonly cos: Tensor;
  /** sin(pθ_k) per token and entry [n, width]. */
  readonly sin: Tensor;
  /** The pair-rotation matrix R [headDim, headDim]. */
  readonly rot: Tensor;
}

/**
 * Build the RoPE tables (float64 on the host, uploaded as float32). With `scale`, applyRope returns
 * scale·RoPE(x) (its tables scaled; the DiT folds attention's 1/√dh into its queries' rotation).
 */
export function ropeConstants(n: number, headDim: number, groups: number, base = 10000, scale = 1): RopeConstants {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`ropeConstants: n must be a positive integer, got ${n}`);
  if (!(Number.isInteger(headDim) && headDim >= 2 && headDim % 2 === 0)) {
    throw new RangeError(`ropeConstants: headDim must be an even integer ≥ 2, got ${headDim}`);
  }
  if (!(Number.isInteger(groups) && groups >= 1)) throw new RangeError(`ropeConstants: groups must be a positive integer, got ${groups}`);
  if (!(base > 1)) throw new RangeError(`ropeConstants: base must be > 1, got ${base}`);
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`ropeConstants: scale must be finite and > 0, got ${scale}`);
  const width = headDim * groups;
  const c = new Float64Array(n * width);
  const s = new Float64Array(n * width);
  for (let p = 0; p < n; p++) {
    for (let e = 0; e < width; e++) {
      const k = (e % headDim) >> 1;
      const angle = p * Math.pow(base, (-2 * k) / headDim);
      c[p * width + e] = scale * Math.cos(angle);
      s[p * width + e] = scale * Math.sin(angle);
    }
  }
  const r = new Float64Array(headDim * headDim);
  for (let k = 0; k < headDim / 2; k++) {
    r[(2 * k + 1) * headDim + 2 * k] = -1;
    r[2 * k * headDim + 2 * k + 1] = 1;
  }
  return {
    n,
    headDim,
    width,
    cos: fromF64(c, [n, width]),
    sin: fromF64(s, [n, width]),
    rot: fromF64(r, [headDim, headDim]),
  };
}

/** RoPE of x [B, n, width] (token p = index along axis 1). */
export function applyRope(x: Tensor, rope: RopeConstants): Tensor {
  checkTokens('applyRope', x, rope);
  return ropeRotation(x, rope.cos, rope.sin, rope.rot);
}

/** x is [B, n, width] for these tables; a RangeError naming `name` otherwise. */
function checkTokens(name: string, x: Tensor, rope: RopeConstants): void {
  const s = shapeOf(x);
  if (s.length !== 3 || s[1] !== rope.n || s[2] !== rope.width) {
    throw new RangeError(`${name}: x has shape [${s.join(',')}], expected [B,${rope.n},${rope.width}]`);
  }
}

/**
 * RoPE of x [B, n, width] in attention's head layout [B·heads, n, headDim]: the same numbers as the heads
 * of `applyRope(x, rope)` moved by a transpose, in one kernel on WebGPU (docs/tensor-engine.md §2.32).
 */
export function applyRopeToHeads(x: Tensor, rope: RopeConstants): Tensor {
  checkTokens('applyRopeToHeads', x, rope);
  return ropeRotationToHeads(x, rope.cos, rope.sin, rope.rot, rope.width / rope.headDim);
}
