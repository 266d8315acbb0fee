/**
 * pita's `BatchMatMul` on WebGPU: tfjs's kernel, except for products with a
 * long inner dimension K and a small output, which it splits over K itself,
 * and for products with large outputs, which run on pita's tiled kernel
 * (webgpu-gemm.ts; `_FusedMatMul` too), and for many small products (the
 * attention's), which run on pita's small kernel (webgpu-small-gemm.ts).
 *
 * Why: tfjs tiles the output in 32×32 blocks, one workgroup each, and walks
 * all of K inside the workgroup. The weight gradients of a training step are
 * exactly the bad case: xᵀ·dy with K = batch × tokens. The paper's DiT at
 * B = 2048 has K = 45 056 and outputs of 192×192 (36 workgroups) and
 * 768×192 (144): a third of the step's arithmetic ran on a few dozen
 * workgroups of a GPU with 132 multiprocessors. tfjs splits K only for
 * outputs of ≤ 8 tiles, and then with atomic float adds, whose order, and so
 * whose rounding, changes from run to run: the EGNN's weight gradients
 * ([32, B·169]ᵀ·[B·169, 32]) were not reproducible.
 *
 * Here, when the output has fewer than SPLIT_TARGET_WORKGROUPS tiles and K
 * is long, K is cut into S equal chunks: both operands, with K as their
 * leading axis, are viewed as [S, K/S, ·] (a view, no copy), tfjs's batched
 * matmul gives the S partial products [S, M, N] on S times as many
 * workgroups, and pita's Sum adds them in a fixed order. Operands with K
 * last are transposed first. S divides K; when no divisor of K fits, the
 * product runs unsplit on tfjs's tiled kernel (never its atomic one, nor
 * for _FusedMatMul, the linear layers' kernel), so every WebGPU matmul is
 * deterministic.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { type HeadsLayout, headsMatrices } from './kernels.js';
import { gemm, gemmBlocks, gemmLimits, gemmPaddedArea, takesGemm } from './webgpu-gemm.js';
import { SUM_ENOUGH_OUTPUTS } from './webgpu-lanes.js';
import { smallGemm, takesSmallGemm } from './webgpu-small-gemm.js';

/** Output tiles (32×32, one workgroup each in tfjs) below which a long K is split. */
export const SPLIT_TARGET_WORKGROUPS = 1024;
/** The shortest chunk of K a split leaves to each workgroup. */
export const SPLIT_MIN_CHUNK = 256;
/** tfjs's MatMulProgramType.MatMulPackedProgram (its 32×32-tiled kernel) and the flag that forces it. */
const PACKED_PROGRAM = 3;
const PROGRAM_FLAG = 'WEBGPU_MATMUL_PROGRAM_TYPE';

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** S, the number of equal chunks to cut K into for an [M, N] output (1: no split). */
export function splitCount(M: number, N: number, K: number): number {
  let want: number;
  if (takesGemm(M, N)) {
    // pita's tiled kernel (webgpu-gemm.ts): an output of enough blocks to take it is not split (splitting
    // would add the operands' transposes and a sum for nothing); a smaller one is split to twice that.
    const blocks = gemmBlocks(M, N);
    if (blocks >= gemmLimits.minWorkgroups) return 1;
    want = Math.ceil((2 * gemmLimits.minWorkgroups) / blocks);
  } else {
    want = Math.ceil(SPLIT_TARGET_WORKGROUPS / (Math.ceil(M / 32) * Math.ceil(N / 32)));
  }
  want = Math.min(want, Math.floor(K / SPLIT_MIN_CHUNK));
  for (let s = want; s >= 2; s--) if (K % s === 0) return s;
  return 1;
}

type Sum = (backend: WebGPUBackend, x: tf.TensorInfo, blocks: [number, number][], keepDims: boolean, squares: boolean, addend?: tf.TensorInfo) => tf.TensorInfo;
/** Σ over the first axis of partial products [S, N, M], written as [M, N] (plus `addend`, [M, N]), in one pass. */
type SumTransposed = (backend: WebGPUBackend, partials: tf.TensorInfo, M: number, N: number, addend?: tf.TensorInfo) => tf.TensorInfo;

/**
 * Whether a split product's S partial products [M, N] are computed as [N, M] instead (operands swapped),
 * their sum written transposed: where the tiled kernel's blocks (128 rows × 64 columns) pad [N, M] less
 * than [M, N]. The DiT's MLP weight gradient hᵀ·dy is [192, 768]: 192 rows take two 128-row blocks (a
 * quarter of the arithmetic padding), while [768, 192] fills its blocks. Both ways each partial's element
 * is the same fma chain over the same K positions, and the sums add the same partials in the same order,
 * so the result keeps its bits (`PITA_MATMUL_SWAP=0`: never swapped, to compare).
 */
export function swapsOperands(M: number, N: number, S: number): boolean {
  if (process.env.PITA_MATMUL_SWAP === '0' || M * N < SUM_ENOUGH_OUTPUTS) return false;
  return takesGemm(M, N, S) && takesGemm(N, M, S) && gemmPaddedArea(N, M) < gemmPaddedArea(M, N);
}

/** The product's dimensions, whether it has batch dimensions, and tfjs's output shape. */
function dims(args: Parameters<tf.KernelFunc>[0]) {
  const a = args.inputs.a as tf.TensorInfo;
  const b = args.inputs.b as tf.TensorInfo;
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length;
  const rb = b.shape.length;
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batched = product(a.shape.slice(0, -2)) !== 1 || product(b.shape.slice(0, -2)) !== 1;
  const batchShape = tf.backend_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return { a, b, transposeA, transposeB, K, M, N, batched, outShape: [...batchShape, M, N] };
}

/**
 * The product on pita's tiled kernel (webgpu-gemm.ts), or for many small products on its small kernel
 * (webgpu-small-gemm.ts), with an optional bias (N values, or the output's size), or null where neither
 * takes it: small outputs of few products, other dtypes, operands whose batches differ.
 */
function tiled(args: Parameters<tf.KernelFunc>[0], bias?: tf.TensorInfo): tf.TensorInfo | null {
  const { a, b, transposeA, transposeB, K, M, N, outShape } = dims(args);
  const aBatch = product(a.shape.slice(0, -2));
  const bBatch = product(b.shape.slice(0, -2));
  const batch = product(outShape.slice(0, -2));
  const large = takesGemm(M, N, batch);
  const small = !large && takesSmallGemm(M, N, K, batch);
  if (!(large || small) || a.dtype !== 'float32' || b.dtype !== 'float32' || K === 0) return null;
  // pita's ops give both operands the same batch (ops.ts `matmul`); tfjs's kernel takes anything else.
  if (aBatch !== batch || bBatch !== batch) return null;
  let kind: 'none' | 'column' | 'full' = 'none';
  if (bias !== undefined) {
    // Shapes compared without leading 1s: a bias of the output's shape, or one value per column.
    const core = (shape: readonly number[]): number[] => shape.slice(shape.findIndex((d) => d !== 1));
    if (bias.dtype !== 'float32') return null;
    if (tf.util.arraysEqual(core(bias.shape), core(outShape))) kind = 'full';
    else if (tf.util.arraysEqual(core(bias.shape), [N])) kind = 'column';
    else return null;
  }
  const shape = { batch, M, N, K, transposeA, transposeB, bias: kind };
  const out = (small ? smallGemm : gemm)(args.backend as WebGPUBackend, a, b, shape, bias);
  return { ...out, shape: outShape };
}

/** tfjs's `_FusedMatMul` (the linear layers: bias, no activation) on pita's tiled kernel where it takes the product. */
export function fusedMatMulKernel(stock: tf.KernelFunc): tf.KernelFunc {
  const unsplit = withoutAtomicSplit(stock);
  return (args) => {
    const { bias, preluActivationWeights } = args.inputs as { bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
    const activation = (args.attrs as { activation?: string } | undefined)?.activation ?? 'linear';
    if (activation !== 'linear' || preluActivationWeights !== undefined) return unsplit(args);
    return tiled(args, bias) ?? unsplit(args);
  };
}

/**
 * `stock` (tfjs's BatchMatMul or _FusedMatMul) without its atomic split-K kernel, which tfjs takes for one
 * batch, K ≥ 2000, more than 128 outputs and few tiles: there its tiled kernel instead (forcing it changes
 * nothing for other such products, which take the tiled kernel anyway).
 */
export function withoutAtomicSplit(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { K, M, N, batched } = dims(args);
    if (batched || K < 2000 || M * N <= 128) return stock(args);
    const saved = tf.env().get(PROGRAM_FLAG);
    tf.env().set(PROGRAM_FLAG, PACKED_PROGRAM);
    try {
      return stock(args);
    } finally {
      tf.env().set(PROGRAM_FLAG, saved);
    }
  };
}

/**
 * The BatchMatMul kernel: `stock` (tfjs's) for batched and large-output products, the split above
 * otherwise. An optional input `addend` (of the product's shape; src/tensor/accumulate.ts) is added to
 * the product in the same kernel: as the bias of tfjs's `_FusedMatMul` (`linear`), or in the split's sum.
 */
export function batchMatMulKernel(stock: tf.KernelFunc, linear: tf.KernelFunc, sum: Sum, sumTransposed: SumTransposed): tf.KernelFunc {
  const unsplit = withoutAtomicSplit(stock);
  const unsplitLinear = withoutAtomicSplit(linear);
  return (args) => {
    const { a, b, transposeA, transposeB, K, M, N, batched, outShape } = dims(args);
    const addend = args.inputs.addend as tf.TensorInfo | undefined;
    const S = batched || a.dtype !== 'float32' || b.dtype !== 'float32' ? 1 : splitCount(M, N, K);
    const backend = args.backend as WebGPUBackend;
    if (S === 1 && addend === undefined) return tiled(args) ?? unsplit(args);
    if (S === 1) {
      const bias = { ...addend, shape: outShape } as tf.TensorInfo;
      return tiled(args, bias) ?? unsplitLinear({ inputs: { a, b, bias }, backend, attrs: { transposeA, transposeB, activation: 'linear' } });
    }
    // Both operands as [K, ·] (a transposed copy where K is their last axis), then viewed as [S, K/S, ·].
    const transpose = tf.getKernel('Transpose', 'webgpu')?.kernelFunc as tf.KernelFunc;
    const leadingK = (x: tf.TensorInfo, kFirst: boolean, cols: number): tf.TensorInfo => {
      const m: tf.TensorInfo = { dataId: x.dataId, shape: kFirst ? [K, cols] : [cols, K], dtype: 'float32' };
      return kFirst ? m : (transpose({ inputs: { x: m }, backend, attrs: { perm: [1, 0] } }) as tf.TensorInfo);
    };
    const ak = leadingK(a, transposeA, M);
    const bk = leadingK(b, !transposeB, N);
    const view = (x: tf.TensorInfo, cols: number): tf.TensorInfo => ({ dataId: x.dataId, shape: [S, K / S, cols], dtype: 'float32' });
    const swap = swapsOperands(M, N, S);
    const operands = swap ? { a: view(bk, N), b: view(ak, M) } : { a: view(ak, M), b: view(bk, N) };
    const products = { inputs: operands, backend, attrs: { transposeA: true, transposeB: false } };
    const partial = tiled(products) ?? (stock(products) as tf.TensorInfo);
    for (const [t, x] of [[ak, a], [bk, b]]) if (t.dataId !== x.dataId) backend.disposeData(t.dataId);
    const total = swap ? sumTransposed(backend, partial, M, N, addend) : sum(backend, partial, [[0, 0]], false, false, addend);
    backend.disposeData(partial.dataId);
    return { ...total, shape: outShape };
  };
}

/**
 * kernels.ts `headsMatmul` (HEADS_MATMUL_KERNEL): on the small kernel (webgpu-small-gemm.ts), which reads
 * and writes the tokens' layout in place, where it takes the products; else the transposes into the
 * heads' layout, pita's BatchMatMul and the transpose back, as kernels.ts does off WebGPU. An input
 * `addend` (laid out as the result; accumulate.ts) is added to the result.
 */
export function headsMatMulKernel(args: Parameters<tf.KernelFunc>[0]): tf.TensorInfo {
  const { a, b, addend } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo; addend?: tf.TensorInfo };
  const { transposeA, transposeB, heads: H, layoutA, layoutB, layoutOut } = args.attrs as unknown as {
    transposeA: boolean;
    transposeB: boolean;
    heads: number;
    layoutA: HeadsLayout;
    layoutB: HeadsLayout;
    layoutOut: HeadsLayout;
  };
  const backend = args.backend as WebGPUBackend;
  const [batch, ra, ca] = headsMatrices(a.shape, layoutA, H);
  const [, rb, cb] = headsMatrices(b.shape, layoutB, H);
  const [M, K, N] = [transposeA ? ca : ra, transposeA ? ra : ca, transposeB ? rb : cb];
  const outShape = layoutOut === 'tokens' ? [batch / H, M, H * N] : [batch, M, N];
  if ([a, b, addend].some((t) => t !== undefined && t.dtype !== 'float32')) throw new Error(`PitaHeadsMatMul: operands must be float32`);
  if (takesSmallGemm(M, N, K, batch)) {
    const shape = { batch, M, N, K, transposeA, transposeB, bias: addend === undefined ? ('none' as const) : ('full' as const) };
    const out = smallGemm(backend, a, b, shape, addend, { heads: H, a: layoutA, b: layoutB, out: layoutOut });
    return { ...out, shape: outShape };
  }
  const kernel = (name: string): tf.KernelFunc => tf.getKernel(name, 'webgpu')?.kernelFunc as tf.KernelFunc;
  const made: tf.TensorInfo[] = [];
  const keep = (t: tf.TensorInfo): tf.TensorInfo => (made.push(t), t);
  // [B, R, H, C] ⇄ [B, H, R, C], as views of the data on either side.
  const swap = (x: tf.TensorInfo, shape: number[]): tf.TensorInfo =>
    keep(kernel('Transpose')({ inputs: { x: { dataId: x.dataId, shape, dtype: 'float32' } }, backend, attrs: { perm: [0, 2, 1, 3] } }) as tf.TensorInfo);
  const inHeads = (x: tf.TensorInfo, layout: HeadsLayout, R: number, C: number): tf.TensorInfo =>
    layout === 'tokens' ? { ...swap(x, [batch / H, R, H, C]), shape: [batch, R, C] } : x;
  try {
    const inputs = { a: inHeads(a, layoutA, ra, ca), b: inHeads(b, layoutB, rb, cb), ...(addend !== undefined && layoutOut === 'heads' ? { addend } : {}) };
    // What is returned is not disposed.
    const result = (t: tf.TensorInfo): tf.TensorInfo => (made.splice(made.indexOf(t), 1), { ...t, shape: outShape });
    const product = keep(kernel('BatchMatMul')({ inputs, backend, attrs: { transposeA, transposeB } }) as tf.TensorInfo);
    if (layoutOut === 'heads') return result(product);
    const moved = swap(product, [batch / H, H, M, N]);
    if (addend === undefined) return result(moved);
    return kernel('Add')({ inputs: { a: { ...moved, shape: outShape }, b: { ...addend, shape: outShape } }, backend, attrs: {} }) as tf.TensorInfo;
  } finally {
    for (const t of made) backend.disposeData(t.dataId);
  }
}
