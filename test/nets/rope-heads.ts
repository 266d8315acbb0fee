/**
 * `applyRopeToHeads` against what it replaces: `applyRope`, then the transpose to the heads' layout. The
 * rotation, its gradient (the rotation back, moved back to the tokens' layout) and the gradient of that
 * gradient, on the active backend. Shared by the CPU test (test/nets) and the WebGPU one (test/gpu).
 */
import { Rng } from '../../src/core/rng.js';
import { applyRope, applyRopeToHeads, ropeConstants } from '../../src/nets/index.js';
import * as T from '../../src/tensor/index.js';

export async function ropeToHeadsCases(B: number, n: number, dh: number, heads: number): Promise<{ fused: Float32Array[]; composed: Float32Array[] }> {
  const rng = new Rng(41);
  const W = dh * heads;
  const x = rng.normals(B * n * W);
  const w = rng.normals(B * n * W);
  const u = rng.normals(B * n * W);
  const rope = ropeConstants(n, dh, heads);
  const composed = (t: T.Tensor): T.Tensor => T.reshape(T.transpose(T.reshape(applyRope(t, rope), [B, n, heads, dh]), [0, 2, 1, 3]), [B * heads, n, dh]);
  const fused = (t: T.Tensor): T.Tensor => applyRopeToHeads(t, rope);
  const outputs = (f: (t: T.Tensor) => T.Tensor): Promise<Float32Array[]> =>
    Promise.all(
      T.scope(() => {
        const xt = T.fromF64(x, [B, n, W]);
        const wt = T.fromF64(w, [B * heads, n, dh]);
        // ∂/∂x Σ w ⊙ f(x) = fᵀ(w); ∂/∂u Σ u' ⊙ fᵀ(u) with u' in the tokens' layout = f(u'): the gradient's gradient.
        const first = (v: T.Tensor, by: T.Tensor) => T.valueAndGrad((z) => T.sum(T.mul(f(z), by)), v).grad;
        const second = T.valueAndGrad((by) => T.sum(T.mul(first(xt, by), T.fromF64(u, [B, n, W]))), wt).grad;
        return [f(xt), first(xt, wt), second];
      }).map((t) => T.read(t)),
    );
  try {
    return { fused: await outputs(fused), composed: await outputs(composed) };
  } finally {
    T.dispose([rope.cos, rope.sin, rope.rot]);
  }
}
