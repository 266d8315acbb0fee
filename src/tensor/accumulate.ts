/**
 * Adding up a tensor's gradient contributions in the reverse pass
 * (src/tensor/tape.ts) without an `Add` kernel where the kernel that made a
 * contribution can add it itself.
 *
 * A kernel that can take an addend registers here, by its output's data,
 * how to run it again with one more input added to its result
 * (`registerAddend`). When a contribution, or the sum so far, comes from
 * such a kernel, the sum is that kernel again with the other tensor as its
 * addend: one kernel instead of two, and the first one's output is read by
 * nothing, so a captured step leaves it out (src/tensor/replay.ts). The
 * new kernel is taped like any other, so higher derivatives flow through it.
 *
 * Only WebGPU's kernels register (fused expressions and sums, matrix
 * products); the CPU adds with tfjs's `Add`, as tfjs does. Floating-point
 * addition commutes, so a + b in one kernel is the two-kernel sum bit for
 * bit, unless the shader compiler contracts a product and the addition
 * into one fused multiply-add (float32 noise). docs/tensor-engine.md §2.19.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Runs a kernel again with `addend` (of its output's size) added to its result, shaped `shape`; null if it cannot now. */
type WithAddend = (addend: tf.Tensor, shape: readonly number[]) => tf.Tensor | null;

/** By a kernel's output's data: how it runs again with an addend, and its number among registrations. */
const addendKernels = new WeakMap<object, { rerun: WithAddend; at: number }>();
let enabled = true;

/**
 * A kernel runs again only if it is among the last RECENT registered (`registrations` counts them). One
 * registered long before can still be reached, through a tensor that shares its output's data (a
 * gradient passed on unchanged by a reshape) or as the sum a much later contribution joins; running it
 * again then, with its first run left out of a captured step, keeps its inputs alive until then. In the
 * paper's DiT step the second-order pass's GELU terms ran again a whole pass after their inputs were
 * last needed: at B = 32 the step's recording took 265 MB against 204 MB with this rule, and the EGNN
 * step's 46 MB against 33, for the same kernels to ±1 (the annealing evaluation 3 more of 184). Measured
 * (`pita bench --device webgpu --batch 32`): a window of 1 adds 62 of the DiT's kernels, 2 adds 12, 4 and
 * 8 none (docs/tensor-engine.md §2.34).
 */
const RECENT = 4;
let registrations = 0;

/** Turns the addends off (tfjs's two kernels, for tests that compare the two) or on again. */
export function useAddends(on: boolean): void {
  enabled = on;
}

/** Registers how the kernel that made `out` runs again with an addend (not once one of `inputs` is disposed). */
export function registerAddend(out: tf.Tensor, inputs: readonly tf.Tensor[], run: (addend: tf.Tensor, shape: readonly number[]) => tf.Tensor): void {
  const rerun: WithAddend = (addend, shape) => (inputs.some((t) => t.isDisposed) || addend.size !== out.size ? null : run(addend, shape));
  addendKernels.set(out.dataId, { rerun, at: ++registrations });
}

/** sum + dx, in the kernel that made dx or sum where it can take an addend, else by tfjs's `add`. */
export function accumulate(sum: tf.Tensor, dx: tf.Tensor): tf.Tensor {
  // Kernels register only where they can take an addend (WebGPU), so the CPU always adds.
  const pairs = enabled ? [[dx, sum] as const, [sum, dx] as const] : [];
  for (const [made, addend] of pairs) {
    const kernel = addendKernels.get(made.dataId);
    const r = kernel !== undefined && registrations - kernel.at < RECENT ? kernel.rerun(addend, made.shape) : null;
    if (r) return r;
  }
  return tf.add(sum, dx);
}
