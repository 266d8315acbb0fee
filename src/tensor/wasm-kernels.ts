/**
 * Kernel replacements for tfjs-backend-wasm: per-op work it does for nothing
 * (docs/tensor-engine.md §2.9), and slow kernels (§2.10–2.11).
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
 * Transpose, BatchMatMul, Tanh and Sum run pita's SIMD kernels
 * (simd-kernels.ts, docs/tensor-engine.md §2.10–2.11), with the stock kernels
 * as the fallback for the cases those do not cover.
 *
 * Sharing is only safe under the input's own shape: the wasm BatchMatMul
 * caches its packed right-hand operand by buffer id alone, not by shape, so
 * one buffer used as that operand under two shapes reads out of bounds
 * (seen when a transpose that only moved size-1 axes shared its input).
 * Identity and Cast keep the shape; Transpose always writes a new buffer
 * (the stock matmul that had that cache is no longer used for float32, but
 * the rule stands).
 */
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulKernel, loadSimdKernels, sumKernel, tanhKernel, transposeKernel } from './simd-kernels.js';

interface RefCountingBackend {
  incRef(dataId: tf.DataId): void;
}

function share(x: tf.TensorInfo, backend: unknown): tf.TensorInfo {
  (backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
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
  stockKernel('Identity'); // replaced below without a fallback, but it must exist
  const simd = loadSimdKernels(tf.backend());
  replace('BatchMatMul', batchMatMulKernel(stockKernel('BatchMatMul'), simd));
  replace('Tanh', tanhKernel(stockKernel('Tanh'), simd));
  replace('Sum', sumKernel(stockKernel('Sum'), simd));
  replace('Identity', ({ inputs, backend }) => share(inputs.x as tf.TensorInfo, backend));
  replace('Cast', (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    return args.attrs?.dtype === x.dtype ? share(x, args.backend) : stockCast(args);
  });
  replace('Transpose', transposeKernel(stockTranspose, simd));
  installed = true;
}
