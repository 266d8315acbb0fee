/**
 * The opaque tensor handle of the ops layer. Outside src/tensor a `Tensor` can
 * only be passed to ops-layer functions: its fields and methods belong to the
 * backend (tfjs today) and are hidden so that model code cannot depend on them.
 * Inside src/tensor, `raw` and `wrap` convert between the handle and the
 * backend tensor at zero cost (they are casts).
 */
import type * as tf from '@tensorflow/tfjs-core';

declare const tensorBrand: unique symbol;

/** A float32 tensor living in the tensor backend. Opaque: use the ops layer. */
export interface Tensor {
  readonly [tensorBrand]: 'pita.Tensor';
}

/** The backend tensor behind a handle (src/tensor only). */
export function raw(t: Tensor): tf.Tensor {
  return t as unknown as tf.Tensor;
}

/** The handle of a backend tensor (src/tensor only). */
export function wrap(t: tf.Tensor): Tensor {
  return t as unknown as Tensor;
}

/** Backend tensors of handles (src/tensor only). */
export function rawAll(ts: readonly Tensor[]): tf.Tensor[] {
  return ts as unknown as tf.Tensor[];
}

/** "[2,3]" for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
