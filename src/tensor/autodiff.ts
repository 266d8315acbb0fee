/**
 * Reverse-mode differentiation of ops-layer functions (docs/tensor-engine.md §1).
 *
 * Semantics (docs/tensor-engine.md §1): gradients flow through every tensor the
 * function uses, including captured ones; only `stopGradient` blocks them.
 * Calls nest: a gradient computed inside `f` is itself differentiable, so
 * ∂/∂θ of a loss that contains ∇ₓE_θ(x) is `grads(() => loss(grad(x => E(θ, x), x)), θs)`.
 *
 * `f` must return a one-element tensor, unless a cotangent `dy` of the same
 * shape as f's result is given (then the result is the vector–Jacobian
 * product dyᵀ·∂f/∂x). An input that f does not depend on gets a zero gradient.
 */
import * as tf from '@tensorflow/tfjs-core';
import { accumulate } from './accumulate.js';
import * as k from './kernels.js';
import { rethrowWasmFailure } from './memory.js';
import { gradients } from './tape.js';
import { type Tensor, fmtShape, raw, rawAll, wrap } from './tensor.js';

/** The value of f and its gradients, null where f does not depend on an input (src/tensor only). */
export function valueAndGradsOrNull(
  f: () => Tensor,
  xs: readonly Tensor[],
  dy?: Tensor,
): { value: Tensor; grads: (Tensor | null)[] } {
  if (xs.length === 0) throw new RangeError('gradient: needs at least one input to differentiate with respect to');
  const rdy = dy === undefined ? undefined : raw(dy);
  const checked = (): tf.Tensor => {
    const y = raw(f());
    if (rdy === undefined && y.size !== 1) {
      throw new RangeError(
        `gradient: f returned shape ${fmtShape(y.shape)}; it must return one element, or pass a cotangent dy of that shape`,
      );
    }
    if (rdy !== undefined && !k.sameShape(rdy.shape, y.shape)) {
      throw new RangeError(`gradient: cotangent dy has shape ${fmtShape(rdy.shape)}, f returned ${fmtShape(y.shape)}`);
    }
    return y;
  };
  try {
    const { value, grads } = gradients(checked, rawAll(xs), rdy, accumulate);
    return { value: wrap(value), grads: grads.map((g) => (g == null ? null : wrap(g))) };
  } catch (e) {
    releaseAbandonedTape();
    rethrowWasmFailure(e);
  }
}

/**
 * tfjs frees the tensors a tape saved for backprop only after a successful
 * outermost backward pass. When the outermost gradient computation throws
 * (e.g. a WasmHeapError), free them here so that a caller that recovers (say,
 * retries with a smaller micro-batch) does not leak them.
 */
function releaseAbandonedTape(): void {
  const state = tf.engine().state;
  if (state.gradientDepth !== 0 || state.activeTape == null) return;
  for (const node of state.activeTape) for (const t of node.saved ?? []) t.dispose();
  state.activeTape = [];
}

/** Value and gradients of f at xs (f receives xs as arguments). */
export function valueAndGrads(
  f: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  dy?: Tensor,
): { value: Tensor; grads: Tensor[] } {
  const { value, grads } = valueAndGradsOrNull(() => f(...xs), xs, dy);
  return { value, grads: grads.map((g, i) => g ?? wrap(k.zeros(raw(xs[i]).shape))) };
}

/** Value and gradient of f at x. */
export function valueAndGrad(f: (x: Tensor) => Tensor, x: Tensor, dy?: Tensor): { value: Tensor; grad: Tensor } {
  const { value, grads } = valueAndGrads((xi) => f(xi), [x], dy);
  return { value, grad: grads[0] };
}

/** Gradients of f at xs. */
export function grads(f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[], dy?: Tensor): Tensor[] {
  return valueAndGrads(f, xs, dy).grads;
}

/** Gradient of f at x. */
export function grad(f: (x: Tensor) => Tensor, x: Tensor, dy?: Tensor): Tensor {
  return valueAndGrads((xi) => f(xi), [x], dy).grads[0];
}
