/**
 * The taped kernel behind ops.ts `fused` and `fusedSum` on WebGPU (docs/tensor-engine.md §2.18): one
 * kernel for an expression, summed over some axes or not; its gradient with respect to input i is one
 * more, ∂e/∂x_i · dy summed to x_i's shape, which is again this kernel, so every order of derivative
 * is fused. A registered gradient, not a custom-gradient op:
 * tfjs then asks only for the gradients of inputs on the path to what is differentiated (the first
 * backward pass of a second-order loss wants ∇ₓ, not the gates' and shifts' gradients that a
 * custom-gradient op would compute for every input).
 */
import type * as tf from '@tensorflow/tfjs-core';
import { type Joinable, registerAddend } from './accumulate.js';
import { E, type Expr, derivative, exprKey, reindex, usedInputs, wgslBody } from './fused.js';
import * as k from './kernels.js';

type T = tf.Tensor;

/**
 * Inputs one fused kernel may read: WebGPU guarantees 8 storage buffers per shader stage (a device
 * may request more, pita's does not), and the output is one of them.
 */
export const MAX_FUSED_INPUTS = 7;

/** Expressions and their WGSL by key (a kernel's attributes carry the key; building walks the tree). */
const known = new Map<string, { expr: Expr; code: string }>();

/**
 * e of `inputs` (x0, x1, … in the expression), which broadcast to `shape`, evaluated over `shape` and
 * summed to `outShape` (of shape's rank; an axis of extent 1 there is summed), plus `addend` (of
 * outShape's size) where given: one kernel.
 */
export function fusedOp(e: Expr, inputs: readonly T[], shape: readonly number[], outShape: readonly number[] = shape, addend?: T): T {
  // Inputs e does not read are dropped: a gradient's expression reads only some of its function's
  // inputs, and an unread input would only be saved for nothing. `shape` keeps the extent they gave.
  const used = usedInputs(e);
  if (used.size < inputs.length) {
    const kept = [...used].sort((p, q) => p - q);
    const at = new Map(kept.map((j, i) => [j, i]));
    return fusedOp(
      reindex(e, (j) => at.get(j) as number),
      kept.map((j) => inputs[j]),
      shape,
      outShape,
      addend,
    );
  }
  const reads = inputs.length + (addend === undefined ? 0 : 1);
  if (reads > MAX_FUSED_INPUTS) throw new RangeError(`fused kernel: ${reads} inputs, at most ${MAX_FUSED_INPUTS} fit one kernel`);
  const key = `${inputs.length}:${exprKey(e)}`;
  let entry = known.get(key);
  if (entry === undefined) {
    entry = { expr: e, code: wgslBody(e, inputs.length) };
    known.set(key, entry);
  }
  const out = k.fusedKernel(key, entry.code, inputs, shape, outShape, addend === undefined ? undefined : k.reshape(addend, outShape));
  // A gradient contribution made here can take the running sum as its addend, or join another fused
  // contribution in one kernel (accumulate.ts).
  if (addend === undefined && reads < MAX_FUSED_INPUTS) {
    registerAddend(out, inputs, (a, as) => k.reshape(fusedOp(e, inputs, shape, outShape, a), as), new FusedTerm(e, inputs, shape, outShape));
  }
  return out;
}

/**
 * A fused kernel's call, as a term that joins another over the same shapes into one kernel computing
 * their sum: Σ(e₁ + e₂) reads each input once and writes once, where the first kernel's output
 * written and read back as the second's addend cost a pass each, and a kernel. In the EGNN's step the
 * SiLU terms over the [B, 13, 13, 32] pair features join so: 11.5 % fewer bytes bound per step
 * (docs/tensor-engine.md §2.36). Within float32 rounding of the two kernels' sum (a shader compiler may
 * contract e₁'s last product and the addition; a sum over axes adds in another order).
 */
class FusedTerm implements Joinable {
  constructor(
    readonly expr: Expr,
    readonly inputs: readonly T[],
    readonly shape: readonly number[],
    readonly outShape: readonly number[],
  ) {}

  /** this + other (this, the running sum, first, as tfjs's add had them), shaped `as`; null if they do not fit one kernel. */
  join(other: Joinable, as: readonly number[]): T | null {
    if (!(other instanceof FusedTerm) || !k.sameShape(this.shape, other.shape) || !k.sameShape(this.outShape, other.outShape)) return null;
    if ([...this.inputs, ...other.inputs].some((t) => t.isDisposed)) return null;
    // Inputs shared by both (the same tensor, or the same data seen with the same shape) are read once.
    const inputs = [...this.inputs];
    const order = other.inputs.map((t) => {
      const at = inputs.findIndex((u) => u === t || (u.dataId === t.dataId && k.sameShape(u.shape, t.shape) && u.dtype === t.dtype));
      return at >= 0 ? at : inputs.push(t) - 1;
    });
    if (inputs.length > MAX_FUSED_INPUTS) return null;
    const e = E.add(this.expr, reindex(other.expr, (j) => order[j]));
    return k.reshape(fusedOp(e, inputs, this.shape, this.outShape), as);
  }
}

/** `shape` with leading 1s to rank n. */
const padTo = (shape: readonly number[], n: number): number[] => [...new Array<number>(n - shape.length).fill(1), ...shape];

/**
 * The gradient of FUSED_KERNEL. The kernel computes y = Σ e over the summed axes of its shape S; dy (of
 * y's shape) broadcasts back over S, so input i's gradient is ∂e/∂x_i · dy evaluated over S and summed
 * to x_i's shape: again one fused kernel (dy read as input n), whatever the shapes. S is needed
 * explicitly: with the summed axes or a dropped input the remaining inputs may not span it.
 */
export const FUSED_GRADIENT: tf.GradConfig = {
  kernelName: k.FUSED_KERNEL,
  saveAllInputs: true,
  gradFunc: (dy, saved, attrs) => {
    const key = attrs?.key as string;
    const shape = attrs?.shape as number[];
    const entry = known.get(key);
    if (entry === undefined) throw new Error(`${k.FUSED_KERNEL} gradient: unknown expression ${key}`);
    const d = dy as T;
    const n = saved.length;
    const grads: Record<string, () => T> = {};
    saved.forEach((x, i) => {
      grads[String(i)] = () => {
        // The addend (the last input; e does not read it): dy itself.
        if (attrs?.addend === true && i === n - 1) return k.reduceToShape(d, x.shape);
        const g = E.mul(derivative(entry.expr, i), E.input(n));
        if (g.op === 'const') return k.zeros(x.shape);
        // dy itself, spanning S: no kernel but the reduction (reduceToShape returns a new tensor).
        if (g.op === 'input' && k.sameShape(d.shape, shape)) return k.reduceToShape(d, x.shape);
        return k.reshape(fusedOp(g, [...saved, d], shape, padTo(x.shape, shape.length)), x.shape);
      };
    });
    return grads;
  },
};
