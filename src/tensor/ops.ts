/**
 * The backend-neutral ops layer (docs/tensor-engine.md §1). Models, losses and
 * samplers use only these functions; tensors are opaque float32 handles, ops
 * are synchronous, reads back to the host are explicit.
 *
 * Guard rails implemented here:
 * - every nonlinearity is a custom-gradient op that saves only its INPUT and
 *   recomputes its derivative from it with differentiable ops, so gradients
 *   are correct at every order (tfjs#3252, docs/tensor-engine.md §2.1);
 * - `matmul` materialises transposes instead of using the kernel's transpose
 *   flags (docs/tensor-engine.md §2.2; see `matmul` for the measured gain);
 * - no gather/segment ops (no UnsortedSegmentSum on wasm,
 *   docs/tensor-engine.md §2.5);
 * - float64 host data is downcast on upload and checked for overflow
 *   (docs/tensor-engine.md §2.6).
 *
 * Broadcasting follows NumPy. Binary ops accept a number for either operand.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteError } from '../core/errors.js';
import { registerAddend } from './accumulate.js';
import { backendInfo } from './backend.js';
import { E, type Expr, type ExprImpl, evaluate, inputCount } from './fused.js';
import { fusedOp } from './fused-op.js';
import { throwIfGpuFailed } from './gpu-errors.js';
import * as k from './kernels.js';
import { type Tensor, fmtShape, raw, rawAll, wrap } from './tensor.js';

export type { Tensor } from './tensor.js';

type T = tf.Tensor;
/** A tensor or a number (uploaded as a float32 scalar). */
export type Operand = Tensor | number;

// ---------------------------------------------------------------- validation

function checkShape(shape: readonly number[], where: string): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
}

/** Axis in [-rank, rank) → [0, rank). */
function normAxis(axis: number, rank: number, where: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new RangeError(`${where}: axis ${axis} is out of range for a rank-${rank} tensor`);
  }
  return axis < 0 ? axis + rank : axis;
}

function normAxes(axes: number | readonly number[] | undefined, rank: number, where: string): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normAxis(a, rank, where));
  if (new Set(list).size !== list.length) throw new RangeError(`${where}: repeated axis in ${JSON.stringify(axes)}`);
  return list.sort((a, b) => a - b);
}

function operand(x: Operand, where: string): T {
  if (typeof x === 'number') {
    if (!Number.isFinite(x)) throw new NonFiniteError(`${where}: scalar operand is ${x}`);
    return k.scalar(x);
  }
  return raw(x);
}

function broadcastOrThrow(a: readonly number[], b: readonly number[], where: string): number[] {
  const s = k.broadcastShapes(a, b);
  if (s === null) throw new RangeError(`${where}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
  return s;
}

function binary(op: (a: T, b: T) => T, where: string) {
  return (a: Operand, b: Operand): Tensor => {
    const ra = operand(a, where);
    const rb = operand(b, where);
    broadcastOrThrow(ra.shape, rb.shape, where);
    return wrap(op(ra, rb));
  };
}

// ---------------------------------------------------------------- transfer

function upload(data: Float32Array, shape: readonly number[], where: string): Tensor {
  backendInfo();
  checkShape(shape, where);
  const n = k.sizeOfShape(shape);
  if (data.length !== n) {
    throw new RangeError(`${where}: data has ${data.length} values but shape ${fmtShape(shape)} needs ${n}`);
  }
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(data[i])) {
      throw new NonFiniteError(`${where}: value ${data[i]} at flat index ${i} (float32) is not finite`);
    }
  }
  return wrap(tf.tensor(data, shape as number[], 'float32'));
}

/** Upload float32 host data (row-major) with the given shape. Non-finite values are rejected. */
export function fromF32(data: Float32Array | readonly number[], shape: readonly number[]): Tensor {
  return upload(data instanceof Float32Array ? data : Float32Array.from(data), shape, 'fromF32');
}

/** Upload float64 host data, rounded to float32; values that overflow float32 are rejected. */
export function fromF64(data: Float64Array | readonly number[], shape: readonly number[]): Tensor {
  return upload(Float32Array.from(data), shape, 'fromF64');
}

/** A float32 scalar. */
export function scalar(v: number): Tensor {
  backendInfo();
  return wrap(operand(v, 'scalar'));
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  backendInfo();
  checkShape(shape, 'zeros');
  return wrap(k.zeros(shape));
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  checkShape(shape, 'full');
  if (!Number.isFinite(value)) throw new NonFiniteError(`full: value is ${value}`);
  return upload(new Float32Array(k.sizeOfShape(shape)).fill(value), shape, 'full');
}

/**
 * Synchronous reads: only for code inside src/tensor that runs on the CPU
 * backend. A WebGPU backend cannot read synchronously in Node, so everything
 * above src/tensor reads through the async functions below.
 */
export function readSync(t: Tensor): Float32Array {
  return raw(t).dataSync() as Float32Array;
}

export function readF64Sync(t: Tensor): Float64Array {
  return Float64Array.from(readSync(t));
}

export function readScalarSync(t: Tensor): number {
  return readSync(checkScalar(t))[0];
}

function checkScalar(t: Tensor): Tensor {
  const r = raw(t);
  if (r.size !== 1) throw new RangeError(`readScalar: tensor has shape ${fmtShape(r.shape)}, expected one element`);
  return t;
}

/** The values, row-major, as float32: the one way data comes back to the host. */
export async function read(t: Tensor): Promise<Float32Array> {
  const values = (await raw(t).data()) as Float32Array;
  throwIfGpuFailed();
  return values;
}

/** The values, row-major, widened to float64. */
export async function readF64(t: Tensor): Promise<Float64Array> {
  return Float64Array.from(await read(t));
}

/** The value of a one-element tensor. */
export async function readScalar(t: Tensor): Promise<number> {
  return (await read(checkScalar(t)))[0];
}

export function shapeOf(t: Tensor): number[] {
  return [...raw(t).shape];
}

export function sizeOf(t: Tensor): number {
  return raw(t).size;
}

// ---------------------------------------------------------------- shape

/** Reshape (row-major); one entry may be -1 and is inferred. */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const x = raw(t);
  const holes = shape.filter((d) => d === -1).length;
  const known = shape.filter((d) => d !== -1);
  checkShape(known, 'reshape');
  const knownSize = k.sizeOfShape(known);
  if (holes > 1 || (holes === 1 && (knownSize === 0 || x.size % knownSize !== 0)) || (holes === 0 && knownSize !== x.size)) {
    throw new RangeError(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} values) to ${fmtShape(shape)}`);
  }
  return wrap(k.reshape(x, shape.map((d) => (d === -1 ? x.size / knownSize : d))));
}

/** Permute axes; the default reverses them. */
export function transpose(t: Tensor, perm?: readonly number[]): Tensor {
  const x = raw(t);
  const r = x.shape.length;
  const p = perm === undefined ? Array.from({ length: r }, (_, i) => r - 1 - i) : [...perm];
  const valid = p.length === r && [...p].sort((a, b) => a - b).every((v, i) => v === i);
  if (!valid) throw new RangeError(`transpose: ${JSON.stringify(perm)} is not a permutation of the ${r} axes of ${fmtShape(x.shape)}`);
  return wrap(k.transpose(x, p));
}

/** Concatenate along `axis`; all other extents must agree. */
export function concat(ts: readonly Tensor[], axis: number): Tensor {
  if (ts.length === 0) throw new RangeError('concat: needs at least one tensor');
  const xs = ts.map(raw);
  const r = xs[0].shape.length;
  const ax = normAxis(axis, r, 'concat');
  for (const x of xs) {
    if (x.shape.length !== r || x.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new RangeError(
        `concat: shape ${fmtShape(x.shape)} does not match ${fmtShape(xs[0].shape)} outside axis ${ax}`,
      );
    }
  }
  return wrap(xs.length === 1 ? k.identity(xs[0]) : k.concat(xs, ax));
}

/** The block starting at `begin` with extent `size` (-1: to the end of that axis). */
export function slice(t: Tensor, begin: readonly number[], size: readonly number[]): Tensor {
  const x = raw(t);
  const r = x.shape.length;
  if (begin.length !== r || size.length !== r) {
    throw new RangeError(`slice: begin ${JSON.stringify(begin)} and size ${JSON.stringify(size)} must have ${r} entries for ${fmtShape(x.shape)}`);
  }
  const sz = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
  const ok = begin.every((b, i) => Number.isInteger(b) && Number.isInteger(sz[i]) && b >= 0 && sz[i] >= 0 && b + sz[i] <= x.shape[i]);
  if (!ok) throw new RangeError(`slice: begin ${JSON.stringify(begin)}, size ${JSON.stringify(size)} exceed ${fmtShape(x.shape)}`);
  return wrap(k.slice(x, [...begin], sz));
}

/**
 * Consecutive blocks of `sizes[i]` along `axis` (Σ sizes = the axis's extent). Unlike slices, one op:
 * its gradient is one concatenation of the blocks' gradients, where slices' are a zero padding each
 * and an addition per further block.
 */
export function split(t: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const x = raw(t);
  const ax = normAxis(axis, x.shape.length, 'split');
  const total = sizes.reduce((a, b) => a + b, 0);
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1) || total !== x.shape[ax]) {
    throw new RangeError(`split: sizes ${JSON.stringify(sizes)} must be positive integers adding up to axis ${ax} of ${fmtShape(x.shape)}`);
  }
  return sizes.length === 1 ? [wrap(k.identity(x))] : k.split(x, [...sizes], ax).map(wrap);
}

/** Broadcast to `shape` (NumPy rules; materialised). */
export function broadcastTo(t: Tensor, shape: readonly number[]): Tensor {
  const x = raw(t);
  checkShape(shape, 'broadcastTo');
  const s = k.broadcastShapes(x.shape, shape);
  if (s === null || !k.sameShape(s, shape)) {
    throw new RangeError(`broadcastTo: ${fmtShape(x.shape)} cannot be broadcast to ${fmtShape(shape)}`);
  }
  const out = k.broadcastTo(x, shape);
  return wrap(out === x ? k.reshape(x, shape) : out);
}

/** Repeat reps[i] times along axis i. */
export function tile(t: Tensor, reps: readonly number[]): Tensor {
  const x = raw(t);
  if (reps.length !== x.shape.length || !reps.every((r) => Number.isInteger(r) && r >= 1)) {
    throw new RangeError(`tile: reps ${JSON.stringify(reps)} must be ${x.shape.length} positive integers for ${fmtShape(x.shape)}`);
  }
  return wrap(k.tile(x, [...reps]));
}

/** Insert an axis of extent 1 at `axis` (in [-rank-1, rank]). */
export function expandDims(t: Tensor, axis: number): Tensor {
  const x = raw(t);
  const ax = normAxis(axis, x.shape.length + 1, 'expandDims');
  const shape = [...x.shape];
  shape.splice(ax, 0, 1);
  return wrap(k.reshape(x, shape));
}

/** Remove axes of extent 1 (all of them, or those listed, which must have extent 1). */
export function squeeze(t: Tensor, axes?: readonly number[]): Tensor {
  const x = raw(t);
  const drop = axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normAxes(axes, x.shape.length, 'squeeze');
  const bad = drop.filter((a) => x.shape[a] !== 1);
  if (bad.length > 0) throw new RangeError(`squeeze: axes ${bad.join(',')} of ${fmtShape(x.shape)} do not have extent 1`);
  return wrap(k.reshape(x, x.shape.filter((_, i) => !drop.includes(i))));
}

// ---------------------------------------------------------------- arithmetic

/** a + b (broadcast). */
export const add = binary(k.add, 'add');
/** a − b (broadcast). */
export const sub = binary(k.sub, 'sub');
/** a · b elementwise (broadcast). */
export const mul = binary(k.mul, 'mul');
/** a / b elementwise (broadcast). */
export const div = binary(k.div, 'div');

export function neg(t: Tensor): Tensor {
  return wrap(k.neg(raw(t)));
}

export function square(t: Tensor): Tensor {
  return wrap(k.square(raw(t)));
}

/** √x; its derivative 1/(2√x) is infinite at 0, so add an offset where x can vanish. */
export function sqrt(t: Tensor): Tensor {
  return wrap(k.sqrt(raw(t)));
}

export function log(t: Tensor): Tensor {
  return wrap(k.log(raw(t)));
}

/** xⁿ for an integer n (negative: 1/x^|n|), by repeated squaring with differentiable multiplies. */
export function powInt(t: Tensor, n: number): Tensor {
  if (!Number.isInteger(n)) throw new RangeError(`powInt: exponent must be an integer, got ${n}`);
  const x = raw(t);
  let result: T | null = null;
  let base = x;
  for (let e = Math.abs(n); e > 0; e >>= 1) {
    if (e & 1) result = result === null ? base : k.mul(result, base);
    if (e > 1) base = k.square(base);
  }
  if (result === null) return full(x.shape, 1);
  if (result === x) result = k.identity(x);
  return wrap(n < 0 ? k.div(k.scalar(1), result) : result);
}

// ---------------------------------------------------------------- linear algebra

/**
 * Matrix product op(a)·op(b), op = transpose of the last two axes when the
 * flag is set. Shapes: a [...batch, m, k], b [...batch, k, n] with equal
 * batch dimensions, or b a matrix [k, n] applied to every row of a (a linear
 * layer), → [...batch, m, n].
 *
 * Transposes are materialised (Transpose kernel) and the product runs
 * without transpose flags, in the forward and in every gradient. Measured on
 * the 2-core dev VM (tfjs-wasm 4.22 SIMD, median of 100):
 *   X[512,128]·W[128,128]                 0.56 ms (no transpose)
 *   X·Wᵀ     flag 7.67 ms, materialised 0.69 ms
 *   Xᵀ·Y[512,128]  flag 7.97 ms, materialised 0.86 ms
 *   Wᵀ·Xᵀ    flag 7.45 ms, materialised 0.97 ms  (the transpose alone: 0.18 ms)
 * i.e. the flagged kernel paths are 8–11× slower; small batched products
 * ([64,13,32]·[64,32,13]) take ~0.38 ms either way.
 */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  let x = raw(a);
  const y = raw(b);
  const what = `${fmtShape(x.shape)}${transA ? 'ᵀ' : ''} · ${fmtShape(y.shape)}${transB ? 'ᵀ' : ''}`;
  if (x.shape.length < 2 || y.shape.length < 2) throw new RangeError(`matmul: operands must have rank ≥ 2, got ${what}`);
  const kA = x.shape[x.shape.length - (transA ? 2 : 1)];
  const kB = y.shape[y.shape.length - (transB ? 1 : 2)];
  if (kA !== kB) throw new RangeError(`matmul: inner extents differ in ${what} (${kA} vs ${kB})`);
  if (y.shape.length === 2 && x.shape.length > 2) {
    // [..., m, k]·[k, n] as one 2-D product over the flattened leading axes (xᵀ materialised first).
    if (transA) x = k.swapLastAxes(x);
    const lead = x.shape.slice(0, -1);
    const flat = k.matmulT(k.reshape(x, [k.sizeOfShape(lead), kA]), y, false, transB);
    return wrap(k.reshape(flat, [...lead, transB ? y.shape[0] : y.shape[1]]));
  }
  if (x.shape.length !== y.shape.length || !k.sameShape(x.shape.slice(0, -2), y.shape.slice(0, -2))) {
    throw new RangeError(`matmul: batch dimensions differ in ${what}`);
  }
  return wrap(k.matmulT(x, y, transA, transB));
}

/**
 * The attention's products op(a)·op(b) for each of B·heads matrices, where each operand and the result
 * may lie in the heads' layout [B·heads, R, C] or the tokens' [B, R, heads·C] (the heads' matrices side by
 * side, as a linear layer writes the values and the output layer reads the attention): the weights times
 * the values, `headsMatmul(weights, v, { b: 'tokens', out: 'tokens' }, heads)`, needs neither the values'
 * transpose into the heads' layout nor the result's back. On WebGPU one kernel where the matrices are small
 * (the attention's), through every order of gradient (docs/tensor-engine.md §2.37); elsewhere the
 * transposes around `matmul`.
 */
export function headsMatmul(a: Tensor, b: Tensor, layouts: { a?: k.HeadsLayout; b?: k.HeadsLayout; out?: k.HeadsLayout }, heads: number, transA = false, transB = false): Tensor {
  const [x, y] = [raw(a), raw(b)];
  const l = { heads, a: layouts.a ?? 'heads', b: layouts.b ?? 'heads', out: layouts.out ?? 'heads' };
  const what = `${fmtShape(x.shape)}${transA ? 'ᵀ' : ''} (${l.a}) · ${fmtShape(y.shape)}${transB ? 'ᵀ' : ''} (${l.b}) with ${heads} heads`;
  if (!Number.isInteger(heads) || heads < 1) throw new RangeError(`headsMatmul: heads must be a positive integer, got ${heads}`);
  // Each operand's count of matrices and their rows and columns.
  const matrices = (t: tf.Tensor, layout: k.HeadsLayout): [number, number, number] | null =>
    t.shape.length === 3 && t.shape[layout === 'heads' ? 0 : 2] % heads === 0 ? k.headsMatrices(t.shape, layout, heads) : null;
  const [ma, mb] = [matrices(x, l.a), matrices(y, l.b)];
  if (ma === null || mb === null) throw new RangeError(`headsMatmul: operands must be [B·heads, R, C] or [B, R, heads·C] as laid out, got ${what}`);
  if (ma[0] !== mb[0]) throw new RangeError(`headsMatmul: the operands hold different numbers of matrices in ${what}`);
  if (ma[transA ? 1 : 2] !== mb[transB ? 2 : 1]) throw new RangeError(`headsMatmul: inner extents differ in ${what}`);
  return wrap(k.headsMatmul(x, y, transA, transB, l));
}

/**
 * x·W + b over the last axis of x (rank ≥ 2), W [K, N], b [N]: on WebGPU one kernel (tfjs's matmul
 * with fused bias, over the leading axes flattened), on the CPU a matmul and a broadcasting add.
 */
export function linear(t: Tensor, w: Tensor, b: Tensor): Tensor {
  const x = raw(t);
  const W = raw(w);
  const bias = raw(b);
  const K = x.shape[x.shape.length - 1];
  if (x.shape.length < 2 || W.shape.length !== 2 || W.shape[0] !== K || bias.shape.length !== 1 || bias.shape[0] !== W.shape[1]) {
    throw new RangeError(`linear: expected x [..., K], W [K, N], b [N], got ${fmtShape(x.shape)}, ${fmtShape(W.shape)}, ${fmtShape(bias.shape)}`);
  }
  if (!k.fusedLinear()) return add(matmul(t, w), b);
  const lead = x.shape.slice(0, -1);
  const y = k.linear(x.shape.length === 2 ? x : k.reshape(x, [k.sizeOfShape(lead), K]), W, bias);
  return wrap(x.shape.length === 2 ? y : k.reshape(y, [...lead, W.shape[1]]));
}

// ---------------------------------------------------------------- reductions

/** Sum over `axes` (default: all). */
export function sum(t: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const x = raw(t);
  const ax = normAxes(axes, x.shape.length, 'sum');
  if (ax.length === 0) return wrap(k.reshape(x, x.shape));
  return wrap(k.sum(x, ax, keepDims));
}

/** Mean over `axes` (default: all). */
export function mean(t: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  const x = raw(t);
  const ax = normAxes(axes, x.shape.length, 'mean');
  const count = ax.reduce((n, a) => n * x.shape[a], 1);
  if (count === 0) throw new RangeError(`mean: no elements to average over axes ${JSON.stringify(axes)} of ${fmtShape(x.shape)}`);
  return mul(sum(t, ax, keepDims), 1 / count);
}

// ---------------------------------------------------------------- masking

/**
 * Elementwise mask ? a : b, where `mask` is a float tensor and any non-zero
 * entry selects a. All three broadcast together. No gradient flows into the
 * mask; gradients of a and b are zero where the other branch is selected
 * (unlike multiplying by a mask, a non-finite value in the unselected branch
 * does not leak into the result).
 */
export function where(mask: Tensor, a: Operand, b: Operand): Tensor {
  const m = raw(mask);
  const ra = operand(a, 'where');
  const rb = operand(b, 'where');
  const shape = broadcastOrThrow(broadcastOrThrow(m.shape, ra.shape, 'where'), rb.shape, 'where');
  const cond = k.nonZero(k.broadcastTo(k.detach(m), shape));
  return wrap(k.select(cond, k.broadcastTo(ra, shape), k.broadcastTo(rb, shape)));
}

/** The same values with no gradient path (torch `detach`, JAX `stop_gradient`). */
export function stopGradient(t: Tensor): Tensor {
  return wrap(k.detach(raw(t)));
}

// ---------------------------------------------------------------- nonlinearities

type SaveFn = (tensors: T[]) => void;
type CustomGradientFn = Parameters<typeof tf.customGrad>[0];

/**
 * A custom-gradient op of one input that saves only the input and returns
 * dy ⊙ derivative(x), with `derivative` built from differentiable ops.
 */
function unaryOp(forward: (x: T) => T, derivative: (x: T) => T): (x: T) => T {
  const op = tf.customGrad(((x: T, save: SaveFn) => {
    // Save after the forward: tfjs keeps the saved clone, and a forward that throws would leak it.
    const value = forward(x);
    save([x]);
    return { value, gradFunc: (dy: T, saved: T[]) => k.mul(dy, derivative(saved[0])) };
  }) as unknown as CustomGradientFn);
  return (x) => op(x);
}

const one = (): T => k.scalar(1);

/*
 * Where a derivative takes several kernels (σ, tanh, SiLU, GELU), it is an op of its own (`…Grad`, whose
 * derivative is in turn built from ops): a first backward pass then keeps one tensor per activation for
 * the second, not the derivative's ~5–15 intermediates (the DiT's second-order step kept 12 tensors of
 * its MLP width per block before), and the second pass differentiates one op instead of a chain.
 * On WebGPU their forwards (and SiLU's, GELU's) are one kernel each (`k.activation`, webgpu-kernels.ts);
 * there the public activations (`silu`, `sigmoid`, `tanh`, `geluTanh`) are fused expressions instead
 * (`activation` below, §2.18), and these ops serve the CPU and internal uses (softplus's σ).
 */
const sigmoidGradT: (x: T) => T = unaryOp(
  (x) =>
    k.activation('sigmoidGrad', x, (xc) => {
      const s = k.sigmoid(xc);
      return k.mul(s, k.sub(one(), s));
    }),
  // σ'' = σ(1 − σ)(1 − 2σ)
  (x) => {
    const s = sigmoidT(x);
    return k.mul(k.mul(s, k.sub(one(), s)), k.sub(one(), k.mul(k.scalar(2), s)));
  },
);
const sigmoidT: (x: T) => T = unaryOp(k.sigmoid, (x) => sigmoidGradT(x));
const tanhGradT: (x: T) => T = unaryOp(
  (x) => k.activation('tanhGrad', x, (xc) => k.sub(one(), k.square(k.tanh(xc)))),
  // tanh'' = −2 tanh (1 − tanh²)
  (x) => {
    const t = tanhT(x);
    return k.mul(k.mul(k.scalar(-2), t), k.sub(one(), k.square(t)));
  },
);
const tanhT: (x: T) => T = unaryOp(k.tanh, (x) => tanhGradT(x));
const expT: (x: T) => T = unaryOp(k.exp, (x) => expT(x));
const sinT: (x: T) => T = unaryOp(k.sin, (x) => cosT(x));
const cosT: (x: T) => T = unaryOp(k.cos, (x) => k.neg(sinT(x)));
const softplusT = unaryOp(k.softplus, (x) => sigmoidT(x));
const siluGradT = unaryOp(
  // SiLU' = σ(1 + x(1 − σ))
  (x) =>
    k.activation('siluGrad', x, (xc) => {
      const s = k.sigmoid(xc);
      return k.mul(s, k.add(one(), k.mul(xc, k.sub(one(), s))));
    }),
  // SiLU'' = σ(1 − σ)(2 + x(1 − 2σ))
  (x) => {
    const s = sigmoidT(x);
    return k.mul(k.mul(s, k.sub(one(), s)), k.add(k.scalar(2), k.mul(x, k.sub(one(), k.mul(k.scalar(2), s)))));
  },
);
const siluT = unaryOp(
  (x) => k.activation('silu', x, (xc) => k.mul(xc, k.sigmoid(xc))),
  (x) => siluGradT(x),
);

const GELU_C = Math.sqrt(2 / Math.PI);
const GELU_A = 0.044715;
/** u(x) = √(2/π)(x + 0.044715x³), with differentiable ops. */
const geluU = (x: T): T => k.mul(k.add(x, k.mul(k.scalar(GELU_A), k.mul(k.square(x), x))), k.scalar(GELU_C));
/** u'(x) = √(2/π)(1 + 3·0.044715x²). */
const geluDu = (x: T): T => k.mul(k.scalar(GELU_C), k.add(one(), k.mul(k.scalar(3 * GELU_A), k.square(x))));
const geluTanhGradT = unaryOp(
  // GELU' = ½(1 + t) + ½x(1 − t²)u', t = tanh u
  (x) =>
    k.activation('geluGrad', x, (xc) => {
      const t = k.tanh(geluU(xc));
      const half = k.scalar(0.5);
      return k.add(k.mul(half, k.add(one(), t)), k.mul(k.mul(half, xc), k.mul(k.sub(one(), k.square(t)), geluDu(xc))));
    }),
  // GELU'' = (1 − t²)(u' + ½x(u'' − 2t u'²)), u'' = 6·0.044715·√(2/π)·x
  (x) => {
    const t = tanhT(geluU(x));
    const du = geluDu(x);
    const ddu = k.mul(k.scalar(6 * GELU_A * GELU_C), x);
    const inner = k.sub(ddu, k.mul(k.mul(k.scalar(2), t), k.square(du)));
    return k.mul(k.sub(one(), k.square(t)), k.add(du, k.mul(k.mul(k.scalar(0.5), x), inner)));
  },
);
const geluTanhT = unaryOp(
  (x) => k.activation('gelu', x, (xc) => k.mul(k.mul(xc, k.scalar(0.5)), k.add(one(), k.tanh(geluU(xc))))),
  (x) => geluTanhGradT(x),
);

/** Inputs of the fused expressions below. */
const [X0, X1, X2, X3, X4, X5, X6] = [0, 1, 2, 3, 4, 5, 6].map((i) => E.input(i));

/** softmax along one (non-negative) axis; the max shift is a constant of the forward only. */
function softmaxT(x: T, axis: number): T {
  const op = tf.customGrad(((xi: T, save: SaveFn) => {
    const composite = () => {
      const e = k.expNonPositive(k.sub(xi, k.max(xi, [axis], true)));
      return k.div(e, k.sum(e, [axis], true));
    };
    // One kernel on WebGPU along the last axis (kernels.ts `softmaxLast`).
    const value = axis === xi.shape.length - 1 ? k.softmaxLast(xi, composite) : composite();
    save([xi]); // after the forward (unaryOp)
    return {
      value,
      gradFunc: (dy: T, saved: T[]) => {
        // y ⊙ (dy − Σ dy ⊙ y): two fused kernels on WebGPU (§2.18), four ops elsewhere.
        const y = softmaxT(saved[0], axis);
        return fusedT(E.mul(X0, E.sub(X1, X2)), [y, dy, fusedSumT(E.mul(X0, X1), [dy, y], [axis], true)]);
      },
    };
  }) as unknown as CustomGradientFn);
  return op(x);
}

/**
 * RoPE's rotation of x [..., n, W] by tables C, S [n, W] (src/nets/rope.ts): y = x ⊙ C + (x·R) ⊙ S, R
 * turning each adjacent pair of the last axis ([d, d] per group of d; `inverse`: S negated, the rotation
 * back). The tables hold one angle per pair (C and S equal at 2k and 2k + 1), so the VJP dy ⊙ C +
 * ((dy ⊙ S)·Rᵀ) = dy ⊙ C − (dy·R) ⊙ S is the inverse rotation of dy: every order of gradient is this op
 * again. One kernel on WebGPU (kernels.ts `ropeRotate`); elsewhere the product with R and a fused expression.
 * `layout` 'toHeads' also moves the result into the attention heads' layout, and 'fromHeads' moves x back to
 * the tokens' layout before rotating it (each the other's VJP; docs/tensor-engine.md §2.32).
 */
function ropeT(x: T, cos: T, sin: T, rot: T, inverse: boolean, layout: k.RopeLayout = 'tokens', heads = 1): T {
  const op = tf.customGrad(((xi: T, save: SaveFn) => {
    const rotate = (t: T): T => {
      const d = rot.shape[0];
      const turned = k.reshape(k.matmul(k.reshape(t, [-1, d]), rot), t.shape);
      return fusedT(inverse ? E.sub(E.mul(X0, X1), E.mul(X2, X3)) : E.add(E.mul(X0, X1), E.mul(X2, X3)), [t, cos, turned, sin]);
    };
    const [n, w] = cos.shape;
    const dh = w / heads;
    const composite = (): T => {
      if (layout === 'tokens') return rotate(xi);
      if (layout === 'toHeads') return k.reshape(k.transpose(k.reshape(rotate(xi), [-1, n, heads, dh]), [0, 2, 1, 3]), [-1, n, dh]);
      return rotate(k.reshape(k.transpose(k.reshape(xi, [-1, heads, n, dh]), [0, 2, 1, 3]), [-1, n, w]));
    };
    const value = k.ropeRotate(xi, cos, sin, inverse, composite, layout, heads);
    // The tables outlive the forward's scope only as saved tensors.
    save([cos, sin, rot]);
    // The move between layouts is a permutation: its VJP is the move back, before the rotation back.
    const back: k.RopeLayout = layout === 'toHeads' ? 'fromHeads' : layout === 'fromHeads' ? 'toHeads' : 'tokens';
    return { value, gradFunc: (dy: T, [c, s, r]: T[]) => ropeT(dy, c, s, r, !inverse, back, heads) };
  }) as unknown as CustomGradientFn);
  return op(x);
}

/** The tables and pair rotation fit x [..., n, W] (see `ropeRotation`); throws otherwise. */
function checkRope(name: string, xs: T, c: T, s: T, r: T): void {
  const [n, w] = c.shape;
  const d = r.shape[0];
  if (c.shape.length !== 2 || !tf.util.arraysEqual(s.shape, c.shape) || xs.shape.length < 2 || xs.shape.at(-2) !== n || xs.shape.at(-1) !== w || r.shape.length !== 2 || r.shape[1] !== d || d % 2 !== 0 || w % d !== 0) {
    throw new RangeError(`${name}: x ${fmtShape(xs.shape)}, tables ${fmtShape(c.shape)} and ${fmtShape(s.shape)}, rotation ${fmtShape(r.shape)} do not fit`);
  }
}

/**
 * RoPE's rotation (see ropeT) of x [..., n, W] by the tables cos, sin [n, W] and the pair rotation rot [d, d],
 * as src/nets/rope.ts `ropeConstants` builds them: one angle per adjacent pair, which the gradient relies on.
 */
export function ropeRotation(x: Tensor, cos: Tensor, sin: Tensor, rot: Tensor): Tensor {
  const [xs, c, s, r] = [raw(x), raw(cos), raw(sin), raw(rot)];
  checkRope('ropeRotation', xs, c, s, r);
  return wrap(ropeT(xs, c, s, r, false));
}

/**
 * `ropeRotation` of x [B, n, W] with the result in the attention's head layout [B·heads, n, d] (d = W/heads,
 * the rotation's size): the rotation and the move of every number to its head in one kernel on WebGPU,
 * instead of a rotation and a transpose, through every order of gradient.
 */
export function ropeRotationToHeads(x: Tensor, cos: Tensor, sin: Tensor, rot: Tensor, heads: number): Tensor {
  const [xs, c, s, r] = [raw(x), raw(cos), raw(sin), raw(rot)];
  checkRope('ropeRotationToHeads', xs, c, s, r);
  if (xs.shape.length !== 3 || !Number.isInteger(heads) || heads < 1 || c.shape[1] !== heads * r.shape[0]) {
    throw new RangeError(`ropeRotationToHeads: x ${fmtShape(xs.shape)} is not [B, n, ${heads} heads × ${r.shape[0]}]`);
  }
  return wrap(ropeT(xs, c, s, r, false, 'toHeads', heads));
}

/*
 * LayerNorm's normalisation along the last axis, x̂ = (x − μ)·r with r = 1/√(σ² + eps), as two custom
 * ops whose derivatives are written out: autodiff of the forward's chain (mean, subtract, square, mean,
 * add, sqrt, divide) cost ~100 kernels per layer norm in a second-order step, 39 % of the DiT's.
 * - normalise(x) = x̂; its VJP is J·dy with J = ∂x̂/∂x = r(I − 11ᵀ/n − x̂x̂ᵀ/n), which is symmetric;
 * - normaliseVjp(x, u) = J·u = r(u − mean(u) − x̂·mean(u ⊙ x̂)); with cotangent v its gradients are
 *   J·v for u and −(r/n)(f·x̂ + (uᵀx̂)·Jv + (vᵀx̂)·Ju) for x, f = vᵀJu (all per row).
 * Both are built from taped kernels and each other, so every order is correct (gradcheck.test.ts), and
 * each forward is one kernel on WebGPU (kernels.ts `normalise`, `normaliseVjp`).
 */
/**
 * Per row of the last axis: x − μ, r = 1/√(σ² + eps), and the row mean as a function. The variance's
 * sum of squares and r are fused kernels on WebGPU (the CPU runs the same ops as written).
 */
function rowStats(x: T, eps: number): { centred: T; r: T; mean: (t: T) => T } {
  const axis = x.shape.length - 1;
  const inv = 1 / x.shape[axis];
  const mean = (t: T): T => k.mul(k.sum(t, [axis], true), k.scalar(inv));
  const centred = k.sub(x, mean(x));
  const squares = fusedSumT(E.square(X0), [centred], [axis], true);
  return { centred, r: fusedT(E.div(1, E.sqrt(E.add(E.mul(X0, inv), eps))), [squares]), mean };
}

/**
 * r = 1/√(σ² + eps) of each row, [..., 1]: one kernel on WebGPU, reading x once, where μ, x − μ,
 * Σ(x − μ)² and r were six kernels or more, two of them passes over x's size (docs/tensor-engine.md
 * §2.38); `rowStats` elsewhere. Its gradient ∂r/∂x = −(r²/n)·x̂ is written out, so every order is correct.
 */
function rowScaleT(x: T, eps: number): T {
  const op = tf.customGrad(((xi: T, save: SaveFn) => {
    const value = k.rowScale(xi, eps, () => rowStats(xi, eps).r);
    save([xi, value]);
    return {
      value,
      gradFunc: (g: T, [xs, r]: T[]) => fusedT(E.mul(E.mul(E.square(X0), -1 / xs.shape[xs.shape.length - 1]), E.mul(X1, X2)), [r, normaliseT(xs, eps), g]),
    };
  }) as unknown as CustomGradientFn);
  return op(x);
}

function normaliseT(x: T, eps: number): T {
  const op = tf.customGrad(((xi: T, save: SaveFn) => {
    const value = k.normalise(xi, eps, () => {
      const { centred, r } = rowStats(xi, eps);
      return k.mul(centred, r);
    });
    save([xi]); // after the forward (unaryOp)
    return { value, gradFunc: (dy: T, saved: T[]) => normaliseVjpT(saved[0], dy, eps) };
  }) as unknown as CustomGradientFn);
  return op(x);
}

/** J(x)ᵀu of the normalisation (plus `addend`, on WebGPU in the same kernel: accumulate.ts). */
function normaliseVjpT(x: T, u: T, eps: number, addend?: T): T {
  const op = tf.customGrad(((...args: [T, T, SaveFn] | [T, T, T, SaveFn]) => {
    const [xi, ui] = args;
    const save = args[args.length - 1] as SaveFn;
    const ai = args.length === 4 ? args[2] : undefined;
    const value = k.normaliseVjp(
      xi,
      ui,
      eps,
      () => {
        const { centred, r, mean } = rowStats(xi, eps);
        const xhat = k.mul(centred, r);
        return k.mul(r, k.sub(k.sub(ui, mean(ui)), k.mul(xhat, mean(k.mul(ui, xhat)))));
      },
      ai,
    );
    save([xi, ui]); // after the forward (unaryOp)
    return {
      value,
      gradFunc: (v: T, saved: T[]) => {
        const [xs, us] = saved;
        const axis = xs.shape.length - 1;
        // Row sums of products and the combination below: one kernel each on WebGPU (§2.18).
        const rowDot = (a: T, b: T): T => fusedSumT(E.mul(X0, X1), [a, b], [axis], true);
        const r = rowScaleT(xs, eps);
        const xhat = normaliseT(xs, eps);
        const jv = normaliseVjpT(xs, v, eps);
        const ju = normaliseVjpT(xs, us, eps);
        // dx = −(r/n)(f·x̂ + (uᵀx̂)·Jv + (vᵀx̂)·Ju)
        const terms = E.add(E.add(E.mul(X1, X2), E.mul(X3, X4)), E.mul(X5, X6));
        const dx = fusedT(E.mul(E.mul(X0, -1 / xs.shape[axis]), terms), [r, rowDot(v, ju), xhat, rowDot(us, xhat), jv, rowDot(v, xhat), ju]);
        // The addend's gradient is v itself (a new tensor: the tape frees gradients it replaces).
        return ai === undefined ? [dx, jv] : [dx, jv, k.reshape(v, v.shape)];
      },
    };
  }) as unknown as CustomGradientFn);
  const out = addend === undefined ? op(x, u) : op(x, u, addend);
  // As a gradient contribution (LayerNorm's ∂/∂x), it can take the running sum as its addend on WebGPU.
  if (addend === undefined && k.hasNormaliseVjpKernel()) registerAddend(out, [x, u], (a, shape) => k.reshape(normaliseVjpT(x, u, eps, a), shape));
  return out;
}

/**
 * LayerNorm over the last axis without bias, with a learnable scale γ [n]: (x − μ)/√(σ² + eps) ⊙ γ,
 * μ and σ² the mean and biased variance of each row (F.layer_norm followed by a weight).
 */
export function layerNorm(t: Tensor, scale: Tensor, eps: number): Tensor {
  const g = raw(scale);
  const x = raw(t);
  if (x.shape.length < 1 || g.shape.length !== 1 || g.shape[0] !== x.shape[x.shape.length - 1]) {
    throw new RangeError(`layerNorm: scale ${fmtShape(g.shape)} does not match the last axis of ${fmtShape(x.shape)}`);
  }
  return wrap(k.mul(raw(normalise(t, eps)), g));
}

/**
 * (x − μ)/√(σ² + eps) over the last axis: LayerNorm without its scale, for callers that fuse the scale
 * into what follows (the DiT's adaLN modulation).
 */
export function normalise(t: Tensor, eps: number): Tensor {
  const x = raw(t);
  if (x.shape.length < 1) throw new RangeError('normalise: needs a tensor of rank ≥ 1');
  if (!(eps > 0)) throw new RangeError(`normalise: eps must be > 0, got ${eps}`);
  return wrap(normaliseT(x, eps));
}

/** log Σ exp along one (non-negative) axis; gradient dy ⊙ softmax(x). */
function logSumExpT(x: T, axis: number, keepDims: boolean): T {
  const keepShape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const op = tf.customGrad(((xi: T, save: SaveFn) => {
    const m = k.max(xi, [axis], true);
    const lse = k.add(m, k.log(k.sum(k.expNonPositive(k.sub(xi, m)), [axis], true)));
    save([xi]); // after the forward (unaryOp)
    return {
      value: keepDims ? lse : k.reshape(lse, x.shape.filter((_, i) => i !== axis)),
      gradFunc: (dy: T, saved: T[]) => k.mul(k.reshape(dy, keepShape), softmaxT(saved[0], axis)),
    };
  }) as unknown as CustomGradientFn);
  return op(x);
}

// ---------------------------------------------------------------- fused elementwise expressions

/** GELU (tanh form) as an expression: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
const GELU_EXPR = ((x: Expr) => E.mul(E.mul(x, 0.5), E.add(1, E.tanh(E.mul(E.add(x, E.mul(GELU_A, E.mul(E.square(x), x))), GELU_C)))))(E.input(0));

/**
 * An activation: on WebGPU the fused expression `e` of its one input, so its gradient is one kernel,
 * ∂e/∂x·dy, where the unary op's was two (its derivative's kernel and a product), and so on at every
 * order (§2.18); elsewhere the unary op `cpu`, unchanged.
 */
function activation(e: Expr, cpu: (x: T) => T, t: Tensor): Tensor {
  const x = raw(t);
  return wrap(k.hasFusedKernel() ? fusedT(e, [x]) : cpu(x));
}

/** The ops an expression is evaluated with off WebGPU: the ones the ops layer's own functions run. */
const EXPR_OPS: ExprImpl<T> = {
  add: k.add,
  sub: k.sub,
  mul: k.mul,
  div: k.div,
  neg: k.neg,
  exp: expT,
  sqrt: k.sqrt,
  square: k.square,
  sigmoid: sigmoidT,
  tanh: tanhT,
  silu: siluT,
  scalar: k.scalar,
};

/**
 * The elementwise expression `e` (fused.ts; `E` builds it) of `inputs`, which broadcast as the binary
 * ops do. On WebGPU it is one kernel, and so is its gradient for each input, to every order
 * (fused-op.ts); elsewhere it runs op by op as written, exactly the kernels the same ops would run
 * (docs/tensor-engine.md §2.18).
 */
export function fused(e: Expr, inputs: readonly Tensor[]): Tensor {
  return fusedSum(e, inputs, []);
}

/**
 * `sum(fused(e, inputs), axes, keepDims)`, the sum inside the expression's kernel on WebGPU: one
 * kernel, no intermediate of the full shape, and gradients that read dy broadcast instead of a tiled
 * copy (§2.18). Elsewhere the expression op by op and then `sum`, exactly the kernels of that line.
 */
export function fusedSum(e: Expr, inputs: readonly Tensor[], axes: number | readonly number[], keepDims = false): Tensor {
  const xs = rawAll(inputs);
  if (inputCount(e) > xs.length) throw new RangeError(`fused: the expression uses ${inputCount(e)} inputs, ${xs.length} given`);
  const shape = xs.reduce<number[]>((s, x) => broadcastOrThrow(s, x.shape, 'fused'), []);
  return wrap(fusedSumT(e, xs, normAxes(axes, shape.length, 'fusedSum'), keepDims));
}

/** `fusedSum` of checked inputs and normalised axes, inside this module. */
function fusedSumT(e: Expr, xs: readonly T[], axes: readonly number[], keepDims: boolean): T {
  const shape = xs.reduce<number[]>((s, x) => tf.backend_util.assertAndGetBroadcastShape(s, x.shape), []);
  if (!k.hasFusedKernel() || shape.some((d) => d === 0)) {
    const y = evaluate(e, xs, EXPR_OPS);
    return axes.length === 0 ? y : k.sum(y, [...axes], keepDims);
  }
  const outShape = shape.map((d, a) => (axes.includes(a) ? 1 : d));
  const y = fusedOp(e, xs, shape, outShape);
  return keepDims || axes.length === 0 ? y : k.reshape(y, shape.filter((_, a) => !axes.includes(a)));
}

/** `fused` inside this module. */
const fusedT = (e: Expr, xs: readonly T[]): T => fusedSumT(e, xs, [], false);

/** σ(x) = 1/(1+e^{−x}). */
export function sigmoid(t: Tensor): Tensor {
  return activation(E.sigmoid(E.input(0)), sigmoidT, t);
}

export function tanh(t: Tensor): Tensor {
  return activation(E.tanh(E.input(0)), tanhT, t);
}

export function exp(t: Tensor): Tensor {
  return wrap(expT(raw(t)));
}

export function sin(t: Tensor): Tensor {
  return wrap(sinT(raw(t)));
}

export function cos(t: Tensor): Tensor {
  return wrap(cosT(raw(t)));
}

/** log(1 + eˣ). */
export function softplus(t: Tensor): Tensor {
  return wrap(softplusT(raw(t)));
}

/** SiLU (swish): x·σ(x). */
export function silu(t: Tensor): Tensor {
  return activation(E.silu(E.input(0)), siluT, t);
}

/** GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(t: Tensor): Tensor {
  return activation(GELU_EXPR, geluTanhT, t);
}

/** softmax along `axis` (default: last). */
export function softmax(t: Tensor, axis = -1): Tensor {
  const x = raw(t);
  return wrap(softmaxT(x, normAxis(axis, x.shape.length, 'softmax')));
}

/** log Σ exp along `axis` (default: last), computed stably. */
export function logSumExp(t: Tensor, axis = -1, keepDims = false): Tensor {
  const x = raw(t);
  return wrap(logSumExpT(x, normAxis(axis, x.shape.length, 'logSumExp'), keepDims));
}
