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

/**
 * A kernel that can also be joined with another of its kind into one kernel computing both terms'
 * sum (fused expressions: fused-op.ts). `join` returns null where `other` is not of its kind or the two
 * do not fit one kernel.
 */
export interface Joinable {
  join(other: Joinable, shape: readonly number[]): tf.Tensor | null;
}

/** By a kernel's output's data: how it runs again with an addend, its number among registrations, and how it joins. */
interface Entry {
  rerun: WithAddend;
  at: number;
  joinable?: Joinable;
}
const addendKernels = new WeakMap<object, Entry>();
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
/**
 * Two kernels join only if both are among the last RECENT_JOIN registered: the joined kernel reads both's
 * inputs, so joining one registered long before would keep its inputs alive as a late rerun does. Measured
 * (`pita bench --device webgpu --batch 32`, planned recording and kernels): a window of 4 joins 10 of the
 * EGNN step's contributions and 6 of the DiT's, 8 joins 33 and 12 (recordings 32.80 → 32.79 MB and
 * 204.43 → 204.55 MB), 12 one more in the EGNN and 4 in the DiT.
 */
const RECENT_JOIN = 8;
let registrations = 0;

let joins = true;

/** Turns the addends, and with them the joins, off (tfjs's two kernels, for tests that compare) or on; `join` alone. */
export function useAddends(on: boolean, join = on): void {
  enabled = on;
  joins = join;
}

/**
 * Registers how the kernel that made `out` runs again with an addend (not once one of `inputs` is
 * disposed), and how it joins another kernel where it can.
 */
export function registerAddend(out: tf.Tensor, inputs: readonly tf.Tensor[], run: (addend: tf.Tensor, shape: readonly number[]) => tf.Tensor, joinable?: Joinable): void {
  const rerun: WithAddend = (addend, shape) => (inputs.some((t) => t.isDisposed) || addend.size !== out.size ? null : run(addend, shape));
  addendKernels.set(out.dataId, { rerun, at: ++registrations, joinable });
}

/** The registered kernel that made t, if it is among the last `window` registered. */
function recent(t: tf.Tensor, window: number): Entry | undefined {
  const kernel = addendKernels.get(t.dataId);
  return kernel !== undefined && registrations - kernel.at < window ? kernel : undefined;
}

/**
 * sum + dx: one kernel computing both where the kernels that made them join (both recent, since the
 * joined kernel reads both's inputs), else the kernel that made dx or sum again with the other as its
 * addend, else tfjs's `add`.
 */
export function accumulate(sum: tf.Tensor, dx: tf.Tensor): tf.Tensor {
  // Kernels register only where they can take an addend (WebGPU), so the CPU always adds.
  if (!enabled) return tf.add(sum, dx);
  const [js, jd] = [recent(sum, RECENT_JOIN), recent(dx, RECENT_JOIN)];
  const joined = joins && js?.joinable !== undefined && jd?.joinable !== undefined ? js.joinable.join(jd.joinable, dx.shape) : null;
  if (joined) return joined;
  for (const [kernel, made, addend] of [[recent(dx, RECENT), dx, sum] as const, [recent(sum, RECENT), sum, dx] as const]) {
    const r = kernel?.rerun(addend, made.shape);
    if (r) return r;
  }
  return tf.add(sum, dx);
}
