/** Forward values, numerical stability and input validation of the ops layer and autodiff API. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { NonFiniteError } from '../../src/core/errors.js';
import * as T from '../../src/tensor/index.js';

before(async () => {
  await T.initTensorBackend();
});

const vals = (f: () => T.Tensor): number[] => T.scope(() => [...T.readSync(f())]);

describe('values', () => {
  test('matmul by hand: 2-D with transposes and a linear layer on a rank-3 input', () => {
    const a = [1, 2, 3, 4, 5, 6]; // [2,3]
    const b = [1, 0, -1, 2, 0.5, 1]; // [3,2]
    assert.deepEqual(vals(() => T.matmul(T.fromF32(a, [2, 3]), T.fromF32(b, [3, 2]))), [0.5, 7, 2, 16]);
    // aᵀ·a = [[17,22,27],[22,29,36],[27,36,45]]
    assert.deepEqual(vals(() => T.matmul(T.fromF32(a, [2, 3]), T.fromF32(a, [2, 3]), true, false)), [17, 22, 27, 22, 29, 36, 27, 36, 45]);
    // a·aᵀ = [[14,32],[32,77]]
    assert.deepEqual(vals(() => T.matmul(T.fromF32(a, [2, 3]), T.fromF32(a, [2, 3]), false, true)), [14, 32, 32, 77]);
    assert.deepEqual(
      T.scope(() => T.shapeOf(T.matmul(T.fromF32(new Array(24).fill(1), [2, 4, 3]), T.fromF32(b, [3, 2])))),
      [2, 4, 2],
    );
  });

  test("headsMatmul: the attention's products with operands and result in the heads' or the tokens' layout, against float64", () => {
    // B = 2 samples, H = 3 heads of [4, 5]·[5, 2] (weights·values), every layout and transpose flag.
    const [B, H, M, K, N] = [2, 3, 4, 5, 2];
    let seed = 1;
    const next = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (const la of ['heads', 'tokens'] as const) {
      for (const lb of ['heads', 'tokens'] as const) {
        for (const lo of ['heads', 'tokens'] as const) {
          for (const [tA, tB] of [[false, false], [true, true], [false, true], [true, false]]) {
            // Operands by (matrix q = b·H + h, row, column) of what each stores (op(A) = Aᵀ when transposed).
            const [ra, ca, rb, cb] = [tA ? K : M, tA ? M : K, tB ? N : K, tB ? K : N];
            const a = Float32Array.from({ length: B * H * ra * ca }, next);
            const b = Float32Array.from({ length: B * H * rb * cb }, next);
            const at = (l: string, R: number, C: number) => (q: number, r: number, c: number): number =>
              l === 'heads' ? (q * R + r) * C + c : ((Math.floor(q / H) * R + r) * H + (q % H)) * C + c;
            const [ia, ib, io] = [at(la, ra, ca), at(lb, rb, cb), at(lo, M, N)];
            const ref = new Float64Array(B * H * M * N);
            for (let q = 0; q < B * H; q++) {
              for (let i = 0; i < M; i++) {
                for (let j = 0; j < N; j++) {
                  let v = 0;
                  for (let k = 0; k < K; k++) v += a[tA ? ia(q, k, i) : ia(q, i, k)] * b[tB ? ib(q, j, k) : ib(q, k, j)];
                  ref[io(q, i, j)] = v;
                }
              }
            }
            const shape = (l: string, R: number, C: number) => (l === 'heads' ? [B * H, R, C] : [B, R, H * C]);
            const out = T.scope(() => {
              const y = T.headsMatmul(T.fromF32(a, shape(la, ra, ca)), T.fromF32(b, shape(lb, rb, cb)), { a: la, b: lb, out: lo }, H, tA, tB);
              assert.deepEqual(T.shapeOf(y), shape(lo, M, N));
              return [...T.readSync(y)];
            });
            const err = Math.max(...out.map((v, i) => Math.abs(v - ref[i])));
            assert.ok(err < 1e-5, `layouts ${la}·${lb} → ${lo}, transposeA ${tA}, transposeB ${tB}: max error ${err}`);
          }
        }
      }
    }
  });

  test('softmax and logSumExp are shift-stable; softplus is stable at ±100', () => {
    const s = vals(() => T.softmax(T.fromF32([1000, 1001, 1002, -5, -4, -3], [2, 3])));
    const ref = [Math.exp(-2), Math.exp(-1), 1].map((v, _, arr) => v / (arr[0] + arr[1] + arr[2]));
    s.forEach((v, i) => assert.ok(Math.abs(v - ref[i % 3]) < 1e-6));
    const l = vals(() => T.logSumExp(T.fromF32([1000, 1000], [2])));
    assert.ok(Math.abs(l[0] - (1000 + Math.LN2)) < 1e-4);
    const sp = vals(() => T.softplus(T.fromF32([-100, 0, 100], [3])));
    assert.ok(sp[0] >= 0 && sp[0] < 1e-30);
    assert.ok(Math.abs(sp[1] - Math.LN2) < 1e-7);
    assert.equal(sp[2], 100);
  });

  test('where selects elementwise and a non-finite unselected branch does not leak', () => {
    const { y, g } = T.scope(() => {
      const x = T.fromF32([-1, 4, -9, 16], [4]);
      const mask = T.fromF32([0, 1, 0, 1], [4]);
      const f = (a: T.Tensor): T.Tensor => T.where(mask, T.sqrt(T.where(mask, a, 1)), 0);
      return { y: T.readSync(f(x)), g: T.readSync(T.grad((a) => T.sum(f(a)), x)) };
    });
    assert.deepEqual([...y], [0, 2, 0, 4]);
    assert.deepEqual([...g], [0, 0.25, 0, 0.125]);
  });

  test('transfer: float64 is rounded, reads widen back, scalars and constants', () => {
    assert.deepEqual(vals(() => T.fromF64([0.1], [1])), [Math.fround(0.1)]);
    assert.deepEqual(T.scope(() => [...T.readF64Sync(T.fromF64([0.1], [1]))]), [Math.fround(0.1)]);
    assert.equal(T.scope(() => T.readScalarSync(T.scalar(2.5))), 2.5);
    assert.deepEqual(vals(() => T.add(T.zeros([2]), T.full([2], 3))), [3, 3]);
    assert.equal(T.scope(() => T.sizeOf(T.zeros([2, 3, 0]))), 0);
  });
});

describe('autodiff API', () => {
  test("LayerNorm's third derivative (through the written-out ∂r/∂x of the VJP's derivative) matches central differences of its second", () => {
    // f(x) = Σ w ⊙ ∇ₓ(Σ v ⊙ ∇ₓ Σ u ⊙ normalise(x)); ∇f against (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h in float32.
    const shape = [3, 5];
    let seed = 7;
    const next = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const [x0, u, v, w] = [0, 1, 2, 3].map((i) => Float64Array.from({ length: 15 }, (_, j) => next() * (i === 0 ? 2 : 1) + (i === 0 ? j % 3 : 0)));
    const f = (x: T.Tensor): T.Tensor => {
      const first = (y: T.Tensor) => T.grad((z) => T.sum(T.mul(T.normalise(z, 1e-5), T.fromF64(u, shape))), y);
      return T.sum(T.mul(T.grad((y) => T.sum(T.mul(first(y), T.fromF64(v, shape))), x), T.fromF64(w, shape)));
    };
    const third = T.scope(() => [...T.readSync(T.grad(f, T.fromF64(x0, shape)))]);
    const h = 1e-2;
    const fd = Array.from(x0, (_, i) => {
      const at = (d: number) => T.scope(() => T.readSync(f(T.fromF64(Float64Array.from(x0, (xv, j) => xv + (j === i ? d : 0)), shape)))[0]);
      return (at(h) - at(-h)) / (2 * h);
    });
    const scale = Math.max(...fd.map(Math.abs));
    const err = Math.max(...third.map((t, i) => Math.abs(t - fd[i]))) / scale;
    assert.ok(scale > 0.05 && err < 2e-3, `third derivative: max error ${err.toExponential(2)} of ${scale.toFixed(3)}`);
  });

  test('vector–Jacobian product with a cotangent; zero gradient for an unused input', () => {
    const { vjp, unused } = T.scope(() => {
      const x = T.fromF32([1, 2, 3], [3]);
      const dy = T.fromF32([1, 0, -2], [3]);
      const z = T.fromF32([7], [1]);
      return {
        vjp: [...T.readSync(T.grad((a) => T.square(a), x, dy))],
        unused: T.grads((a, _b) => T.sum(T.square(a)), [x, z]).map((g) => [...T.readSync(g)]),
      };
    });
    assert.deepEqual(vjp, [2, 0, -12]);
    assert.deepEqual(unused, [[2, 4, 6], [0]]);
  });

  test('valueAndGrad returns the value too', () => {
    const r = T.scope(() => {
      const { value, grad } = T.valueAndGrad((a) => T.sum(T.exp(a)), T.fromF32([0, 1], [2]));
      return { v: T.readScalarSync(value), g: [...T.readSync(grad)] };
    });
    assert.ok(Math.abs(r.v - (1 + Math.E)) < 1e-6);
    assert.ok(Math.abs(r.g[1] - Math.E) < 1e-6);
  });

  test('rejects a non-scalar output without cotangent and a mismatched cotangent', () => {
    T.scope(() => {
      const x = T.fromF32([1, 2], [2]);
      assert.throws(() => T.grad((a) => T.square(a), x), /f returned shape \[2\]; it must return one element/);
      assert.throws(() => T.grad((a) => T.square(a), x, T.zeros([3])), /cotangent dy has shape \[3\], f returned \[2\]/);
      assert.throws(() => T.grads(() => T.sum(x), []), /at least one input/);
    });
  });
});

describe('validation messages name the bad value and the shapes', () => {
  test('transfer', () => {
    assert.throws(() => T.fromF32([1, 2, 3], [2, 2]), /fromF32: data has 3 values but shape \[2,2\] needs 4/);
    assert.throws(() => T.fromF32([1, NaN], [2]), (e: unknown) => e instanceof NonFiniteError && /NaN at flat index 1/.test(e.message));
    assert.throws(() => T.fromF64([1e39], [1]), (e: unknown) => e instanceof NonFiniteError && /Infinity/.test(e.message));
    assert.throws(() => T.zeros([2, -1]), /non-negative integers/);
    assert.throws(() => T.scope(() => T.readScalarSync(T.zeros([2]))), /shape \[2\], expected one element/);
    assert.throws(() => T.scope(() => T.mul(T.zeros([1]), Infinity)), NonFiniteError);
  });

  test('shape and arithmetic ops', () => {
    T.scope(() => {
      const x = T.zeros([2, 3]);
      assert.throws(() => T.add(x, T.zeros([4])), /add: shapes \[2,3\] and \[4\] do not broadcast/);
      assert.throws(() => T.matmul(x, x), /matmul: inner extents differ in \[2,3\] · \[2,3\] \(3 vs 2\)/);
      assert.throws(() => T.matmul(T.zeros([2, 2, 3]), T.zeros([3, 3, 2])), /batch dimensions differ/);
      assert.throws(() => T.matmul(T.zeros([3]), x), /rank ≥ 2/);
      assert.throws(() => T.headsMatmul(T.zeros([6, 4, 5]), T.zeros([2, 5, 7]), { b: 'tokens' }, 3), /headsMatmul: operands must be \[B·heads, R, C\] or \[B, R, heads·C\] as laid out, got \[6,4,5\] \(heads\) · \[2,5,7\] \(tokens\) with 3 heads/);
      assert.throws(() => T.headsMatmul(T.zeros([6, 4, 5]), T.zeros([2, 4, 6]), { b: 'tokens' }, 3), /headsMatmul: inner extents differ/);
      assert.throws(() => T.headsMatmul(T.zeros([6, 4, 5]), T.zeros([3, 5, 6]), { b: 'tokens' }, 3), /different numbers of matrices/);
      assert.throws(() => T.headsMatmul(T.zeros([6, 4, 5]), T.zeros([6, 5, 2]), {}, 0), /heads must be a positive integer, got 0/);
      assert.throws(() => T.reshape(x, [4, 2]), /cannot reshape \[2,3\] \(6 values\) to \[4,2\]/);
      assert.throws(() => T.reshape(x, [-1, 4]), /cannot reshape/);
      assert.throws(() => T.transpose(x, [0, 0]), /not a permutation/);
      assert.throws(() => T.concat([x, T.zeros([3, 3])], 1), /\[3,3\] does not match \[2,3\] outside axis 1/);
      assert.throws(() => T.slice(x, [1, 0], [2, 3]), /exceed \[2,3\]/);
      assert.throws(() => T.split(x, [2, 2], 1), /split: sizes \[2,2\] must be positive integers adding up to axis 1 of \[2,3\]/);
      assert.throws(() => T.split(x, [0, 3], 1), /positive integers/);
      assert.throws(() => T.normalise(x, 0), /normalise: eps must be > 0, got 0/);
      assert.throws(() => T.normalise(T.scalar(1), 1e-5), /normalise: needs a tensor of rank ≥ 1/);
      assert.throws(() => T.squeeze(x, [0]), /axes 0 of \[2,3\] do not have extent 1/);
      assert.throws(() => T.sum(x, [1, -1]), /repeated axis/);
      assert.throws(() => T.softmax(x, 2), /axis 2 is out of range for a rank-2 tensor/);
      assert.throws(() => T.broadcastTo(x, [3, 3]), /\[2,3\] cannot be broadcast to \[3,3\]/);
      assert.throws(() => T.tile(x, [1]), /reps \[1\] must be 2 positive integers/);
      assert.throws(() => T.powInt(x, 0.5), /exponent must be an integer/);
      assert.throws(() => T.where(T.zeros([4]), x, 0), /where: shapes \[4\] and \[2,3\] do not broadcast/);
    });
  });
});
