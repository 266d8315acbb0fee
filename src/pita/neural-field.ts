/**
 * The annealing field of PITA's trained models: U, ∇ₓU and ∂U/∂t from the
 * energy model (one forward and one reverse pass; ∂U/∂t = ∂U/∂σ·dσ/dt), and
 * the score s with its divergence from the score model (`drift`: without the
 * divergence, for discrete weighting), for particles in
 * model coordinates at EDM time t and the current rung's β.
 *
 * div s = tr(∂s/∂x):
 * - 'exact': D vector–Jacobian products with one-hot cotangents e_d (rows
 *   are independent, so one product serves the whole chunk): Σ_d (Jᵀe_d)_d.
 * - 'hutchinson': (1/k)Σ_p zₚᵀ(Jᵀzₚ) with Rademacher probes z (host RNG,
 *   each row's from its own stream), unbiased; k = `probes`.
 *
 * The probes are drawn on the host (`rademacherProbes`) and passed in
 * (`evaluateWithProbes`), so that the same field can run in a worker thread
 * on probes drawn by the main thread (src/pita/data-parallel.ts): the
 * random numbers never depend on where the networks run.
 */
import { betaColumn, energyGradients, rowTimes, scoreModelScore, timeDerivative } from '../diffusion/models.js';
import { readAndDispose } from '../diffusion/readback.js';
import type { EdmSchedule } from '../diffusion/schedule.js';
import type { VectorField } from '../nets/types.js';
import * as T from '../tensor/index.js';
import type { AnnealField, FieldValues, RowStreams } from './anneal.js';

export interface NeuralFieldOptions {
  scoreNet: VectorField;
  energyNet: VectorField;
  schedule: EdmSchedule;
  /** Conditioning β of the current rung (null: unconditioned networks). */
  beta: number | null;
  divergence: 'exact' | 'hutchinson';
  probes: number;
  /**
   * The networks' parameter tensors now. With it, on WebGPU each kind of evaluation and chunk size runs
   * as a captured step that binds them, captured again when they are replaced (training went on);
   * without it every evaluation runs through tfjs.
   */
  params?: () => T.Tensor[];
}

/** The neural field; `evaluate` draws the Hutchinson probes from the row streams, `evaluateWithProbes` takes them drawn. */
export interface NeuralField extends Required<Omit<AnnealField, 'dispose'>> {
  /** Frees the captured evaluations (WebGPU); the field still works afterwards, capturing again. */
  dispose(): void;
  /** `evaluate` with the probes given (`rademacherProbes` of the same rows; none for the exact divergence). */
  evaluateWithProbes(x: Float64Array, m: number, t: number, probes: readonly Float64Array[]): Promise<FieldValues>;
}

/**
 * k Rademacher probes [m, D] (±1), row i's k·D values drawn from `rows(i)`
 * (probe by probe, coordinate by coordinate), so that a row's probes do not
 * depend on which rows share its evaluation.
 */
export function rademacherProbes(rows: RowStreams, m: number, D: number, k: number): Float64Array[] {
  const z = Array.from({ length: k }, () => new Float64Array(m * D));
  for (let i = 0; i < m && k > 0; i++) {
    const r = rows(i);
    for (const zp of z) for (let j = i * D; j < (i + 1) * D; j++) zp[j] = r.uniform() < 0.5 ? -1 : 1;
  }
  return z;
}

export function neuralField(opts: NeuralFieldOptions): NeuralField {
  const { scoreNet, energyNet, schedule, beta, divergence, probes } = opts;
  const steps = new FieldSteps(opts.params);
  /**
   * One evaluation: U, ∇ₓU, ∂U/∂σ and, with `score`, s plus what `score` adds (the Jacobian products of
   * the divergence, against the cotangents `cot`, host rows [m, D] each), read back together. `kind`
   * names the evaluation for its captured step (WebGPU).
   */
  const evaluation = async <K extends string>(
    kind: string,
    x: Float64Array,
    m: number,
    t: number,
    cot: readonly Float64Array[],
    score: ((s: (xi: T.Tensor) => T.Tensor, xt: T.Tensor, cot: T.Tensor[]) => Record<K, T.Tensor>) | null,
  ) => {
    const { times, sigmas } = rowTimes('neuralField', schedule, x, m, t);
    const D = x.length / m;
    const body = ([xt, sigma, ...c]: T.Tensor[]) => {
      const b = betaColumn(beta, m);
      const e = energyGradients(energyNet, xt, sigma, b);
      const extra = score ? score((xi) => scoreModelScore(scoreNet, xi, sigma, b), xt, c) : ({} as Record<K, T.Tensor>);
      return { energy: e.energy, gradX: e.gradX, gradSigma: e.gradSigma, ...extra } as Record<'energy' | 'gradX' | 'gradSigma' | K, T.Tensor>;
    };
    const r = await steps.run(`${kind}:${m}`, [x, sigmas, ...cot], [[m, D], [m, 1], ...cot.map(() => [m, D])], body);
    return { ...r, dEnergyDt: timeDerivative(r.gradSigma, times, schedule) };
  };
  const evaluateWithProbes = async (x: Float64Array, m: number, t: number, z: readonly Float64Array[]): Promise<FieldValues> => {
    const D = x.length / m;
    if (z.length !== (divergence === 'hutchinson' ? probes : 0) || z.some((zp) => zp.length !== m * D)) {
      throw new RangeError(`neuralField: ${z.length} probes of ${z[0]?.length ?? 0} values given, expected ${divergence === 'hutchinson' ? probes : 0} of ${m * D}`);
    }
    // Exact: one-hot cotangents e_d (constants of the evaluation); Hutchinson: the probes (inputs).
    const oneHot = (d: number) => Float64Array.from({ length: m * D }, (_, k) => (k % D === d ? 1 : 0));
    const r = await evaluation(divergence, x, m, t, z, (f, xt, zt) => {
      // One vector–Jacobian product per cotangent; the score is the value of the first.
      const cotangents = divergence === 'exact' ? Array.from({ length: D }, (_, d) => T.fromF64(oneHot(d), [m, D])) : zt;
      const products = cotangents.map((c) => T.valueAndGrad(f, xt, c));
      // Exact: only column d of Jᵀe_d enters the trace, and slicing it is exact, so D columns [m, D] come back.
      const jt = divergence === 'exact' ? products.map((p, d) => T.slice(p.grad, [0, d], [m, 1])) : products.map((p) => p.grad);
      return { score: products[0].value, jacobian: T.concat(jt, divergence === 'exact' ? 1 : 0) };
    });
    const div = new Float64Array(m);
    if (divergence === 'exact') {
      for (let i = 0; i < m; i++) for (let d = 0; d < D; d++) div[i] += r.jacobian[i * D + d];
    } else {
      // Probe p's product zₚᵀ(Jᵀzₚ) per row, averaged over the probes (rows p·m … p·m + m − 1 of the read).
      for (let p = 0; p < z.length; p++) {
        for (let i = 0; i < m; i++) {
          let acc = 0;
          for (let k = 0; k < D; k++) acc += z[p][i * D + k] * r.jacobian[(p * m + i) * D + k];
          div[i] += acc / probes;
        }
      }
    }
    return { energy: r.energy, gradEnergy: r.gradX, dEnergyDt: r.dEnergyDt, score: r.score, divScore: div };
  };
  return {
    evaluateWithProbes,
    dispose: () => steps.dispose(),
    evaluate(x: Float64Array, m: number, t: number, rows: RowStreams): Promise<FieldValues> {
      // Rademacher probes are drawn on the host before entering the tensor scope, row i's from its own stream.
      return evaluateWithProbes(x, m, t, rademacherProbes(rows, m, x.length / m, divergence === 'hutchinson' ? probes : 0));
    },
    async drift(x: Float64Array, m: number, t: number) {
      const r = await evaluation('drift', x, m, t, [], (f, xt) => ({ score: f(xt) }));
      return { energy: r.energy, gradEnergy: r.gradX, score: r.score };
    },
    async energy(x: Float64Array, m: number, t: number) {
      const r = await evaluation('energy', x, m, t, [], null);
      return { energy: r.energy, gradEnergy: r.gradX };
    },
  };
}

/**
 * The evaluations of a field, each a captured step on WebGPU (src/tensor/replay.ts: recorded once per
 * kind and chunk size, then replayed with the particles, σ and probes as inputs, one read per
 * evaluation), and run through the ops on the CPU as before.
 */
class FieldSteps {
  private readonly steps = new Map<string, { step: T.CapturedStep; keys: string[] }>();
  /** Steps disposed because the parameters were replaced: runs queued on them are run again. */
  private readonly stale = new WeakSet<T.CapturedStep>();

  constructor(private readonly params: (() => T.Tensor[]) | undefined) {}

  async run<K extends string>(key: string, inputs: readonly Float64Array[], shapes: number[][], body: (ts: T.Tensor[]) => Record<K, T.Tensor>): Promise<Record<K, Float64Array>> {
    // Without `params` a capture could not tell that the parameters changed, so the field runs eagerly.
    if (T.backendInfo().name !== 'webgpu' || this.params === undefined) {
      const out = T.scope(() => body(inputs.map((v, i) => T.fromF64(v, shapes[i]))));
      return readAndDispose(out);
    }
    const params = this.params;
    const values = inputs.map((v) => Float32Array.from(v));
    let s = this.steps.get(key);
    if (s === undefined) {
      const keys: string[] = [];
      const step = T.captureStep({
        inputs: shapes,
        state: params,
        step: (ts) => {
          const out = body(ts);
          keys.push(...Object.keys(out));
          return keys.map((k) => out[k as K]);
        },
      });
      s = { step, keys };
      this.steps.set(key, s);
    }
    let out: Float32Array[];
    try {
      out = await s.step.run(values);
    } catch (e) {
      // Chunks of one annealing step run concurrently: another may have found the step stale already.
      if (this.steps.get(key) === s) {
        s.step.dispose();
        this.steps.delete(key);
        if (e instanceof T.StaleCaptureError) this.stale.add(s.step);
      }
      // The parameters were replaced since the capture (this run found out, or one before it that
      // disposed the step under the runs queued behind it): record the evaluation again.
      if (!(e instanceof T.StaleCaptureError) && !this.stale.has(s.step)) throw e;
      return this.run(key, inputs, shapes, body);
    }
    return Object.fromEntries(s.keys.map((k, i) => [k, Float64Array.from(out[i])])) as Record<K, Float64Array>;
  }

  dispose(): void {
    for (const { step } of this.steps.values()) step.dispose();
    this.steps.clear();
  }
}
