/**
 * Fused expressions against the same functions written with the ops layer: values, first-order
 * gradients and second-order gradients (∇ of Σ v·∇F), for broadcasting inputs and constants. Shared
 * by the CPU test of the derivatives (test/tensor/fused.test.ts) and the WebGPU test of the kernels.
 */
import { Rng } from '../../src/core/rng.js';
import * as T from '../../src/tensor/index.js';
import { E } from '../../src/tensor/index.js';

export interface FusedCase {
  name: string;
  shapes: number[][];
  /** How many trailing inputs are constants (not differentiated in the comparison: masks, offsets). */
  constants: number;
  expr: T.Expr;
  ops: (xs: T.Tensor[]) => T.Tensor;
  /** Inputs that must be positive (under a square root). */
  positive?: number[];
  /** Summed over these axes (T.fusedSum; the ops then end in T.sum). */
  sum?: { axes: number[]; keepDims: boolean };
}

/** The case through T.fused or T.fusedSum. */
export const viaFused =
  (c: FusedCase) =>
  (xs: T.Tensor[]): T.Tensor =>
    c.sum ? T.fusedSum(c.expr, xs, c.sum.axes, c.sum.keepDims) : T.fused(c.expr, xs);

/** The case through the ops it names. */
export const viaOps =
  (c: FusedCase) =>
  (xs: T.Tensor[]): T.Tensor =>
    c.sum ? T.sum(c.ops(xs), c.sum.axes, c.sum.keepDims) : c.ops(xs);

const [a, b, c, d] = [0, 1, 2, 3].map((i) => E.input(i));

export const FUSED_CASES: FusedCase[] = [
  {
    name: 'silu of a broadcast sum (the EGNN edge input)',
    shapes: [[2, 3, 3, 4], [2, 3, 1, 4], [2, 1, 3, 4]],
    constants: 0,
    expr: E.silu(E.add(E.add(a, b), c)),
    ops: ([x, y, z]) => T.silu(T.add(T.add(x, y), z)),
  },
  {
    name: 'the EGNN coordinate weight, with a constant offset',
    shapes: [[2, 3, 3, 2], [2, 3, 3, 1], [2, 3, 3, 1], [3, 3, 1]],
    constants: 1,
    positive: [2, 3],
    expr: E.mul(a, E.div(E.mul(E.tanh(b), 5), E.add(E.sqrt(E.add(c, d)), 1))),
    ops: ([x, p, r, off]) => T.mul(x, T.div(T.mul(T.tanh(p), 5), T.add(T.sqrt(T.add(r, off)), 1))),
  },
  {
    name: 'gate, modulation and residual (the DiT), with exp, square, neg and sub',
    shapes: [[2, 3, 4], [2, 1, 4], [2, 1, 4], [4]],
    constants: 0,
    expr: E.add(E.mul(E.sigmoid(a), E.add(b, 1)), E.sub(E.exp(E.neg(E.square(c))), d)),
    ops: ([x, s, h, w]) => T.add(T.mul(T.sigmoid(x), T.add(s, 1)), T.sub(T.exp(T.neg(T.square(h))), w)),
  },
  {
    name: 'the EGNN coordinate update, summed over neighbours (axis 2)',
    shapes: [[2, 3, 3, 2], [2, 3, 3, 1], [2, 3, 3, 1], [3, 3, 1]],
    constants: 1,
    positive: [2, 3],
    sum: { axes: [2], keepDims: false },
    expr: E.mul(a, E.div(E.mul(E.tanh(b), 5), E.add(E.sqrt(E.add(c, d)), 1))),
    ops: ([x, p, r, off]) => T.mul(x, T.div(T.mul(T.tanh(p), 5), T.add(T.sqrt(T.add(r, off)), 1))),
  },
  {
    name: 'a sum that a broadcast input spans only in part (its gradient is 3·dy), keeping dims',
    shapes: [[2, 3, 1, 4], [2, 3, 3, 4], [4]],
    constants: 0,
    sum: { axes: [2, 3], keepDims: true },
    expr: E.add(E.mul(a, c), E.square(b)),
    ops: ([x, y, z]) => T.add(T.mul(x, z), T.square(y)),
  },
  {
    name: 'a long sum into few outputs (the expression over the whole shape, then a Sum)',
    shapes: [[40, 30, 3], [3]],
    constants: 0,
    sum: { axes: [0, 1], keepDims: false },
    expr: E.mul(E.sigmoid(a), E.exp(b)),
    ops: ([x, y]) => T.mul(T.sigmoid(x), T.exp(y)),
  },
  {
    name: 'row dot products along the last axis (the DiT LayerNorm VJP), 40 numbers a row: lanes share each row on WebGPU',
    shapes: [[5, 2, 40], [5, 1, 40], [40]],
    constants: 0,
    sum: { axes: [2], keepDims: true },
    expr: E.mul(E.mul(a, b), E.tanh(c)),
    ops: ([x, y, z]) => T.mul(T.mul(x, y), T.tanh(z)),
  },
];

/** Values, ∇F and ∇(Σ v·∇F) of F = Σ w·y + ½Σ y², for y = f(inputs) (flattened, in order). */
export async function fusedCaseValues(c: FusedCase, f: (xs: T.Tensor[]) => T.Tensor, seed = 1): Promise<number[][]> {
  const rng = new Rng(seed);
  const xs = c.shapes.map((s, i) => {
    const n = s.reduce((p, q) => p * q, 1);
    const v = c.positive?.includes(i) ? rng.uniforms(n, 0.2, 2) : rng.normals(n);
    return T.fromF64(v, s);
  });
  const y0 = f(xs);
  const w = T.fromF64(rng.normals(T.sizeOf(y0)), T.shapeOf(y0));
  const vs = xs.map((x) => T.fromF64(rng.normals(T.sizeOf(x)), T.shapeOf(x)));
  const m = xs.length - c.constants;
  const diff = xs.slice(0, m);
  const F = (...ys: T.Tensor[]): T.Tensor => {
    const y = f([...ys, ...xs.slice(m)]);
    return T.add(T.sum(T.mul(w, y)), T.mul(T.sum(T.square(y)), 0.5));
  };
  const first = T.grads(F, diff);
  const second = T.grads((...ys: T.Tensor[]) => T.grads(F, ys).reduce((s, g, i) => T.add(s, T.sum(T.mul(vs[i], g))), T.scalar(0)), diff);
  return Promise.all([y0, ...first, ...second].map(async (t) => [...(await T.read(t))]));
}
