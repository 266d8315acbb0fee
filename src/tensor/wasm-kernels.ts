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
 */
import * as tf from '@tensorflow/tfjs-core';

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

/** Install the replacements (once per thread; call after the wasm backend is registered). */
export function installWasmKernels(): void {
  if (installed) return;
  const stockCast = tf.getKernel('Cast', 'wasm');
  if (stockCast === undefined || tf.getKernel('Identity', 'wasm') === undefined) {
    throw new Error('tensor backend: the wasm Identity or Cast kernel is not registered');
  }
  replace('Identity', ({ inputs, backend }) => share(inputs.x as tf.TensorInfo, backend));
  replace('Cast', (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    return args.attrs?.dtype === x.dtype ? share(x, args.backend) : stockCast.kernelFunc(args);
  });
  installed = true;
}
