import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/rng.js';
import { energyTimeGradients } from '../../src/diffusion/models.js';
import { EdmSchedule } from '../../src/diffusion/schedule.js';
import { createMlp } from '../../src/nets/mlp.js';
import { neuralField } from '../../src/pita/neural-field.js';
import { initTensorBackend } from '../../src/tensor/index.js';

before(async () => {
  await initTensorBackend();
});

const D = 4;
const m = 6;
const schedule = new EdmSchedule();

function nets() {
  const rng = new Rng(21);
  const score = createMlp({ dim: D, hidden: 16, layers: 2, conditionOnTemperature: true }, rng);
  const energy = createMlp({ dim: D, hidden: 16, layers: 2, conditionOnTemperature: true }, rng);
  return { score, energy };
}

/** Row i's stream: a stream derived from (seed, i), as the annealer supplies. */
const rowsOf = (seed: number) => (i: number) => new Rng(seed).derive(i);

function points(): Float64Array {
  const rng = new Rng(4);
  return Float64Array.from({ length: m * D }, () => rng.normal());
}

test('exact divergence equals the trace of a finite-difference Jacobian of the score', async () => {
  const { score, energy } = nets();
  const field = neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule, beta: 1.5, divergence: 'exact', probes: 1 });
  const x = points();
  const t = 0.3;
  const v = await field.evaluate(x, m, t, rowsOf(0));
  const h = 1e-2;
  for (let i = 0; i < m; i++) {
    let trace = 0;
    for (let d = 0; d < D; d++) {
      const xp = Float64Array.from(x);
      const xm = Float64Array.from(x);
      xp[i * D + d] += h;
      xm[i * D + d] -= h;
      const sp = (await field.evaluate(xp, m, t, rowsOf(0))).score;
      const sm = (await field.evaluate(xm, m, t, rowsOf(0))).score;
      trace += (sp[i * D + d] - sm[i * D + d]) / (2 * h);
    }
    // float32 network, h = 1e-2: agreement to 2% of the scale.
    assert.ok(Math.abs(v.divScore[i] - trace) < 0.02 * Math.max(1, Math.abs(trace)), `row ${i}: ${v.divScore[i]} vs FD ${trace}`);
  }
});

test('Hutchinson divergence agrees with the exact trace in expectation', async () => {
  const { score, energy } = nets();
  const opts = { scoreNet: score.apply, energyNet: energy.apply, schedule, beta: 1.5, probes: 1 };
  const x = points();
  const t = 0.5;
  const exact = (await neuralField({ ...opts, divergence: 'exact' }).evaluate(x, m, t, rowsOf(0))).divScore;
  const hutch = await neuralField({ ...opts, divergence: 'hutchinson', probes: 400 }).evaluate(x, m, t, rowsOf(8));
  // Rademacher estimate: variance 2Σ_{j≠k} J_jk² per probe; with 400 probes the sd is a few % of |J|_F.
  for (let i = 0; i < m; i++) {
    assert.ok(Math.abs(hutch.divScore[i] - exact[i]) < 0.1 * Math.max(1, Math.abs(exact[i])), `row ${i}: ${hutch.divScore[i]} vs ${exact[i]}`);
  }
  // The energy part does not depend on the divergence mode.
  const e = await energyTimeGradients(energy.apply, schedule, x, m, t, 1.5);
  assert.deepEqual(Array.from(hutch.energy), Array.from(e.energy));
});

test('∂U/∂t from autodiff matches a central finite difference in t', async () => {
  const { score, energy } = nets();
  const field = neuralField({ scoreNet: score.apply, energyNet: energy.apply, schedule, beta: 1.5, divergence: 'exact', probes: 1 });
  const x = points();
  for (const t of [0.2, 0.5, 0.8]) {
    const v = await field.evaluate(x, m, t, rowsOf(0));
    const dt = 1e-3;
    const up = (await energyTimeGradients(energy.apply, schedule, x, m, t + dt, 1.5)).energy;
    const dn = (await energyTimeGradients(energy.apply, schedule, x, m, t - dt, 1.5)).energy;
    for (let i = 0; i < m; i++) {
      const fd = (up[i] - dn[i]) / (2 * dt);
      assert.ok(Math.abs(v.dEnergyDt[i] - fd) < 0.02 * Math.max(1, Math.abs(fd)), `t=${t} row ${i}: ${v.dEnergyDt[i]} vs FD ${fd}`);
    }
  }
});
