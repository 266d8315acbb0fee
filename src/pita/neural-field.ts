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
 * - 'hutchinson': (1/k)Σ_p zₚᵀ(Jᵀzₚ) with Rademacher probes z (host RNG),
 *   unbiased; k = `probes`.
 */
import type { Rng } from '../core/rng.js';
import { betaColumn, energyTimeGradients, scoreModelScore } from '../diffusion/models.js';
import type { EdmSchedule } from '../diffusion/schedule.js';
import type { VectorField } from '../nets/types.js';
import * as T from '../tensor/index.js';
import type { AnnealField, FieldValues } from './anneal.js';

export interface NeuralFieldOptions {
  scoreNet: VectorField;
  energyNet: VectorField;
  schedule: EdmSchedule;
  /** Conditioning β of the current rung (null: unconditioned networks). */
  beta: number | null;
  divergence: 'exact' | 'hutchinson';
  probes: number;
}

export function neuralField(opts: NeuralFieldOptions): AnnealField {
  const { scoreNet, energyNet, schedule, beta, divergence, probes } = opts;
  return {
    evaluate(x: Float64Array, m: number, t: number, rng: Rng): FieldValues {
      const D = x.length / m;
      const e = energyTimeGradients(energyNet, schedule, x, m, t, beta);
      const sigma = schedule.sigma(t);
      // Rademacher probes are drawn on the host before entering the tensor scope.
      const z = divergence === 'hutchinson' ? Array.from({ length: probes }, () => Float64Array.from({ length: m * D }, () => (rng.uniform() < 0.5 ? -1 : 1))) : [];
      const { score, divScore } = T.scope(() => {
        const xt = T.fromF64(x, [m, D]);
        const s = T.fromF64(new Float64Array(m).fill(sigma), [m, 1]);
        const b = betaColumn(beta, m);
        const f = (xi: T.Tensor) => scoreModelScore(scoreNet, xi, s, b);
        const div = new Float64Array(m);
        let value: Float64Array | null = null;
        if (divergence === 'exact') {
          for (let d = 0; d < D; d++) {
            const onehot = new Float64Array(m * D);
            for (let i = 0; i < m; i++) onehot[i * D + d] = 1;
            const r = T.valueAndGrad(f, xt, T.fromF64(onehot, [m, D]));
            if (value === null) value = T.readF64Sync(r.value);
            const jt = T.readF64Sync(r.grad);
            for (let i = 0; i < m; i++) div[i] += jt[i * D + d];
            T.dispose([r.value, r.grad]);
          }
        } else {
          for (const zp of z) {
            const r = T.valueAndGrad(f, xt, T.fromF64(zp, [m, D]));
            if (value === null) value = T.readF64Sync(r.value);
            const jt = T.readF64Sync(r.grad);
            for (let i = 0; i < m; i++) {
              let acc = 0;
              for (let k = 0; k < D; k++) acc += zp[i * D + k] * jt[i * D + k];
              div[i] += acc / probes;
            }
            T.dispose([r.value, r.grad]);
          }
        }
        return { score: value!, divScore: div };
      });
      return { energy: e.energy, gradEnergy: e.gradX, dEnergyDt: e.dEnergyDt, score, divScore };
    },
    drift(x: Float64Array, m: number, t: number) {
      const e = energyTimeGradients(energyNet, schedule, x, m, t, beta);
      const sigma = schedule.sigma(t);
      const score = T.scope(() => {
        const D = x.length / m;
        const s = scoreModelScore(scoreNet, T.fromF64(x, [m, D]), T.fromF64(new Float64Array(m).fill(sigma), [m, 1]), betaColumn(beta, m));
        return T.readF64Sync(s);
      });
      return { energy: e.energy, gradEnergy: e.gradX, score };
    },
    energy(x: Float64Array, m: number, t: number) {
      const e = energyTimeGradients(energyNet, schedule, x, m, t, beta);
      return { energy: e.energy, gradEnergy: e.gradX };
    },
  };
}
