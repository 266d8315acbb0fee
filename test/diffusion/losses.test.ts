/**
 * The four losses (algorithm spec §4) on a hand-built batch whose rows hit
 * every mask, with linear fields F_S and F_E (closed-form models, float64
 * references in helpers.ts); parameter gradients (second order for F_E)
 * against central differences of the float64 reference loss; micro-batch
 * equivalence; mask fractions against the analytic log-normal probabilities.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { Rng } from '../../src/core/rng.js';
import {
  DEFAULT_LOSS_WEIGHTS,
  type LossBatchInput,
  type LossWeights,
  evaluateLosses,
  lossValues,
  lossesAndGrads,
  readLossValues,
  packLossBatch,
  packedWidth,
  prepareLossBatch,
} from '../../src/diffusion/losses.js';
import { EdmSchedule, sampleTrainingSigmas } from '../../src/diffusion/schedule.js';
import * as T from '../../src/tensor/index.js';
import {
  type LinearParams,
  hostEnergy,
  hostEnergyDenoiser,
  hostScoreDenoiser,
  linearField,
  normalCdf,
  randomLinear,
  relMax,
  row,
} from './helpers.js';

before(async () => {
  await T.initTensorBackend();
});

const D = 3;
const schedule = new EdmSchedule({ sigmaMin: 0.01 });
// σ(0.2) = 0.1893: rows 0, 1, 2, 7 are TSM rows; row 0 is below σ_min (score-masked).
const SIGMA = [0.008, 0.05, 0.15, 0.3, 1.0, 2.5, 10, 0.1];
const B = SIGMA.length;
// Ē = −ℓ: row 5 exceeds 1000 (EM-masked); row 3 sits exactly at 1000 (kept: the mask is Ē ≤ 1000).
const EBAR = [3.5, -2, 0.7, 1000, 12, 1000.5, -8, 40];
const BETA = 1.5;

function makeInput(): LossBatchInput {
  const rng = new Rng(77);
  const x0 = rng.normals(B * D);
  const eps = rng.normals(B * D);
  const force = rng.normals(B * D);
  // Row 1 force norm 5000 → clipped to 1000; row 2 norm 900 → unclipped.
  const scaleRow = (r: number, norm: number) => {
    const n = Math.hypot(...row(force, r, D));
    for (let d = 0; d < D; d++) force[r * D + d] *= norm / n;
  };
  scaleRow(1, 5000);
  scaleRow(2, 900);
  return { rows: B, dim: D, x0, eps, force, sigma: Float64Array.from(SIGMA), logp: Float64Array.from(EBAR, (e) => -e), beta: BETA };
}

interface Terms {
  score: number;
  energyScore: number;
  energyMatching: number;
  targetScore: number;
}

/** The losses written out from the spec's definitions in float64. */
function referenceLosses(ps: LinearParams, pe: LinearParams, inp: LossBatchInput): Terms {
  const hT = schedule.h(0.2);
  let ls = 0, les = 0, lem = 0, ltsm = 0, nTsm = 0;
  for (let b = 0; b < B; b++) {
    const s = SIGMA[b];
    const lambda = (s * s + 1) / (s * s);
    const x0 = row(inp.x0, b, D);
    const xs = x0.map((v, d) => v + s * inp.eps[b * D + d]);
    const ds = hostScoreDenoiser(ps, xs, s, BETA);
    const de = hostEnergyDenoiser(pe, xs, s, BETA);
    const sq = (a: ArrayLike<number>, c: ArrayLike<number>) => Array.from(a).reduce((acc, ai, i) => acc + (ai - c[i]) ** 2, 0);
    if (s >= 0.01) ls += lambda * sq(ds, x0);
    les += lambda * sq(de, ds);
    const eBar = -inp.logp[b];
    if (eBar <= 1000) lem += (hostEnergy(pe, x0, inp.pinSigma?.[b] ?? 0.01, BETA) - eBar) ** 2;
    if (s * s < hT) {
      const f = row(inp.force, b, D);
      const norm = Math.hypot(...f);
      const k = Math.min(1, 1000 / norm);
      ltsm += sq(ds, xs.map((v, d) => v + s * s * k * f[d]));
      nTsm++;
    }
  }
  return { score: ls / B, energyScore: les / B, energyMatching: lem / B, targetScore: ltsm / nTsm };
}

function weighted(t: Terms, w: LossWeights): number {
  return w.score * t.score + w.energyScore * t.energyScore + w.energyMatching * t.energyMatching + w.targetScore * t.targetScore;
}

function setup(seed: number) {
  const rng = new Rng(seed);
  const s = randomLinear(rng, D, 0.4, true);
  const e = randomLinear(rng, D, 0.4, true);
  return { s, e, scoreNet: { params: s.store, apply: linearField(s.store) }, energyNet: { params: e.store, apply: linearField(e.store) } };
}

describe('loss batch preparation (masks, weights, targets)', () => {
  test('masks select the rows of the spec and the TSM target clips forces per row to norm 1000', () => {
    const inp = makeInput();
    const lb = prepareLossBatch(inp, { schedule });
    assert.deepEqual(lb.counts, { score: 7, energyMatching: 7, targetScore: 4 });
    assert.equal(lb.weightScore[0], 0);
    assert.equal(lb.weightEnergyMatching[5], 0);
    assert.equal(lb.energyTarget[5], 0, 'masked Ē is replaced by 0 (no float32 overflow on upload)');
    assert.ok(Math.abs(lb.weightEnergyMatching[3] - 1 / B) < 1e-15, 'Ē = 1000 is kept');
    for (const b of [0, 1, 2, 7]) assert.equal(lb.weightTargetScore[b], 1 / 4);
    for (const b of [3, 4, 5, 6]) assert.equal(lb.weightTargetScore[b], 0);
    // Row 1: σ²·clip(f) has norm σ²·1000; row 2 keeps its norm 900.
    const shift = (b: number) => Math.hypot(...row(lb.targetScoreTarget, b, D).map((v, d) => v - lb.xSigma[b * D + d]));
    assert.ok(Math.abs(shift(1) - 0.05 ** 2 * 1000) < 1e-9, `row 1 shift ${shift(1)}`);
    assert.ok(Math.abs(shift(2) - 0.15 ** 2 * 900) < 1e-9, `row 2 shift ${shift(2)}`);
    const lam = (s: number) => (s * s + 1) / (s * s);
    assert.ok(Math.abs(lb.weightEnergyScore[0] - lam(0.008) / B) < 1e-9);
    assert.ok(Math.abs(lb.weightScore[4] - lam(1) / B) < 1e-15);
  });

  test("energyScoreWeighting 'score' weighs L_ES rows by λ(σ)² instead of λ(σ); nothing else changes", () => {
    const inp = makeInput();
    const edm = prepareLossBatch(inp, { schedule });
    const sc = prepareLossBatch(inp, { schedule, energyScoreWeighting: 'score' });
    const lam = (s: number) => (s * s + 1) / (s * s);
    for (let b = 0; b < B; b++) {
      assert.ok(Math.abs(sc.weightEnergyScore[b] - lam(SIGMA[b]) ** 2 / B) <= 1e-12 * lam(SIGMA[b]) ** 2, `row ${b}`);
      assert.equal(edm.weightEnergyScore[b], lam(SIGMA[b]) / B);
    }
    assert.deepEqual(sc.weightScore, edm.weightScore);
    assert.deepEqual(sc.weightEnergyMatching, edm.weightEnergyMatching);
    assert.throws(() => prepareLossBatch(inp, { schedule, energyScoreWeighting: 'x' as 'edm' }), /energyScoreWeighting must be 'edm' or 'score'/);
  });

  test('packLossBatch lays each row out as [x0, xσ, TSM target, σ, pinσ, β, four weights and Ē] in float32, and names a value that overflows', () => {
    const lb = prepareLossBatch(makeInput(), { schedule });
    const W = packedWidth(D);
    assert.equal(W, 3 * D + 8);
    const out = packLossBatch(lb);
    assert.equal(out.length, B * W);
    const f = Math.fround;
    for (let b = 0; b < B; b++) {
      const at = (c: number) => out[b * W + c];
      for (let d = 0; d < D; d++) {
        assert.equal(at(d), f(lb.x0[b * D + d]));
        assert.equal(at(D + d), f(lb.xSigma[b * D + d]));
        assert.equal(at(2 * D + d), f(lb.targetScoreTarget[b * D + d]));
      }
      const perRow = [lb.sigma[b], lb.pinSigma[b], BETA, lb.weightScore[b], lb.weightEnergyScore[b], lb.weightEnergyMatching[b], lb.energyTarget[b], lb.weightTargetScore[b]];
      perRow.forEach((v, j) => assert.equal(at(3 * D + j), f(v), `row ${b}, column ${3 * D + j}`));
    }
    assert.equal(packLossBatch({ ...lb, beta: null })[3 * D + 2], 0, 'no β: 0');
    const energyTarget = Float64Array.from(lb.energyTarget);
    energyTarget[6] = 1e39;
    assert.throws(() => packLossBatch({ ...lb, energyTarget }), /^NonFiniteError: loss batch: row 6 overflows float32 \(column 15 of 17\)$/);
  });

  test('bad inputs are rejected with the offending name and shape', async () => {
    const inp = makeInput();
    assert.throws(() => prepareLossBatch({ ...inp, x0: new Float64Array(5) }, { schedule }), /x0 must be a Float64Array of length 24, got length 5/);
    const sigma = Float64Array.from(SIGMA);
    sigma[2] = -1;
    assert.throws(() => prepareLossBatch({ ...inp, sigma }, { schedule }), /sigma\[2\] = -1 must be > 0/);
    const logp = Float64Array.from(EBAR);
    logp[4] = NaN;
    assert.throws(() => prepareLossBatch({ ...inp, logp }, { schedule }), /logp\[4\] = NaN is not finite/);
    await assert.rejects(
      () => evaluateLosses((_c, y) => y, (_c, y) => y, prepareLossBatch(inp, { schedule }), { ...DEFAULT_LOSS_WEIGHTS, score: -1 }),
      /loss weight score must be a finite number ≥ 0, got -1/,
    );
  });

  test('mask fractions match the log-normal probabilities (spec §11.6), σ_min 0.05', () => {
    const sch = new EdmSchedule({ sigmaMin: 0.05 });
    const n = 100_000;
    const sigma = sampleTrainingSigmas(new Rng(5), n);
    const zeros = new Float64Array(n);
    const lb = prepareLossBatch({ rows: n, dim: 1, x0: zeros, eps: zeros, force: zeros, logp: zeros, sigma, beta: null }, { schedule: sch });
    const pScoreMasked = normalCdf((Math.log(0.05) + 1.2) / 1.2); // 0.0672
    const pTsm = normalCdf((Math.log(sch.sigma(0.2)) + 1.2) / 1.2); // 0.349
    // Binomial standard errors √(p(1−p)/n): 7.9e-4 and 1.5e-3; allow 4 SE.
    const fMasked = 1 - lb.counts.score / n;
    const fTsm = lb.counts.targetScore / n;
    assert.ok(Math.abs(fMasked - pScoreMasked) < 4 * Math.sqrt((pScoreMasked * (1 - pScoreMasked)) / n), `score-masked ${fMasked} vs ${pScoreMasked}`);
    assert.ok(Math.abs(fTsm - pTsm) < 4 * Math.sqrt((pTsm * (1 - pTsm)) / n), `TSM ${fTsm} vs ${pTsm}`);
  });
});

describe('loss values against the hand computation', () => {
  test('evaluateLosses and lossesAndGrads give the float64 reference (relative 1e-4)', async () => {
    const { s, e, scoreNet, energyNet } = setup(1);
    const inp = makeInput();
    const lb = prepareLossBatch(inp, { schedule });
    const ref = referenceLosses(s.p, e.p, inp);
    const w: LossWeights = { energyScore: 0.7, score: 1.3, energyMatching: 0.2, targetScore: 0.05 };
    const ev = await evaluateLosses(scoreNet.apply, energyNet.apply, lb, w);
    const terms = T.scope(() => lossesAndGrads(scoreNet, energyNet, lb, w).terms);
    const lg = await readLossValues(terms, w);
    T.dispose(terms);
    for (const v of [ev, lg]) {
      for (const k of ['score', 'energyScore', 'energyMatching', 'targetScore'] as const) {
        assert.ok(Math.abs(v[k] - ref[k]) < 1e-4 * Math.abs(ref[k]), `${k}: ${v[k]} vs ${ref[k]}`);
      }
      assert.ok(Math.abs(v.total - weighted(ref, w)) < 1e-4 * weighted(ref, w));
    }
    for (const k of ['score', 'energyScore', 'energyMatching', 'targetScore'] as const) assert.ok(ref[k] > 0.01, `${k} is not trivially 0`);
    s.store.dispose();
    e.store.dispose();
  });

  test('per-row pin levels: L_EM evaluates U_θ(x_0, σ_pin) row by row', async () => {
    const { s, e, scoreNet, energyNet } = setup(4);
    const inp = { ...makeInput(), pinSigma: Float64Array.from({ length: B }, (_, b) => 0.01 * 1.3 ** b) };
    const ref = referenceLosses(s.p, e.p, inp);
    const atMin = referenceLosses(s.p, e.p, makeInput());
    const v = await evaluateLosses(scoreNet.apply, energyNet.apply, prepareLossBatch(inp, { schedule }));
    assert.ok(Math.abs(v.energyMatching - ref.energyMatching) < 1e-4 * ref.energyMatching, `${v.energyMatching} vs ${ref.energyMatching}`);
    assert.ok(Math.abs(ref.energyMatching - atMin.energyMatching) > 1e-2 * atMin.energyMatching, 'the pin level matters');
    assert.throws(() => prepareLossBatch({ ...inp, pinSigma: new Float64Array(B - 1) }, { schedule }), /pinSigma/);
    s.store.dispose();
    e.store.dispose();
  });

  test('no TSM row: L_TSM = 0 (not 0/0)', async () => {
    const { s, e, scoreNet, energyNet } = setup(2);
    const inp = { ...makeInput(), sigma: new Float64Array(B).fill(1) };
    const v = await evaluateLosses(scoreNet.apply, energyNet.apply, prepareLossBatch(inp, { schedule }));
    assert.equal(v.targetScore, 0);
    assert.ok(v.score > 0);
    s.store.dispose();
    e.store.dispose();
  });
});

describe('parameter gradients', () => {
  test('∂L/∂θ_S and ∂L/∂θ_E (second order through ∇ₓU) match central differences of the float64 loss', () => {
    const { s, e, scoreNet, energyNet } = setup(3);
    const unused = s.store.add('unused', [2], { kind: 'zeros' });
    assert.ok(unused);
    const inp = makeInput();
    const lb = prepareLossBatch(inp, { schedule });
    const w = DEFAULT_LOSS_WEIGHTS;
    const g = T.scope(() => {
      const r = lossesAndGrads(scoreNet, energyNet, lb, w);
      const get = (m: T.ParamGrads, n: string) => {
        const t = m.get(n);
        return t === null || t === undefined ? null : T.readF64Sync(t);
      };
      return {
        sW: get(r.scoreGrads, 'W'), sv: get(r.scoreGrads, 'v'), su: get(r.scoreGrads, 'u'), sUnused: get(r.scoreGrads, 'unused'),
        eW: get(r.energyGrads, 'W'), ev: get(r.energyGrads, 'v'), eu: get(r.energyGrads, 'u'),
      };
    });
    assert.equal(g.sUnused, null, 'a parameter the loss does not use gets an explicit null');
    // sg(D_S) in L_ES: the score network's gradient is that of w_S·L_S + w_TSM·L_TSM only.
    const scoreOnly = (t: Terms) => w.score * t.score + w.targetScore * t.targetScore;
    const fd = (which: 'score' | 'energy', key: 'W' | 'v' | 'u') => {
      const p = which === 'score' ? s.p : e.p;
      const f = which === 'score' ? scoreOnly : (t: Terms) => weighted(t, w);
      const arr = p[key] as Float64Array;
      const out = new Float64Array(arr.length);
      for (let i = 0; i < arr.length; i++) {
        const keep = arr[i];
        const h = 1e-5;
        arr[i] = keep + h;
        const up = f(referenceLosses(s.p, e.p, inp));
        arr[i] = keep - h;
        const dn = f(referenceLosses(s.p, e.p, inp));
        arr[i] = keep;
        out[i] = (up - dn) / (2 * h);
      }
      return out;
    };
    // float32 autodiff vs float64 FD (FD truncation O(h²) negligible): relMax 1e-3 leaves room for float32 accumulation.
    const cases: [string, Float64Array | null, Float64Array][] = [
      ['score W', g.sW, fd('score', 'W')], ['score v', g.sv, fd('score', 'v')], ['score u', g.su, fd('score', 'u')],
      ['energy W', g.eW, fd('energy', 'W')], ['energy v', g.ev, fd('energy', 'v')], ['energy u', g.eu, fd('energy', 'u')],
    ];
    for (const [name, got, want] of cases) {
      assert.ok(got !== null, `${name}: gradient missing`);
      assert.ok(relMax(got, want) < 1e-3, `${name}: relMax ${relMax(got, want)}\n got ${got}\n want ${want}`);
    }
    s.store.dispose();
    e.store.dispose();
  });

  test('micro-batches (3+3+2 rows) reproduce the full-batch losses and gradients', () => {
    const { s, e, scoreNet, energyNet } = setup(4);
    const lb = prepareLossBatch(makeInput(), { schedule });
    const run = (mb: number) =>
      T.scope(() => {
        const r = lossesAndGrads(scoreNet, energyNet, lb, DEFAULT_LOSS_WEIGHTS, mb);
        const flat = (m: T.ParamGrads) => [...m.values()].flatMap((t) => Array.from(T.readSync(t as T.Tensor)));
        return { values: lossValues(T.readSync(r.terms)), grads: [...flat(r.scoreGrads), ...flat(r.energyGrads)] };
      });
    const before0 = T.memory().numTensors;
    const full = run(B);
    const micro = run(3);
    assert.equal(T.memory().numTensors, before0, 'no tensor survives (kept D_S chunks are freed)');
    for (const k of Object.keys(full.values) as (keyof typeof full.values)[]) {
      assert.ok(Math.abs(full.values[k] - micro.values[k]) < 1e-5 * Math.abs(full.values[k]), `${k}`);
    }
    assert.ok(relMax(micro.grads, full.grads) < 1e-5, `grads relMax ${relMax(micro.grads, full.grads)}`);
    s.store.dispose();
    e.store.dispose();
  });
});
