/**
 * The paper's DiT's matrix products, each alone (the `ditproducts` workload of `pita bench`): the
 * linear layers' products, their input and weight gradients, and the attention's batched products,
 * at the `ditfull2048` row's batch (B = 2048: 45 056 tokens of hidden 192, MLP 768, 6 heads of 32).
 *
 * Why: the products are most of that row's arithmetic (its second-order step runs each layer's
 * product six times), and how fast a kernel runs them is what a CPU cannot tell. Each product is a
 * captured step of its own, timed on the GPU with timestamp queries (CapturedStep.profile), so the
 * upload of its operands and the read of its result are not counted; a split over K counts its
 * partial products and their sum. Under `PITA_GEMM=auto` (the default) each product's first run times
 * every variant of pita's tiled kernel and the timed runs use the fastest (docs/tensor-engine.md
 * §2.31). `scripts/gpu-bench.sh` runs it that way and with `PITA_MATMUL=tfjs`, and
 * `bench/pytorch/products_bench.py` times the same list (read from the JSON this writes) on CUDA.
 */
import { Rng } from '../core/rng.js';
import * as T from '../tensor/index.js';
import type { GemmShape } from '../tensor/webgpu-gemm.js';
import { median } from './steps.js';

/** One product: C[b] = op(A[b])·op(B[b]), batch × [M, N] outputs with inner dimension K (the tiled kernel's shape, without a bias). */
export interface ProductShape extends Omit<GemmShape, 'bias'> {
  label: string;
  /** The attention's weights·values: B operand and result in the tokens' layout of this many heads (T.headsMatmul), as the DiT runs it. */
  heads?: number;
}

export interface ProductTiming extends ProductShape {
  /** Median GPU time over the profiled runs, milliseconds (null: no timestamp queries, or the CPU). */
  ms: number | null;
  /** 2·batch·M·N·K / time (null with ms). */
  tflops: number | null;
  /** The kernels it ran, in order (a split over K: its transposes, partial products and sum). */
  kernels: string[];
}

/** The DiT's tokens per sample (ALDP's 22 atoms), hidden size, MLP size, heads and head size (nets/dit.ts, preset full). */
const TOKENS = 22;
const HIDDEN = 192;
const MLP = 4 * HIDDEN;
const HEADS = 6;
const HEAD = HIDDEN / HEADS;

/** The products of one DiT block's training step at `batch` samples. */
export function ditProducts(batch: number): ProductShape[] {
  const t = batch * TOKENS;
  const one = (label: string, M: number, N: number, K: number, transposeA = false, transposeB = false): ProductShape => ({ label, batch: 1, M, N, K, transposeA, transposeB });
  return [
    one('projection y·W (q, k, v, out)', t, HIDDEN, HIDDEN),
    one('MLP in h·W₁', t, MLP, HIDDEN),
    one('MLP out g·W₂', t, HIDDEN, MLP),
    one('input gradient dy·W₁ᵀ', t, HIDDEN, MLP, false, true),
    one('input gradient dy·W₂ᵀ', t, MLP, HIDDEN, false, true),
    one('weight gradient yᵀ·dy (projection)', HIDDEN, HIDDEN, t, true, false),
    one('weight gradient hᵀ·dy (MLP in)', HIDDEN, MLP, t, true, false),
    one('weight gradient gᵀ·dy (MLP out)', MLP, HIDDEN, t, true, false),
    { label: 'attention scores q·kᵀ', batch: batch * HEADS, M: TOKENS, N: TOKENS, K: HEAD, transposeA: false, transposeB: true },
    { label: "attention output p·v (v and the result in the tokens' layout)", batch: batch * HEADS, M: TOKENS, N: HEAD, K: TOKENS, transposeA: false, transposeB: false, heads: HEADS },
  ];
}

/** Times each product: `warmup` runs (the capture among them), then `runs` profiled ones. */
export async function benchProducts(shapes: readonly ProductShape[], opts: { runs: number; warmup: number }): Promise<ProductTiming[]> {
  const rng = new Rng(0);
  const largest = Math.max(...shapes.flatMap((s) => [s.batch * s.M * s.K, s.batch * s.K * s.N]));
  const values = Float32Array.from(rng.normals(largest));
  const timings: ProductTiming[] = [];
  for (const s of shapes) {
    const aShape = [s.batch, ...(s.transposeA ? [s.K, s.M] : [s.M, s.K])];
    const bShape = s.heads === undefined ? [s.batch, ...(s.transposeB ? [s.N, s.K] : [s.K, s.N])] : [s.batch / s.heads, ...(s.transposeB ? [s.N, s.heads * s.K] : [s.K, s.heads * s.N])];
    const inputs = [values.subarray(0, s.batch * s.M * s.K), values.subarray(0, s.batch * s.K * s.N)];
    // Rank 2 where there is one batch: the linear layers' products are rank 2 in the networks too.
    const rank = (shape: number[]) => (s.batch === 1 ? shape.slice(1) : shape);
    const step = T.captureStep({
      inputs: [rank(aShape), rank(bShape)],
      state: () => [],
      step: ([a, b]) => [s.heads === undefined ? T.matmul(a, b, s.transposeA, s.transposeB) : T.headsMatmul(a, b, { b: 'tokens', out: 'tokens' }, s.heads, s.transposeA, s.transposeB)],
    });
    try {
      for (let i = 0; i < opts.warmup; i++) await step.run(inputs);
      const times: number[] = [];
      let kernels: string[] = [];
      for (let i = 0; i < opts.runs; i++) {
        const p = await step.profile(inputs);
        if (p === null) break;
        times.push(p.totalMs);
        kernels = p.dispatches.map((d) => d.kernel);
      }
      const ms = times.length > 0 ? median(times) : null;
      const tflops = ms === null ? null : (2 * s.batch * s.M * s.N * s.K) / (ms * 1e-3) / 1e12;
      timings.push({ ...s, ms, tflops, kernels });
    } finally {
      step.dispose();
    }
  }
  return timings;
}
