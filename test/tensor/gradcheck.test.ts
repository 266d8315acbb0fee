/**
 * First- and second-order gradients of every ops-layer op against float64
 * finite differences of an independent host implementation (hostref.ts).
 *
 * For an op y = op(x₁..x_k), with fixed random w, u (shape of y) and v_j
 * (shape of x_j), the scalar test function is
 *   F(x) = Σ w⊙y + ½ Σ u⊙y²
 * (the quadratic term makes even linear ops have non-zero second derivatives).
 * Checked quantities:
 *   first order   ∇_j F                     vs central FD of F_ref, h = 1e-5;
 *   second order  ∇_i (Σ_j ⟨v_j, ∇_j F⟩)    vs central FD (h = 1e-4) of the
 *                 directional derivative (F_ref(x+hv) − F_ref(x−hv))/2h, h = 1e-4.
 * The float64 FD error is ≲ 1e-8 relative (truncation h², round-off 1e-16/h²),
 * so the comparison measures the float32 engine. Tolerances (relMax =
 * max|engine − ref| / max|ref|): forward 1e-5, first order 1e-5, second order
 * 1e-4. Measured (this seed): forward ≤ 2.4e-7, first order ≤ 3.2e-7, second
 * order ≤ 2.4e-6 — float32 rounding; a lost second-order term (as with tfjs's
 * saved-output gradients) gives errors of order 1e-2–1 (canary.test.ts).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import * as T from '../../src/tensor/index.js';
import { f32Normals, f32Uniforms, fdGrad, relMax } from './helpers.js';
import * as R from './hostref.js';
import { type HostT, host } from './hostref.js';

const TOL_VALUE = 1e-5;
const TOL_FIRST = 1e-5;
const TOL_SECOND = 1e-4;

interface Case {
  name: string;
  inputs: { shape: number[]; positive?: boolean }[];
  engine: (xs: T.Tensor[]) => T.Tensor;
  ref: (xs: HostT[]) => HostT;
}

const u1 = (f: (x: T.Tensor) => T.Tensor, r: (v: number) => number, positive = false): Pick<Case, 'inputs' | 'engine' | 'ref'> => ({
  inputs: [{ shape: [2, 3], positive }],
  engine: ([x]) => f(x),
  ref: ([x]) => R.map(x, r),
});

const MASK = [1, 0, 1, 0, 0, 1];

const cases: Case[] = [
  // elementwise
  { name: 'neg', ...u1(T.neg, (v) => -v) },
  { name: 'square', ...u1(T.square, (v) => v * v) },
  { name: 'sqrt', ...u1(T.sqrt, Math.sqrt, true) },
  { name: 'log', ...u1(T.log, Math.log, true) },
  { name: 'exp', ...u1(T.exp, Math.exp) },
  { name: 'sigmoid', ...u1(T.sigmoid, R.sigmoid) },
  { name: 'tanh', ...u1(T.tanh, Math.tanh) },
  { name: 'sin', ...u1(T.sin, Math.sin) },
  { name: 'cos', ...u1(T.cos, Math.cos) },
  { name: 'softplus', ...u1(T.softplus, R.softplus) },
  { name: 'silu', ...u1(T.silu, R.silu) },
  { name: 'geluTanh', ...u1(T.geluTanh, R.geluTanh) },
  { name: 'powInt 3', ...u1((x) => T.powInt(x, 3), (v) => v ** 3) },
  { name: 'powInt -2', ...u1((x) => T.powInt(x, -2), (v) => v ** -2, true) },
  { name: 'powInt 1', ...u1((x) => T.powInt(x, 1), (v) => v) },
  // binary, with broadcasting and number operands
  {
    name: 'add [2,3]+[3]',
    inputs: [{ shape: [2, 3] }, { shape: [3] }],
    engine: ([a, b]) => T.add(a, b),
    ref: ([a, b]) => R.zip(a, b, (x, y) => x + y),
  },
  {
    name: 'sub [2,1]-[1,3]',
    inputs: [{ shape: [2, 1] }, { shape: [1, 3] }],
    engine: ([a, b]) => T.sub(a, b),
    ref: ([a, b]) => R.zip(a, b, (x, y) => x - y),
  },
  {
    name: 'mul [2,3]*[3]',
    inputs: [{ shape: [2, 3] }, { shape: [3] }],
    engine: ([a, b]) => T.mul(a, b),
    ref: ([a, b]) => R.zip(a, b, (x, y) => x * y),
  },
  {
    name: 'mul x*x (same tensor twice)',
    inputs: [{ shape: [2, 3] }],
    engine: ([a]) => T.mul(a, a),
    ref: ([a]) => R.zip(a, a, (x, y) => x * y),
  },
  {
    name: 'div [2,3]/[2,1]',
    inputs: [{ shape: [2, 3] }, { shape: [2, 1], positive: true }],
    engine: ([a, b]) => T.div(a, b),
    ref: ([a, b]) => R.zip(a, b, (x, y) => x / y),
  },
  {
    name: 'number operands 2.5*x − 1 and 1/x',
    inputs: [{ shape: [2, 3], positive: true }],
    engine: ([a]) => T.add(T.sub(T.mul(2.5, a), 1), T.div(1, a)),
    ref: ([a]) => R.map(a, (x) => 2.5 * x - 1 + 1 / x),
  },
  // matmul, every transpose combination, batched and linear-layer forms
  ...[false, true].flatMap((ta) =>
    [false, true].flatMap((tb) => [
      {
        name: `matmul 2-D transA=${ta} transB=${tb}`,
        inputs: [{ shape: ta ? [4, 3] : [3, 4] }, { shape: tb ? [2, 4] : [4, 2] }],
        engine: ([a, b]: T.Tensor[]) => T.matmul(a, b, ta, tb),
        ref: ([a, b]: HostT[]) => R.matmul(a, b, ta, tb),
      },
      {
        name: `matmul batched transA=${ta} transB=${tb}`,
        inputs: [{ shape: ta ? [2, 4, 3] : [2, 3, 4] }, { shape: tb ? [2, 2, 4] : [2, 4, 2] }],
        engine: ([a, b]: T.Tensor[]) => T.matmul(a, b, ta, tb),
        ref: ([a, b]: HostT[]) => R.matmul(a, b, ta, tb),
      },
    ]),
  ),
  {
    name: 'matmul [2,3,4]·[4,2] (linear layer)',
    inputs: [{ shape: [2, 3, 4] }, { shape: [4, 2] }],
    engine: ([a, b]) => T.matmul(a, b),
    ref: ([a, b]) => R.matmul(a, b),
  },
  // reductions
  { name: 'sum all', inputs: [{ shape: [2, 3] }], engine: ([x]) => T.sum(x), ref: ([x]) => R.sum(x, [0, 1]) },
  { name: 'sum axis 0', inputs: [{ shape: [2, 3] }], engine: ([x]) => T.sum(x, 0), ref: ([x]) => R.sum(x, [0]) },
  {
    name: 'sum axes [0,2] keepDims',
    inputs: [{ shape: [2, 3, 2] }],
    engine: ([x]) => T.sum(x, [0, 2], true),
    ref: ([x]) => R.sum(x, [0, 2], true),
  },
  { name: 'mean axis -1', inputs: [{ shape: [2, 3] }], engine: ([x]) => T.mean(x, -1), ref: ([x]) => R.mean(x, [1]) },
  { name: 'mean all', inputs: [{ shape: [2, 3] }], engine: ([x]) => T.mean(x), ref: ([x]) => R.mean(x, [0, 1]) },
  // softmax / logSumExp
  { name: 'softmax axis -1', inputs: [{ shape: [2, 4] }], engine: ([x]) => T.softmax(x), ref: ([x]) => R.softmax(x, 1) },
  { name: 'softmax axis 0', inputs: [{ shape: [3, 2] }], engine: ([x]) => T.softmax(x, 0), ref: ([x]) => R.softmax(x, 0) },
  {
    name: 'logSumExp axis -1',
    inputs: [{ shape: [2, 4] }],
    engine: ([x]) => T.logSumExp(x),
    ref: ([x]) => R.logSumExp(x, 1, false),
  },
  {
    name: 'logSumExp axis 0 keepDims',
    inputs: [{ shape: [3, 2] }],
    engine: ([x]) => T.logSumExp(x, 0, true),
    ref: ([x]) => R.logSumExp(x, 0, true),
  },
  // masking
  {
    name: 'where(mask [2,3], a [2,3], b [3])',
    inputs: [{ shape: [2, 3] }, { shape: [3] }],
    engine: ([a, b]) => T.where(T.fromF32(MASK, [2, 3]), a, b),
    ref: ([a, b]) => {
      const bb = R.broadcastTo(b, [2, 3]);
      return host([2, 3], a.data.map((v, i) => (MASK[i] !== 0 ? v : bb.data[i])));
    },
  },
  // shape ops
  {
    name: 'reshape [2,3]→[3,-1]',
    inputs: [{ shape: [2, 3] }],
    engine: ([x]) => T.reshape(x, [3, -1]),
    ref: ([x]) => host([3, 2], x.data),
  },
  {
    name: 'transpose [2,3,4] perm [2,0,1]',
    inputs: [{ shape: [2, 3, 4] }],
    engine: ([x]) => T.transpose(x, [2, 0, 1]),
    ref: ([x]) => R.transpose(x, [2, 0, 1]),
  },
  {
    name: 'concat [2,3]+[2,2] axis 1',
    inputs: [{ shape: [2, 3] }, { shape: [2, 2] }],
    engine: ([a, b]) => T.concat([a, b], 1),
    ref: ([a, b]) => R.concat([a, b], 1),
  },
  {
    name: 'concat three on axis 0',
    inputs: [{ shape: [1, 3] }, { shape: [2, 3] }, { shape: [1, 3] }],
    engine: (xs) => T.concat(xs, 0),
    ref: (xs) => R.concat(xs, 0),
  },
  {
    name: 'slice [3,4] begin [1,1] size [2,-1]',
    inputs: [{ shape: [3, 4] }],
    engine: ([x]) => T.slice(x, [1, 1], [2, -1]),
    ref: ([x]) => R.slice(x, [1, 1], [2, 3]),
  },
  {
    // Three blocks, combined so that each is used (the gradient joins them in one concatenation).
    name: 'split [3,5] into [2,1,2] on axis 1',
    inputs: [{ shape: [3, 5] }],
    engine: ([x]) => {
      const [a, b, c] = T.split(x, [2, 1, 2], 1);
      return T.add(T.mul(a, c), b);
    },
    ref: ([x]) => R.zip(R.zip(R.slice(x, [0, 0], [3, 2]), R.slice(x, [0, 3], [3, 2]), (p, q) => p * q), R.broadcastTo(R.slice(x, [0, 2], [3, 1]), [3, 2]), (p, q) => p + q),
  },
  {
    // A block nothing uses gets a zero gradient.
    name: 'split [4,3] into [1,2,1] on axis 0, first block unused',
    inputs: [{ shape: [4, 3] }],
    engine: ([x]) => {
      const [, b, c] = T.split(x, [1, 2, 1], 0);
      return T.mul(b, c);
    },
    ref: ([x]) => R.zip(R.slice(x, [1, 0], [2, 3]), R.broadcastTo(R.slice(x, [3, 0], [1, 3]), [2, 3]), (p, q) => p * q),
  },
  {
    name: 'broadcastTo [3]→[2,3]',
    inputs: [{ shape: [3] }],
    engine: ([x]) => T.broadcastTo(x, [2, 3]),
    ref: ([x]) => R.broadcastTo(x, [2, 3]),
  },
  {
    name: 'tile [2,1]×[2,3]',
    inputs: [{ shape: [2, 1] }],
    engine: ([x]) => T.tile(x, [2, 3]),
    ref: ([x]) => R.tile(x, [2, 3]),
  },
  {
    name: 'expandDims + squeeze',
    inputs: [{ shape: [2, 3] }],
    engine: ([x]) => T.mul(T.squeeze(T.expandDims(x, 1), [1]), T.expandDims(T.sum(x, 1), -1)),
    ref: ([x]) => R.zip(x, R.sum(x, [1], true), (a, b) => a * b),
  },
  // composite: LayerNorm without affine (the DiT's normalisation)
  {
    name: 'layerNorm (mean, sub, square, mean, sqrt, div)',
    inputs: [{ shape: [2, 4] }],
    engine: ([x]) => {
      const c = T.sub(x, T.mean(x, -1, true));
      return T.div(c, T.sqrt(T.add(T.mean(T.square(c), -1, true), 1e-5)));
    },
    ref: ([x]) => {
      const c = R.zip(x, R.mean(x, [1], true), (a, m) => a - m);
      const v = R.mean(R.map(c, (a) => a * a), [1], true);
      return R.zip(c, v, (a, vv) => a / Math.sqrt(vv + 1e-5));
    },
  },
  // the same with a scale, as the ops layer's layerNorm (custom gradient written out)
  {
    name: 'layerNorm op with scale (written-out gradient)',
    inputs: [{ shape: [3, 5] }, { shape: [5] }],
    engine: ([x, g]) => T.layerNorm(x, g, 1e-5),
    ref: ([x, g]) => {
      const c = R.zip(x, R.mean(x, [1], true), (a, m) => a - m);
      const v = R.mean(R.map(c, (a) => a * a), [1], true);
      return R.zip(R.zip(c, v, (a, vv) => a / Math.sqrt(vv + 1e-5)), g, (a, b) => a * b);
    },
  },
];

before(async () => {
  await T.initTensorBackend();
});

/** Split a flat vector into arrays of the given sizes. */
function split(flat: Float64Array, sizes: number[]): Float64Array[] {
  let off = 0;
  return sizes.map((n) => flat.slice(off, (off += n)));
}

function concatF64(parts: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

describe('gradients of every op vs float64 finite differences', () => {
  for (const c of cases) {
    test(c.name, () => {
      const rng = new Rng(12345);
      const shapes = c.inputs.map((i) => i.shape);
      const sizes = shapes.map((s) => s.reduce((a, b) => a * b, 1));
      const xs = c.inputs.map((inp, j) => (inp.positive ? f32Uniforms(rng, sizes[j], 0.5, 2) : f32Normals(rng, sizes[j])));
      const yRef = c.ref(xs.map((x, j) => host(shapes[j], x)));
      const w = f32Normals(rng, yRef.data.length);
      const u = f32Normals(rng, yRef.data.length);
      const v = xs.map((x) => f32Normals(rng, x.length));

      const fRef = (flat: Float64Array): number => {
        const y = c.ref(split(flat, sizes).map((x, j) => host(shapes[j], x))).data;
        let s = 0;
        for (let i = 0; i < y.length; i++) s += w[i] * y[i] + 0.5 * u[i] * y[i] * y[i];
        return s;
      };
      const x0 = concatF64(xs);
      const vFlat = concatF64(v);
      const dirRef = (flat: Float64Array): number => {
        const h = 1e-4;
        return (fRef(flat.map((a, i) => a + h * vFlat[i])) - fRef(flat.map((a, i) => a - h * vFlat[i]))) / (2 * h);
      };
      const firstRef = fdGrad(fRef, x0, 1e-5);
      const secondRef = fdGrad(dirRef, x0, 1e-4);

      const { value, first, second } = T.scope(() => {
        const ts = xs.map((x, j) => T.fromF64(x, shapes[j]));
        const y = c.engine(ts);
        assert.deepEqual(T.shapeOf(y), yRef.shape, 'output shape');
        const W = T.fromF64(w, yRef.shape);
        const U = T.fromF64(u, yRef.shape);
        const V = v.map((vj, j) => T.fromF64(vj, shapes[j]));
        const F = (...a: T.Tensor[]): T.Tensor => {
          const yy = c.engine(a);
          return T.add(T.sum(T.mul(W, yy)), T.mul(T.sum(T.mul(U, T.square(yy))), 0.5));
        };
        const g = T.grads(F, ts);
        const dir = (...a: T.Tensor[]): T.Tensor =>
          T.grads(F, a).reduce((acc: T.Tensor | null, gj, j) => {
            const term = T.sum(T.mul(V[j], gj));
            return acc === null ? term : T.add(acc, term);
          }, null) as T.Tensor;
        const h = T.grads(dir, ts);
        return { value: T.readSync(y), first: concatF64(g.map(T.readSync)), second: concatF64(h.map(T.readSync)) };
      });
      const eValue = relMax(value, yRef.data);
      const eFirst = relMax(first, firstRef);
      const eSecond = relMax(second, secondRef);
      assert.ok(eValue <= TOL_VALUE, `${c.name}: forward relMax ${eValue.toExponential(2)} > ${TOL_VALUE}`);
      assert.ok(eFirst <= TOL_FIRST, `${c.name}: first-order relMax ${eFirst.toExponential(2)} > ${TOL_FIRST}`);
      assert.ok(eSecond <= TOL_SECOND, `${c.name}: second-order relMax ${eSecond.toExponential(2)} > ${TOL_SECOND}`);
    });
  }
});

describe('stopGradient', () => {
  test('blocks first and second order: f = Σ x²⊙sg(x) gives ∇f = 2x² and ∇(v·∇f) = 2v⊙x (not 3x², 6v⊙x)', () => {
    const x0 = [0.5, -1.5, 2];
    const v0 = [1, -2, 3];
    const { g, h } = T.scope(() => {
      const x = T.fromF32(x0, [3]);
      const v = T.fromF32(v0, [3]);
      const f = (a: T.Tensor): T.Tensor => T.sum(T.mul(T.square(a), T.stopGradient(a)));
      return {
        g: T.readSync(T.grad(f, x)),
        h: T.readSync(T.grad((a) => T.sum(T.mul(v, T.grad(f, a))), x)),
      };
    });
    assert.deepEqual([...g], x0.map((a) => 2 * a * a));
    assert.deepEqual([...h], v0.map((b, i) => 2 * b * x0[i]));
  });

  test('a parameter reached only through stopGradient gets a zero gradient', () => {
    const g = T.scope(() => {
      const x = T.fromF32([1, 2], [2]);
      return T.readSync(T.grad((a) => T.sum(T.stopGradient(a)), x));
    });
    assert.deepEqual([...g], [0, 0]);
  });
});
