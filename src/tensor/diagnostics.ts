/**
 * Engine self-checks, for tests and benchmarks (never for model code):
 * - `traceKernels` lists the backend kernels a computation runs, so a test can
 *   assert that the ops layer stays within the kernels checked at start-up;
 * - `savedOutputOps` reproduces tfjs's shipped gradients of sigmoid, tanh and
 *   exp (tfjs-core 4.22 `gradients/{Sigmoid,Tanh,Exp}_grad.js`), which save the
 *   op's OUTPUT. Through tfjs's tape that loses every higher-order term that
 *   flows through the saved output (tfjs#3252). The canary test asserts that
 *   these still give wrong second derivatives, to notice an upstream change.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as k from './kernels.js';
import { type Tensor, raw, wrap } from './tensor.js';

/** Run `fn` and list the kernels it executed (first-use order, no repeats). */
export function traceKernels<R>(fn: () => R): { result: R; kernels: string[] } {
  const engine = tf.engine();
  const seen = new Set<string>();
  const original = engine.runKernel;
  engine.runKernel = function (this: typeof engine, name, inputs, attrs) {
    seen.add(name);
    return original.call(this, name, inputs, attrs);
  } as typeof engine.runKernel;
  try {
    return { result: fn(), kernels: [...seen] };
  } finally {
    engine.runKernel = original;
  }
}

type SaveFn = (tensors: tf.Tensor[]) => void;
type CustomGradientFn = Parameters<typeof tf.customGrad>[0];

/** A unary op whose gradient, like tfjs's shipped one, is computed from the saved output y. */
function savedOutputOp(forward: (x: tf.Tensor) => tf.Tensor, dydx: (y: tf.Tensor) => tf.Tensor): (t: Tensor) => Tensor {
  const op = tf.customGrad(((x: tf.Tensor, save: SaveFn) => {
    const y = forward(x);
    save([y]);
    return { value: y, gradFunc: (dy: tf.Tensor, [ySaved]: tf.Tensor[]) => k.mul(dy, dydx(ySaved)) };
  }) as unknown as CustomGradientFn);
  return (t) => wrap(op(raw(t)));
}

/** sigmoid, tanh and exp with tfjs's saved-output gradients (defective beyond first order). */
export const savedOutputOps = {
  /** dσ = y(1 − y), y = σ(x) saved. */
  sigmoid: savedOutputOp(k.sigmoid, (y) => k.mul(y, k.sub(k.scalar(1), y))),
  /** dtanh = 1 − y², y = tanh(x) saved. */
  tanh: savedOutputOp(k.tanh, (y) => k.sub(k.scalar(1), k.square(y))),
  /** dexp = y, y = exp(x) saved. */
  exp: savedOutputOp(k.exp, (y) => k.identity(y)),
};
