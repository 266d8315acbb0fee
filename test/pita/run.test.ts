import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { assertSameConfig, parseRunConfig, type RunConfig } from '../../src/pita/config.js';
import { collapseWarning, METHOD_COMPONENTS, relativeBetas, runPita, RunStopped } from '../../src/pita/run.js';
import { main } from '../../src/cli/main.js';
import { resolveRunConfig } from '../../src/cli/run.js';
import { Rng } from '../../src/core/rng.js';
import { readNpyFloat64 } from '../../src/io/npy.js';
import { createTarget } from '../../src/targets/index.js';
import type { RunEvent } from '../../src/pita/events.js';
import { tinyConfig } from '../report/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pita-run-'));

/** A tiny DW-4 run: 3 → 2 → 1.5, small networks, few steps (smoke scale). */
const tiny = (): RunConfig => tinyConfig('generate');

test('relative inverse temperatures: exact by default, rounded to 2 decimals on request', () => {
  assert.deepEqual(relativeBetas([1200, 755.95, 300], false), [1, 1200 / 755.95, 4]);
  assert.deepEqual(relativeBetas([1200, 755.95, 300], true), [1, 1.59, 4]);
});

/**
 * The uninterrupted tiny run in <dir>/full with the events it emitted, run
 * once on first use, so every test that needs it works on its own too.
 */
let fullRun: Promise<{ out: string; r: Awaited<ReturnType<typeof runPita>>; events: RunEvent[] }> | null = null;
function full() {
  fullRun ??= (async () => {
    const out = join(dir, 'full');
    const events: RunEvent[] = [];
    const r = await runPita(tiny(), { outDir: out, onEvent: (e) => events.push(e) });
    return { out, r, events };
  })();
  return fullRun;
}

test('a tiny run completes every rung, writes the run directory and accounts every evaluation', async () => {
  const { out, r, events } = await full();
  // Progress is reported as events (the CLI draws the bars): every phase starts, advances to its total and ends.
  const starts = events.filter((e) => e.type === 'phase-start');
  assert.deepEqual(starts.map((e) => e.label), ['pt T=3', 'train T=3', 'anneal T=3→2', 'train T=2', 'anneal T=2→1.5', 'train T=1.5']);
  assert.equal(events.filter((e) => e.type === 'phase-end').length, starts.length);
  const trainT3 = events.flatMap((e) => (e.type === 'phase-progress' && e.label === 'train T=3' ? [e.done] : []));
  assert.equal(trainT3.at(-1), 30);
  assert.equal(r.metrics.rungs.length, 2);
  for (const k of [0, 1, 2]) assert.ok(readFileSync(join(out, 'samples', `T_${k}.npy`)).length > 128);
  const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.filter((l) => l.type === 'train').length, 30 + 30 + 5);
  assert.equal(lines.filter((l) => l.type === 'rung').length, 2);
  // The first line names the device and the training threads: by default the CPU count (capped at the batch), one on WebGPU.
  assert.equal(lines[0].type, 'device');
  assert.equal(lines[0].workers, String(lines[0].device).startsWith('webgpu') ? 1 : Math.min(availableParallelism(), 32));
  const init = lines.filter((l) => l.type === 'initial-data');
  assert.equal(init.length, 1);
  assert.equal(init[0].sampler, 'pt');
  assert.equal(init[0].temperatures.length, 4);
  assert.ok(init[0].roundTrips >= 0 && init[0].acceptance > 0);
  const e = r.metrics.evaluations;
  assert.equal(e.method, METHOD_COMPONENTS.reduce((a, c) => a + (e.byComponent[c] ?? 0), 0));
  // buffer fill of B_0 (400) + per rung: reweight 128 and relaxation 128·(1+3)
  assert.equal(e.byComponent['buffer-fill'], 400);
  assert.equal(e.byComponent['final-reweight'], 2 * 128);
  assert.equal(e.byComponent['relaxation'], 2 * 128 * 4);
  assert.ok(r.metrics.pita && Number.isFinite(r.metrics.pita.energyW2));
  assert.ok(r.metrics.baseline && r.metrics.baseline.evaluations <= e.method && r.metrics.baseline.evaluations > 0.8 * e.method, `baseline ${r.metrics.baseline?.evaluations} vs method ${e.method}`);
  const summary = readFileSync(join(out, 'summary.md'), 'utf8');
  assert.match(summary, /## Energy evaluations/);
  assert.match(summary, /; device cpu \(wasm, SIMD, 1 thread\)\./, 'summary.md names the tensor device');
});

test('kill mid-rung and resume: finished rungs are bit-identical to the uninterrupted run', async () => {
  const { out: fullDir } = await full();
  const cut = join(dir, 'cut');
  // Stop 45 steps in: rung 0 done and annealed, rung 1 at step 15 (checkpoint at 10).
  await assert.rejects(runPita(tiny(), { outDir: cut, quiet: true, stopAfterSteps: 45 }), RunStopped);
  const resumed = await runPita(tiny(), { outDir: cut, quiet: true, resume: true });
  for (const k of [0, 1, 2]) {
    assert.deepEqual(readFileSync(join(cut, 'samples', `T_${k}.npy`)), readFileSync(join(fullDir, 'samples', `T_${k}.npy`)), `samples/T_${k}.npy`);
  }
  assert.equal(resumed.metrics.rungs.length, 2);
  // log.jsonl was cut back to the last commit point (rung 1, step 10): no line is repeated.
  const log = readFileSync(join(cut, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.filter((l) => l.type === 'train').map((l) => l.step), Array.from({ length: 65 }, (_, i) => i + 1));
  assert.equal(log.filter((l) => l.type === 'rung').length, 2);
  // A second run into the same directory without --resume is refused.
  await assert.rejects(runPita(tiny(), { outDir: cut, quiet: true }), /already holds a run; use --resume/);
});

/** log.jsonl's records. */
function logOf(out: string): Record<string, unknown>[] {
  return readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

/** A record without its wall time (rung summaries carry `seconds`). */
const timeless = <R extends object>(l: R) => ({ ...l, seconds: undefined });

test('annealing stopped by the signal resumes from the annealing step it reached, bit for bit', async () => {
  const { out: fullDir } = await full();
  const cut = join(dir, 'anneal-abort');
  const ac = new AbortController();
  const stopAt12 = (e: RunEvent) => {
    if (e.type === 'phase-progress' && e.label === 'anneal T=3→2' && e.done === 12) ac.abort();
  };
  await assert.rejects(runPita(tiny(), { outDir: cut, signal: ac.signal, onEvent: stopAt12 }), /annealing interrupted at step 12 of 30.*--resume/);
  // The annealing state after 12 steps is the commit point, beside the trainer's checkpoint at the end of rung 0's training.
  const progress = JSON.parse(readFileSync(join(cut, 'checkpoints', 'progress.json'), 'utf8'));
  assert.deepEqual([progress.rung, progress.stepOnRung, progress.checkpoint, progress.anneal], [0, 30, 'rung0-step30.safetensors', 'rung0-anneal12.safetensors']);
  const events: RunEvent[] = [];
  const resumed = await runPita(tiny(), { outDir: cut, resume: true, onEvent: (e) => events.push(e) });
  const annealed = events.flatMap((e) => (e.type === 'phase-progress' && e.label === 'anneal T=3→2' ? [e.done] : []));
  assert.deepEqual(annealed.slice(0, 2), [12, 13], 'the resumed annealing starts at step 12');
  assert.ok(!events.some((e) => e.type === 'phase-progress' && e.label === 'train T=3'), 'no training before it');
  for (const k of [0, 1, 2]) assert.deepEqual(readFileSync(join(cut, 'samples', `T_${k}.npy`)), readFileSync(join(fullDir, 'samples', `T_${k}.npy`)), `samples/T_${k}.npy`);
  const full_ = JSON.parse(readFileSync(join(fullDir, 'metrics.json'), 'utf8'));
  assert.deepEqual(resumed.metrics.rungs.map(timeless), full_.rungs.map(timeless));
  assert.deepEqual(resumed.metrics.pita, full_.pita);
  // The log is the uninterrupted run's but for wall times: nothing repeated, nothing lost.
  const strip = (l: Record<string, unknown>) => (l.type === 'train' || l.type === 'rung' ? timeless(l) : l);
  assert.deepEqual(logOf(cut).map(strip), logOf(fullDir).map(strip));
  // A finished rung's annealing state is deleted.
  assert.deepEqual(readdirSync(join(cut, 'checkpoints')).filter((n) => n.includes('anneal')), []);
});

test('a run killed mid-annealing resumes from its last annealing checkpoint, with another worker count, without repeating log lines', async () => {
  const { out: fullDir } = await full();
  const cut = join(dir, 'anneal-kill');
  // Killed after rung 0's last annealing step (logged) but before its state was saved: the last commit point is step 29 of 30.
  await assert.rejects(runPita(tiny(), { outDir: cut, quiet: true, stopAfterAnnealSteps: 30, annealCheckpointSeconds: 0 }), RunStopped);
  assert.equal(JSON.parse(readFileSync(join(cut, 'checkpoints', 'progress.json'), 'utf8')).anneal, 'rung0-anneal29.safetensors');
  assert.deepEqual(readdirSync(join(cut, 'checkpoints')).filter((n) => n.includes('anneal')), ['rung0-anneal29.safetensors'], 'superseded annealing states are deleted');
  // Annealing is bit-identical for any worker count: rung 0's samples are the uninterrupted run's (rung 1 then trains with 1 worker).
  await runPita({ ...tiny(), workers: 1 }, { outDir: cut, quiet: true, resume: true });
  for (const k of [0, 1]) assert.deepEqual(readFileSync(join(cut, 'samples', `T_${k}.npy`)), readFileSync(join(fullDir, 'samples', `T_${k}.npy`)), `samples/T_${k}.npy`);
  const rung0 = (out: string) => logOf(out).filter((l) => (l.type === 'anneal' && l.rung === 0) || (l.type === 'rung' && l.rung === 1)).map(timeless);
  assert.deepEqual(rung0(cut), rung0(fullDir));
  const log = logOf(cut);
  assert.deepEqual(log.filter((l) => l.type === 'anneal').map((l) => `${l.rung}:${l.step}`), ['0:0', '0:29', '1:0', '1:29']);
  assert.deepEqual(log.filter((l) => l.type === 'train').map((l) => l.step), Array.from({ length: 65 }, (_, i) => i + 1));
});

test('two runs in one directory at once: the second, --resume included, is refused; the lock goes with the first', async () => {
  const out = join(dir, 'locked');
  // Started together: the lock is taken synchronously, before the first run yields.
  const first = runPita(tiny(), { outDir: out, quiet: true, stopAfterSteps: 0 });
  const others = [false, true].map((resume) => runPita({ ...tiny(), seed: 4 }, { outDir: out, quiet: true, resume }));
  for (const other of others) await assert.rejects(other, /run directory .*locked is in use by this process \(lock .*locked\/\.lock\)/);
  await assert.rejects(first, RunStopped);
  assert.equal(existsSync(join(out, '.lock')), false, 'released when the run stops with an error');
  assert.equal(readFileSync(join(out, 'config.yaml'), 'utf8').match(/^seed: (\d+)$/m)?.[1], '3');
});

test('bad configs fail before any work, naming the key', async () => {
  const cases: [object, RegExp][] = [
    [{ target: 'dw4', ladder: { temperatures: [3, 1] }, training: { stepsPerTemperature: 5 }, learningRate: 1 }, /unknown key 'learningRate'/],
    [{ target: 'dw4', ladder: { temperatures: [1, 3] }, training: { stepsPerTemperature: 5 } }, /ladder\.temperatures\.1: the ladder must decrease/],
    [{ target: 'dw4', ladder: { temperatures: [3, 0] }, training: { stepsPerTemperature: 5 } }, /ladder\.temperatures\.1: Too small/],
    [{ target: 'dw4', ladder: { temperatures: [3, 1] }, training: { stepsPerTemperature: 5, batchsize: 3 } }, /training: unknown key 'batchsize'/],
    [{ target: 'dw4', ladder: { temperatures: [3, 1] }, training: { stepsPerTemperature: 5 }, annealing: { gammaSchedule: { kind: 'linear', tStart: 0.2, tEnd: 0.5 } } }, /annealing\.gammaSchedule\.tEnd: tEnd must be below tStart/],
    [{ target: 'dw4', ladder: { temperatures: [3, 1] }, training: { stepsPerTemperature: 5 }, data: { generator: { warmup: 10, maxWarmup: 100 } } }, /data\.generator\.maxWarmup: give either warmup or maxWarmup/],
    [{ target: 'dw4', ladder: { temperatures: [3, 1] }, training: { stepsPerTemperature: 5 }, data: { generator: { thin: 10, maxThin: 100 } } }, /data\.generator\.maxThin: give either thin or maxThin/],
  ];
  for (const [raw, pattern] of cases) assert.throws(() => parseRunConfig(raw, 'c.yaml'), pattern);
  // Through the CLI: a missing data file is reported before anything runs (exit 2, one line per problem).
  const cfg = join(dir, 'missing-data.yaml');
  writeFileSync(cfg, 'target: dw4\nladder: { temperatures: [3, 1] }\ntraining: { stepsPerTemperature: 5 }\ndata: { source: file, file: /nonexistent/x.npy }\n');
  const err: string[] = [];
  const orig = console.error;
  console.error = (m: string) => void err.push(m);
  try {
    assert.equal(await main(['run', cfg, '--out', join(dir, 'never'), '--quiet']), 2);
  } finally {
    console.error = orig;
  }
  assert.match(err.join('\n'), /data\.file \/nonexistent\/x\.npy not found/);
});

test('a run may resume with another worker count or device (they change float32 rounding only), not another seed', () => {
  const saved = join(dir, 'saved-config.yaml');
  writeFileSync(saved, stringify(JSON.parse(JSON.stringify({ ...tiny(), workers: 2 }))));
  assert.doesNotThrow(() => assertSameConfig(saved, { ...tiny(), workers: 1, device: 'cpu' }));
  assert.doesNotThrow(() => assertSameConfig(saved, tiny()));
  assert.throws(() => assertSameConfig(saved, { ...tiny(), workers: 1, seed: 4 }), /seed: 3 → 4/);
  assert.throws(() => parseRunConfig({ ...tiny(), workers: 0 }, 'tiny'), /workers: /);
});

test('a collapsed final reweight is reported as a warning that names the rung and the remedy', () => {
  const healthy = { rung: 1, temperature: 2, beta: 1.5, gamma: 1.5, particles: 1000, kept: 1000, resamplings: 100, minEss: 0.9, reweightEss: 0.97, uniqueAfterReweight: 950, relaxationAcceptance: 0.7, meanReducedEnergy: -9, seconds: 1 };
  assert.equal(collapseWarning(healthy), null);
  const w = collapseWarning({ ...healthy, reweightEss: 0.001, uniqueAfterReweight: 1 });
  assert.match(w ?? '', /rung 1 \(T=2\): the final reweight kept 1 distinct of 1000 particles/);
  assert.match(w ?? '', /stepsPerTemperature/);
  assert.notEqual(collapseWarning({ ...healthy, uniqueAfterReweight: 99 }), null);
});

test('the dw4 quick preset, scaled down, runs end to end with the equal-budget PT baseline beside it', async () => {
  const { config } = resolveRunConfig('dw4', 'quick');
  // Same network, weighting, ladder and relaxation as the preset; fewer steps and particles.
  config.data.samples = 500;
  config.data.generator = { ...config.data.generator, warmup: 100, chains: 32 };
  config.training.stepsPerTemperature = [300, 60, 60];
  config.training.batchSize = 32;
  config.annealing.particles = 256;
  config.annealing.steps = 40;
  config.annealing.resampling.end = 28; // the preset's window, 70 of 100 steps
  config.annealing.chunkSize = 256;
  config.evaluation.maxOtPoints = 96;
  config.evaluation.referenceSamples = 4000;
  const out = join(dir, 'dw4-preset');
  const r = await runPita(config, { outDir: out, quiet: true });
  assert.deepEqual(r.metrics.temperatures, [3, 2, 1.5, 1]);
  assert.equal(r.nFinal, 256);
  const p = r.metrics.pita!;
  const b = r.metrics.baseline!;
  assert.equal(b.sampler, 'pt');
  // A smoke check of the pipeline, not of quality (npm run validate -- dw4-quick checks that). The T = 3
  // training data score energy W2 5.4 against the T = 1 reference, so energy W2 < 1 means the ladder did anneal;
  // exploded or uncentred particles give distances in the tens. Measured with the preset (γ(t) schedule, energy
  // pinned on [σ_min, 0.1], tail weights after step 28 of 40): PITA energy W2 0.645, distance W2 0.596; resampling
  // to the end 0.218 / 0.421; with the pin at σ_min only 1.53 / 1.17.
  assert.ok(p.energyW2 < 1 && p.distanceW2! < 2, `PITA energy W2 ${p.energyW2}, distance W2 ${p.distanceW2}`);
  assert.ok(b.metrics && b.metrics.energyW2 < 1, `baseline energy W2 ${b.metrics?.energyW2}`);
  assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /\| distance W2 \| [0-9.]+ \| [0-9.]+ \|/);
});

test('resuming a finished run only reports: no training, same metrics', async () => {
  const { out } = await full();
  const before = readFileSync(join(out, 'log.jsonl'), 'utf8');
  const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
  const r = await runPita(tiny(), { outDir: out, resume: true, quiet: true });
  assert.equal(readFileSync(join(out, 'log.jsonl'), 'utf8'), before);
  assert.deepEqual(r.metrics, metrics);
  assert.equal(r.nFinal, metrics.pita.nSamples);
});

test('a generated reference is exact i.i.d. sampling where the target has it (GMM-40 at T = 1)', async () => {
  const cfg = parseRunConfig(
    {
      target: 'gmm40',
      seed: 5,
      ladder: { temperatures: [2, 1] },
      data: { samples: 200, lengthScale: 20, generator: { sampler: 'pt', warmup: 20, thin: 2, chains: 16, replicas: 4 } },
      model: { network: 'mlp', options: { hidden: 16, layers: 2 } },
      training: { stepsPerTemperature: 5, batchSize: 16, checkpointEvery: 5 },
      annealing: { particles: 32, steps: 5, chunkSize: 32, relaxation: { kernel: 'none', steps: 0 } },
      evaluation: { reference: 'generate', maxOtPoints: 32 },
    },
    'gmm40-tiny',
  );
  const out = join(dir, 'gmm40-exact');
  const r = await runPita(cfg, { outDir: out, quiet: true });
  const ref = readNpyFloat64(join(out, 'samples', 'reference.npy'));
  assert.deepEqual(ref.shape, [4000, 2]);
  assert.deepEqual(Array.from(ref.data), Array.from(createTarget('gmm40').sampleExact!(new Rng(5).fork('reference'), 4000, 1)));
  // Only the metrics touch the true energy during evaluation: no parallel-tempering run.
  assert.equal(r.metrics.evaluations.byComponent['evaluation'], 32 + 4000);
});
