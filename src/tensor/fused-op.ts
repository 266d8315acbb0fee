/**
 * The taped kernel behind ops.ts `fused` on WebGPU (docs/tensor-engine.md §2.18): one kernel for an
 * expression; its gradient with respect to input i is one more, ∂e/∂x_i · dy, which is again this
 * kernel, so every order of derivative is fused. A registered gradient, not a custom-gradient op:
 * tfjs then asks only for the gradients of inputs on the path to what is differentiated (the first
 * backward pass of a second-order loss wants ∇ₓ, not the gates' and shifts' gradients that a
 * custom-gradient op would compute for every input).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { E, type Expr, derivative, exprKey, reindex, usedInputs, wgslBody } from './fused.js';
import * as k from './kernels.js';

type T = tf.Tensor;

/** Expressions and their WGSL by key (a kernel's attributes carry the key; building walks the tree). */
const known = new Map<string, { expr: Expr; code: string }>();

/** e of `inputs` (x0, x1, … in the expression), which broadcast to one shape: one kernel. */
export function fusedOp(e: Expr, inputs: readonly T[]): T {
  // Inputs e does not read are dropped: a gradient's expression reads only some of its function's
  // inputs, and an unread input would only be saved for nothing.
  const used = usedInputs(e);
  if (used.size < inputs.length) {
    const kept = [...used].sort((p, q) => p - q);
    const at = new Map(kept.map((j, i) => [j, i]));
    return fusedOp(
      reindex(e, (j) => at.get(j) as number),
      kept.map((j) => inputs[j]),
    );
  }
  const key = `${inputs.length}:${exprKey(e)}`;
  let entry = known.get(key);
  if (entry === undefined) {
    entry = { expr: e, code: wgslBody(e, inputs.length) };
    known.set(key, entry);
  }
  return k.fusedKernel(key, entry.code, inputs);
}

/** The gradient of FUSED_KERNEL: input i gets reduce(∂e/∂x_i · dy) to its shape, dy read as input n. */
export const FUSED_GRADIENT: tf.GradConfig = {
  kernelName: k.FUSED_KERNEL,
  saveAllInputs: true,
  gradFunc: (dy, saved, attrs) => {
    const key = attrs?.key as string;
    const entry = known.get(key);
    if (entry === undefined) throw new Error(`${k.FUSED_KERNEL} gradient: unknown expression ${key}`);
    const d = dy as T;
    const n = saved.length;
    const grads: Record<string, () => T> = {};
    saved.forEach((x, i) => {
      grads[String(i)] = () => {
        const g = E.mul(derivative(entry.expr, i), E.input(n));
        if (g.op === 'const') return k.zeros(x.shape);
        // A sum's gradient is dy itself: no kernel but the reduction (reduceToShape returns a new tensor).
        return k.reduceToShape(g.op === 'input' ? d : fusedOp(g, [...saved, d]), x.shape);
      };
    });
    return grads;
  },
};
