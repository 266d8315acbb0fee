/**
 * Kernel replacements for tfjs-backend-wasm that skip per-op work it does
 * for nothing (docs/tensor-engine.md §2.9).
 *
 * Identity, and Cast to the input's own dtype: the stock kernels copy the
 * whole buffer. tfjs runs Identity for every tensor the tape saves for the
 * backward pass (Engine.clone) and Cast in that clone's gradient, so a
 * second-order EGNN training step spent ~10 % of its time in these copies
 * on a loaded machine (V8 CPU profile, B = 64; 5–8 % on an idle one, where
 * memory is less contended). Tensors are immutable and no pita kernel writes
 * into an input's buffer, so the output may share the input's buffer with a
 * reference count, as the wasm Reshape kernel and the CPU backend's Identity
 * already do.
 *
 * Transpose of a matrix whose row count is a multiple of 256: the stock
 * kernel writes the output a column at a time, at a stride of m × 4 bytes,
 * and when that stride is a multiple of 1 KiB every write of a row maps to
 * the same few cache sets and misses: 6–14 ns per element instead of 0.5
 * (measured on [m, 32] and [m, 64] for m = 256 … 16384). Those are exactly
 * the shapes a power-of-two batch gives (DW-4's pair rows: 16·B), where
 * the matmul gradients' transposes were 17 % of a training step. A blocked
 * copy in JavaScript that writes the output in runs (four output rows at a
 * time, 64 input rows per block) takes ~1.1 ns per element there. Other
 * shapes keep the stock kernel, which is faster on them.
 *
 * Sharing is only safe under the input's own shape: the wasm BatchMatMul
 * caches its packed right-hand operand by buffer id alone, not by shape, so
 * one buffer used as that operand under two shapes reads out of bounds
 * (seen when a transpose that only moved size-1 axes shared its input).
 * Identity and Cast keep the shape; Transpose always writes a new buffer.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulKernel, loadSimdKernels, sumKernel, tanhKernel } from './simd-kernels.js';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

function share(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

interface WasmHeapBackend extends RefCountingBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Input rows per block of the blocked transpose (its inputs then stay in L1: 64 × n × 4 bytes). */
const BLOCK_ROWS = 64;

/** dst = srcᵀ for src [m, n] row-major: output rows four at a time, each written in runs of BLOCK_ROWS. */
function transposeBlocked(src: ArrayLike<number>, dst: { [i: number]: number }, m: number, n: number): void {
  for (let i0 = 0; i0 < m; i0 += BLOCK_ROWS) {
    const i1 = Math.min(i0 + BLOCK_ROWS, m);
    let j = 0;
    for (; j + 4 <= n; j += 4) {
      const d0 = j * m;
      const d1 = d0 + m;
      const d2 = d1 + m;
      const d3 = d2 + m;
      for (let i = i0, s = i0 * n + j; i < i1; i++, s += n) {
        const v0 = src[s];
        const v1 = src[s + 1];
        const v2 = src[s + 2];
        const v3 = src[s + 3];
        dst[d0 + i] = v0;
        dst[d1 + i] = v1;
        dst[d2 + i] = v2;
        dst[d3 + i] = v3;
      }
    }
    for (; j < n; j++) for (let i = i0, s = i0 * n + j, d = j * m; i < i1; i++, s += n) dst[d + i] = src[s];
  }
}

/** The axes of size > 1 of `shape` and `perm` restricted to them (renumbered), as the stock kernel reduces them. */
function withoutUnitAxes(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = shape.map((d, i) => (d === 1 ? -1 : i)).filter((i) => i >= 0);
  const rank = new Map(kept.map((axis, r) => [axis, r]));
  return { shape: kept.map((i) => shape[i]), perm: perm.filter((p) => shape[p] !== 1).map((p) => rank.get(p) as number) };
}

function transposeKernel(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = args.attrs?.perm as number[];
    const backend = args.backend as WasmHeapBackend;
    if (x.dtype === 'string') return stock(args) as tf.TensorInfo;
    const reduced = withoutUnitAxes(x.shape, perm);
    const [m, n] = reduced.shape;
    if (reduced.shape.length !== 2 || reduced.perm[0] !== 1 || m % 256 !== 0) return stock(args) as tf.TensorInfo;
    const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
    transposeBlocked(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), m, n);
    return out;
  };
}

function replace(kernelName: string, kernelFunc: tf.KernelFunc): void {
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
}

let installed = false;

/** The stock wasm kernel `name` (its function is kept as the fallback of a replacement). */
function stockKernel(name: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) throw new Error(`tensor backend: the wasm ${name} kernel is not registered`);
  return kernel.kernelFunc;
}

/**
 * Install the replacements, and pita's SIMD kernels (simd-kernels.ts), once
 * per thread; call with the wasm backend active.
 */
export function installWasmKernels(): void {
  if (installed) return;
  const stockCast = stockKernel('Cast');
  const stockTranspose = stockKernel('Transpose');
  stockKernel('Identity');
  const simd = loadSimdKernels(tf.backend());
  replace('BatchMatMul', batchMatMulKernel(stockKernel('BatchMatMul'), simd));
  replace('Tanh', tanhKernel(stockKernel('Tanh'), simd));
  replace('Sum', sumKernel(stockKernel('Sum'), simd));
  replace('Identity', ({ inputs, backend }) => share(inputs.x as tf.TensorInfo, backend));
  replace('Cast', (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    return args.attrs?.dtype === x.dtype ? share(x, args.backend) : stockCast(args);
  });
  replace('Transpose', transposeKernel(stockTranspose));
  installed = true;
}
