/**
 * Step benchmarks of the paper's networks on the active tensor device (what
 * `pita bench` and `npm run bench -- gpu` time). Both kinds of step run as
 * captured steps (src/tensor/replay.ts): recorded once and replayed on
 * WebGPU, run through tfjs on the CPU.
 *
 * - train: the energy-model train step of bench/pytorch/nets_bench.py:
 *   F = net(c, x, β); g = ∇ₓ Σ_b⟨F_b, x_b⟩ = Jᵀx + F; loss = mean_b(‖g_b‖² + ‖F_b‖²);
 *   ∂loss/∂θ (second order); one Adam step (lr 1e-3). The inputs (x, c, β)
 *   are uploaded and the loss is read back every step, as in training.
 * - anneal: U_θ, ∇ₓU_θ and ∂U_θ/∂σ of the energy model (src/diffusion/models.ts)
 *   for a batch of particles, the per-step evaluation of FK-SMC annealing;
 *   particles, σ and β are uploaded and all three results read back.
 *
 * Times are per step, wall clock, from the host's point of view (upload,
 * GPU work, read back), after `warmup` steps that include the capture.
 */
import { Rng } from '../core/rng.js';
import { energyGradients } from '../diffusion/models.js';
import { type NetworkGeometry, createNetwork } from '../nets/index.js';
import * as T from '../tensor/index.js';

export interface StepBench {
  /** Name shared with bench/pytorch/nets_bench.py. */
  name: string;
  label: string;
  kind: 'mlp' | 'egnn' | 'dit';
  config: Record<string, unknown>;
  geometry: NetworkGeometry;
  batch: number;
  mode: 'train' | 'anneal';
}

export const LJ13: NetworkGeometry = { dim: 39, nParticles: 13, spatialDim: 3 };
export const ALDP: NetworkGeometry = { dim: 66, nParticles: 22, spatialDim: 3 };

/** The four GPU rows of issue 16 (names match bench/pytorch/nets_bench.py). */
export const STEP_BENCHES: readonly StepBench[] = [
  { name: 'egnn512', label: 'EGNN LJ-13 H=32 L=3, β-cond., train step (B=512)', kind: 'egnn', config: { conditionOnTemperature: true }, geometry: LJ13, batch: 512, mode: 'train' },
  { name: 'anneal5000', label: 'EGNN LJ-13 annealing evaluation U, ∇ₓU, ∂U/∂σ (5000 particles)', kind: 'egnn', config: { conditionOnTemperature: true }, geometry: LJ13, batch: 5000, mode: 'anneal' },
  { name: 'ditfull2048', label: "the paper's DiT for ALDP (hidden 192, 6 blocks, 6 heads), β-cond., train step (B=2048)", kind: 'dit', config: { preset: 'full', conditionOnTemperature: true }, geometry: ALDP, batch: 2048, mode: 'train' },
  { name: 'mlp512', label: 'MLP D=39 H=128 2 layers, β-cond., train step (B=512)', kind: 'mlp', config: { hidden: 128, layers: 2, conditionOnTemperature: true }, geometry: LJ13, batch: 512, mode: 'train' },
];

export interface StepBenchResult {
  name: string;
  label: string;
  device: string;
  /** Median and fastest step, milliseconds. */
  medianMs: number;
  minMs: number;
  steps: number;
  /** Kernels replayed per step (0 on the CPU, where steps run through tfjs). */
  dispatches: number;
  /** GPU bytes of the recording: its buffers after the memory plan, and its tensors counted whole (0 on the CPU). */
  recordingBytes: { tensors: number; planned: number };
  /** First step (includes pipeline compilation and the capture), milliseconds. */
  firstMs: number;
  /** Last step's loss (train) or Σ_b U_b (anneal): the same inputs give the same number on every device, to float32 noise. */
  check: number;
  /**
   * With `profile`: one more step with every kernel timed on the GPU (null where it cannot be: the CPU, no
   * timestamp queries); without its outputs, which `check` already sums.
   */
  profile?: Omit<T.StepProfile, 'outputs'> | null;
}

/** The median of `v` (the upper one of an even count). */
export const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

/** Parameters that are all zero get N(0, 0.02²) values from `rng`, in name order. */
async function fillZeros(params: T.ParamStore, rng: Rng): Promise<void> {
  const values = await params.readAll();
  for (const name of params.names()) {
    if (values[name].some((v) => v !== 0)) continue;
    params.assign(name, T.fromF64(rng.normals(values[name].length).map((v) => 0.02 * v), params.shape(name)));
  }
}

/** Times `spec` on the started tensor backend. */
export async function benchStep(
  spec: StepBench,
  opts: { steps: number; warmup: number; profile?: boolean; onStep?: (i: number, ms: number) => void },
): Promise<StepBenchResult> {
  const rng = new Rng(0);
  const net = createNetwork(spec.kind, spec.config, spec.geometry, rng);
  // The DiT starts with F ≡ 0 (adaLN-zero and a zero output layer): its loss and every gradient would be 0
  // and stay 0, and `check` would compare 0 with 0. Its zero-initialised parameters get small values here
  // (the step's cost does not depend on them).
  if (spec.kind === 'dit') await fillZeros(net.params, rng);
  const B = spec.batch;
  const D = net.dim;
  const host = {
    x: Float32Array.from(rng.normals(B * D)),
    c: Float32Array.from(rng.normals(B)),
    beta: Float32Array.from(rng.uniforms(B, 0.5, 1)),
    sigma: Float32Array.from({ length: B }, () => Math.exp(-3 + 3 * rng.uniform())),
  };
  const opt = new T.Adam(net.params, { lr: 1e-3 });
  const train: T.StepSpec = {
    inputs: [[B, D], [B, 1], [B, 1], [2]],
    state: () => [...net.params.tensorsInOrder(), ...opt.stateTensors()],
    step: ([x, c, beta, factors]) => {
      const { value, grads } = T.valueAndParamGrads(() => {
        const { value: F, grad: jtx } = T.valueAndGrad((xv) => net.apply(c, xv, beta), x, x);
        const g = T.add(jtx, F);
        return T.mul(T.add(T.sum(T.square(g)), T.sum(T.square(F))), 1 / B);
      }, net.params);
      opt.step(grads, factors);
      return [value];
    },
  };
  const anneal: T.StepSpec = {
    inputs: [[B, D], [B, 1], [B, 1]],
    state: () => [],
    step: ([x, sigma, beta]) => {
      const g = energyGradients(net.apply, x, sigma, beta);
      return [g.energy, g.gradX, g.gradSigma];
    },
  };
  const inputs = (): Float32Array[] =>
    spec.mode === 'train' ? [host.x, host.c, host.beta, opt.nextFactors()] : [host.x, host.sigma, host.beta];
  let step: T.CapturedStep;
  if (spec.mode === 'train') {
    // Adam's moments are state of the step from the first update on.
    opt.ensureMoments();
    step = T.captureStep(train);
  } else {
    step = T.captureStep(anneal);
  }
  const times: number[] = [];
  let firstMs = 0;
  let check = NaN;
  for (let i = 0; i < opts.warmup + opts.steps; i++) {
    const t0 = performance.now();
    const out = await step.run(inputs());
    if (spec.mode === 'train') {
      opt.advance(net.params.names());
      if (!Number.isFinite(out[0][0])) throw new Error(`bench ${spec.name}: non-finite loss at step ${i + 1}`);
    }
    const ms = performance.now() - t0;
    check = out[0].reduce((a, b) => a + b, 0);
    if (i === 0) firstMs = ms;
    if (i >= opts.warmup) times.push(ms);
    opts.onStep?.(i, ms);
  }
  const profiled = opts.profile ? await step.profile(inputs()) : undefined;
  const profile = profiled === undefined ? {} : { profile: profiled && { kernels: profiled.kernels, totalMs: profiled.totalMs, dispatches: profiled.dispatches } };
  const result: StepBenchResult = {
    name: spec.name,
    label: spec.label,
    device: T.backendInfo().device,
    medianMs: median(times),
    minMs: Math.min(...times),
    steps: times.length,
    dispatches: step.dispatches,
    recordingBytes: step.memory,
    firstMs,
    check,
    ...profile,
  };
  step.dispose();
  opt.dispose();
  net.params.dispose();
  return result;
}
