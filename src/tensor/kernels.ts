/**
 * Primitive kernel calls (src/tensor only). Every backend kernel the ops layer
 * executes is called from here, through `engine().runKernel`, so the set of
 * kernels is explicit (`KERNELS`) and checked at startup.
 *
 * Why not the `tf.*` op wrappers: tfjs-core alone registers no gradients, so
 * pita registers its own (gradients.ts). Shape-only gradients (add, reshape,
 * sum, tile, concat, slice, pad) read the input shapes from attributes set
 * here instead of saving the inputs: every saved input costs a clone and a
 * tape node, and double backprop is heap-bound (docs/tensor-engine.md §2.7, §2.9).
 *
 * Preconditions (shapes, ranks, axes) are the caller's job: ops.ts validates
 * user input, gradients.ts produces consistent shapes by construction.
 */
import * as tf from '@tensorflow/tfjs-core';
import { registerAddend } from './accumulate.js';

type T = tf.Tensor;

/**
 * Kernels the ops layer runs. `taped` kernels can appear on the autodiff tape
 * and have a gradient registered by gradients.ts; `forwardOnly` kernels run
 * only inside custom-gradient forwards (never taped) or on constants, and
 * deliberately have no gradient so that a stray taped use fails loudly.
 * `Cast` is run by tfjs itself: the gradient of a saved-tensor clone.
 */
export const KERNELS = {
  taped: [
    'Add', 'Sub', 'Multiply', 'RealDiv', 'Neg', 'Square', 'Sqrt', 'Log',
    'BatchMatMul', 'Transpose', 'Reshape', 'Sum', 'Tile', 'Concat', 'Slice', 'PadV2',
    'Select', 'Identity', 'Cast',
  ],
  forwardOnly: ['Exp', 'Sigmoid', 'Tanh', 'Sin', 'Cos', 'Softplus', 'Max', 'NotEqual', 'Fill'],
} as const;

function run(kernel: string, inputs: tf.NamedTensorMap | T[], attrs: tf.NamedAttrMap = {}): T {
  return tf.engine().runKernel<T>(kernel, inputs as tf.NamedTensorMap, attrs);
}

/** Activations and derivatives that a backend may run as one kernel (`activation`). */
export type ActivationFn = 'silu' | 'siluGrad' | 'sigmoidGrad' | 'tanhGrad' | 'gelu' | 'geluGrad';
/** pita's forward-only kernel for them, registered on WebGPU only (webgpu-kernels.ts). */
export const ACTIVATION_KERNEL = 'PitaActivation';

/**
 * `fn` of x in one kernel where the active backend has ACTIVATION_KERNEL, else `composite` (the same
 * function built from kernels). Forward-only: for use inside custom-gradient forwards.
 */
export function activation(fn: ActivationFn, x: T, composite: (x: T) => T): T {
  return tf.getKernel(ACTIVATION_KERNEL, tf.getBackend()) != null ? run(ACTIVATION_KERNEL, { x }, { fn }) : composite(x);
}

/** pita's kernel for a fused elementwise expression (fused.ts), registered on WebGPU only (webgpu-kernels.ts). */
export const FUSED_KERNEL = 'PitaFused';

/** Whether the active backend runs fused expressions as one kernel (else ops.ts `fused` runs them op by op). */
export function hasFusedKernel(): boolean {
  return tf.getKernel(FUSED_KERNEL, tf.getBackend()) != null;
}

/**
 * The fused expression `key` (fused-op.ts), whose WGSL is `code` (fused.ts `wgslBody`), of inputs that
 * broadcast to `shape`, evaluated over `shape` and summed to `outShape` (of shape's rank, each axis
 * shape's extent or 1: summed), plus `addend` (of outShape) where given. Taped: its gradient is
 * fused-op.ts `FUSED_GRADIENT`.
 */
export function fusedKernel(key: string, code: string, inputs: readonly T[], shape: readonly number[], outShape: readonly number[], addend?: T): T {
  // An array: tfjs saves all inputs (the gradient's saveAllInputs) only of array inputs; gradients are keyed '0', '1', ….
  const attrs = { key, code, shape: [...shape], outShape: [...outShape], addend: addend !== undefined };
  return run(FUSED_KERNEL, addend === undefined ? [...inputs] : [...inputs, addend], attrs);
}

/**
 * The optimisers' elementwise updates (f a small tensor of per-step factors; c0 … c3 constants), in the
 * grouping of their composites in optim.ts. Adam keeps each parameter's moments packed as [2, …shape]
 * (m, then v), so that both are one kernel:
 * - moments: [c0·m + c1·g, c2·v + c3·g²]  (a = [m, v], b = g; c = β₁, 1 − β₁, β₂, 1 − β₂)
 * - scaledMoments: the same of g = b·f[0]  (a gradient clipped by the factor f[0])
 * - adam:    a − (m/(√v/f[1] + c0))·f[0]  (p from p and b = [m, v]; f = [lr/(1 − β₁ᵗ), √(1 − β₂ᵗ)], c0 = ε)
 * - ema:     a − (a − b)·f[0]             (EMA shadow from shadow and parameter; f = [1 − d])
 */
export type UpdateFn = 'moments' | 'scaledMoments' | 'adam' | 'ema';
/** pita's forward-only kernel for them, registered on WebGPU only (webgpu-kernels.ts). */
export const UPDATE_KERNEL = 'PitaUpdate';

/** `fn` in one kernel where the active backend has UPDATE_KERNEL, else `composite`. Not for taped use. */
export function update(fn: UpdateFn, inputs: { a: T; b: T; f?: T }, constants: readonly number[], composite: () => T): T {
  if (tf.getKernel(UPDATE_KERNEL, tf.getBackend()) == null) return composite();
  return run(UPDATE_KERNEL, inputs as tf.NamedTensorMap, { fn, constants: [...constants] });
}

/** Product of the entries of a shape. */
export function sizeOfShape(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcast of two shapes, or null when they are incompatible. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

// ---- elementwise (inputs broadcast, NumPy rules) ----

export const add = (a: T, b: T): T => run('Add', { a, b }, { aShape: a.shape, bShape: b.shape });
export const sub = (a: T, b: T): T => run('Sub', { a, b }, { aShape: a.shape, bShape: b.shape });
export const mul = (a: T, b: T): T => run('Multiply', { a, b });
export const div = (a: T, b: T): T => run('RealDiv', { a, b });
export const neg = (x: T): T => run('Neg', { x });
export const square = (x: T): T => run('Square', { x });
export const sqrt = (x: T): T => run('Sqrt', { x });
export const log = (x: T): T => run('Log', { x });
export const identity = (x: T): T => run('Identity', { x });
/**
 * x in storage of its own, as x·1 (exact for every float32, −0 included). Identity shares the data, and
 * a captured step needs every state tensor in a buffer of its own (replay.ts).
 */
export const copy = (x: T): T => tf.tidy(() => mul(x, scalar(1)));

// forward-only (used inside custom-gradient forwards)
export const exp = (x: T): T => run('Exp', { x });
export const sigmoid = (x: T): T => run('Sigmoid', { x });
export const tanh = (x: T): T => run('Tanh', { x });

/**
 * exp(z) for z ≤ 0 (softmax and log-sum-exp after subtracting the maximum)
 * as σ(z)/(1 − σ(z)): the wasm Exp kernel is ~14× slower than Sigmoid, and
 * for z ≤ 0 the ratio keeps full relative precision (1 − σ(z) ≥ ½).
 */
export const expNonPositive = (z: T): T => div(sigmoid(z), sub(scalar(1), sigmoid(z)));
export const sin = (x: T): T => run('Sin', { x });
export const cos = (x: T): T => run('Cos', { x });
export const softplus = (x: T): T => run('Softplus', { x });
export const max = (x: T, axes: number[], keepDims: boolean): T =>
  run('Max', { x }, { reductionIndices: axes, keepDims });
/** Boolean tensor `x != 0` (no gradient; only for detached masks). */
export const nonZero = (x: T): T => run('NotEqual', { a: x, b: tf.scalar(0) });

/** A float32 scalar constant. */
export const scalar = (v: number): T => tf.scalar(v, 'float32');
/**
 * A float32 tensor of zeros, filled by the backend's Fill kernel: tf.zeros
 * would allocate the array on the host and copy it into the wasm heap, which
 * cost ~4 % of an EGNN training step (the zeros of broadcastTo in Sum's gradient).
 */
export const zeros = (shape: readonly number[]): T => run('Fill', [], { shape: shape as number[], value: 0, dtype: 'float32' });

// ---- linear algebra ----

/**
 * Batched matrix product without transpose flags: a [...batch, m, k] times
 * b [...batch, k, n], equal ranks ≥ 2 and equal batch dimensions. The wasm
 * kernel's transposed paths are ~10× slower (docs/tensor-engine.md §2.2), so transposes are
 * always materialised with `swapLastAxes` first.
 */
export const matmul = (a: T, b: T): T => run('BatchMatMul', { a, b }, { transposeA: false, transposeB: false });

/**
 * op(a)·op(b), op = transpose of the last two axes where asked: the kernel's transpose flags on WebGPU
 * (tfjs's GPU matmul reads either layout), materialised transposes on the CPU (docs/tensor-engine.md §2.2).
 */
export function matmulT(a: T, b: T, transposeA: boolean, transposeB: boolean): T {
  if (tf.getBackend() !== 'webgpu') return matmul(transposeA ? swapLastAxes(a) : a, transposeB ? swapLastAxes(b) : b);
  const product = run('BatchMatMul', { a, b }, { transposeA, transposeB });
  // As a gradient contribution, the product can take the running sum as its addend (accumulate.ts).
  takesAddend(product, 'BatchMatMul', { a, b }, { transposeA, transposeB });
  return product;
}

/**
 * Where an operand or the result of `headsMatmul` lies: 'heads', [B·heads, R, C], each head's matrix
 * contiguous; 'tokens', [B, R, heads·C], the heads' matrices side by side along the last axis, as a linear
 * layer writes the attention's values and its output layer reads them.
 */
export type HeadsLayout = 'heads' | 'tokens';
/** The heads and the layout of each operand and of the result. */
export interface HeadsLayouts {
  heads: number;
  a: HeadsLayout;
  b: HeadsLayout;
  out: HeadsLayout;
}

/** An operand of `headsMatmul` as [its matrices' count, rows, columns] (shapes fit: ops.ts checks them). */
export function headsMatrices(shape: readonly number[], layout: HeadsLayout, heads: number): [number, number, number] {
  return layout === 'tokens' ? [shape[0] * heads, shape[1], shape[2] / heads] : [shape[0], shape[1], shape[2]];
}

/** pita's kernel for `headsMatmul` (webgpu-kernels.ts), registered on WebGPU only. */
export const HEADS_MATMUL_KERNEL = 'PitaHeadsMatMul';

/** x ([B, R, heads·C] in the tokens' layout) in the heads' layout [B·heads, R, C]. */
function tokensToHeads(x: T, heads: number): T {
  const [B, R, W] = x.shape;
  return reshape(transpose(reshape(x, [B, R, heads, W / heads]), [0, 2, 1, 3]), [B * heads, R, W / heads]);
}

/** x ([B·heads, R, C] in the heads' layout) in the tokens' layout [B, R, heads·C]. */
function headsToTokens(x: T, heads: number): T {
  const [BH, R, C] = x.shape;
  return reshape(transpose(reshape(x, [BH / heads, heads, R, C]), [0, 2, 1, 3]), [BH / heads, R, heads * C]);
}

/**
 * op(a)·op(b) for each of B·heads matrices, each operand and the result in its layout of `layouts`: on
 * WebGPU one kernel that reads and writes the tokens' layout in place (docs/tensor-engine.md §2.37), else
 * the transposes into and out of the heads' layout around `matmulT`. Shapes are the caller's to check.
 */
export function headsMatmul(a: T, b: T, transposeA: boolean, transposeB: boolean, layouts: HeadsLayouts): T {
  const { heads } = layouts;
  if (tf.getKernel(HEADS_MATMUL_KERNEL, tf.getBackend()) != null) {
    const attrs = { transposeA, transposeB, heads, layoutA: layouts.a, layoutB: layouts.b, layoutOut: layouts.out };
    const product = run(HEADS_MATMUL_KERNEL, { a, b }, attrs);
    takesAddend(product, HEADS_MATMUL_KERNEL, { a, b }, attrs);
    return product;
  }
  const inHeads = (x: T, layout: HeadsLayout): T => (layout === 'tokens' ? tokensToHeads(x, heads) : x);
  const product = matmulT(inHeads(a, layouts.a), inHeads(b, layouts.b), transposeA, transposeB);
  return layouts.out === 'tokens' ? headsToTokens(product, heads) : product;
}

/** pita's softmax along the last axis (webgpu-kernels.ts), registered on WebGPU only. */
export const SOFTMAX_KERNEL = 'PitaSoftmax';

/** softmax along the last axis in one kernel where the backend has one, else `composite`. Forward-only. */
export function softmaxLast(x: T, composite: () => T): T {
  return tf.getKernel(SOFTMAX_KERNEL, tf.getBackend()) != null ? run(SOFTMAX_KERNEL, { x }) : composite();
}

/** pita's kernels for LayerNorm's normalisation and its VJP along the last axis (webgpu-kernels.ts), WebGPU only. */
export const NORMALISE_KERNEL = 'PitaNormalise';
export const NORMALISE_VJP_KERNEL = 'PitaNormaliseVjp';

/** x̂ = (x − μ)/√(σ² + eps) along the last axis in one kernel where the backend has one, else `composite`. Forward-only. */
export function normalise(x: T, eps: number, composite: () => T): T {
  return tf.getKernel(NORMALISE_KERNEL, tf.getBackend()) != null ? run(NORMALISE_KERNEL, { x }, { eps }) : composite();
}

/** Whether `normaliseVjp` runs as one kernel (WebGPU). */
export const hasNormaliseVjpKernel = (): boolean => tf.getKernel(NORMALISE_VJP_KERNEL, tf.getBackend()) != null;

/** r(u − mean(u) − x̂·mean(u ⊙ x̂)) (+ `addend`) along the last axis (ops.ts) in one kernel where the backend has one, else `composite`. Forward-only. */
export function normaliseVjp(x: T, u: T, eps: number, composite: () => T, addend?: T): T {
  if (!hasNormaliseVjpKernel()) return addend === undefined ? composite() : add(composite(), addend);
  return run(NORMALISE_VJP_KERNEL, addend === undefined ? { x, u } : { x, u, addend }, { eps });
}

/** pita's kernel for LayerNorm's r = 1/√(σ² + eps) per row (webgpu-kernels.ts), registered on WebGPU only. */
export const ROW_SCALE_KERNEL = 'PitaRowScale';

/** r = 1/√(σ² + eps) of each row of the last axis, as [..., 1], in one kernel where the backend has one, else `composite`. Forward-only. */
export function rowScale(x: T, eps: number, composite: () => T): T {
  return tf.getKernel(ROW_SCALE_KERNEL, tf.getBackend()) != null ? run(ROW_SCALE_KERNEL, { x }, { eps }) : composite();
}

/** pita's kernel for RoPE's pair rotation (webgpu-kernels.ts), registered on WebGPU only. */
export const ROPE_KERNEL = 'PitaRope';

/**
 * Where RoPE's rotation reads and writes: 'tokens', [B, n, W] to [B, n, W]; 'toHeads', [B, n, W] to the
 * attention's [B·heads, n, W/heads]; 'fromHeads', back (the rotation applied after the move).
 */
export type RopeLayout = 'tokens' | 'toHeads' | 'fromHeads';

/**
 * x ⊙ C ± (x·R) ⊙ S (− with `inverse`) in one kernel where the backend has one, else `composite`; R turns each
 * adjacent pair (2k, 2k+1) of the last axis, (x·R)_{2k} = −x_{2k+1}, (x·R)_{2k+1} = x_{2k}. With a head
 * layout the kernel also moves each number between the token and head layouts. Forward-only.
 */
export function ropeRotate(x: T, cos: T, sin: T, inverse: boolean, composite: () => T, layout: RopeLayout = 'tokens', heads = 1): T {
  return tf.getKernel(ROPE_KERNEL, tf.getBackend()) != null ? run(ROPE_KERNEL, { x, cos, sin }, { inverse, layout, heads }) : composite();
}

/** pita's kernel for Σ x² (webgpu-kernels.ts), registered on WebGPU only. */
export const SUM_SQUARES_KERNEL = 'PitaSumSquares';

/** Σ x² over every element as a scalar: one kernel where the backend has one, else `composite`. Not for taped use. */
export function sumOfSquares(x: T, composite: () => T): T {
  return tf.getKernel(SUM_SQUARES_KERNEL, tf.getBackend()) != null ? run(SUM_SQUARES_KERNEL, { x }) : composite();
}

/** tfjs's matmul with fused bias (and activation, unused here): x·W + b in one kernel. */
export const FUSED_LINEAR_KERNEL = '_FusedMatMul';

/** Whether `linear` runs as one kernel on the active backend (WebGPU; on the CPU a matmul and an add). */
export const fusedLinear = (): boolean => tf.getBackend() === 'webgpu';

/** x [M, K]·W [K, N] + b [N] in one kernel (only where `fusedLinear()`); taped, gradient in gradients.ts. */
export const linear = (x: T, w: T, b: T): T =>
  run(FUSED_LINEAR_KERNEL, { a: x, b: w, bias: b }, { transposeA: false, transposeB: false, activation: 'linear', biasShape: b.shape });

/** Swap the last two axes (materialised). */
export function swapLastAxes(x: T): T {
  const r = x.shape.length;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transpose(x, perm);
}

// ---- shape ----

export const transpose = (x: T, perm: number[]): T => run('Transpose', { x }, { perm });
export const reshape = (x: T, shape: readonly number[]): T =>
  run('Reshape', { x }, { shape: shape as number[], inShape: x.shape });

/** Sum over `axes` (non-empty, non-negative, distinct). */
export function sum(x: T, axes: number[], keepDims: boolean): T {
  const attrs = { axis: axes, keepDims, inShape: x.shape };
  const s = run('Sum', { x }, attrs);
  // On WebGPU a float32 sum can add the running sum of a gradient in its last pass (accumulate.ts).
  if (tf.getBackend() === 'webgpu' && axes.length > 0 && x.dtype === 'float32' && x.size > 0) takesAddend(s, 'Sum', { x }, attrs);
  return s;
}

/** Registers that `out` (made by `kernel` of `inputs`) can take an addend: the kernel again, with one more input `addend` (accumulate.ts). */
function takesAddend(out: T, kernel: string, inputs: Record<string, T>, attrs: tf.NamedAttrMap): void {
  registerAddend(out, Object.values(inputs), (addend, shape) => reshape(run(kernel, { ...inputs, addend: reshape(addend, out.shape) }, attrs), shape));
}

/** Repeat `x` reps[i] times along axis i. */
export const tile = (x: T, reps: number[]): T => run('Tile', { x }, { reps, inShape: x.shape });

/** Concatenate along `axis` (non-negative). */
export const concat = (xs: T[], axis: number): T =>
  run('Concat', xs, { axis, shapes: xs.map((x) => x.shape) });

/** Consecutive blocks of `sizes` along `axis` (one multi-output kernel: tfjs's SplitV). */
export const split = (x: T, sizes: number[], axis: number): T[] =>
  tf.engine().runKernel('SplitV', { x }, { numOrSizeSplits: sizes, axis }) as unknown as T[];

/** The block starting at `begin` (non-negative) with extent `size` (explicit, no -1). */
export const slice = (x: T, begin: number[], size: number[]): T =>
  run('Slice', { x }, { begin, size, inShape: x.shape });

/** Zero padding: paddings[i] = [before, after] along axis i. */
export const pad = (x: T, paddings: [number, number][]): T =>
  run('PadV2', { x }, { paddings, constantValue: 0 });

/** Elementwise `cond ? t : e`, all three of the same shape; cond boolean. */
export const select = (cond: T, t: T, e: T): T => run('Select', { condition: cond, t, e });

/**
 * `x` broadcast to `shape` (NumPy rules). On the CPU as a broadcasting Add
 * with zeros: the wasm Tile kernel is ~65× slower than a broadcasting
 * elementwise op. On WebGPU as a Tile, one pass instead of a fill and an add.
 */
export function broadcastTo(x: T, shape: readonly number[]): T {
  if (sameShape(x.shape, shape)) return x;
  const padded = [...new Array<number>(shape.length - x.shape.length).fill(1), ...x.shape];
  const base = padded.length === x.shape.length ? x : reshape(x, padded);
  if (padded.every((d, i) => d === shape[i])) return base;
  return tf.getBackend() === 'webgpu' ? tile(base, shape.map((d, i) => d / padded[i])) : add(base, zeros(shape));
}

/**
 * Sum `dy` (of a broadcast result's shape) down to `shape`: the gradient of
 * broadcasting. Always returns a new tensor (never `dy` itself), because the
 * tape must not see one tensor as the gradient of two inputs.
 */
export function reduceToShape(dy: T, shape: readonly number[]): T {
  const lead = dy.shape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < dy.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) axes.push(i);
  }
  return reshape(axes.length > 0 ? sum(dy, axes, false) : dy, shape);
}

/**
 * A new tensor sharing `x`'s data but unknown to the autodiff tape: gradients
 * cannot flow through it. Same mechanism as a reshape kernel (reference count
 * + new handle), so it costs no copy.
 */
export function detach(x: T): T {
  const backend = tf.backend();
  backend.incRef(x.dataId);
  return tf.engine().makeTensorFromTensorInfo({ dataId: x.dataId, shape: x.shape, dtype: x.dtype }, backend);
}
