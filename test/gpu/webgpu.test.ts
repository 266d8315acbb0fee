/**
 * The WebGPU device against the CPU path (issue 16's correctness items).
 * Runs on any Vulkan device Dawn accepts: the GPU, or Mesa lavapipe on a CPU
 * (.ci/run installs it). Without an adapter these tests skip with the reason,
 * except in CI (CI=true), where a missing device is a failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { applyRope, applyRopeToHeads, createNetwork, ropeConstants } from '../../src/nets/index.js';
import { ropeHead } from '../nets/hostref.js';
import { ropeToHeadsCases } from '../nets/rope-heads.js';
import { NonFiniteError } from '../../src/core/errors.js';
import { Rng } from '../../src/core/rng.js';
import { EdmSchedule } from '../../src/diffusion/schedule.js';
import { neuralField } from '../../src/pita/neural-field.js';
import { type StepLog, Trainer } from '../../src/pita/trainer.js';
import { parseRunConfig } from '../../src/pita/config.js';
import { annealRung, networkFactory, runPita, RunStopped, trainerConfig } from '../../src/pita/run.js';
import { createTarget } from '../../src/targets/index.js';
import { tinyConfig } from '../report/fixtures.js';
import { useAddends } from '../../src/tensor/accumulate.js';
import { clearGpuFailure } from '../../src/tensor/gpu-errors.js';
import * as T from '../../src/tensor/index.js';
import { E } from '../../src/tensor/index.js';
import { findGpu } from '../../src/tensor/webgpu.js';
import { DEFAULT_VARIANT, GEMM_VARIANTS, type GemmCase, gemmLimits, gemmSetting, gemmTuning, tunedGemms } from '../../src/tensor/webgpu-gemm.js';
import { tuneGemms } from '../../src/tensor/webgpu-gemm-tune.js';
import { FUSED_CASES, fusedCaseValues, viaFused, viaOps } from '../tensor/fused-cases.js';
import { runCli } from '../cli/helpers.js';
import { STEP_BENCHES, benchStep } from '../../src/bench/steps.js';
import { gpuAdvice } from '../../src/cli/main.js';
import { type ParityValues, gaussianBuffer, parityValues } from './parity-fixture.js';

const gpu = await findGpu();
const skip = gpu.adapter === null && process.env.CI !== 'true' ? `no WebGPU adapter (${gpu.tried})` : false;

/**
 * Parameters of `shapes` (values from seed `seed`), Adam with its moments made and an EMA (decay 0.9), and a
 * captured step whose inputs are one tensor per parameter and [f₀, f₁, 1 − d] (`scalars()`, for the next
 * run); `update` gets the parameters' inputs, Adam's factors, the EMA's rate, and both, and returns the outputs.
 */
function optimiserStep(
  shapes: Record<string, number[]>,
  seed: number,
  options: T.AdamOptions,
  update: (inputs: T.Tensor[], factors: T.Tensor, rate: T.Tensor, adam: T.Adam, ema: T.Ema) => T.Tensor[],
) {
  const store = new T.ParamStore();
  for (const [name, shape] of Object.entries(shapes)) {
    store.add(name, shape, { kind: 'values', data: Float64Array.from(new Rng(seed).normals(shape.reduce((p, q) => p * q, 1))) } as never);
  }
  const adam = new T.Adam(store, options);
  adam.ensureMoments();
  const ema = new T.Ema(store, 0.9);
  const n = Object.keys(shapes).length;
  const step = T.captureStep({
    inputs: [...Object.values(shapes), [3]],
    state: () => [...store.tensorsInOrder(), ...adam.stateTensors(), ...ema.stateTensors()],
    step: (inputs) => update(inputs.slice(0, n), T.slice(inputs[n], [0], [2]), T.reshape(T.slice(inputs[n], [2], [1]), []), adam, ema),
  });
  const scalars = () => Float32Array.from([...adam.nextFactors(), 1 - ema.nextDecay()]);
  const dispose = () => {
    step.dispose();
    adam.dispose();
    ema.dispose();
    store.dispose();
  };
  return { store, adam, ema, step, scalars, dispose };
}

/** `fn` with the environment variable `name` set to `value`, restored after. */
async function withEnv<R>(name: string, value: string, fn: () => Promise<R>): Promise<R> {
  const saved = process.env[name];
  process.env[name] = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env[name];
    else process.env[name] = saved;
  }
}

/** `step` captured and run once on `values`, with the addends and joins of accumulate.ts as given (restored after): its outputs and kernels. */
async function capturedWithAddends(addends: boolean, join: boolean, shapes: number[][], values: readonly ArrayLike<number>[], step: (xs: T.Tensor[]) => T.Tensor[]) {
  useAddends(addends, join);
  try {
    const captured = T.captureStep({ inputs: shapes, state: () => [], step });
    try {
      return { out: await captured.run(values.map((v) => Float32Array.from(v))), kernels: captured.shapes };
    } finally {
      captured.dispose();
    }
  } finally {
    useAddends(true);
  }
}

/** ‖a − b‖∞ / ‖b‖∞: float32 kernels differ by rounding only. */
function relErr(a: readonly number[], b: readonly number[]): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-30);
}

/** A captured step with state w = [1, 2]: w ← w + x, returning Σ f(w). */
function accumulatorStep(f: (w: T.Tensor) => T.Tensor): { store: T.ParamStore; step: T.CapturedStep } {
  const store = new T.ParamStore();
  store.add('w', [2], { kind: 'values', data: Float64Array.from([1, 2]) } as never);
  const step = T.captureStep({
    inputs: [[2]],
    state: () => [store.get('w')],
    step: ([x]) => {
      store.assign('w', T.add(store.get('w'), x));
      return [T.sum(f(store.get('w')))];
    },
  });
  return { store, step };
}

/** Element (i, j) of a [rows, cols] operand at offset o, stored transposed when t. */
const operandAt = (x: Float64Array, o: number, t: boolean, rows: number, cols: number) => (i: number, j: number) => (t ? x[o + j * rows + i] : x[o + i * cols + j]);

/** op(A[q])·op(B[q]) for q < batch in float64, as [batch, M, N]: A stored [M, K] ([K, M] when tA), B [K, N] ([N, K] when tB). */
function batchedProduct(a: Float64Array, b: Float64Array, [batch, M, N, K]: readonly number[], tA: boolean, tB: boolean): Float64Array {
  const ref = new Float64Array(batch * M * N);
  for (let q = 0; q < batch; q++) {
    const A = operandAt(a, q * M * K, tA, M, K);
    const Bq = operandAt(b, q * K * N, tB, K, N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let v = 0;
        for (let k = 0; k < K; k++) v += A(i, k) * Bq(k, j);
        ref[(q * M + i) * N + j] = v;
      }
    }
  }
  return ref;
}

describe('WebGPU', { skip }, () => {
  /** The parity test's values on this device (the robustness test compares a second process's with them). */
  let parity: ParityValues | null = null;
  before(async () => {
    assert.ok(gpu.adapter !== null, `CI needs a WebGPU adapter: ${gpu.tried}`);
    const info = await T.initTensorBackend('webgpu');
    assert.equal(info.name, 'webgpu');
  });

  test('ops, networks, trainer steps (replayed), the annealing field and a short annealing run match the CPU path to 1e-4', async () => {
    const fixture = fileURLToPath(new URL('./parity-fixture.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, 'cpu'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    assert.equal(r.status, 0, r.stderr);
    const cpu = JSON.parse(r.stdout.trim().split('\n').pop() as string) as ParityValues;
    const webgpu = await parityValues();
    parity = webgpu;
    assert.deepEqual(Object.keys(webgpu), Object.keys(cpu));
    for (const key of Object.keys(cpu)) {
      const e = relErr(webgpu[key], cpu[key]);
      // Parameters after 4 Adam steps: Adam divides by √v, so a component whose gradient is float32 noise
      // around 0 moves by up to lr either way; everything else (losses, gradients, fields) is held to 1e-4.
      const tol = key.endsWith('trainer-params') ? 1e-3 : 1e-4;
      assert.ok(e <= tol, `${key}: relative difference ${e.toExponential(2)} > ${tol}`);
      assert.ok(cpu[key].some((v) => v !== 0), `${key}: all zero (vacuous)`);
    }
  });

  test('without Dawn\'s index clamps (PITA_ROBUSTNESS=0) every parity value keeps its bits: no kernel reads or writes out of range', () => {
    assert.ok(parity !== null, 'needs the parity test\'s values');
    const fixture = fileURLToPath(new URL('./parity-fixture.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', fixture, 'webgpu'], { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, PITA_ROBUSTNESS: '0' } });
    assert.equal(r.status, 0, r.stderr);
    const unclamped = JSON.parse(r.stdout.trim().split('\n').pop() as string) as ParityValues;
    // Every op to second order, the three networks' losses and gradients, replayed trainer steps, the field and an annealing run.
    assert.deepEqual(unclamped, parity);
  });

  test('pita bench --against-cpu runs the same steps on the CPU in a second process and compares the checks', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'pita-bench-')), 'bench.json');
    const r = await runCli('bench', '--device', 'webgpu', '--against-cpu', '--steps', '1', '--warmup', '1', '--only', 'mlp512,anneal5000', '--json', json);
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { results: { name: string }[]; againstCpu: { name: string; check: number; cpuCheck: number; relative: number }[] };
    assert.deepEqual(out.againstCpu.map((c) => c.name), ['anneal5000', 'mlp512']);
    for (const c of out.againstCpu) {
      // Both runs at B = 16 (the default with --against-cpu); the checks are of the same steps, so not identical only by rounding.
      assert.ok(c.cpuCheck !== 0 && c.relative <= 1e-4, JSON.stringify(c));
      assert.equal(c.relative, Math.abs(c.check - c.cpuCheck) / Math.abs(c.cpuCheck));
    }
    assert.match(r.out, /^mlp512\t.*run at B=16/m);
    assert.match(r.out, /^anneal5000\tcheck .* here, .* on the CPU: relative difference .*, agrees$/m);
  });

  test('pita bench --only ditproducts times each of the DiT step\'s products on the GPU and writes their shapes for PyTorch', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'pita-bench-')), 'products.json');
    const r = await runCli('bench', '--device', 'webgpu', '--only', 'ditproducts', '--batch', '8', '--steps', '2', '--warmup', '1', '--json', json);
    assert.equal(r.code, 0, r.err);
    type Timing = { label: string; batch: number; M: number; N: number; K: number; transposeA: boolean; transposeB: boolean; ms: number; tflops: number; kernels: string[] };
    const out = JSON.parse(readFileSync(json, 'utf8')) as { products: Timing[] };
    // 8 samples of 22 tokens: the linear layers' products at 176 rows, their weight gradients with K = 176, the attention's 48 batches.
    assert.equal(out.products.length, 10);
    assert.deepEqual(out.products.map((p) => [p.batch, p.M, p.N, p.K]).slice(0, 6), [[1, 176, 192, 192], [1, 176, 768, 192], [1, 176, 192, 768], [1, 176, 192, 768], [1, 176, 768, 192], [1, 192, 192, 176]]);
    assert.deepEqual([out.products[8].batch, out.products[8].transposeB, out.products[5].transposeA], [48, true, true]);
    for (const p of out.products) {
      // lavapipe has timestamp queries: each product has a GPU time, and its TFLOP/s follow from it.
      assert.ok(p.ms > 0 && p.kernels.length >= 1, JSON.stringify(p));
      assert.ok(Math.abs(p.tflops - (2 * p.batch * p.M * p.N * p.K) / (p.ms * 1e9)) <= 1e-9 * p.tflops, JSON.stringify(p));
    }
    assert.equal(r.out.trim().split('\n').length, 10);
    assert.match(r.out, /^ditproducts\t[0-9.]+ ms, [0-9.e-]+ TFLOP\/s\t48×\[22×32\]·\[32×22\] Bᵀ, attention scores q·kᵀ\t/m);
    // The attention's weights·values as the DiT runs them: the values and the result in the tokens' layout, one kernel.
    assert.deepEqual([out.products[9].batch, out.products[9].M, out.products[9].N, out.products[9].K, out.products[9].kernels.length], [48, 22, 32, 22, 1]);
    assert.match(out.products[9].label, /tokens' layout/);
  });

  test("pita's transposes of rank ≥ 3 move every number where the permutation says, the DiT's heads among them, and their gradients", async () => {
    const rng = new Rng(31);
    const cases: [number[], number[]][] = [
      [[5, 22, 6, 8], [0, 2, 1, 3]], [[5, 6, 22, 8], [0, 2, 1, 3]], [[3, 4, 5], [2, 0, 1]], [[3, 1, 5, 2, 7], [4, 1, 3, 0, 2]], [[1, 7, 1, 9], [3, 2, 1, 0]],
    ];
    for (const [shape, perm] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = Float64Array.from(rng.normals(n));
      const out = perm.map((p) => shape[p]);
      // Host reference: output element i, at coordinates c, is the input's element src[i], at c permuted back.
      const src = new Int32Array(n);
      const inStrides = shape.map((_, a) => shape.slice(a + 1).reduce((p, q) => p * q, 1));
      for (let i = 0; i < n; i++) {
        let rest = i;
        for (let a = out.length - 1; a >= 0; a--) {
          src[i] += (rest % out[a]) * inStrides[perm[a]];
          rest = Math.floor(rest / out[a]);
        }
      }
      const w = Float64Array.from(rng.normals(n));
      const [moved, grad] = await Promise.all(
        T.scope(() => {
          const xt = T.fromF64(x, shape);
          const g = T.valueAndGrad((v) => T.sum(T.mul(T.transpose(v, perm), T.fromF64(w, out))), xt).grad;
          return [T.transpose(xt, perm), g];
        }).map((t) => T.read(t)),
      );
      const label = `[${shape.join(', ')}] by [${perm.join(', ')}]`;
      assert.ok(moved.every((v, i) => v === Math.fround(x[src[i]])), `${label}: moved numbers differ`);
      // d/dx Σ w ⊙ transpose(x) = w transposed back (the inverse permutation, on the same kernel).
      const refGrad = new Float64Array(n);
      for (let i = 0; i < n; i++) refGrad[src[i]] = w[i];
      assert.ok(grad.every((v, i) => v === Math.fround(refGrad[i])), `${label}: gradient differs`);
    }
    // The kernel is pita's: a recorded transpose of rank 4 names it.
    const step = T.captureStep({ inputs: [[2, 3, 4, 5]], state: () => [], step: ([a]) => [T.transpose(a, [0, 2, 1, 3])] });
    try {
      await step.run([Float32Array.from({ length: 120 }, (_, i) => i)]);
      assert.deepEqual(step.shapes.map((s) => s.kernel), ['pita_transpose_0,2,1,3']);
    } finally {
      step.dispose();
    }
  });

  test("RoPE's rotation is one kernel that matches the torchtune formula, and its gradient is the rotation back", async () => {
    const [B, n, dh, heads] = [2, 5, 8, 3];
    const rng = new Rng(32);
    const x = Float64Array.from(rng.normals(B * n * dh * heads));
    const w = Float64Array.from(rng.normals(x.length));
    const rope = ropeConstants(n, dh, heads);
    const [y, g] = await Promise.all(
      T.scope(() => {
        const xt = T.fromF64(x, [B, n, dh * heads]);
        return [applyRope(xt, rope), T.valueAndGrad((v) => T.sum(T.mul(applyRope(v, rope), T.fromF64(w, [B, n, dh * heads]))), xt).grad];
      }).map((t) => T.read(t)),
    );
    // Per head at position p: y = rotation by p·θ of x (hostref's ropeHead), ∂/∂x Σ w ⊙ y = rotation by −p·θ of w.
    const refY = new Float64Array(x.length);
    const refG = new Float64Array(x.length);
    for (let b = 0; b < B; b++) {
      for (let p = 0; p < n; p++) {
        for (let h = 0; h < heads; h++) {
          const off = (b * n + p) * dh * heads + h * dh;
          refY.set(ropeHead(x.subarray(off, off + dh), p), off);
          refG.set(ropeHead(w.subarray(off, off + dh), -p), off);
        }
      }
    }
    assert.ok(relErr([...y], [...refY]) < 1e-6, `rotation: ${relErr([...y], [...refY]).toExponential(2)}`);
    assert.ok(relErr([...g], [...refG]) < 1e-6, `gradient: ${relErr([...g], [...refG]).toExponential(2)}`);
    const step = T.captureStep({ inputs: [[B, n, dh * heads]], state: () => [], step: ([a]) => [applyRope(a, rope), applyRopeToHeads(a, rope)] });
    try {
      await step.run([Float32Array.from(x)]);
      // The rotation into the heads' layout is one kernel too, not a rotation and a transpose.
      assert.deepEqual(step.shapes.map((s) => s.kernel), ['pita_rope_forward', 'pita_rope_forward-toHeads3']);
    } finally {
      step.dispose();
      T.dispose([rope.cos, rope.sin, rope.rot]);
    }
    // On WebGPU, its kernels (forward into the heads, back from them) against the rotation kernel and pita's transposes.
    const { fused, composed } = await ropeToHeadsCases(B, n, dh, heads);
    fused.forEach((f, i) => {
      assert.ok(f.some((v) => v !== 0), `output ${i}: all zero (vacuous)`);
      assert.ok(f.every((v, j) => Object.is(v, composed[i][j])), `applyRopeToHeads, output ${i} (rotation, gradient, second order): differs from applyRope and a transpose`);
    });
  });

  test("pita's Sum matches float64 sums: adjacent and split axis blocks, keepDims, long sums in several passes, rank 8", async () => {
    const rng = new Rng(3);
    const cases: [number[], number | number[], boolean][] = [
      [[3, 5, 7, 4], [1, 2], false], [[3, 5, 7, 4], 0, true], [[3, 5, 7, 4], [0, 1, 2], false], [[3, 5, 7, 4], -1, false],
      [[3, 5, 7, 4], [0, 1, 2, 3], false], [[3, 5, 7, 4], [0, 2], true], [[20000, 3], 0, false], [[70000], 0, true],
      [[16, 13, 13, 8], [0, 1, 2], false], [[16 * 13, 13, 8], 1, false], [[2, 1, 3, 1, 2, 1, 2, 2], [0, 4, 6], false],
      // Long rows of the last axis into many outputs: lanes share each row (webgpu-lanes.ts).
      [[4100, 37], -1, false], [[4097, 5, 33], [1, 2], true], [[5000, 192], 1, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const v = Float64Array.from(rng.normals(n));
      const got = await T.read(T.scope(() => T.sum(T.fromF64(v, shape), axis as number[], keepDims)));
      const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length : a));
      const outShape = shape.map((d, j) => (axes.includes(j) ? 1 : d));
      const stride = (s: number[], j: number) => s.slice(j + 1).reduce((a, b) => a * b, 1);
      const ref = new Float64Array(outShape.reduce((a, b) => a * b, 1));
      for (let f = 0; f < n; f++) {
        let o = 0;
        shape.forEach((d, j) => {
          if (!axes.includes(j)) o += (Math.floor(f / stride(shape, j)) % d) * stride(outShape, j);
        });
        ref[o] += v[f];
      }
      const label = `sum of [${shape.join(', ')}] over ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''}`;
      assert.equal(got.length, ref.length, label);
      // float32 sums of N(0, 1) numbers: the error grows like √r ulps of the partial sums.
      assert.ok(relErr([...got], [...ref]) < 2e-6, `${label}: relative error ${relErr([...got], [...ref]).toExponential(2)}`);
    }
  });

  test('softmax, LayerNorm and its VJP along the last axis match float64 for rows of 1 to 300 numbers', async () => {
    const rng = new Rng(5);
    const eps = 1e-5;
    for (const [rows, cols] of [[7, 1], [101, 3], [33, 22], [9, 33], [130, 192], [5, 300]]) {
      const x = Float64Array.from(rng.normals(rows * cols), (v, i) => 2 * v + (i % 3));
      const u = Float64Array.from(rng.normals(rows * cols));
      const xt = () => T.fromF64(x, [rows, cols]);
      const soft = await T.read(T.scope(() => T.softmax(xt())));
      const norm = await T.read(T.scope(() => T.normalise(xt(), eps)));
      const vjp = await T.read(T.scope(() => T.grad((xi) => T.sum(T.mul(T.normalise(xi, eps), T.fromF64(u, [rows, cols]))), xt())));
      // The VJP's own derivative (a second-order step's), whose r = 1/√(σ² + eps) is one kernel (ops.ts rowScaleT): ∇ₓ Σ w ⊙ J(x)ᵀu.
      const w = Float64Array.from(rng.normals(rows * cols));
      const second = await T.read(
        T.scope(() => T.grad((xi) => T.sum(T.mul(T.grad((x2) => T.sum(T.mul(T.normalise(x2, eps), T.fromF64(u, [rows, cols]))), xi), T.fromF64(w, [rows, cols]))), xt())),
      );
      const refSoft = new Float64Array(rows * cols);
      const refNorm = new Float64Array(rows * cols);
      const refVjp = new Float64Array(rows * cols);
      const refSecond = new Float64Array(rows * cols);
      // Σⱼ wⱼ·(J(row)ᵀu)ⱼ of one row in float64, for central differences.
      const wVjp = (row: ArrayLike<number>, ur: ArrayLike<number>, wr: ArrayLike<number>): number => {
        const mu = Array.from(row).reduce((a, v) => a + v, 0) / cols;
        const rs = 1 / Math.sqrt(Array.from(row).reduce((a, v) => a + (v - mu) ** 2, 0) / cols + eps);
        const xh = Array.from(row, (v) => (v - mu) * rs);
        const muU = Array.from(ur).reduce((a, v) => a + v, 0) / cols;
        const m2 = Array.from(ur).reduce((a, v, j) => a + v * xh[j], 0) / cols;
        return xh.reduce((a, xj, j) => a + wr[j] * rs * (ur[j] - muU - xj * m2), 0);
      };
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * cols, (r + 1) * cols);
        const ur = u.subarray(r * cols, (r + 1) * cols);
        const m = Math.max(...row);
        const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
        const mu = row.reduce((a, v) => a + v, 0) / cols;
        const rs = 1 / Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / cols + eps);
        const xhat = Array.from(row, (v) => (v - mu) * rs);
        const muU = ur.reduce((a, v) => a + v, 0) / cols;
        const m2 = ur.reduce((a, v, j) => a + v * xhat[j], 0) / cols;
        for (let j = 0; j < cols; j++) {
          refSoft[r * cols + j] = Math.exp(row[j] - m) / z;
          refNorm[r * cols + j] = xhat[j];
          refVjp[r * cols + j] = rs * (ur[j] - muU - xhat[j] * m2);
          const wr = w.subarray(r * cols, (r + 1) * cols);
          const [up, down] = [Float64Array.from(row), Float64Array.from(row)];
          up[j] += 1e-5;
          down[j] -= 1e-5;
          refSecond[r * cols + j] = (wVjp(up, ur, wr) - wVjp(down, ur, wr)) / 2e-5;
        }
      }
      const label = `[${rows}, ${cols}]`;
      assert.ok(relErr([...soft], [...refSoft]) < 1e-6, `softmax ${label}: ${relErr([...soft], [...refSoft]).toExponential(2)}`);
      assert.ok(relErr([...norm], [...refNorm]) < 1e-5, `normalise ${label}: ${relErr([...norm], [...refNorm]).toExponential(2)}`);
      // A row of one number normalises to 0 whatever u: its VJP is 0 (the reference's too).
      assert.ok(relErr([...vjp], [...refVjp]) < 1e-4 || (cols === 1 && vjp.every((v) => Math.abs(v) < 1e-6)), `its VJP ${label}: ${relErr([...vjp], [...refVjp]).toExponential(2)}`);
      assert.ok(relErr([...second], [...refSecond]) < 1e-4 || (cols === 1 && second.every((v) => Math.abs(v) < 1e-6)), `the VJP's derivative ${label}: ${relErr([...second], [...refSecond]).toExponential(2)}`);
    }
  });

  /** `f` with pita's tiled kernel's `limits` lowered (default: every product of at least 128×96, however few its blocks). */
  async function withSmallGemms<R>(f: () => Promise<R>, limits: Partial<typeof gemmLimits> = { minWorkgroups: 1 }): Promise<R> {
    const saved = { ...gemmLimits };
    Object.assign(gemmLimits, limits);
    try {
      return await f();
    } finally {
      Object.assign(gemmLimits, saved);
    }
  }

  test("pita's matmul matches float64 products for every transpose flag, split over K or not, and repeats bit for bit", () => withSmallGemms(async () => {
    const rng = new Rng(6);
    // [M, N, K]: split (S = 16, 24, 338, 2), unsplit with K prime (tfjs would take its atomic split-K
    // kernel: the tiled one instead), and a small output with a short K (tfjs's reduce kernel).
    // pita's tiled kernel (webgpu-gemm.ts) takes [300, 200] (ragged blocks, K not a multiple of 8) and
    // [192, 128]'s partial products (S = 32; see the limit below).
    const cases = [[40, 24, 4096], [192, 64, 6144], [32, 32, 86528], [300, 200, 509], [192, 128, 8192], [20, 20, 2003], [7, 5, 300]];
    for (const [M, N, K] of cases) {
      // [192, 128] with a limit of 32 blocks: its 2 blocks split K in 32 chunks, and the 64 partial products take the tiled kernel.
      gemmLimits.minWorkgroups = M === 192 && N === 128 ? 32 : 1;
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const a = Float64Array.from(rng.normals(M * K));
          const b = Float64Array.from(rng.normals(K * N));
          const ref = new Float64Array(M * N);
          for (let i = 0; i < M; i++) {
            for (let j = 0; j < N; j++) {
              let s = 0;
              for (let k = 0; k < K; k++) s += (tA ? a[k * M + i] : a[i * K + k]) * (tB ? b[j * K + k] : b[k * N + j]);
              ref[i * N + j] = s;
            }
          }
          const product = () => T.read(T.scope(() => T.matmul(T.fromF64(a, tA ? [K, M] : [M, K]), T.fromF64(b, tB ? [N, K] : [K, N]), tA, tB)));
          const runs = [await product(), await product(), await product()];
          const label = `[${M}, ${K}]·[${K}, ${N}] with transposeA ${tA}, transposeB ${tB}`;
          // float32 dot products of length K of N(0, 1) numbers: a few ulps of √K-sized sums.
          assert.ok(relErr([...runs[0]], [...ref]) < 2e-6, `${label}: relative error ${relErr([...runs[0]], [...ref]).toExponential(2)}`);
          // tfjs's atomic split-K kernel fails this (measured on lavapipe: 8 runs of [32, 86528]·[86528, 32] differ).
          for (const r of runs.slice(1)) assert.ok(r.every((v, i) => Object.is(v, runs[0][i])), `${label}: runs differ`);
        }
      }
    }
    // The linear layers' kernel (_FusedMatMul): with a K that tfjs would split with atomics, and on pita's tiled kernel.
    for (const [M, N, K] of [[20, 20, 2003], [150, 100, 70]]) {
      const x = Float64Array.from(rng.normals(M * K));
      const w = Float64Array.from(rng.normals(K * N));
      const bias = Float64Array.from(rng.normals(N));
      const ref = Array.from({ length: M * N }, (_, f) => {
        let s = bias[f % N];
        for (let k = 0; k < K; k++) s += x[Math.floor(f / N) * K + k] * w[k * N + (f % N)];
        return s;
      });
      const linear = () => T.read(T.scope(() => T.linear(T.fromF64(x, [M, K]), T.fromF64(w, [K, N]), T.fromF64(bias, [N]))));
      const [l1, l2] = [await linear(), await linear()];
      assert.ok(relErr([...l1], ref) < 2e-6, `linear [${M}, ${K}]·[${K}, ${N}]: relative error ${relErr([...l1], ref).toExponential(2)}`);
      assert.ok(l1.every((v, i) => Object.is(v, l2[i])), 'linear: runs differ');
    }
  }));

  test("a split product whose blocks pad less the other way round runs with its operands swapped and its sum written transposed: the bits of PITA_MATMUL_SWAP=0, an addend included", async () => {
    const rng = new Rng(23);
    // The DiT's MLP weight gradient hᵀ·dy, [192, 768], at K = 2816 (S = 11): 192 rows take two 128-row blocks, [768, 192] none
    // padded. W feeds two products, so its gradient is X₁ᵀ·C₁ + X₂ᵀ·C₂, the second with the first as its addend (accumulate.ts).
    const [M, N, K] = [192, 768, 2816];
    const shapes = [[K, M], [K, M], [M, N], [K, N], [K, N]];
    const values = shapes.map((sh) => Float64Array.from(rng.normals(sh[0] * sh[1])));
    const step = ([x1, x2, w, c1, c2]: T.Tensor[]) => {
      const g = T.grads((v) => T.add(T.sum(T.mul(T.matmul(x1, v), c1)), T.sum(T.mul(T.matmul(x2, v), c2))), [w])[0];
      return [T.matmul(x1, c1, true, false), g];
    };
    // One variant, untimed (timing every variant on each product would take a minute on lavapipe).
    const swapped = await withEnv('PITA_GEMM', 'blocked128x64', () => capturedWithAddends(true, true, shapes, values, step));
    const plain = await withEnv('PITA_GEMM', 'blocked128x64', () => withEnv('PITA_MATMUL_SWAP', '0', () => capturedWithAddends(true, true, shapes, values, step)));
    swapped.out.forEach((o, i) => assert.deepEqual([...o], [...plain.out[i]], `output ${i}: the unswapped bits`));
    const sums = (ks: readonly T.DispatchShape[]) => ks.filter((k) => k.kernel.startsWith('pita_sumT')).map((k) => k.kernel);
    // (Profiles name a kernel by its key's first three parts.)
    assert.deepEqual(sums(swapped.kernels).sort(), ['pita_sumT_11', 'pita_sumT_11', 'pita_sumT_add']);
    assert.deepEqual(sums(plain.kernels), []);
    // Against float64 at every 7th output (i and j both vary): X₁ᵀ·C₁, and X₁ᵀ·C₁ + X₂ᵀ·C₂.
    const [x1, x2, , c1, c2] = values;
    const at = Array.from({ length: Math.floor((M * N) / 7) }, (_, q) => 7 * q);
    const ref = (pairs: [Float64Array, Float64Array][]) =>
      at.map((f) => {
        const [i, j] = [Math.floor(f / N), f % N];
        let acc = 0;
        for (const [x, c] of pairs) for (let k = 0; k < K; k++) acc += x[k * M + i] * c[k * N + j];
        return acc;
      });
    const got = (o: Float32Array) => at.map((f) => o[f]);
    assert.ok(relErr(got(swapped.out[0]), ref([[x1, c1]])) < 2e-6, `Xᵀ·C: ${relErr(got(swapped.out[0]), ref([[x1, c1]])).toExponential(2)}`);
    assert.ok(relErr(got(swapped.out[1]), ref([[x1, c1], [x2, c2]])) < 2e-6, `the gradient: ${relErr(got(swapped.out[1]), ref([[x1, c1], [x2, c2]])).toExponential(2)}`);
  });

  test("pita's small matmul takes many small products (the attention's): every transpose flag and an addend, against float64, with the tiled kernel's bits", async () => {
    const rng = new Rng(17);
    // 37 products of 22×13 outputs with K = 32 (the attention's q·kᵀ is 22×22 with K = 32, p·v 22×32 with K = 22).
    const [B, M, N, K] = [37, 22, 13, 32];
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = Float64Array.from(rng.normals(B * M * K));
        const b = Float64Array.from(rng.normals(B * K * N));
        const w = Float64Array.from(rng.normals(B * M * N));
        const ref = batchedProduct(a, b, [B, M, N, K], tA, tB);
        const refGrad = new Float64Array(B * K * N);
        for (let q = 0; q < B; q++) {
          const A = operandAt(a, q * M * K, tA, M, K);
          // d/dB of Σ w ⊙ (op(A)·op(B) + op(A)·op(3B)) = 4·op(A)ᵀ·w, laid out as B is.
          for (let k = 0; k < K; k++) {
            for (let j = 0; j < N; j++) {
              let v = 0;
              for (let i = 0; i < M; i++) v += A(i, k) * w[(q * M + i) * N + j];
              refGrad[q * K * N + (tB ? j * K + k : k * N + j)] = 4 * v;
            }
          }
        }
        const label = `${B}×[${M}, ${K}]·[${K}, ${N}], transposeA ${tA}, transposeB ${tB}`;
        const step = T.captureStep({
          inputs: [tA ? [B, K, M] : [B, M, K], tB ? [B, N, K] : [B, K, N], [B, M, N]],
          state: () => [],
          step: ([x, y, wt]) => {
            // y is used twice: its second contribution runs again with the first as its addend (accumulate.ts).
            const { value, grad } = T.valueAndGrad((v) => T.sum(T.mul(T.add(T.matmul(x, v, tA, tB), T.matmul(x, T.mul(v, 3), tA, tB)), wt)), y);
            return [T.matmul(x, y, tA, tB), grad, value];
          },
        });
        const values = [a, b, w].map((v) => Float32Array.from(v));
        try {
          const [product, grad] = await step.run(values);
          assert.ok(relErr([...product], [...ref]) < 2e-6, `${label}: relative error ${relErr([...product], [...ref]).toExponential(2)}`);
          assert.ok(relErr([...grad], [...refGrad]) < 2e-6, `${label}, gradient with an addend: relative error ${relErr([...grad], [...refGrad]).toExponential(2)}`);
          assert.ok(step.shapes.filter((sh) => sh.kernel.startsWith('pita_smallgemm')).length >= 3, `${label}: kernels ${step.shapes.map((sh) => sh.kernel).join(' ')}`);
          assert.ok(!step.shapes.some((sh) => sh.kernel.startsWith('matMul')), `${label}: a product left to tfjs`);
          // pita's tiled kernel taking every product (its limits at their least).
          const tiled = await withSmallGemms(async () => {
            const other = T.captureStep({ inputs: [tA ? [B, K, M] : [B, M, K], tB ? [B, N, K] : [B, K, N]], state: () => [], step: ([x, y]) => [T.matmul(x, y, tA, tB)] });
            try {
              const [out] = await other.run(values.slice(0, 2));
              assert.deepEqual(other.shapes.map((sh) => sh.kernel.slice(0, 9)), ['pita_gemm'], 'the tiled kernel took the product');
              return out;
            } finally {
              other.dispose();
            }
          }, { minRows: 1, minCols: 1, minWorkgroups: 1 });
          assert.deepEqual([...product], [...tiled], `${label}: the tiled kernel's bits`);
        } finally {
          step.dispose();
        }
      }
    }
  });

  test("the attention's products read and write the tokens' layout in place (headsMatmul): every layout and transpose flag, to second order, with the transposes' bits", async () => {
    const rng = new Rng(18);
    const H = 2;
    const layouts = ['heads', 'tokens'] as const;
    type Layout = (typeof layouts)[number];
    // [B·H, R, C] in the heads' layout, [B, R, H·C] in the tokens'.
    const shapeOf = (B: number, R: number, C: number, l: Layout): number[] => (l === 'heads' ? [B * H, R, C] : [B, R, H * C]);
    const toHeads = (x: T.Tensor, l: Layout): T.Tensor => {
      if (l === 'heads') return x;
      const [B, R, W] = T.shapeOf(x);
      return T.reshape(T.transpose(T.reshape(x, [B, R, H, W / H]), [0, 2, 1, 3]), [B * H, R, W / H]);
    };
    const fromHeads = (x: T.Tensor, l: Layout): T.Tensor => {
      if (l === 'heads') return x;
      const [BH, R, C] = T.shapeOf(x);
      return T.reshape(T.transpose(T.reshape(x, [BH / H, H, R, C]), [0, 2, 1, 3]), [BH / H, R, H * C]);
    };
    // [B, M, N, K]: on the small kernel, and one it does not take ((M + N)·K > 4096), through the transposes inside the kernel.
    for (const [B, M, N, K] of [[3, 5, 4, 7], [2, 70, 8, 60]]) {
      const small = (M + N) * K <= 4096;
      for (const la of layouts) {
        for (const lb of layouts) {
          for (const lo of layouts) {
            for (const [tA, tB] of [[false, false], [false, true], [true, false], [true, true]]) {
              const label = `${B}·${H} × [${M}, ${K}]·[${K}, ${N}], layouts ${la}·${lb} → ${lo}, transposeA ${tA}, transposeB ${tB}`;
              const shapes = [shapeOf(B, tA ? K : M, tA ? M : K, la), shapeOf(B, tB ? N : K, tB ? K : N, lb), shapeOf(B, M, N, lo)];
              const values = shapes.map((sh) => Float32Array.from(rng.normals(sh.reduce((p, q) => p * q, 1))));
              const direct = (x: T.Tensor, y: T.Tensor) => T.headsMatmul(x, y, { a: la, b: lb, out: lo }, H, tA, tB);
              const viaTransposes = (x: T.Tensor, y: T.Tensor) => fromHeads(T.matmul(toHeads(x, la), toHeads(y, lb), tA, tB), lo);
              // b is used twice, so its second contribution takes the first as its addend (laid out as b is).
              const outputs = (product: (x: T.Tensor, y: T.Tensor) => T.Tensor) => ([x, y, w]: T.Tensor[]): T.Tensor[] => {
                const loss = (u: T.Tensor, v: T.Tensor) => T.sum(T.mul(T.add(product(u, v), product(u, T.mul(v, 3))), w));
                const first = (u: T.Tensor, v: T.Tensor) => T.grads(loss, [u, v]);
                const second = T.grads((u, v) => first(u, v).reduce((acc, g) => T.add(acc, T.sum(T.square(g))), T.scalar(0)), [x, y]);
                return [product(x, y), ...first(x, y), ...second];
              };
              const run = async (f: (x: T.Tensor, y: T.Tensor) => T.Tensor) => {
                const step = T.captureStep({ inputs: shapes, state: () => [], step: outputs(f) });
                try {
                  return { out: await step.run(values), kernels: step.shapes.map((sh) => sh.kernel) };
                } finally {
                  step.dispose();
                }
              };
              const [got, ref] = [await run(direct), await run(viaTransposes)];
              assert.deepEqual([...got.out[0]], [...ref.out[0]], `${label}: the product has the transposes' bits`);
              got.out.forEach((g, i) => {
                const e = relErr([...g], [...ref.out[i]]);
                assert.ok(e < 1e-6, `${label}, output ${i} (product, ∇, ∇²): relative difference ${e.toExponential(2)}`);
                assert.ok(ref.out[i].some((v) => v !== 0), `${label}, output ${i}: all zero (vacuous)`);
              });
              if (small) {
                assert.ok(!got.kernels.some((k) => /transpose/i.test(k)), `${label}: a transpose in ${got.kernels.join(' ')}`);
                assert.ok(!got.kernels.some((k) => k.startsWith('matMul')), `${label}: a product left to tfjs`);
              }
            }
          }
        }
      }
    }
  });

  test("pita's tiled matmul: batched products, and products taking a gradient contribution as their addend, against float64", () => withSmallGemms(async () => {
    const rng = new Rng(16);
    const [B, M, N, K] = [3, 130, 97, 21];
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = Float64Array.from(rng.normals(B * M * K));
        const b = Float64Array.from(rng.normals(B * K * N));
        const ref = batchedProduct(a, b, [B, M, N, K], tA, tB);
        const label = `[${B}, ${M}, ${K}]·[${B}, ${K}, ${N}] with transposeA ${tA}, transposeB ${tB}`;
        const operands = () => [T.fromF64(a, tA ? [B, K, M] : [B, M, K]), T.fromF64(b, tB ? [B, N, K] : [B, K, N])] as const;
        const plain = await T.read(T.scope(() => T.matmul(...operands(), tA, tB)));
        assert.ok(relErr([...plain], [...ref]) < 2e-6, `${label}: relative error ${relErr([...plain], [...ref]).toExponential(2)}`);
      }
    }
    // A gradient contribution that runs again with the running sum as its addend (accumulate.ts): x used
    // twice, so d/dx of Σ w·(op(x)·op(y) + op(x)·op(2y)) = 3·w·op(y)ᵀ: [130, 100] products on the tiled kernel
    // without transposeA.
    const [Mg, Ng, Kg] = [130, 20, 100];
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = Float64Array.from(rng.normals(B * Mg * Kg));
        const b = Float64Array.from(rng.normals(B * Kg * Ng));
        const w = Float64Array.from(rng.normals(B * Mg * Ng));
        const label = `d/dA of [${B}, ${Mg}, ${Kg}]·[${B}, ${Kg}, ${Ng}] used twice, transposeA ${tA}, transposeB ${tB}`;
        const both = await T.read(
          T.scope(() => {
            const x = T.fromF64(a, tA ? [B, Kg, Mg] : [B, Mg, Kg]);
            const y = T.fromF64(b, tB ? [B, Ng, Kg] : [B, Kg, Ng]);
            const wt = T.fromF64(w, [B, Mg, Ng]);
            return T.valueAndGrad((v) => T.sum(T.mul(T.add(T.matmul(v, y, tA, tB), T.matmul(v, T.mul(y, 2), tA, tB)), wt)), x).grad;
          }),
        );
        const refGrad = new Float64Array(B * Mg * Kg);
        for (let q = 0; q < B; q++) {
          const Bq = operandAt(b, q * Kg * Ng, tB, Kg, Ng);
          for (let i = 0; i < Mg; i++) {
            for (let k = 0; k < Kg; k++) {
              let s = 0;
              for (let j = 0; j < Ng; j++) s += 3 * w[(q * Mg + i) * Ng + j] * Bq(k, j);
              refGrad[q * Mg * Kg + (tA ? k * Mg + i : i * Kg + k)] = s;
            }
          }
        }
        assert.ok(relErr([...both], [...refGrad]) < 2e-6, `${label}, gradient with an addend: relative error ${relErr([...both], [...refGrad]).toExponential(2)}`);
      }
    }
  }));

  test("a sum into few outputs runs as one workgroup's tree per output, or in chunks of PITA_SUM_CHUNK (PITA_SUM_TREE=0: chunks only), to the same sums within float32 rounding; a bad chunk is a one-line error", async () => {
    const rng = new Rng(5);
    const [R, C] = [5000, 3];
    const x = Float64Array.from(rng.normals(R * C));
    const ref = Array.from({ length: C }, (_, c) => x.reduce((s, v, i) => (i % C === c ? s + v : s), 0));
    // Σ over the rows of [R, C] (the summed numbers a row apart) and over the last axis of its transpose [C, R].
    const run = async () => {
      const step = T.captureStep({ inputs: [[R, C], [C, R]], state: () => [], step: ([a, b]) => [T.sum(a, 0), T.sum(b, 1)] });
      try {
        const [down, across] = await step.run([Float32Array.from(x), Float32Array.from({ length: R * C }, (_, k) => x[(k % R) * C + Math.floor(k / R)])]);
        const passes = (prefix: string) => step.shapes.filter((d) => d.kernel.startsWith(prefix)).length;
        return { out: [...down, ...across], passes: passes('pita_sum') + passes('pita_treesum'), trees: passes('pita_treesum') };
      } finally {
        step.dispose();
      }
    };
    // Per sum, 3 outputs of r = 5000: one tree of 256 lanes (r ≤ 256 · 64); with chunks of 8, 5000 → 625 in chunks, then a tree.
    // Chunks only: 5000 → 79 → 2 → 1 in chunks of 64 (3 passes), → 625 → 79 → 10 → 2 → 1 in chunks of 8 (5).
    const tree = await run();
    const treeShort = await withEnv('PITA_SUM_CHUNK', '8', run);
    const base = await withEnv('PITA_SUM_TREE', '0', run);
    const short = await withEnv('PITA_SUM_TREE', '0', () => withEnv('PITA_SUM_CHUNK', '8', run));
    assert.deepEqual([tree.passes, tree.trees, treeShort.passes, treeShort.trees], [2, 2, 4, 2]);
    assert.deepEqual([base.passes, base.trees, short.passes, short.trees], [6, 0, 10, 0]);
    const scale = Math.sqrt(R);
    for (const got of [tree.out, treeShort.out, base.out, short.out]) got.forEach((v, c) => assert.ok(Math.abs(v - ref[c % C]) < 1e-5 * scale, `sum ${c}: ${v} against ${ref[c % C]}`));
    // Imported here: importing tfjs-backend-webgpu before the backend starts would keep it from registering.
    const { sumChunk } = await import('../../src/tensor/webgpu-kernels.js');
    for (const bad of ['1', '2.5', 'x']) await withEnv('PITA_SUM_CHUNK', bad, async () => assert.throws(() => sumChunk(), new RegExp(`^UserError: PITA_SUM_CHUNK must be an integer ≥ 2, got '${bad}'$`)));
    await withEnv('PITA_SUM_CHUNK', '16', async () => assert.equal(sumChunk(), 16));
    // A middle axis between outer and inner axes ([5, 300, 7] into [5, 7]: 35 outputs, trees of 128 lanes a row apart), and Σ x²
    // over all 10 500 numbers (one tree of 256 lanes), against float64.
    const y = x.subarray(0, 5 * 300 * 7);
    const middle = T.captureStep({ inputs: [[5, 300, 7]], state: () => [], step: ([a]) => [T.sum(a, 1), T.sum(T.square(a))] });
    try {
      const [got, squares] = await middle.run([Float32Array.from(y)]);
      assert.deepEqual(middle.shapes.filter((d) => d.kernel.startsWith('pita_treesum')).length, 2);
      const want = Array.from({ length: 35 }, (_, o) => {
        let acc = 0;
        for (let k = 0; k < 300; k++) acc += y[Math.floor(o / 7) * 2100 + k * 7 + (o % 7)];
        return acc;
      });
      got.forEach((v, o) => assert.ok(Math.abs(v - want[o]) < 1e-5 * Math.sqrt(300), `[5, 300, 7] output ${o}: ${v} against ${want[o]}`));
      const sq = y.reduce((acc, v) => acc + v * v, 0);
      assert.ok(Math.abs(squares[0] - sq) < 1e-5 * sq, `Σ x²: ${squares[0]} against ${sq}`);
    } finally {
      middle.dispose();
    }
  });

  test("every variant of pita's tiled matmul (PITA_GEMM) gives the same bits as the default, which match float64", () => withSmallGemms(async () => {
    const rng = new Rng(17);
    // Ragged blocks of every variant (128 and 64 rows and columns), K a multiple of neither 8 nor 16, two batches;
    // a linear layer with its bias (one value per column), and a product with a gradient contribution as its addend.
    const [B, M, N, K] = [2, 300, 200, 37];
    const a = Float64Array.from(rng.normals(B * M * K));
    const b = Float64Array.from(rng.normals(B * K * N));
    const bias = Float64Array.from(rng.normals(N));
    const w = Float64Array.from(rng.normals(M * N));
    const g = Float64Array.from(rng.normals(130 * (N + M)));
    const c = Float64Array.from(rng.normals(2 * 300 * 40 + 2 * 40 * 200));
    const products = () =>
      Promise.all(
        T.scope(() => {
          const out: T.Tensor[] = [];
          for (const tA of [false, true]) {
            for (const tB of [false, true]) {
              out.push(T.matmul(T.fromF64(a, tA ? [B, K, M] : [B, M, K]), T.fromF64(b, tB ? [B, N, K] : [B, K, N]), tA, tB));
            }
          }
          // The vec4 variants read an operand 4 floats at a time where its rows are a multiple of 4 long, and
          // write so where N is: every axis a multiple of 4, then M and N not (K = 37 above: A's rows are not).
          for (const [Bv, Mv, Nv, Kv] of [[2, 300, 200, 40], [1, 130, 98, 24]]) {
            for (const tA of [false, true]) {
              for (const tB of [false, true]) {
                const av = T.fromF64(c.subarray(0, Bv * Mv * Kv), tA ? [Bv, Kv, Mv] : [Bv, Mv, Kv]);
                out.push(T.matmul(av, T.fromF64(c.subarray(c.length - Bv * Kv * Nv), tB ? [Bv, Nv, Kv] : [Bv, Kv, Nv]), tA, tB));
              }
            }
          }
          out.push(T.linear(T.fromF64(c.subarray(0, 130 * 24), [130, 24]), T.fromF64(c.subarray(c.length - 24 * 98), [24, 98]), T.fromF64(bias.subarray(0, 98), [98])));
          const x = T.fromF64(a.subarray(0, M * K), [M, K]);
          const y = T.fromF64(b.subarray(0, K * N), [K, N]);
          out.push(T.linear(x, y, T.fromF64(bias, [N])));
          // d/dx Σ w·(x·y + x·2y) = 3·w·yᵀ: the second product's gradient adds the first's as its addend ([300, 130] output, K = 200).
          const y2 = T.fromF64(g.subarray(0, 130 * N), [130, N]);
          const x2 = T.fromF64(g.subarray(130 * N, 130 * N + M * 130), [M, 130]);
          out.push(T.valueAndGrad((v) => T.sum(T.mul(T.add(T.matmul(v, y2), T.matmul(v, T.mul(y2, 2))), T.fromF64(w, [M, N]))), x2).grad);
          return out;
        }).map((t) => T.read(t)),
      );
    // The variant in use (the default where PITA_GEMM is unset, as in CI), then every variant by name.
    const first: [string, Float32Array[]] = [`PITA_GEMM=${gemmSetting()} (${DEFAULT_VARIANT} at these sizes)`, await products()];
    const others: [string, Float32Array[]][] = [];
    for (const name of Object.keys(GEMM_VARIANTS)) others.push([name, await withEnv('PITA_GEMM', name, products)]);
    // The default against float64: the plain product, and the linear layer.
    const ref = new Float64Array(M * N);
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
        ref[i * N + j] = s;
      }
    }
    assert.ok(relErr([...first[1][0].subarray(0, M * N)], [...ref]) < 2e-6, 'plain product against float64');
    assert.ok(relErr([...first[1][13]], Array.from(ref, (v, i) => v + bias[i % N])) < 2e-6, 'linear layer against float64');
    // The first aligned product ([2, 300, 40]·[2, 40, 200]), its first batch, against float64.
    const refAligned = new Float64Array(300 * 200);
    const bAligned = c.subarray(c.length - 2 * 40 * 200);
    for (let i = 0; i < 300; i++) {
      for (let j = 0; j < 200; j++) {
        let s = 0;
        for (let k = 0; k < 40; k++) s += c[i * 40 + k] * bAligned[k * 200 + j];
        refAligned[i * 200 + j] = s;
      }
    }
    assert.ok(relErr([...first[1][4].subarray(0, 300 * 200)], [...refAligned]) < 2e-6, 'aligned product against float64');
    assert.equal(first[1].length, 15);
    for (const [name, outs] of others) {
      outs.forEach((o, i) => assert.ok(o.every((v, j) => Object.is(v, first[1][i][j])), `PITA_GEMM=${name}, output ${i}: differs from ${first[0]}`));
    }
    await assert.rejects(withEnv('PITA_GEMM', 'nonesuch', async () => gemmSetting()), /PITA_GEMM: unknown variant 'nonesuch'; valid: blocked128x64, strided128x64, /);
  }));

  test('a captured step times the variants of its large products, replays the fastest, and gives the same bits (PITA_GEMM=auto)', () => withSmallGemms(async () => {
    const rng = new Rng(23);
    const [M, N, K] = [300, 200, 130];
    const x = Float32Array.from(rng.normals(M * K));
    const w = Float32Array.from(rng.normals(K * N));
    // A loss and its gradient in w: the products x·w ([300, 200]) and xᵀ·(2·x·w) ([130, 200], A transposed).
    const spec = (): T.StepSpec => ({
      inputs: [[M, K], [K, N]],
      state: () => [],
      step: ([xs, ws]) => {
        const { value, grad } = T.valueAndGrad((v) => T.sum(T.square(T.matmul(xs, v))), ws);
        return [value, grad];
      },
    });
    const gemmThreads = (step: T.CapturedStep) => step.shapes.filter((d) => d.kernel.startsWith('pita_gemm')).map((d) => d.threads / d.workgroups);
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    // The reference: products below the size worth timing run on the default variant (128 threads a workgroup).
    const fixed = T.captureStep(spec());
    const want = [await fixed.run([x, w]), await fixed.run([x, w])];
    const fixedThreads = gemmThreads(fixed);
    fixed.dispose();
    assert.ok(fixedThreads.length >= 2 && fixedThreads.every((t) => t === 128), `the default's products: ${fixedThreads}`);
    const saved = { ...gemmTuning };
    // Every product timed, among two variants of 256 threads (neither the default, so the recording must change),
    // both reading B and writing the output 4 floats at a time (N = 200): the winner's bindings take vec4 arrays.
    Object.assign(gemmTuning, { minFlop: 0, candidates: ['strided128k16v', 'blocked128v'], dispatches: 2, runs: 1 });
    try {
      const step = T.captureStep(spec());
      const got = [await step.run([x, w]), await step.run([x, w])];
      const tunedThreads = gemmThreads(step);
      step.dispose();
      assert.deepEqual(tunedThreads, fixedThreads.map(() => 256), 'the products moved to the winning variants');
      got.forEach((run, r) => run.forEach((o, i) => assert.ok(o.every((v, j) => Object.is(v, want[r][i][j])), `run ${r}, output ${i}: differs from the default variant`)));
      const tuned = [...tunedGemms(device).values()];
      assert.equal(tuned.length, fixedThreads.length, 'one timing per distinct product');
      for (const t of tuned) {
        assert.equal(t.timer, 'gpu', 'timed by timestamp queries (lavapipe has them)');
        assert.deepEqual(Object.keys(t.ms).sort(), ['blocked128v', 'strided128k16v']);
        assert.ok(Object.values(t.ms).every((ms) => Number.isFinite(ms) && ms >= 0), JSON.stringify(t.ms));
        assert.equal(t.ms[t.variant], Math.min(...Object.values(t.ms)), `${t.variant} is the fastest of ${JSON.stringify(t.ms)}`);
      }
      // A step captured later records the winners at once (nothing left to time).
      const again = T.captureStep(spec());
      assert.deepEqual((await again.run([x, w])).map((o) => [...o]), want[0].map((o) => [...o]));
      assert.deepEqual(gemmThreads(again), fixedThreads.map(() => 256));
      again.dispose();
    } finally {
      Object.assign(gemmTuning, saved);
      tunedGemms(device).clear();
    }
  }));

  test("a step with a tensor over the device's binding limit is refused as a GpuError the CLI answers with fewer rows per step", async (t) => {
    const limit = (tf.backend() as unknown as { device: GPUDevice }).device.limits.maxStorageBufferBindingSize;
    // lavapipe's limit is 128 MiB (CI); a GPU's is GiBs, too much to allocate in a test.
    if (limit > 256 * 2 ** 20) return t.skip(`the device binds up to ${limit} bytes`);
    const n = limit / 4 + 4;
    const step = T.captureStep({ inputs: [[1]], state: () => [], step: ([a]) => [T.sum(T.broadcastTo(a, [n]))] });
    try {
      const refused = await step.run([Float32Array.of(1)]).then(() => null, (e: unknown) => e);
      assert.ok(refused instanceof T.GpuError, String(refused));
      assert.match(refused.message, /^WebGPU refused a captured step: .*binding size/);
      assert.match(gpuAdvice(refused.message), /training\.microBatchSize .* annealing\.chunkSize/);
    } finally {
      step.dispose();
    }
    // The device goes on: a step within the limit runs.
    const small = T.captureStep({ inputs: [[1]], state: () => [], step: ([a]) => [T.sum(T.broadcastTo(a, [1000]))] });
    try {
      assert.deepEqual([...(await small.run([Float32Array.of(0.5)]))[0]], [500]);
    } finally {
      small.dispose();
    }
  });

  test('micro-batches (16 rows as 5+5+5+1, the advice for a step too large) give the full-batch DiT training step to float32 accuracy', async () => {
    const run = async (microBatchSize: number) => {
      const geometry = { dim: 12, nParticles: 4, spatialDim: 3 };
      const tr = new Trainer((r) => createNetwork('dit', { preset: 'small', hidden: 16, blocks: 1, heads: 2, conditionOnTemperature: false }, geometry, r), {
        seed: 5, batchSize: 16, microBatchSize, layout: { nParticles: 4, spatialDim: 3 }, meanFree: true, rotate: true, pinSigmaMax: 0.1,
      });
      const logs: StepLog[] = [];
      await tr.train([{ buffer: gaussianBuffer(12, 100), beta: null }], 1, (l) => logs.push(l));
      const st = await tr.getState();
      tr.dispose();
      return { log: logs[0], params: Object.values(st.energy.params).flatMap((a) => [...a]) };
    };
    const full = await run(16);
    const micro = await run(5);
    for (const key of ['loss', 'lossScore', 'lossEnergyMatching', 'gradNorm'] as const) {
      assert.ok(Math.abs(full.log[key] - micro.log[key]) <= 1e-5 * Math.abs(full.log[key]), `${key}: ${full.log[key]} vs ${micro.log[key]}`);
    }
    // The energy network starts at zero output, so its score loss is ~1e-12: held in absolute terms.
    assert.ok(Math.abs(full.log.lossEnergyScore - micro.log.lossEnergyScore) <= 1e-9, `lossEnergyScore: ${full.log.lossEnergyScore} vs ${micro.log.lossEnergyScore}`);
    // Adam's first step is lr·g/|g| per component: one whose gradient is float32 noise around 0 can move by up to
    // lr either way (measured: 1 of 32 243 by 1e-4), every other by the float32 rounding of the sum's order.
    const diffs = full.params.map((v, i) => Math.abs(v - micro.params[i]));
    const loose = diffs.filter((d) => d > 1e-5).length;
    assert.ok(loose <= 1e-3 * diffs.length && Math.max(...diffs) <= 2e-3, `${loose} of ${diffs.length} parameters differ by more than 1e-5, at most ${Math.max(...diffs)}`);
    assert.ok(diffs.some((d) => d > 0), 'identical parameters: the micro-batches did not run');
  });

  test('a timing step the device refuses leaves the product on the default variant; any other error in it surfaces', async () => {
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const product = (key: string): GemmCase => ({ key, shape: { batch: 1, M: 4096, N: 768, K: 192, transposeA: false, transposeB: false, bias: 'none' }, inputs: [[4096, 192], [192, 768]] });
    // Steps whose first run fails as a refused WebGPU call does (captureStep's GpuError), or with a defect.
    const failing = (error: Error) => (): T.CapturedStep => ({
      replaying: true,
      dispatches: 0,
      memory: { tensors: 0, planned: 0 },
      shapes: [],
      run: () => Promise.reject(error),
      profile: () => Promise.reject(error),
      dispose: () => {},
    });
    try {
      const refused = new T.GpuError('WebGPU refused a captured step: Out of memory');
      const got = (await tuneGemms([product('refused')], failing(refused))).get('refused');
      assert.deepEqual(got, { shape: product('refused').shape, variant: DEFAULT_VARIANT, ms: {}, timer: 'failed', reason: refused.message });
      assert.equal(tunedGemms(device).get('refused'), got, 'not timed again');
      await assert.rejects(tuneGemms([product('defect')], failing(new TypeError('a defect'))), /^TypeError: a defect$/);
      assert.equal(tunedGemms(device).has('defect'), false);
    } finally {
      tunedGemms(device).clear();
    }
  });

  test("Trainer.train on a DiT whose products' variants are timed at its first step gives the parameters of untimed training, bit for bit", () => withSmallGemms(async () => {
    // Hidden 128, batches of 64 samples of 4 tokens: the linear layers' products ([256, 128]·[128, ·] and
    // their gradients) take the tiled kernel; timed among two non-default variants, the recording changes.
    const train = async () => {
      const D = 12;
      const buffer = gaussianBuffer(D, 64);
      const geometry = { dim: D, nParticles: 4, spatialDim: 3 };
      const tr = new Trainer((r) => createNetwork('dit', { preset: 'small', hidden: 128, blocks: 1, heads: 2, conditionOnTemperature: false }, geometry, r), {
        seed: 9, batchSize: 64, layout: { nParticles: 4, spatialDim: 3 }, meanFree: true, rotate: true, pinSigmaMax: 0.1,
      });
      const losses: number[] = [];
      await tr.train([{ buffer, beta: null }], 3, (l) => losses.push(l.loss, l.gradNorm));
      const s = await tr.getState();
      tr.dispose();
      return { losses, params: Object.values(s.energy.params).flatMap((a) => [...a]) };
    };
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const untimed = await train();
    const saved = { ...gemmTuning };
    Object.assign(gemmTuning, { minFlop: 0, candidates: ['tile64', 'blocked128'], dispatches: 1, runs: 1 });
    try {
      const timed = await train();
      assert.ok(tunedGemms(device).size >= 3, `${tunedGemms(device).size} products timed`);
      assert.ok([...tunedGemms(device).values()].every((t) => t.variant !== DEFAULT_VARIANT));
      assert.deepEqual(timed, untimed);
      assert.ok(untimed.losses.every(Number.isFinite) && untimed.params.some((v) => v !== 0));
    } finally {
      Object.assign(gemmTuning, saved);
      tunedGemms(device).clear();
    }
  }));

  test("a DiT's second-order loss and parameter gradients on pita's tiled matmul match them on tfjs's kernels", async () => {
    // Hidden 128 and 64 rows of 4 tokens: the linear layers' products are [256, 128]·[128, ·], on the tiled kernel.
    const net = createNetwork('dit', { preset: 'small', hidden: 128, blocks: 1, heads: 2, conditionOnTemperature: true }, { dim: 12, nParticles: 4, spatialDim: 3 }, new Rng(21));
    const rng = new Rng(22);
    // adaLN-zero starts the DiT's output at 0: give every parameter values of its own first.
    for (const name of net.params.names()) {
      const shape = T.shapeOf(net.params.get(name));
      net.params.assign(name, T.fromF64(rng.normals(shape.reduce((p, q) => p * q, 1)).map((v) => 0.2 * v), shape));
    }
    const [x, c, beta] = [rng.normals(64 * 12), rng.normals(64), rng.uniforms(64, 0.5, 1)];
    const values = async () => {
      const out = T.scope(() => {
        const xt = T.fromF64(x, [64, 12]);
        const { value, grads } = T.valueAndParamGrads(() => {
          const { value: F, grad: jtx } = T.valueAndGrad((xv) => net.apply(T.fromF64(c, [64, 1]), xv, T.fromF64(beta, [64, 1])), xt, xt);
          return T.mean(T.add(T.square(T.add(jtx, F)), T.square(F)));
        }, net.params);
        return [T.reshape(value, [1]), ...[...grads.values()].filter((g): g is T.Tensor => g !== null).map((g) => T.reshape(g, [-1]))];
      });
      return Promise.all(out.map(async (t) => [...(await T.read(t))]));
    };
    const tiledRun = await withSmallGemms(values);
    const tfjsRun = await withEnv('PITA_MATMUL', 'tfjs', values);
    assert.equal(tiledRun.length, tfjsRun.length);
    assert.ok(tiledRun.length > 10, `${tiledRun.length - 1} parameter gradients`);
    tfjsRun.forEach((ref, i) => {
      const e = relErr(tiledRun[i], ref);
      assert.ok(e < 1e-4, `${i === 0 ? 'loss' : `gradient ${i}`}: relative difference ${e.toExponential(2)}`);
      assert.ok(ref.some((v) => v !== 0), `output ${i}: all zero (vacuous)`);
    });
    net.params.dispose();
  });

  test('fused expressions (one kernel each, and one per input for every order of gradient) match the ops they name', async () => {
    for (const c of FUSED_CASES) {
      const fusedValues = await fusedCaseValues(c, viaFused(c));
      (await fusedCaseValues(c, viaOps(c))).forEach((ref, i) => {
        const e = relErr(fusedValues[i], ref);
        assert.ok(e < 1e-5, `${c.name}, output ${i} (value, ∇, ∇²): relative difference ${e.toExponential(2)}`);
      });
    }
    // The EGNN's coordinate weight: one kernel, where its ops ran seven.
    const c = FUSED_CASES[1];
    const size = (sh: number[]): number => sh.reduce((p, q) => p * q, 1);
    const recorded = async (shapes: number[][], f: (xs: T.Tensor[]) => T.Tensor[]): Promise<readonly T.DispatchShape[]> => {
      const step = T.captureStep({ inputs: shapes, state: () => [], step: f });
      await step.run(shapes.map((sh) => new Float32Array(size(sh)).fill(0.5)));
      assert.equal(step.shapes.length, step.dispatches);
      const recorded = step.shapes;
      step.dispose();
      return recorded;
    };
    const dispatches = async (shapes: number[][], f: (xs: T.Tensor[]) => T.Tensor[]): Promise<number> => (await recorded(shapes, f)).length;
    // What a profile knows of the one kernel: its name, its output's bytes, its inputs', and a thread per output.
    const [one, ...more] = await recorded(c.shapes, (xs) => [T.fused(c.expr, xs)]);
    assert.equal(more.length, 0);
    const out = c.shapes.reduce((a, sh) => a.map((n, i) => Math.max(n, sh[i - a.length + sh.length] ?? 1)));
    assert.ok(one.kernel.startsWith('pita_fused'), one.kernel);
    assert.equal(one.bytesWritten, 4 * size(out));
    assert.equal(one.bytesRead, 4 * c.shapes.reduce((n, sh) => n + size(sh), 0));
    assert.ok(one.threads >= size(out) && one.workgroups >= 1, JSON.stringify(one));
    assert.equal(await dispatches(c.shapes, (xs) => [c.ops(xs)]), 7);
    // Summed over neighbours: still one kernel (the ops and a Sum: 8). The gradients of Σ y² for its three
    // inputs: 7 kernels, where the ops ran 25 (each input's gradient sums inside its kernel, dy is read
    // broadcast instead of tiled, and the contributions of the two uses of hᵢ add in their kernels).
    const s = FUSED_CASES[3];
    const count = (f: (xs: T.Tensor[]) => T.Tensor[]): Promise<number> => dispatches(s.shapes, f);
    assert.equal(await count((xs) => [viaFused(s)(xs)]), 1);
    assert.equal(await count((xs) => [viaOps(s)(xs)]), 8);
    const sumSquareGrads = (f: (xs: T.Tensor[]) => T.Tensor) => (xs: T.Tensor[]) => T.grads((...ys: T.Tensor[]) => T.sum(T.square(f([...ys, xs[3]]))), xs.slice(0, 3));
    assert.equal(await count(sumSquareGrads(viaFused(s))), 7);
    assert.equal(await count(sumSquareGrads(viaOps(s))), 25);
    // An activation is a fused expression: ∇ Σ SiLU(x) is the Sum's gradient's Tile and one kernel
    // SiLU′(x)·dy (the unary op took two for that, its derivative and a product). The forward SiLU and
    // Sum run only when their value is read: the step leaves out kernels whose results nothing reads.
    assert.equal(await dispatches([[4, 5]], (xs) => [T.grad((x) => T.sum(T.silu(x)), xs[0])]), 2);
    assert.equal(await dispatches([[4, 5]], (xs) => Object.values(T.valueAndGrad((x) => T.sum(T.silu(x)), xs[0]))), 4);
  });

  test("a long fused sum into few outputs runs its Sum's tree, or its Sum's first pass, inside the expression's kernel: the bits of the expression written out and summed, without writing it", async () => {
    const rng = new Rng(19);
    // [B, n, n, H] summed over its leading block into H (a weight's gradient over pairs): at B = 128, 21 632 positions per
    // output, a first pass in chunks then a tree; at B = 64, 10 816, one tree. [5, 300, 7] over its middle axis: one tree.
    const pairs = E.mul(E.mul(E.input(0), E.sigmoid(E.add(E.input(0), E.input(1)))), E.input(2));
    const cases = [
      { shapes: [[128, 13, 13, 1], [1, 1, 1, 32], [128, 13, 13, 32]], out: [1, 1, 1, 32], expr: pairs, kernel: 'pita_fusedchunks' },
      { shapes: [[64, 13, 13, 1], [1, 1, 1, 32], [64, 13, 13, 32]], out: [1, 1, 1, 32], expr: pairs, kernel: 'pita_fusedtreesum' },
      { shapes: [[5, 300, 7], [5, 1, 7]], out: [5, 1, 7], expr: E.mul(E.tanh(E.input(0)), E.input(1)), kernel: 'pita_fusedtreesum' },
    ];
    for (const c of cases) {
      const values = c.shapes.map((sh) => Float64Array.from(rng.normals(sh.reduce((p, q) => p * q, 1))));
      const full = c.shapes.reduce((a, sh) => a.map((d, j) => Math.max(d, sh[j])));
      const size = (sh: number[]) => sh.reduce((p, q) => p * q, 1);
      // Σ over the summed axes, and Σ (∂/∂x₀ of the sum)² differentiated again: fused sums to every order.
      const step = (xs: T.Tensor[]): T.Tensor[] => {
        const s = T.fusedSum(c.expr, xs, c.out.map((d, a) => (d === 1 && full[a] > 1 ? a : -1)).filter((a) => a >= 0));
        const g = T.grads((...ys) => T.sum(T.square(T.fusedSum(c.expr, ys, c.out.map((d, a) => (d === 1 && full[a] > 1 ? a : -1)).filter((a) => a >= 0)))), xs);
        return [s, ...g];
      };
      const run = async (chunks: boolean) => {
        const saved = process.env.PITA_FUSED_CHUNKS;
        process.env.PITA_FUSED_CHUNKS = chunks ? '1' : '0';
        try {
          const captured = T.captureStep({ inputs: c.shapes, state: () => [], step });
          try {
            return { out: await captured.run(values.map((v) => Float32Array.from(v))), kernels: captured.shapes };
          } finally {
            captured.dispose();
          }
        } finally {
          if (saved === undefined) delete process.env.PITA_FUSED_CHUNKS;
          else process.env.PITA_FUSED_CHUNKS = saved;
        }
      };
      const [on, off] = [await run(true), await run(false)];
      on.out.forEach((o, i) => assert.deepEqual([...o], [...off.out[i]], `${JSON.stringify(c.shapes)}, output ${i}: the written-out path's bits`));
      // The sum against float64.
      const ref = new Float64Array(size(c.out));
      const idx = (sh: number[], co: number[]) => sh.reduce((acc, d, a) => acc * d + (d === 1 ? 0 : co[a]), 0);
      for (let f = 0; f < size(full); f++) {
        const co = full.map((_, a) => Math.floor(f / size(full.slice(a + 1))) % full[a]);
        const x = values.map((v, i) => v[idx(c.shapes[i], co)]);
        const e = c.expr === pairs ? x[0] * (1 / (1 + Math.exp(-(x[0] + x[1])))) * x[2] : Math.tanh(x[0]) * x[1];
        ref[idx(c.out, co)] += e;
      }
      assert.ok(relErr([...on.out[0]], [...ref]) < 1e-5, `${JSON.stringify(c.shapes)}: ${relErr([...on.out[0]], [...ref]).toExponential(2)}`);
      // The sums write no tensor of the expression's full size (only the gradients of inputs of that size are), and their first passes are gone.
      const fullWrites = (ks: readonly T.DispatchShape[]) => ks.filter((k) => k.bytesWritten >= 4 * size(full)).length;
      const sums = on.kernels.filter((k) => k.kernel.startsWith(c.kernel)).length;
      assert.ok(sums >= 2, `${c.kernel}: ${on.kernels.map((k) => k.kernel.slice(0, 20)).join(', ')}`);
      assert.deepEqual([fullWrites(on.kernels), on.kernels.length], [fullWrites(off.kernels) - sums, off.kernels.length - sums]);
    }
  });

  test('gradient contributions add inside the kernels that made them (fused, summed, sums, LayerNorm VJPs, matrix products split or not), to every order', async () => {
    const rng = new Rng(5);
    const shapes = [[8, 4], [1024, 8], [1024, 8], [4, 8], [8, 5], [8, 5], [6, 7], [5, 1, 3], [5, 4, 3], [8], [1000, 8], [6], [50, 6], [9, 6], [6], [6]];
    const values = shapes.map((sh) => Float64Array.from(rng.normals(sh.reduce((p, q) => p * q, 1))));
    const [x0, x1] = [E.input(0), E.input(1)];
    // Every input is used twice, so each gradient is two contributions, each made by one kind of kernel.
    const loss = ([w, x, x2, v, w1, w2, u, h, p, b, z, c, y, n, g1, g2]: T.Tensor[]): T.Tensor =>
      [
        // W's contributions xᵀ·dy are products with a long K (1024) and an output of 8×4: split.
        T.sum(T.square(T.matmul(x, w))),
        T.sum(T.square(T.matmul(x2, w))),
        // v's are dy·W₁ᵀ and dy·W₂ᵀ: short K, not split (tfjs's fused matmul with the addend as its bias).
        T.sum(T.mul(T.matmul(v, w1), T.tanh(T.matmul(v, w2)))),
        // u's come from fused kernels; h's from fused sums over the 4 positions it broadcast over.
        T.sum(T.fused(E.mul(E.tanh(x0), x0), [u])),
        T.sum(T.fused(E.mul(E.square(x0), E.exp(E.neg(x0))), [u])),
        T.sum(T.fused(E.mul(E.tanh(x0), x1), [h, p])),
        T.sum(T.fused(E.sigmoid(E.add(x0, x1)), [h, p])),
        // b's sum 1000 positions into 8 outputs: the expression, then pita's Sum with the addend.
        T.sum(T.fused(E.tanh(E.add(x0, x1)), [z, b])),
        T.sum(T.fused(E.mul(E.sigmoid(x1), x0), [z, b])),
        // c's are sums over the 50 rows it broadcast over (pita's Sum, the addend in its last pass).
        T.sum(T.square(T.add(y, c))),
        T.sum(T.tanh(T.mul(y, c))),
        // n's are LayerNorm's ∂/∂x (the normalisation's VJP kernel, the addend added to each value).
        T.sum(T.mul(T.layerNorm(n, g1, 1e-5), T.tanh(n))),
        T.sum(T.square(T.layerNorm(n, g2, 1e-5))),
      ].reduce((acc, t) => T.add(acc, t));
    const first = (xs: T.Tensor[]) => T.grads((...ys) => loss(ys), xs);
    // Second order: ∇ of Σ (∇L)² (each first-order contribution is differentiated again, through its addend).
    const second = (xs: T.Tensor[]) => T.grads((...ys) => first(ys).reduce((acc, g) => T.add(acc, T.sum(T.square(g))), T.scalar(0)), xs);
    const run = async (addends: boolean) => {
      const { out, kernels } = await capturedWithAddends(addends, addends, shapes, values, (xs) => [loss(xs), ...first(xs), ...second(xs)]);
      return { out, n: kernels.length };
    };
    const [on, off] = [await run(true), await run(false)];
    off.out.forEach((ref, i) => {
      const e = relErr([...on.out[i]], [...ref]);
      assert.ok(e < 1e-5, `output ${i} (0: loss, 1–16: ∇, 17–32: ∇²): relative difference ${e.toExponential(2)}`);
      assert.ok(ref.some((v) => v !== 0), `output ${i}: all zero (vacuous)`);
    });
    // Measured on lavapipe (kernel counts do not depend on the device): 417 kernels with tfjs's adds, 350 with addends and the fused
    // contributions of u and h joined (before §2.43's trees 433 and 361, before §2.39's sums in the expression's kernel 441 and
    // 364, before §2.38's one-kernel r 449 and 372; 406 with addends alone; 400 when a kernel registered long before could run
    // again, accumulate.ts RECENT: each input is used by two distant terms here).
    assert.deepEqual([off.n, on.n], [417, 350]);
  });

  test('fused gradient contributions over the same shapes join in one kernel that reads their shared inputs once, to every order', async () => {
    const rng = new Rng(6);
    const shapes = [[64, 33], [5, 1, 3], [5, 4, 3]];
    const size = (sh: number[]): number => sh.reduce((p, q) => p * q, 1);
    const values = shapes.map((sh) => Float32Array.from(rng.normals(size(sh))));
    const [x0, x1] = [E.input(0), E.input(1)];
    // u's two contributions are fused kernels over u's shape; h's are fused sums over the 4 positions it broadcast over.
    const loss = ([u, h, p]: T.Tensor[]): T.Tensor =>
      [
        T.sum(T.fused(E.mul(E.tanh(x0), x0), [u])),
        T.sum(T.fused(E.mul(E.square(x0), E.exp(E.neg(x0))), [u])),
        T.sum(T.fused(E.mul(E.tanh(x0), x1), [h, p])),
        T.sum(T.fused(E.sigmoid(E.add(x0, x1)), [h, p])),
      ].reduce((acc, t) => T.add(acc, t));
    const first = (xs: T.Tensor[]) => T.grads((...ys) => loss(ys), xs);
    const second = (xs: T.Tensor[]) => T.grads((...ys) => first(ys).reduce((acc, g) => T.add(acc, T.sum(T.square(g))), T.scalar(0)), xs);
    const run = (join: boolean, order: 1 | 2) => capturedWithAddends(true, join, shapes, values, (xs) => (order === 1 ? first(xs) : second(xs)));
    for (const order of [1, 2] as const) {
      const [on, off] = [await run(true, order), await run(false, order)];
      off.out.forEach((ref, i) => {
        const e = relErr([...on.out[i]], [...ref]);
        assert.ok(e < 1e-6, `order ${order}, output ${i}: relative difference ${e.toExponential(2)}`);
        assert.ok(ref.some((v) => v !== 0), `order ${order}, output ${i}: all zero (vacuous)`);
      });
      // Measured on lavapipe (kernel counts do not depend on the device): 10 kernels and 7 joined, at second order 31 and 19.
      assert.deepEqual([off.kernels.length, on.kernels.length], order === 1 ? [10, 7] : [31, 19]);
      if (order === 2) continue;
      // ∇u is one kernel reading u and the two Sums' cotangents; ∇h one fused sum reading h, p and the two cotangents over p's shape.
      const writing = (bytes: number) => on.kernels.filter((k) => k.kernel.startsWith('pita_fused') && k.bytesWritten === bytes).map((k) => k.bytesRead);
      assert.deepEqual(writing(4 * size(shapes[0])), [3 * 4 * size(shapes[0])]);
      assert.deepEqual(writing(4 * size(shapes[1])), [4 * (size(shapes[1]) + 3 * size(shapes[2]))]);
    }
  });

  test("adding gradient contributions inside the kernels that made them costs the paper's DiT and EGNN steps no memory to 1 %, and saves their kernels", async () => {
    // Before accumulate.ts RECENT, kernels registered a pass earlier ran again late and kept their inputs
    // alive: at B = 32 the DiT step's recording took 265 MB with addends against 205 MB without.
    for (const name of ['ditfull2048', 'egnn512']) {
      const spec = { ...STEP_BENCHES.find((b) => b.name === name)!, batch: 8 };
      const on = await benchStep(spec, { steps: 0, warmup: 1 });
      useAddends(false);
      const off = await benchStep(spec, { steps: 0, warmup: 1 }).finally(() => useAddends(true));
      // Within 1 % (measured at B = 8: the DiT 95.15 MB against 95.10; with late reruns 106.9 MB).
      assert.ok(on.recordingBytes.planned <= 1.01 * off.recordingBytes.planned, `${name}: ${on.recordingBytes.planned} bytes with addends, ${off.recordingBytes.planned} without`);
      // Measured (the two alone in a process): DiT 1202 against 1417 kernels, EGNN 470 against 647 (1353 and 503 before §2.36–§2.38).
      assert.ok(on.dispatches <= off.dispatches - 60, `${name}: ${on.dispatches} kernels with addends, ${off.dispatches} without`);
      assert.ok(Math.abs(on.check - off.check) <= 1e-5 * Math.abs(off.check), `${name}: loss ${on.check} vs ${off.check}`);
    }
  });

  test('clipGradNorm (Σ g² in one kernel per parameter on WebGPU) matches float64 norms', async () => {
    const rng = new Rng(4);
    const values = { a: rng.normals(70000), b: rng.normals(33), c: rng.normals(1) };
    const shapes = { a: [700, 100], b: [3, 11], c: [] as number[] };
    const clip = T.scope(() => {
      const grads = new Map(Object.entries(values).map(([n, v]) => [n, T.fromF64(Float64Array.from(v), shapes[n as keyof typeof shapes])] as const));
      const c = T.clipGradNorm(grads, 1);
      return { norm: c.norm, squares: c.squares, names: c.names };
    });
    const out = { norm: await T.readScalar(clip.norm), squares: [...(await T.read(clip.squares))], names: clip.names };
    T.dispose([clip.norm, clip.squares]);
    const ref = out.names.map((n) => values[n as keyof typeof values].reduce((acc, v) => acc + v * v, 0));
    assert.ok(relErr(out.squares, ref) < 2e-6, `squares: relative error ${relErr(out.squares, ref).toExponential(2)}`);
    assert.ok(Math.abs(out.norm - Math.sqrt(ref.reduce((a, b) => a + b, 0))) < 2e-6 * Math.sqrt(ref.reduce((a, b) => a + b, 0)));
  });

  test("Adam's packed moments scale a clipped gradient in their own kernel: bit-identical to the clip's product, one kernel fewer per parameter", async () => {
    const rng = new Rng(6);
    const shapes: Record<string, number[]> = { w: [30, 20], b: [20], s: [] };
    const grads = Object.values(shapes).map((sh) => Float32Array.from(rng.normals(sh.reduce((p, q) => p * q, 1)), (v) => 10 * v));
    const run = async (fold: boolean) => {
      const store = new T.ParamStore();
      for (const [name, shape] of Object.entries(shapes)) {
        const n = shape.reduce((p, q) => p * q, 1);
        store.add(name, shape, { kind: 'values', data: Float64Array.from(new Rng(7).normals(n)) } as never);
      }
      const adam = new T.Adam(store, { lr: 0.01 });
      adam.ensureMoments();
      const step = T.captureStep({
        inputs: Object.values(shapes),
        state: () => [...store.tensorsInOrder(), ...adam.stateTensors()],
        step: (gs) => {
          const clip = T.clipGradNorm(new Map(Object.keys(shapes).map((name, i) => [name, gs[i]])), 0.5);
          // Without the fold: the clipped gradients as new tensors (x + 0 = x), which Adam cannot trace to the clip.
          const given = fold ? clip.grads : new Map([...clip.grads].map(([name, g]) => [name, g === null ? null : T.add(g, 0)]));
          adam.step(given, T.fromF32(adam.nextFactors(), [2]));
          return [clip.norm];
        },
      });
      await step.run(grads);
      adam.advance(Object.keys(shapes));
      const n = step.dispatches;
      const out = { n, params: await Promise.all(Object.keys(shapes).map((name) => store.read(name))), state: await adam.getState() };
      step.dispose();
      adam.dispose();
      store.dispose();
      return out;
    };
    // The per-parameter kernels (the flat kernel of the next test would take the whole update).
    const [folded, plain] = await withEnv('PITA_FLAT', '0', async () => [await run(true), await run(false)]);
    folded.params.forEach((p, i) => assert.ok(p.every((v, j) => Object.is(v, plain.params[i][j])), `parameter ${i} differs`));
    for (const name of Object.keys(shapes)) {
      assert.ok(folded.state.m[name].every((v, j) => Object.is(v, plain.state.m[name][j])) && folded.state.v[name].every((v, j) => Object.is(v, plain.state.v[name][j])), `moments of ${name} differ`);
    }
    // The clip's product and the x + 0 both run without the fold: two kernels per parameter more.
    assert.equal(plain.n - folded.n, 2 * Object.keys(shapes).length);
  });

  test('the flat optimiser kernels (clip, Adam, EMA for all parameters at once), in 3 kernels, give the per-parameter kernels\' parameters, moments and shadows over 4 replays: bit for bit unclipped, to float32 noise clipped', async () => {
    // Sizes around the 64-element chunks and 256-byte arena alignment, a scalar, and one large tensor.
    const shapes: Record<string, number[]> = { w: [30, 20], b: [20], s: [], c: [64], big: [70, 90] };
    const names = Object.keys(shapes);
    const rng = new Rng(16);
    const batches = [0, 1, 2, 3].map((k) => Object.values(shapes).map((sh) => Float32Array.from(rng.normals(sh.reduce((p, q) => p * q, 1)), (v) => (k + 1) * v)));
    const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, j) => Object.is(v, b[j]));
    // maxNorm null: no clip.
    const run = async (maxNorm: number | null) => {
      const { store, adam, ema, step, scalars, dispose } = optimiserStep(shapes, 17, { lr: 0.01 }, (inputs, factors, rate, adam, ema) => {
        // Gradients made in the step (a step's inputs cannot join an arena).
        const grads = new Map(names.map((name, i) => [name, T.mul(inputs[i], rate)]));
        const clip = maxNorm === null ? null : T.clipGradNorm(grads, maxNorm);
        adam.step(clip?.grads ?? grads, factors);
        ema.update(rate);
        return clip === null ? [T.sum(T.square(T.concat([...grads.values()].map((g) => T.reshape(g, [-1])), 0)))] : [clip.norm, clip.squares];
      });
      const norms: number[] = [];
      let mid: Float32Array | null = null;
      for (const [k, batch] of batches.entries()) {
        const [norm] = await step.run([...batch, scalars()]);
        adam.advance(names);
        ema.advance();
        norms.push(norm[0]);
        // The owner's tensors lag the arenas until something uses them: here a read, below a kernel.
        if (k === 2) mid = await store.read('w');
      }
      const viaKernel = await T.read(T.mul(store.get('big'), 2));
      const kernels = step.shapes.map((d) => d.kernel).filter((k) => /^pita_(flat|update|sum_?squares)/i.test(k));
      const out = { n: step.dispatches, kernels, norms, mid: mid!, viaKernel, params: await Promise.all(names.map((name) => store.read(name))), adam: await adam.getState(), ema: await ema.getState() };
      step.dispose();
      assert.ok(same(await store.read('big'), out.params[names.indexOf('big')]), 'parameters after the recording is disposed');
      dispose();
      return out;
    };
    // Without a clip, and with one whose factor is exactly 1: the same float32 expressions, the same bits.
    const flat = await run(1e9);
    const plain = await withEnv('PITA_FLAT', '0', () => run(1e9));
    const free = await run(null);
    const freePlain = await withEnv('PITA_FLAT', '0', () => run(null));
    for (const [a, b, what] of [[flat, plain, 'clip at 1e9'], [free, freePlain, 'no clip']] as const) {
      names.forEach((name, i) => {
        assert.ok(same(a.params[i], b.params[i]), `${what}: parameter ${name} differs`);
        assert.ok(same(a.adam.m[name], b.adam.m[name]) && same(a.adam.v[name], b.adam.v[name]), `${what}: moments of ${name} differ`);
        assert.ok(same(a.ema.shadows[name], b.ema.shadows[name]), `${what}: shadow of ${name} differs`);
      });
      assert.ok(same(a.mid, b.mid) && !same(a.mid, a.params[0]), `${what}: parameter w read after the third step`);
      assert.ok(same(a.viaKernel, b.viaKernel) && same(a.viaKernel, a.params[names.indexOf('big')].map((v) => 2 * v)), `${what}: a kernel on the parameters`);
    }
    // ‖g‖² sums in another order: float32 noise in the norm, and in everything the clip (norm > 5 at every step) scales.
    assert.ok(relErr(flat.norms, plain.norms) < 1e-6, `norms ${flat.norms} vs ${plain.norms}`);
    const clippedFlat = await run(5);
    const clippedPlain = await withEnv('PITA_FLAT', '0', () => run(5));
    assert.ok(clippedFlat.norms.every((v) => v > 5));
    assert.ok(relErr(clippedFlat.norms, clippedPlain.norms) < 1e-6, `norms ${clippedFlat.norms} vs ${clippedPlain.norms}`);
    names.forEach((name, i) => {
      assert.ok(relErr([...clippedFlat.params[i]], [...clippedPlain.params[i]]) < 1e-5, `clipped: parameter ${name} differs`);
      assert.ok(relErr([...clippedFlat.adam.v[name]], [...clippedPlain.adam.v[name]]) < 1e-5, `clipped: moments of ${name} differ`);
      assert.ok(relErr([...clippedFlat.ema.shadows[name]], [...clippedPlain.ema.shadows[name]]) < 1e-5, `clipped: shadow of ${name} differs`);
    });
    // Per parameter: the moments, the step and the shadow (and Σg²); flat: three kernels in all.
    assert.deepEqual(flat.kernels, ['pita_flat_sumSquares', 'pita_flat_adamScaled', 'pita_flat_ema']);
    assert.deepEqual(free.kernels, ['pita_flat_adam', 'pita_flat_ema']);
    assert.equal(plain.kernels.filter((k) => k.startsWith('pita_update')).length, 3 * names.length);
    assert.ok(plain.n - flat.n >= 4 * names.length - 3, `${plain.n} kernels per step, flat ${flat.n}`);
  });

  test('where the flat kernels cannot take a whole update (weight decay, a parameter without a gradient) the per-parameter kernels do, and the rest stays flat: the same bits as PITA_FLAT=0', async () => {
    const shapes: Record<string, number[]> = { w: [30, 20], b: [20], idle: [5, 7] };
    const names = Object.keys(shapes);
    const rng = new Rng(18);
    const batches = [0, 1, 2].map(() => names.map((n) => Float32Array.from(rng.normals(shapes[n].reduce((p, q) => p * q, 1)))));
    const run = async (weightDecay: number) => {
      const { store, adam, ema, step, scalars, dispose } = optimiserStep(shapes, 19, { lr: 0.01, weightDecay }, (inputs, factors, rate, adam, ema) => {
        // 'idle' gets no gradient: Adam leaves it, and the EMA then sees one parameter that no flat kernel made.
        adam.step(new Map(names.map((name, i) => [name, name === 'idle' ? null : T.mul(inputs[i], rate)])), factors);
        ema.update(rate);
        return [T.sum(inputs[0])];
      });
      for (const batch of batches) {
        await step.run([...batch, scalars()]);
        adam.advance(names.filter((n) => n !== 'idle'));
        ema.advance();
      }
      const kernels = step.shapes.map((d) => d.kernel).filter((k) => /^pita_(flat|update)/.test(k));
      const out = { kernels, params: await Promise.all(names.map((name) => store.read(name))), adam: await adam.getState(), ema: await ema.getState() };
      dispose();
      return out;
    };
    const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, j) => Object.is(v, b[j]));
    for (const weightDecay of [0, 0.1]) {
      const flat = await run(weightDecay);
      const plain = await withEnv('PITA_FLAT', '0', () => run(weightDecay));
      names.forEach((name, i) => {
        assert.ok(same(flat.params[i], plain.params[i]), `weight decay ${weightDecay}: parameter ${name} differs`);
        assert.ok(same(flat.ema.shadows[name], plain.ema.shadows[name]), `weight decay ${weightDecay}: shadow of ${name} differs`);
      });
      for (const name of ['w', 'b']) assert.ok(same(flat.adam.m[name], plain.adam.m[name]) && same(flat.adam.v[name], plain.adam.v[name]), `weight decay ${weightDecay}: moments of ${name}`);
      assert.equal(flat.adam.steps.idle, undefined);
      // Adam flat without weight decay, per parameter with it; the EMA per parameter (it sees 'idle' unmoved).
      const adamKernels = weightDecay === 0 ? ['pita_flat_adam'] : ['pita_update_moments', 'pita_update_adam', 'pita_update_moments', 'pita_update_adam'];
      assert.deepEqual(flat.kernels, [...adamKernels, 'pita_update_ema', 'pita_update_ema', 'pita_update_ema']);
    }
  });

  test('a weight split into blocks of rows is read in place inside a captured step (views, not copies), with the bits of PITA_VIEWS=0 over 3 training replays', async () => {
    // W [66, 32] split as the EGNN's first edge weight: rows 0, 32 and 64 start on 256-byte boundaries, row 65 does not.
    const rng = new Rng(23);
    const batches = [0, 1, 2].map(() => [Float32Array.from(rng.normals(8 * 32)), Float32Array.from(rng.normals(8))]);
    const run = async () => {
      const store = new T.ParamStore();
      store.add('w', [66, 32], { kind: 'values', data: Float64Array.from(new Rng(24).normals(66 * 32)) } as never);
      store.add('b', [32], { kind: 'values', data: Float64Array.from(new Rng(25).normals(32)) } as never);
      const adam = new T.Adam(store, { lr: 0.01 });
      adam.ensureMoments();
      const step = T.captureStep({
        inputs: [[8, 32], [8, 1], [2]],
        state: () => [...store.tensorsInOrder(), ...adam.stateTensors()],
        step: ([x, r, factors]) => {
          const { value, grads } = T.valueAndParamGrads(() => {
            const [wi, wj, wr, wa] = T.split(store.get('w'), [32, 32, 1, 1], 0);
            const h = T.add(T.add(T.matmul(x, wi), T.matmul(T.square(x), wj)), T.add(T.matmul(r, wr), T.matmul(T.square(r), wa)));
            return T.sum(T.square(T.add(h, store.get('b'))));
          }, store);
          // Adam then updates W in place (flat-update.ts), after every read of its blocks.
          adam.step(grads, factors);
          return [value];
        },
      });
      const losses: number[] = [];
      for (const [x, r] of batches) {
        const [l] = await step.run([x, r, adam.nextFactors()]);
        adam.advance(['w', 'b']);
        losses.push(l[0]);
      }
      const out = { losses, slices: step.shapes.filter((d) => d.kernel === 'slice').length, w: await store.read('w'), b: await store.read('b') };
      step.dispose();
      adam.dispose();
      store.dispose();
      return out;
    };
    const views = await run();
    const copies = await withEnv('PITA_VIEWS', '0', run);
    assert.deepEqual(views.losses, copies.losses);
    assert.deepEqual([...views.w], [...copies.w]);
    assert.deepEqual([...views.b], [...copies.b]);
    // The four blocks were four slice kernels; as views only the block at row 65 is one.
    assert.equal(copies.slices, 4);
    assert.equal(views.slices, 1);
  });

  test('a tiny PITA run on WebGPU (EGNN): the same samples with its noise on 2 worker threads, and after a stop mid-rung and --resume', async () => {
    // What a whole run adds to the steps tested above: checkpoints read the state the replays left in their
    // arenas (replay.ts catchUp), the annealing field captures beside the training step, the noise workers.
    const config = (workers: number) => tinyConfig('generate', { device: 'webgpu', workers, model: { network: 'egnn', options: { hidden: 8, layers: 2 } } });
    const dir = mkdtempSync(join(tmpdir(), 'pita-gpu-run-'));
    const samples = (out: string) => [0, 1, 2].map((k) => [...readFileSync(join(out, 'samples', `T_${k}.npy`))]);
    const one = await runPita(config(1), { outDir: join(dir, 'one'), quiet: true });
    assert.ok(one.metrics.pita && Number.isFinite(one.metrics.pita.energyW2));
    const log = readFileSync(join(dir, 'one', 'log.jsonl'), 'utf8').split('\n')[0];
    assert.match(log, /"device":"webgpu/);
    const two = await runPita(config(2), { outDir: join(dir, 'two'), quiet: true });
    assert.deepEqual(samples(join(dir, 'two')), samples(join(dir, 'one')));
    assert.deepEqual(two.metrics.pita, one.metrics.pita);
    // Stopped 45 training steps in (rung 0 annealed, rung 1 at step 15, its checkpoint at 10), then resumed.
    await assert.rejects(runPita(config(1), { outDir: join(dir, 'cut'), quiet: true, stopAfterSteps: 45 }), RunStopped);
    await runPita(config(1), { outDir: join(dir, 'cut'), quiet: true, resume: true });
    assert.deepEqual(samples(join(dir, 'cut')), samples(join(dir, 'one')));
  });

  test('an annealing rung on WebGPU with its noise on worker threads (workers: 3) gives the particles, weights and logs of one thread (workers: 1)', async () => {
    const runs = [];
    for (const workers of [1, 3]) {
      const cfg = parseRunConfig(
        {
          target: 'dw4',
          seed: 2,
          device: 'webgpu',
          workers,
          ladder: { temperatures: [3, 2] },
          model: { network: 'egnn', options: { hidden: 8, layers: 2 } },
          training: { stepsPerTemperature: 2, batchSize: 8 },
          annealing: { particles: 23, steps: 6, chunkSize: 10, weighting: 'discrete', resampling: { mode: 'every-step', end: 4, tail: 'weight' }, relaxation: { kernel: 'mala', steps: 2, stepSize: 0.01 } },
        },
        'rung',
      );
      const target = createTarget(cfg.target);
      // The trainer keeps one thread on WebGPU; `workers` only sets the annealer's noise threads.
      const tr = new Trainer(networkFactory(cfg, target), trainerConfig(cfg, target), { workers: 1 });
      try {
        const r = await annealRung(tr, target, cfg, 0, undefined, () => undefined);
        runs.push({ x: Array.from(r.res.x), logWeights: Array.from(r.res.logWeights), log: r.res.log, final: Array.from(r.fin.x) });
      } finally {
        tr.dispose();
      }
    }
    assert.ok(runs[0].log.length === 6 && runs[0].x.every(Number.isFinite));
    assert.deepEqual(runs[1], runs[0]);
  });

  // B = 128, H = 16: the pair layers' weight gradients ([2048, 16]ᵀ·[2048, 16]) are products that tfjs's matmul
  // split over K with atomic adds, so two runs differed (docs/tensor-engine.md §2.16).
  test('replayed training steps are bit-identical to the same steps run through tfjs (PITA_CAPTURE=0), 12 steps, with or without an annealing field on the EMA weights between them', async () => {
    // `pita run` anneals between rungs inside withEma: the EMA weights are swapped into the parameters,
    // the field's own captured step runs on them, and the training step replays after the swap back.
    // With `pipelined`, Trainer.train submits each step before the previous one is read (after the first);
    // `events` records when a step's batch is drawn and when a step is logged.
    const run = async (capture: boolean, fieldAfter?: number, pipelined = false, events: string[] = []) => {
      process.env.PITA_CAPTURE = capture ? '1' : '0';
      try {
        const D = 12;
        const buffer = gaussianBuffer(D, 128);
        const sample = buffer.sample.bind(buffer);
        buffer.sample = (rng, n) => {
          events.push('batch');
          return sample(rng, n);
        };
        const geometry = { dim: D, nParticles: 4, spatialDim: 3 };
        const tr = new Trainer((r) => createNetwork('egnn', { hidden: 16, layers: 2, conditionOnTemperature: false }, geometry, r), {
          seed: 5, batchSize: 128, layout: { nParticles: 4, spatialDim: 3 }, meanFree: true, rotate: true, pinSigmaMax: 0.1,
        });
        const logs: number[] = [];
        const record = (l: StepLog) => {
          events.push('log');
          logs.push(l.loss, l.lossScore, l.lossEnergyScore, l.lossEnergyMatching, l.gradNorm);
        };
        const steps = pipelined ? [fieldAfter === undefined ? 12 : fieldAfter + 1, fieldAfter === undefined ? 0 : 11 - fieldAfter] : Array.from({ length: 12 }, () => 1);
        for (const [i, n] of steps.entries()) {
          if (pipelined) await tr.train([{ buffer, beta: null }], n, record);
          else record(await tr.trainStep([{ buffer, beta: null }]));
          if ((pipelined ? i === 0 && fieldAfter !== undefined : i === fieldAfter)) {
            const field = await tr.withEma(async () => {
              const f = await tr.annealingField({ beta: null, divergence: 'exact', probes: 1 });
              try {
                return await f.evaluate(new Rng(3).normals(40 * D), 40, 0.3, (row) => new Rng(100 + row));
              } finally {
                f.dispose?.();
              }
            });
            assert.ok(field.energy.every(Number.isFinite) && field.energy.some((u) => u !== 0));
          }
        }
        const s = await tr.getState();
        tr.dispose();
        return { logs, params: Object.values(s.energy.params).flatMap((a) => [...a]), ema: Object.values(s.energy.ema.shadows).flatMap((a) => [...a]) };
      } finally {
        delete process.env.PITA_CAPTURE;
      }
    };
    const replayed = await run(true);
    const eager = await run(false);
    assert.deepEqual(replayed, eager);
    assert.deepEqual(await run(true, 5), eager);
    const events: string[] = [];
    assert.deepEqual(await run(true, 5, true, events), eager);
    // Steps whose batch was drawn before the step before them was logged: all but the first two of each
    // train call (the first, the capture, runs alone; the second has nothing in flight before it).
    let logged = 0;
    let drawn = 0;
    let overlapped = 0;
    for (const e of events) {
      if (e === 'log') logged++;
      else if (logged < drawn++) overlapped++;
    }
    assert.equal(overlapped, 9, events.join(' '));
  });

  test("Trainer.train's pipeline: an abort stops it after the step in flight; bad input after the steps before it; a step failing on the device with the next one in flight spoils the state", async () => {
    const D = 12;
    const make = (corruptAt: number, value: number) => {
      const buffer = gaussianBuffer(D, 128);
      const sample = buffer.sample.bind(buffer);
      let calls = 0;
      buffer.sample = (rng, n) => {
        const batch = sample(rng, n);
        // ± value in turn, so that centring leaves them.
        if (++calls === corruptAt) batch.x.forEach((_, i, x) => (x[i] = i % 2 === 0 ? value : -value));
        return batch;
      };
      const geometry = { dim: D, nParticles: 4, spatialDim: 3 };
      const tr = new Trainer((r) => createNetwork('egnn', { hidden: 16, layers: 2, conditionOnTemperature: false }, geometry, r), {
        seed: 5, batchSize: 128, layout: { nParticles: 4, spatialDim: 3 }, meanFree: true, rotate: true,
      });
      return { tr, sources: [{ buffer, beta: null }] };
    };
    // A non-finite batch is refused on the host before step 5 runs: steps 1–4 complete, and are logged.
    const bad = make(5, NaN);
    const logged: number[] = [];
    await assert.rejects(bad.tr.train(bad.sources, 8, (l) => logged.push(l.step)), /finite|NaN/i);
    assert.equal(bad.tr.step, 4);
    assert.deepEqual(logged, [1, 2, 3, 4]);
    await bad.tr.getState();
    bad.tr.dispose();
    // Aborted while logging step 5, with step 6 in flight: train stops after step 6, logged, and the state
    // is that of six steps one by one.
    const params = async (tr: Trainer) => Object.values((await tr.getState()).energy.params).flatMap((a) => [...a]);
    const stopped = make(0, 0);
    const abort = new AbortController();
    const steps: number[] = [];
    await stopped.tr.train(stopped.sources, 8, (l) => (steps.push(l.step), l.step === 5 && abort.abort()), abort.signal);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
    const oneByOne = make(0, 0);
    for (let i = 0; i < 6; i++) await oneByOne.tr.trainStep(oneByOne.sources);
    assert.deepEqual(await params(stopped.tr), await params(oneByOne.tr));
    // onLog throwing at step 3, with step 4 in flight: step 4 completes and counts, the state is four steps'.
    const throwing = make(0, 0);
    await assert.rejects(throwing.tr.train(throwing.sources, 8, (l) => { if (l.step === 3) throw new Error('log full'); }), /log full/);
    assert.equal(throwing.tr.step, 4);
    const four = make(0, 0);
    for (let i = 0; i < 4; i++) await four.tr.trainStep(four.sources);
    assert.deepEqual(await params(throwing.tr), await params(four.tr));
    for (const t of [stopped, oneByOne, throwing, four]) t.tr.dispose();
    // Positions of 1e18 make the losses overflow on the device at step 5, with step 6 already submitted.
    const huge = make(5, 1e18);
    await assert.rejects(huge.tr.train(huge.sources, 8), NonFiniteError);
    assert.equal(huge.tr.step, 4);
    await assert.rejects(huge.tr.getState(), /not saved after a failed step/);
    huge.tr.dispose();
  });

  test('a captured step reports its replayed kernels, and 100 replays grow no GPU memory and no tensors', async () => {
    const net = createNetwork('mlp', { hidden: 16, layers: 2, conditionOnTemperature: false }, { dim: 6, nParticles: 2, spatialDim: 3 }, new Rng(1));
    const opt = new T.Adam(net.params, { lr: 1e-3 });
    const spec: T.StepSpec = {
      inputs: [[64, 6], [64, 1], [2]],
      state: () => [...net.params.tensorsInOrder(), ...opt.stateTensors()],
      step: ([x, c, factors]) => {
        const { value, grads } = T.valueAndParamGrads(() => T.sum(T.square(net.apply(c, x, null))), net.params);
        opt.step(grads, factors);
        return [value];
      },
    };
    const rng = new Rng(2);
    const inputs = () => [Float32Array.from(rng.normals(384)), Float32Array.from(rng.normals(64)), opt.nextFactors()];
    opt.ensureMoments();
    const step = T.captureStep(spec);
    assert.equal(step.replaying, true);
    const usage = () => ({ tensors: tf.memory().numTensors, bytes: (tf.memory() as { numBytesAllocatedInGPU?: number }).numBytesAllocatedInGPU });
    let at10 = usage();
    for (let i = 1; i <= 100; i++) {
      const [loss] = await step.run(inputs());
      opt.advance(net.params.names());
      assert.ok(Number.isFinite(loss[0]));
      if (i === 10) at10 = usage();
    }
    assert.ok(step.dispatches > 20, `${step.dispatches} kernels`);
    assert.deepEqual(usage(), at10);
    // The memory plan shares buffers between tensors whose lives do not overlap (src/tensor/buffer-plan.ts).
    const { tensors, planned } = step.memory;
    // (A step this small keeps most of its tensors alive at once, so the saving is small; the DiT's is 9×.)
    assert.ok(planned > 0 && planned < tensors, `recording ${planned} B for ${tensors} B of tensors`);
    step.dispose();
  });

  test('runs called together are submitted back to back: each reads its own outputs, in call order, as run one by one', async () => {
    // w ← w + x, then Σ w²: each run's output depends on every run before it.
    const xs = Array.from({ length: 12 }, (_, i) => Float32Array.from([i + 1, -i / 2]));
    const expected: number[] = [];
    const w = [1, 2];
    for (const x of xs) {
      w[0] += x[0];
      w[1] += x[1];
      expected.push(w[0] ** 2 + w[1] ** 2);
    }
    const { step } = accumulatorStep(T.square);
    // The first call captures; the eleven after it are in flight together.
    const together = await Promise.all(xs.map((x) => step.run([x])));
    assert.deepEqual(together.map((o) => o[0][0]), expected);
    // Read buffers are reused: a second batch runs on the same ones and continues the state.
    const again = await Promise.all(xs.slice(0, 3).map((x) => step.run([x])));
    const w2 = [...w];
    assert.deepEqual(
      again.map((o) => o[0][0]),
      xs.slice(0, 3).map((x) => {
        w2[0] += x[0];
        w2[1] += x[1];
        return w2[0] ** 2 + w2[1] ** 2;
      }),
    );
    step.dispose();
    await assert.rejects(step.run([xs[0]]), /captured step: used after dispose/);
  });

  test("the annealing field's chunks, evaluated together after the parameters were replaced, capture the step again", async () => {
    const geometry = { dim: 12, nParticles: 4, spatialDim: 3 };
    const config = { hidden: 8, layers: 2, conditionOnTemperature: true };
    const [energy, score] = [createNetwork('egnn', config, geometry, new Rng(31)), createNetwork('egnn', config, geometry, new Rng(32))];
    const fieldOf = () =>
      neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule: new EdmSchedule(), beta: 1, divergence: 'exact', probes: 0, params: () => [...energy.params.tensorsInOrder(), ...score.params.tensorsInOrder()] });
    const x = new Rng(33).normals(8 * 12);
    // Three chunks at once, as the annealer requests them: the second and third queue behind the first.
    const chunks = (f: ReturnType<typeof fieldOf>) => Promise.all([0, 1, 2].map(() => f.drift(x, 8, 0.5)));
    const field = fieldOf();
    const before = await chunks(field);
    for (const name of energy.params.names()) energy.params.assign(name, T.mul(energy.params.get(name), 1.5));
    // The first chunk finds the capture stale and disposes it under the two queued behind it: all three capture again.
    const after = await chunks(field);
    const fresh = fieldOf();
    const expected = await chunks(fresh);
    for (let c = 0; c < 3; c++) {
      assert.deepEqual([...after[c].energy], [...expected[c].energy], `chunk ${c}`);
      assert.deepEqual([...after[c].gradEnergy], [...expected[c].gradEnergy], `chunk ${c}`);
      assert.notDeepEqual([...after[c].energy], [...before[c].energy], 'the replaced parameters are used');
    }
    field.dispose();
    fresh.dispose();
    energy.params.dispose();
    score.params.dispose();
  });

  test('a replay submitted in pieces (PITA_SUBMIT_EVERY) gives bit for bit what one command buffer gives', async () => {
    const queue = (tf.backend() as unknown as { queue: GPUQueue }).queue;
    const outputs = async (every: string): Promise<{ values: number[]; submits: number }> => {
      const { store, step } = accumulatorStep((w) => T.tanh(T.mul(T.square(w), T.sigmoid(w))));
      const submit = queue.submit;
      let submits = 0;
      queue.submit = (buffers: Iterable<GPUCommandBuffer>) => {
        submits++;
        submit.call(queue, buffers);
      };
      const saved = process.env.PITA_SUBMIT_EVERY;
      process.env.PITA_SUBMIT_EVERY = every;
      try {
        const values: number[] = [];
        for (let i = 0; i < 5; i++) values.push(...(await step.run([Float32Array.from([0.25, -0.5])]))[0]);
        return { values, submits };
      } finally {
        delete (queue as Partial<GPUQueue>).submit;
        if (saved === undefined) delete process.env.PITA_SUBMIT_EVERY;
        else process.env.PITA_SUBMIT_EVERY = saved;
        step.dispose();
        store.dispose();
      }
    };
    const whole = await outputs('0');
    const pieces = await outputs('1');
    assert.deepEqual(pieces.values, whole.values);
    assert.ok(pieces.submits > whole.submits + 4, `${pieces.submits} submits in pieces, ${whole.submits} whole`);
  });

  test('a profiled replay is one real step, and times each of its kernels on the GPU', async () => {
    const { step } = accumulatorStep(T.square);
    const one = () => [Float32Array.from([1, 1])];
    assert.deepEqual([...(await step.run(one()))[0]], [13]);
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const profile = await step.profile(one());
    if (!device.features.has('timestamp-query')) {
      assert.equal(profile, null);
    } else {
      assert.ok(profile !== null);
      assert.deepEqual([...profile.outputs[0]], [25]);
      assert.equal(profile.kernels.reduce((n, k) => n + k.count, 0), step.dispatches);
      assert.ok(profile.kernels.every((k) => k.kernel !== 'unnamed' && k.ms >= 0), JSON.stringify(profile.kernels));
      assert.ok(profile.totalMs > 0 && profile.totalMs < 1e4, `${profile.totalMs} ms`);
      // The state advanced once, as with run().
      assert.deepEqual([...(await step.run(one()))[0]], [41]);
    }
    step.dispose();
  });

  test('a replay after the state tensors were replaced throws StaleCaptureError; replaced state sharing storage is refused', async () => {
    const { store, step } = accumulatorStep((w) => w);
    assert.deepEqual([...(await step.run([Float32Array.from([1, 1])]))[0]], [5]);
    assert.deepEqual([...(await step.run([Float32Array.from([1, 1])]))[0]], [7]);
    assert.deepEqual([...(await store.read('w'))], [3, 4]);
    store.set('w', Float64Array.from([0, 0]));
    await assert.rejects(step.run([Float32Array.from([1, 1])]), T.StaleCaptureError);
    step.dispose();
    // State that shares storage with other state (an Identity copy; concat of one tensor is one) and is replaced is refused.
    const alias = T.concat([store.get('w')], 0);
    const shared = T.captureStep({
      inputs: [[2]],
      state: () => [store.get('w'), alias],
      step: ([x]) => {
        store.assign('w', T.add(store.get('w'), x));
        return [T.sum(alias)];
      },
    });
    await assert.rejects(shared.run([Float32Array.from([1, 1])]), /state tensors 0 and 1 share their storage/);
    // A failed capture is never replayed half-made: every later run throws the same error.
    await assert.rejects(shared.run([Float32Array.from([1, 1])]), /state tensors 0 and 1 share their storage/);
    shared.dispose();
    T.dispose([alias]);
  });

  test('a WebGPU call the device refuses is an error: inside a captured step its run throws GpuError, elsewhere the next read does', async () => {
    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    // An invalid call (WebGPU does not throw; it reports, and work that needed it does nothing).
    const refuse = () => device.createBuffer({ size: 4, usage: 0 });
    const isRefusal = (e: Error) => e instanceof T.GpuError && /Buffer usages must not be 0/.test(e.message);
    const step = T.captureStep({
      inputs: [[2]],
      state: () => [],
      step: ([x]) => {
        refuse();
        return [T.mul(x, 2)];
      },
    });
    await assert.rejects(step.run([Float32Array.from([1, 2])]), isRefusal);
    await assert.rejects(step.run([Float32Array.from([1, 2])]), isRefusal);
    step.dispose();
    const t = T.fromF64(Float64Array.from([1, 2, 3]), [3]);
    refuse();
    await device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(T.read(t), isRefusal);
    clearGpuFailure();
    assert.deepEqual([...(await T.read(t))], [1, 2, 3]);
    T.dispose([t]);
  });
});
