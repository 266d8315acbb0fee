/**
 * pita's kernel for many small matrix products: C[b] = op(A[b])·op(B[b]) (+ bias) where both operands of one
 * product fit in workgroup memory together, such as the DiT's attention (B·heads products of 22×32 and 22×22
 * matrices, each in both directions, to second order: 143 products a step).
 *
 * Why: tfjs's batched kernel gives each product 32×32 blocks of 64 threads, so a 22×22 output computes
 * 1024 values for 484 (and a 22×32 one 1024 for 704), and it reads its operands through generic index
 * functions with bounds checks. Here one workgroup of 64 threads takes one product: it copies A and B into
 * workgroup memory once (reading each along its contiguous axis), then each thread computes every 64th
 * output from there. The extents are compiled in (the attention has few shapes).
 *
 * Each output sums over K in increasing order with `fma` from 0, the bias added last: the arithmetic of
 * pita's tiled kernel (webgpu-gemm.ts) unsplit, so a product has the same bits on either kernel.
 * `PITA_MATMUL=tfjs` leaves these products to tfjs as well.
 *
 * An operand or the result may also lie in the tokens' layout of the attention's heads (kernels.ts
 * `headsMatmul`): [B, rows, heads·cols], each head's matrix a column block of a linear layer's output,
 * read and written in place of the transposes into and out of [B·heads, rows, cols]
 * (docs/tensor-engine.md §2.37).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { WebGPUBackend, WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { HeadsLayouts } from './kernels.js';
import { type GemmShape, gemmEnabled } from './webgpu-gemm.js';

const THREADS = 64;
/** Floats of workgroup memory for A and B together: WebGPU's guaranteed 16 KiB. */
const TILE_FLOATS = 4096;
/** Workgroups along one dispatch dimension (WebGPU's guaranteed limit): one per product. */
const MAX_PRODUCTS = 65535;

/** Whether the small kernel takes a product: batched, both operands in workgroup memory, one workgroup each. */
export function takesSmallGemm(M: number, N: number, K: number, batch: number): boolean {
  return gemmEnabled() && batch >= 2 && batch <= MAX_PRODUCTS && K >= 1 && M >= 1 && N >= 1 && (M + N) * K <= TILE_FLOATS;
}

class SmallGemmProgram implements WebGPUProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout = { x: [0], y: [1], z: [2] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [THREADS, 1, 1];
  /** tfjs binds a uniform block to every program; the shader reads its `size` (the output's) so that it is used. */
  readonly size = true;

  constructor(
    private readonly s: GemmShape,
    private readonly layouts: HeadsLayouts = { heads: 1, a: 'heads', b: 'heads', out: 'heads' },
  ) {
    this.variableNames = s.bias === 'none' ? ['A', 'B'] : ['A', 'B', 'bias'];
    const H = layouts.heads;
    this.outputShape = layouts.out === 'tokens' ? [s.batch / H, s.M, H * s.N] : [s.batch, s.M, s.N];
    this.dispatch = [s.batch, 1, 1];
    const l = (x: 'heads' | 'tokens'): string => (x === 'tokens' ? 't' : 'h');
    const key = H === 1 ? '' : `_${H}${l(layouts.a)}${l(layouts.b)}${l(layouts.out)}`;
    this.shaderKey = `pita_smallgemm_${s.M}_${s.N}_${s.K}_${Number(s.transposeA)}${Number(s.transposeB)}_${s.bias}${key}`;
  }

  getUserCode(): string {
    const { M, N, K, transposeA, transposeB, bias } = this.s;
    const { heads: H, a: la, b: lb, out: lo } = this.layouts;
    // Where matrix `batch` = bi·H + hi of R × C starts, and element e (in memory order) lies from there:
    // contiguous in the heads' layout; in the tokens' layout its rows are H·C apart, its head hi·C in.
    const base = (layout: string, R: number, C: number): string => (layout === 'tokens' ? `(batch / ${H}) * ${R * H * C} + (batch % ${H}) * ${C}` : `batch * ${R * C}`);
    const at = (layout: string, C: number, e: string): string => (layout === 'tokens' ? `(${e} / ${C}) * ${H * C} + ${e} % ${C}` : e);
    // Element e of an operand in memory order, and where it goes in its tile: tileA is [M][K], tileB [K][N].
    const load = (name: string, tile: string, layout: string, R: number, C: number, to: string) => `
  let ${name}Base = ${base(layout, R, C)};
  for (var e = li; e < ${R * C}; e = e + ${THREADS}) {
    ${tile}[${to}] = ${name}[${name}Base + ${at(layout, C, 'e')}];
  }`;
    // A stored [M, K] (or [K, M] transposed); B stored [K, N] (or [N, K] transposed).
    const aTo = transposeA ? `(e % ${M}) * ${K} + e / ${M}` : 'e';
    const bTo = transposeB ? `(e % ${K}) * ${N} + e / ${K}` : 'e';
    const plus = bias === 'none' ? '' : bias === 'column' ? ` + bias[o % ${N}]` : ' + bias[dst]';
    return `
var<workgroup> tileA : array<f32, ${M * K}>;
var<workgroup> tileB : array<f32, ${K * N}>;

fn main() {
  let li = i32(localId.x);
  let batch = i32(workgroupId.x);
  ${load('A', 'tileA', la, transposeA ? K : M, transposeA ? M : K, aTo)}
  ${load('B', 'tileB', lb, transposeB ? N : K, transposeB ? K : N, bTo)}
  workgroupBarrier();
  let outBase = ${base(lo, M, N)};
  for (var o = li; o < ${M * N}; o = o + ${THREADS}) {
    let row = o / ${N};
    let col = o % ${N};
    var c = 0.0;
    for (var k = 0; k < ${K}; k = k + 1) {
      c = fma(tileA[row * ${K} + k], tileB[k * ${N} + col], c);
    }
    let dst = outBase + ${at(lo, N, 'o')};
    if (dst < uniforms.size) {
      result[dst] = c${plus};
    }
  }
}`;
  }
}

/**
 * C[b] = op(A[b])·op(B[b]) (+ bias) as [batch, M, N] on the small kernel (the caller checked `takesSmallGemm`);
 * with `layouts`, operands and result in the heads' or the tokens' layout (a result in the tokens' as
 * [batch / heads, M, heads·N]; a full bias laid out as the result).
 */
export function smallGemm(backend: WebGPUBackend, a: tf.TensorInfo, b: tf.TensorInfo, s: GemmShape, bias?: tf.TensorInfo, layouts?: HeadsLayouts): tf.TensorInfo {
  return backend.runWebGPUProgram(new SmallGemmProgram(s, layouts), bias === undefined ? [a, b] : [a, b, bias], 'float32');
}
