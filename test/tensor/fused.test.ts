/**
 * Fused elementwise expressions (src/tensor/fused.ts): the symbolic derivatives against float64 finite
 * differences, the generated WGSL, and the CPU path (op by op, bit-identical to the ops it names). The
 * fused kernel and its gradients (fused-op.ts, WebGPU only) are compared with the ops, to second
 * order, in test/gpu/webgpu.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Expr, type ExprImpl, E, derivative, evaluate, exprKey, reindex, wgslBody } from '../../src/tensor/fused.js';
import * as T from '../../src/tensor/index.js';
import { FUSED_CASES, fusedCaseValues, viaFused, viaOps } from './fused-cases.js';

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const HOST: ExprImpl<number> = {
  add: (p, q) => p + q,
  sub: (p, q) => p - q,
  mul: (p, q) => p * q,
  div: (p, q) => p / q,
  neg: (p) => -p,
  exp: Math.exp,
  sqrt: Math.sqrt,
  square: (p) => p * p,
  sigmoid: sig,
  tanh: Math.tanh,
  silu: (p) => p * sig(p),
  scalar: (v) => v,
};

test('derivative: every function, first and second order, against float64 central differences', () => {
  const [a, b] = [E.input(0), E.input(1)];
  const exprs: Expr[] = [
    E.div(E.mul(E.silu(a), E.sigmoid(b)), E.add(E.sqrt(E.square(b)), 1.5)),
    E.sub(E.tanh(E.mul(a, b)), E.exp(E.neg(a))),
  ];
  const at = [0.7, -0.4];
  const h = 1e-5;
  for (const e of exprs) {
    for (let i = 0; i < 2; i++) {
      const shifted = (dx: number, j = i) => at.map((v, k) => (k === j ? v + dx : v));
      const fd = (evaluate(e, shifted(h), HOST) - evaluate(e, shifted(-h), HOST)) / (2 * h);
      const d = derivative(e, i);
      assert.ok(Math.abs(evaluate(d, at, HOST) - fd) < 1e-8, `${exprKey(e)} ∂${i}: ${evaluate(d, at, HOST)} vs ${fd}`);
      for (let j = 0; j < 2; j++) {
        const fd2 = (evaluate(d, shifted(h, j), HOST) - evaluate(d, shifted(-h, j), HOST)) / (2 * h);
        assert.ok(Math.abs(evaluate(derivative(d, j), at, HOST) - fd2) < 1e-7, `${exprKey(e)} ∂${i}∂${j}`);
      }
    }
  }
});

test('derivative folds zeros and ones; reindex renames inputs', () => {
  const [a, b] = [E.input(0), E.input(1)];
  assert.equal(exprKey(derivative(E.add(E.mul(a, 3), b), 0)), '3');
  assert.equal(exprKey(derivative(E.mul(a, b), 1)), 'x0');
  assert.deepEqual(derivative(E.exp(a), 1), { op: 'const', value: 0 });
  assert.equal(exprKey(reindex(E.sub(a, b), (j) => 1 - j)), 'sub(x1,x0)');
});

test('wgslBody reads each input once and binds each distinct subexpression once', () => {
  const a = E.input(0);
  // SiLU′ repeats σ(a): it is computed once.
  const code = wgslBody(derivative(E.silu(a), 0), 1);
  assert.equal(code.match(/pitaSigmoid/g)?.length, 1, code);
  assert.match(code, /^fn value\(x0 : f32\) -> f32 \{/, code);
  // Constants are rounded to float32 (as k.scalar rounds them on the CPU path).
  assert.match(wgslBody(E.mul(a, 1e-8), 1), new RegExp(`f32\\(${Math.fround(1e-8)}\\)`));
  assert.match(wgslBody(E.add(a, 2), 1), /f32\(2\.0\)/);
});

test('fused on the CPU runs the same kernels as the ops it names: bit-identical values and gradients', async () => {
  await T.initTensorBackend('cpu');
  for (const c of FUSED_CASES) {
    assert.deepEqual(await fusedCaseValues(c, viaFused(c)), await fusedCaseValues(c, viaOps(c)), c.name);
  }
});
