/**
 * The numbers the WebGPU parity test compares across devices. Run as a
 * script (`node --import tsx parity-fixture.ts cpu|webgpu`) it starts that
 * device and prints them as JSON; the test runs it for the CPU reference and
 * calls `parityValues` in its own WebGPU process (one backend per process).
 *
 * - every op of the ops layer, to second order (the backend test's recipe);
 * - the paper's three networks (small sizes): the energy-model loss and all
 *   its parameter gradients (second order through ∇ₓU);
 * - four trainer steps of each network (all four losses, clipping, Adam,
 *   EMA; on WebGPU step 1 runs through tfjs and steps 2–4 are replayed);
 * - U, ∇ₓU and ∂U/∂t of the energy model at annealing times;
 * - PITA's annealing field (src/pita/neural-field.ts) with both divergences,
 *   its drift and energy parts; on WebGPU each is a captured step, replayed
 *   at a second time and captured again after the parameters were replaced;
 * - a short annealing run on that field (discrete weights, ESS resampling,
 *   two chunks per evaluation): the particles, log-weights and ESS per step.
 */
import { pathToFileURL } from 'node:url';
import { Rng } from '../../src/core/rng.js';
import { EdmSchedule } from '../../src/diffusion/schedule.js';
import { energyTimeGradients } from '../../src/diffusion/models.js';
import { type NetworkGeometry, createNetwork } from '../../src/nets/index.js';
import { anneal } from '../../src/pita/anneal.js';
import { ReplayBuffer } from '../../src/pita/buffer.js';
import { neuralField } from '../../src/pita/neural-field.js';
import { Trainer } from '../../src/pita/trainer.js';
import * as T from '../../src/tensor/index.js';

export type ParityValues = Record<string, number[]>;

/**
 * `paramScale`: the energy-loss gradients are taken at parameters drawn N(0, paramScale²) (0.3 unless
 * given). The DiT's at 0.3 move by 6e-5–8e-5 (relative, on the CPU) when its inputs move by one float32
 * ulp, so any change of summation order moves them by as much and a 1e-4 tolerance would test that
 * point's conditioning rather than the kernels; at 0.2 one ulp moves them by 4e-8.
 */
const NETS: { kind: 'mlp' | 'egnn' | 'dit'; label?: string; config: Record<string, unknown>; geometry: NetworkGeometry; paramScale?: number }[] = [
  { kind: 'mlp', config: { hidden: 16, layers: 2, conditionOnTemperature: true }, geometry: { dim: 12, nParticles: 4, spatialDim: 3 } },
  { kind: 'egnn', config: { hidden: 8, layers: 2, conditionOnTemperature: true }, geometry: { dim: 12, nParticles: 4, spatialDim: 3 } },
  // The radial basis and the coordinate weight without tanh (other fused expressions, ops.ts `fused`).
  { kind: 'egnn', label: 'egnn-rbf', config: { hidden: 8, layers: 2, conditionOnTemperature: true, radialBasis: 4, tanh: false }, geometry: { dim: 12, nParticles: 4, spatialDim: 3 } },
  { kind: 'dit', config: { preset: 'small', hidden: 16, blocks: 1, heads: 2, conditionOnTemperature: true }, geometry: { dim: 12, nParticles: 4, spatialDim: 3 }, paramScale: 0.2 },
];

async function everyOp(): Promise<number[]> {
  const g = T.scope(() => {
    const x = T.fromF32([0.1, -0.4, 0.9, 1.3, -2, 0.5], [2, 3]);
    const w = T.fromF32([0.3, -0.2, 0.5, 0.7, 0.1, -0.6], [3, 2]);
    const mask = T.fromF32([1, 0, 1, 0, 1, 1], [2, 3]);
    const f = (a: T.Tensor): T.Tensor => {
      const h = T.matmul(a, w);
      const parts = [
        T.matmul(h, w, false, true), T.matmul(h, a, true, false), T.matmul(w, a, true, true),
        T.silu(a), T.sigmoid(a), T.tanh(a), T.geluTanh(a), T.softplus(a), T.sin(a), T.cos(a), T.exp(a),
        T.softmax(a, 0), T.softmax(a, 1), T.broadcastTo(T.logSumExp(a, -1, true), [2, 3]),
        T.sqrt(T.add(T.square(a), 1)), T.log(T.add(T.square(a), 1)), T.div(a, T.add(T.square(a), 1)),
        T.powInt(a, -2), T.neg(a), T.sub(a, T.mean(a, 0)), T.where(mask, a, T.stopGradient(a)),
        T.slice(T.concat([a, a], 1), [0, 1], [2, 3]), T.reshape(T.transpose(a), [2, 3]),
        T.tile(T.slice(a, [0, 0], [1, 3]), [2, 1]), T.squeeze(T.expandDims(a, 0)),
      ];
      return parts.reduce((s, p) => T.add(s, T.sum(p)), T.scalar(0));
    };
    const first = (a: T.Tensor): T.Tensor => T.grad(f, a);
    return T.concat([T.reshape(f(x), [1]), T.reshape(first(x), [6]), T.reshape(T.grad((a) => T.sum(T.mul(first(a), first(a))), x), [6])], 0);
  });
  const v = await T.read(g);
  T.dispose(g);
  return [...v];
}

async function energyLossGrads(k: number): Promise<number[]> {
  const spec = NETS[k];
  const rng = new Rng(11 + k);
  const net = createNetwork(spec.kind, spec.config, spec.geometry, rng);
  for (const name of net.params.names()) {
    const n = net.params.shape(name).reduce((a, b) => a * b, 1);
    net.params.set(name, rng.normals(n).map((v) => (spec.paramScale ?? 0.3) * v));
  }
  const B = 3;
  const out = T.scope(() => {
    const x = T.fromF64(rng.normals(B * net.dim), [B, net.dim]);
    const c = T.fromF64(rng.normals(B), [B, 1]);
    const beta = T.fromF64(rng.uniforms(B, 0.5, 1), [B, 1]);
    const { value, grads } = T.valueAndParamGrads(() => {
      const { value: F, grad: jtx } = T.valueAndGrad((xv) => net.apply(c, xv, beta), x, x);
      return T.add(T.sum(T.square(T.add(jtx, F))), T.sum(T.square(F)));
    }, net.params);
    return T.concat([T.reshape(value, [1]), ...[...grads.values()].map((g) => T.reshape(g as T.Tensor, [-1]))], 0);
  });
  const v = await T.read(out);
  T.dispose(out);
  net.params.dispose();
  return [...v];
}

/** n draws of a standard Gaussian "target" in D dimensions (ℓ = −‖x‖²/2, f = −x) as a replay buffer (seed 3). */
export function gaussianBuffer(D: number, n: number): ReplayBuffer {
  const rng = new Rng(3);
  const x = rng.normals(n * D);
  const logp = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let d = 0; d < D; d++) logp[i] -= 0.5 * x[i * D + d] ** 2;
  const buffer = new ReplayBuffer(D, 2 * n);
  buffer.add(x, logp, x.map((v) => -v));
  return buffer;
}

async function trainerSteps(k: number): Promise<{ losses: number[]; params: number[] }> {
  const spec = NETS[k];
  const buffer = gaussianBuffer(spec.geometry.dim, 64);
  const tr = new Trainer((r) => createNetwork(spec.kind, spec.config, spec.geometry, r), {
    seed: 5, batchSize: 8, layout: { nParticles: 4, spatialDim: 3 }, meanFree: true, rotate: true,
  });
  const losses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const l = await tr.trainStep([{ buffer, beta: 0.8 }]);
    losses.push(l.loss, l.lossScore, l.lossEnergyScore, l.lossEnergyMatching, l.gradNorm);
  }
  const s = await tr.getState();
  tr.dispose();
  return { losses, params: Object.values(s.energy.params).flatMap((a) => [...a]) };
}

async function annealField(): Promise<number[]> {
  const spec = NETS[1];
  const net = createNetwork(spec.kind, spec.config, spec.geometry, new Rng(21));
  const rng = new Rng(22);
  const m = 5;
  const r = await energyTimeGradients(net.apply, new EdmSchedule(), rng.normals(m * net.dim), m, 0.4, 0.9);
  net.params.dispose();
  return [...r.energy, ...r.gradX, ...r.dEnergyDt];
}

async function neuralFieldValues(): Promise<number[]> {
  const spec = NETS[1];
  const score = createNetwork(spec.kind, spec.config, spec.geometry, new Rng(31));
  const energy = createNetwork(spec.kind, spec.config, spec.geometry, new Rng(32));
  const params = () => [...score.params.tensorsInOrder(), ...energy.params.tensorsInOrder()];
  const rng = new Rng(33);
  const m = 6;
  const x = [rng.normals(m * score.dim), rng.normals(m * score.dim)];
  const rows = (i: number) => new Rng(40 + i);
  const out: number[] = [];
  const flat = (r: object) => out.push(...Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).flatMap(([, v]) => [...(v as Float64Array)]));
  for (const divergence of ['hutchinson', 'exact'] as const) {
    const f = neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule: new EdmSchedule(), beta: 0.9, divergence, probes: 2, params });
    flat(await f.evaluate(x[0], m, 0.4, rows));
    flat(await f.evaluate(x[1], m, 0.7, rows));
    flat(await f.drift(x[0], m, 0.3));
    flat(await f.energy(x[1], m, 0.2));
    if (divergence === 'exact') {
      // New parameter tensors (as after more training): the captured evaluation is recorded again.
      energy.params.set(energy.params.names()[0], Float64Array.from(await energy.params.read(energy.params.names()[0]), (v) => 0.5 * v));
      flat(await f.evaluate(x[0], m, 0.4, rows));
    }
    f.dispose();
  }
  score.params.dispose();
  energy.params.dispose();
  return out;
}

/**
 * Twelve annealing steps of 48 particles on two small EGNNs, as `pita run` anneals (discrete weights,
 * ESS resampling, the centroid projection), in chunks of 32: the final particles, their log-weights
 * and the ESS of every step. The resampling decisions depend on the weights, so a GPU whose field
 * differed by more than float32 noise would resample other particles and differ by O(1).
 */
async function annealRun(): Promise<number[]> {
  const spec = NETS[1];
  const score = createNetwork(spec.kind, spec.config, spec.geometry, new Rng(51));
  const energy = createNetwork(spec.kind, spec.config, spec.geometry, new Rng(52));
  const params = () => [...score.params.tensorsInOrder(), ...energy.params.tensorsInOrder()];
  const schedule = new EdmSchedule();
  const field = neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule, beta: 0.9, divergence: 'exact', probes: 1, params });
  const steps = 12;
  const res = await anneal(
    field,
    schedule,
    {
      gamma: 1.5,
      weighting: 'discrete',
      steps,
      particles: 48,
      dim: score.dim,
      meanFree: { nParticles: 4, spatialDim: 3 },
      resampling: { mode: 'ess', essThreshold: 0.5, start: 0, end: steps, floor: 0 },
      clampQuantile: null,
      chunkSize: 32,
    },
    new Rng(53),
  );
  field.dispose();
  score.params.dispose();
  energy.params.dispose();
  return [...res.x, ...res.logWeights, ...res.log.map((s) => s.ess), res.resamplings];
}

/** Every compared quantity, by name, on the started backend. */
export async function parityValues(): Promise<ParityValues> {
  const v: ParityValues = { ops: await everyOp(), anneal: await annealField(), 'neural-field': await neuralFieldValues(), 'anneal-run': await annealRun() };
  for (let k = 0; k < NETS.length; k++) {
    const name = NETS[k].label ?? NETS[k].kind;
    v[`${name}/energy-loss-grads`] = await energyLossGrads(k);
    const t = await trainerSteps(k);
    v[`${name}/trainer-losses`] = t.losses;
    v[`${name}/trainer-params`] = t.params;
  }
  return v;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  await T.initTensorBackend(process.argv[2] as T.DeviceChoice);
  process.stdout.write(JSON.stringify(await parityValues()) + '\n');
}
