/**
 * pita's own SIMD kernels for the wasm backend (assembly/, compiled by
 * AssemblyScript to build/kernels.wasm), and the tfjs kernel functions that
 * run them (docs/tensor-engine.md §2.11).
 *
 * The module imports tfjs-backend-wasm's WebAssembly.Memory and works on the
 * tensors in place, so a kernel costs one call and no copies. It has no data
 * segments, stack or heap of its own: it only reads its inputs and writes the
 * output tfjs allocated.
 *
 * - BatchMatMul (float32, A or Aᵀ times B): the stock kernel runs scalar
 *   loops whenever there is a batch dimension (~2.5 GFLOP/s on the DiT's
 *   attention products) and XNNPACK otherwise, which repacks the right operand
 *   on each new buffer, i.e. on every gradient product. pita's kernel (4 × 8
 *   register tiles over 256-row panels) measured 22 GFLOP/s on the batched
 *   shapes and 39–41 on the 2-D ones, against XNNPACK's 33–37 there.
 * - Tanh (float32): the stock kernel calls scalar tanhf (~17 ns per element);
 *   pita's evaluates a rational approximation four lanes at a time.
 * - Sum (float32, one block of adjacent axes): the stock kernel transposes
 *   the reduced axes to the end first; pita's sums in place.
 * - Transpose of the last two axes (after dropping unit axes; 4-byte
 *   dtypes): the stock kernel writes a column at a time and misses at every
 *   write when the row count is a multiple of 256 (§2.10); pita's moves 4 × 4
 *   tiles with lane shuffles and writes rows in runs.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { sameShape, sizeOfShape } from './kernels.js';

/** The part of the WebAssembly global used here (lib ES2022 and @types/node 20 do not declare it). */
declare const WebAssembly: {
  Memory: abstract new (...args: never[]) => object;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
};

interface SimdExports {
  batchMatMul(a: number, b: number, c: number, batch: number, m: number, k: number, n: number, aStep: number, bStep: number, transposeA: boolean): void;
  tanh(x: number, y: number, size: number): void;
  sumAxis(x: number, y: number, outer: number, r: number, inner: number): void;
  transpose(x: number, y: number, batch: number, m: number, n: number): void;
}

/** What the kernels need of the wasm backend. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
}

const KERNELS_WASM = new URL('../../build/kernels.wasm', import.meta.url);

let compiled: object | null = null;

/** Instantiates build/kernels.wasm on the backend's heap (compiled once per thread). */
export function loadSimdKernels(backend: unknown): SimdExports {
  const memory = (backend as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) {
    throw new Error('tensor backend: the wasm backend does not expose its WebAssembly.Memory (tfjs-backend-wasm version?)');
  }
  if (compiled === null) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(KERNELS_WASM);
    } catch {
      throw new Error(`tensor backend: ${fileURLToPath(KERNELS_WASM)} not found; run \`npm run build:wasm\` (npm ci and npm run build do)`);
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return new WebAssembly.Instance(compiled, { env: { memory } }).exports as unknown as SimdExports;
}

const offset = (backend: WasmHeapBackend, t: tf.TensorInfo): number => {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error('tensor backend: a kernel input is not on the wasm heap');
  return data.memoryOffset;
};


/**
 * Offsets (in matrices) of each output batch element's operand in a batch of
 * shape `s`, broadcast to `out` (right-aligned, size-1 axes repeat).
 */
function broadcastIndices(s: readonly number[], out: readonly number[]): number[] {
  const shift = out.length - s.length;
  const indices: number[] = [];
  const size = sizeOfShape(out);
  for (let t = 0; t < size; t++) {
    let rest = t;
    let index = 0;
    let stride = 1;
    for (let d = out.length - 1; d >= 0; d--) {
      const coord = rest % out[d];
      rest = Math.floor(rest / out[d]);
      if (d >= shift) {
        if (s[d - shift] !== 1) index += coord * stride;
        stride *= s[d - shift];
      }
    }
    indices.push(index);
  }
  return indices;
}

/**
 * BatchMatMul on pita's kernel for float32 operands without transposeB
 * (transposeA is read in place; pita's ops materialise other transposes,
 * docs/tensor-engine.md §2.2), with tfjs's batch broadcasting. The stock
 * kernel runs otherwise; note that it handles a batch broadcast only when
 * both batch sizes are equal (it sizes the output by the larger and reads past
 * the smaller operand).
 */
export function batchMatMulKernel(stock: tf.KernelFunc, simd: SimdExports): tf.KernelFunc {
  return (args) => {
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    const attrs = args.attrs ?? {};
    const transposeA = attrs.transposeA === true;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const [m, k] = transposeA ? [a.shape[ra - 1], a.shape[ra - 2]] : [a.shape[ra - 2], a.shape[ra - 1]];
    const [kb, n] = b.shape.slice(rb - 2);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || attrs.transposeB === true || ra < 2 || rb < 2 || k !== kb) {
      return stock(args) as tf.TensorInfo; // also the place of the shape errors
    }
    const batchA = a.shape.slice(0, ra - 2);
    const batchB = b.shape.slice(0, rb - 2);
    const outBatch = tf.backend_util.assertAndGetBroadcastShape(batchA, batchB);
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput([...outBatch, m, n], 'float32');
    if (m * n * sizeOfShape(outBatch) === 0) return out;
    const [pa, pb, pc] = [offset(backend, a), offset(backend, b), offset(backend, out)];
    const sizeA = sizeOfShape(batchA);
    const sizeB = sizeOfShape(batchB);
    if (sizeB === 1 && !transposeA) {
      simd.batchMatMul(pa, pb, pc, 1, sizeA * m, k, n, 0, 0, false); // one product with sizeA·m rows
    } else if (sizeA === 1 || sizeB === 1 || sameShape(batchA, batchB)) {
      simd.batchMatMul(pa, pb, pc, Math.max(sizeA, sizeB), m, k, n, sizeA === 1 ? 0 : m * k, sizeB === 1 ? 0 : k * n, transposeA);
    } else {
      const ia = broadcastIndices(batchA, outBatch);
      const ib = broadcastIndices(batchB, outBatch);
      for (let t = 0; t < ia.length; t++) {
        simd.batchMatMul(pa + 4 * ia[t] * m * k, pb + 4 * ib[t] * k * n, pc + 4 * t * m * n, 1, m, k, n, 0, 0, transposeA);
      }
    }
    return out;
  };
}

/** Tanh on pita's kernel for float32 (the stock kernel otherwise). */
export function tanhKernel(stock: tf.KernelFunc, simd: SimdExports): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype !== 'float32') return stock(args) as tf.TensorInfo;
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput([...x.shape], 'float32');
    const size = sizeOfShape(x.shape);
    if (size > 0) simd.tanh(offset(backend, x), offset(backend, out), size);
    return out;
  };
}

/**
 * Sum over one block of adjacent axes (float32) on pita's kernel: the input
 * viewed as [outer, r, inner], reduced over r. The stock kernel (which
 * transposes the reduced axes to the end first) runs for other axis sets.
 */
export function sumKernel(stock: tf.KernelFunc, simd: SimdExports): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const rank = x.shape.length;
    const raw = args.attrs?.axis as number | number[] | undefined;
    const axes = [...new Set((raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).map((a) => (a < 0 ? a + rank : a)))].sort((p, q) => p - q);
    const adjacent = axes.length > 0 && axes.every((a, i) => a === axes[0] + i && a >= 0 && a < rank);
    if (x.dtype !== 'float32' || !adjacent) return stock(args) as tf.TensorInfo;
    const first = axes[0];
    const last = axes[axes.length - 1];
    const outShape = args.attrs?.keepDims === true ? x.shape.map((d, i) => (i >= first && i <= last ? 1 : d)) : x.shape.filter((_, i) => i < first || i > last);
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput(outShape, 'float32');
    const outer = sizeOfShape(x.shape.slice(0, first));
    const inner = sizeOfShape(x.shape.slice(last + 1));
    if (outer * inner === 0) return out;
    simd.sumAxis(offset(backend, x), offset(backend, out), outer, sizeOfShape(x.shape.slice(first, last + 1)), inner);
    return out;
  };
}

/** The axes of size > 1 of `shape` and `perm` restricted to them (renumbered), as the stock kernel reduces them. */
function withoutUnitAxes(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const kept = shape.map((d, i) => (d === 1 ? -1 : i)).filter((i) => i >= 0);
  const rank = new Map(kept.map((axis, r) => [axis, r]));
  return { shape: kept.map((i) => shape[i]), perm: perm.filter((p) => shape[p] !== 1).map((p) => rank.get(p) as number) };
}

/**
 * Transpose on pita's kernel when, after dropping unit axes, it swaps the
 * last two axes of a batch of matrices (float32 or int32: the kernel moves
 * 4-byte words); the stock kernel otherwise. The output is always a new
 * buffer (§2.10: never share a buffer under another shape).
 */
export function transposeKernel(stock: tf.KernelFunc, simd: SimdExports): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = args.attrs?.perm as number[];
    const reduced = withoutUnitAxes(x.shape, perm);
    const r = reduced.shape.length;
    const swapsLastTwo = r >= 2 && reduced.perm.every((p, i) => p === (i < r - 2 ? i : 2 * r - 3 - i));
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !swapsLastTwo) return stock(args) as tf.TensorInfo;
    const backend = args.backend as WasmHeapBackend;
    const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
    const [m, n] = reduced.shape.slice(r - 2);
    simd.transpose(offset(backend, x), offset(backend, out), sizeOfShape(reduced.shape.slice(0, r - 2)), m, n);
    return out;
  };
}
